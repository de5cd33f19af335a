"""Pilot tests of the recovery screen and the apply step's preflight, on a sandbox root."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Label
from wizard_support import keys, pending_transaction, run_async, settle, walk, wizard

from tui_jail.journal import Journal, unfinished
from tui_jail.screens.apply import ApplyScreen
from tui_jail.screens.preset import PresetScreen
from tui_jail.screens.recovery import RecoveryScreen


@run_async
async def test_a_pending_transaction_opens_recovery_and_rolls_back(sample_root: Path) -> None:
    txn = pending_transaction(sample_root)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
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
        await settle(pilot)
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
