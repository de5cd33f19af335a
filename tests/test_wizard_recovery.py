"""Pilot tests of the recovery screen and the apply step's preflight, on a sandbox root."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import nsenv
import pytest
from textual.widgets import Label
from wizard_support import (
    keys,
    on_first_screen,
    pending_transaction,
    run_async,
    stop_watchdog,
    txn_status,
    until,
    walk,
    wizard,
)

from tui_jail.screens.apply import ApplyScreen
from tui_jail.screens.preset import PresetScreen
from tui_jail.screens.recovery import RecoveryScreen
from tui_jail.txn.journal import Journal, unfinished


@run_async
async def test_a_pending_transaction_opens_recovery_and_rolls_back(sample_root: Path) -> None:
    txn = pending_transaction(sample_root)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_first_screen(pilot)
        assert isinstance(app.screen, RecoveryScreen)
        assert "waiting for confirmation" in str(app.screen.query_one("#headline", Label).render())
        await keys(pilot, "r")
        assert Journal(sample_root, txn).state().status == "rolled-back"
        assert "is rolled back" in str(app.screen.query_one("#headline", Label).render())
        assert unfinished(sample_root) == []
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, PresetScreen)


@run_async
async def test_no_transaction_opens_on_the_presets(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_first_screen(pilot)
        assert isinstance(app.screen, PresetScreen)


@run_async
async def test_preflight_runs_before_anything_changes(sample_root: Path) -> None:
    fstab = (sample_root / "etc/fstab").read_bytes()
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "review"), "ctrl+n")
        assert isinstance(app.screen, ApplyScreen)
        assert "Preflight passed" in str(app.screen.query_one("#phase", Label).render())
    assert (sample_root / "etc/fstab").read_bytes() == fstab
    assert not (sample_root / "chroot").exists()


@run_async
async def test_a_watchdog_gone_at_start_is_rearmed(sample_root: Path) -> None:
    txn = pending_transaction(sample_root, watchdog_alive=False)
    app = wizard(sample_root)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await on_first_screen(pilot)
            assert isinstance(app.screen, RecoveryScreen)
            assert "its watchdog was gone; re-armed" in str(app.screen.query_one("#notices").render())
            assert "Watchdog re-armed" in str(app.screen.query_one("#txn-watchdog", Label).render())
            assert Journal(sample_root, txn).state().watchdog_running()
    finally:
        stop_watchdog(sample_root, txn)


@pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="applies: root in a private mount ns")
@run_async
async def test_the_apply_step_rearms_a_watchdog_killed_while_pending(wizard_root: Path) -> None:
    """kill -9 of the watchdog while the apply step counts down: the step notices, arms a new one and
    shows it; the change stays pending, watched."""
    app = wizard(wizard_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "review"), "ctrl+n", "ctrl+n")
        await until(pilot, lambda: txn_status(app) == "pending")
        shown = app.screen.query_one("#txn-watchdog", Label)
        assert "Watchdog armed" in str(shown.render())
        first = app.screen.txn.watchdog_pid
        os.kill(first, signal.SIGKILL)
        await until(pilot, lambda: "Watchdog re-armed" in str(shown.render()))
        state = Journal(wizard_root, app.screen.txn.id).state()
        assert state.status == "pending" and state.watchdog_running() and state.watchdog_pid != first
