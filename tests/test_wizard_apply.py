"""Pilot tests of the apply step and the recovery screen with real transactions, on sandbox roots in
the suite's private mount namespace: apply from the wizard, confirm from a new login (seen live),
keep from the applying session (after the warning), extend, roll back now, and the watchdog's
rollback at the deadline. After every rollback the sandbox is byte-identical to before, mounts too."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import nsenv
import pytest
from textual.widgets import Button, Label, Static
from txn_helpers import changed_paths, seedbox, snapshot
from wizard_support import keys, run_async, txn_status, until, walk, wizard

from tui_jail.core.plan import make_plan
from tui_jail.paths.system import SystemRoot
from tui_jail.screens.apply import ApplyScreen
from tui_jail.screens.home import HomeScreen
from tui_jail.screens.keep_modal import KeepModal
from tui_jail.screens.recovery import RecoveryScreen
from tui_jail.screens.transaction_panel import TransactionPanel
from tui_jail.screens.verify import VerifyScreen
from tui_jail.screens.wizard_state import EXTEND_BY
from tui_jail.txn import journal, transaction

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]

APPLIER = {"SSH_CONNECTION": "198.51.100.4 50022 192.0.2.1 22", "SUDO_USER": "admin"}
NEW_LOGIN = {"SSH_CONNECTION": "198.51.100.4 50111 192.0.2.1 22", "SUDO_USER": "admin"}


def panel_text(app: object) -> str:
    panel = app.screen.query_one(TransactionPanel)  # type: ignore[attr-defined]
    return " ".join(str(widget.render()) for widget in panel.query(Static))


async def applied(pilot, preset: str = "seedbox-sftp") -> None:  # type: ignore[no-untyped-def]
    await keys(pilot, *walk(preset, "review"), "ctrl+n")
    assert isinstance(pilot.app.screen, ApplyScreen)
    await until(pilot, lambda: not pilot.app.screen.query_one("#next-button", Button).disabled)
    await pilot.press("ctrl+n")
    await until(pilot, lambda: txn_status(pilot.app) == "pending")


@run_async
async def test_apply_then_a_new_login_confirms_and_verify_passes(wizard_root: Path) -> None:
    app = wizard(wizard_root, environ=APPLIER, clock=time.time)
    async with app.run_test(size=(80, 24)) as pilot:
        await applied(pilot)
        system = SystemRoot(wizard_root)
        assert "# BEGIN tui-jail rclone-sftp" in (wizard_root / "etc/fstab").read_text()
        assert (wizard_root / "etc/ssh/sshd_config.d/50-tui-jail-rclone-sftp.conf").is_file()
        assert "/chroot/rclone-sftp/incomingmovies" in system.mounts()
        assert "tui-jail --root SANDBOX confirm" in panel_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, ApplyScreen)  # no walking away from a pending change

        # another session confirms (that only a new login may: tests/test_login_sshd.py, against a real sshd)
        transaction.confirm(wizard_root, None, NEW_LOGIN, same_session=True)
        await until(pilot, lambda: txn_status(app) == "confirmed")
        assert "confirmed from 198.51.100.4 50111" in panel_text(app)

        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, VerifyScreen)
        verdict = str(app.screen.query_one("#verdict", Label).render())
        assert verdict.startswith("the jail works as specified"), verdict


@run_async
async def test_keep_from_the_applying_session_warns_first(wizard_root: Path) -> None:
    app = wizard(wizard_root, environ=APPLIER, clock=time.time)
    async with app.run_test(size=(80, 24)) as pilot:
        await applied(pilot)
        await keys(pilot, "k")
        assert isinstance(app.screen, KeepModal)
        await keys(pilot, "n")
        assert txn_status(app) == "pending"
        await keys(pilot, "k", "y")
        await until(pilot, lambda: txn_status(app) == "confirmed")
    txn = journal.transactions(wizard_root)[-1].state()
    assert txn.status == "confirmed"
    assert any("198.51.100.4 50022" in note for note in txn.notes)


@run_async
async def test_extend_then_roll_back_now_restores_everything(wizard_root: Path) -> None:
    before = snapshot(wizard_root)
    app = wizard(wizard_root, environ=APPLIER, clock=time.time)
    async with app.run_test(size=(80, 24)) as pilot:
        await applied(pilot)
        deadline = app.screen.txn.deadline  # type: ignore[attr-defined]
        await keys(pilot, "e")
        await until(pilot, lambda: app.screen.txn.deadline > deadline)  # type: ignore[attr-defined]
        assert app.screen.txn.deadline - deadline == pytest.approx(EXTEND_BY, abs=2)  # type: ignore[attr-defined]

        await keys(pilot, "r")
        await until(pilot, lambda: txn_status(app) == "rolled-back")
        assert "Rolled back" in panel_text(app)
        assert "Apply again" in str(app.screen.query_one("#next-button", Button).label)
    after = snapshot(wizard_root)
    assert after == before, changed_paths(before, after)


@run_async
async def test_the_watchdog_rolls_back_at_the_deadline_and_the_screen_says_so(wizard_root: Path) -> None:
    before = snapshot(wizard_root)
    app = wizard(wizard_root, clock=time.time, confirm_timeout=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await applied(pilot)
        await until(pilot, lambda: txn_status(app) == "rolled-back")
        assert "deadline passed without a confirmation" in panel_text(app)
    after = snapshot(wizard_root)
    assert after == before, changed_paths(before, after)


@run_async
async def test_an_exec_jail_is_applied_and_kept_from_a_local_console(wizard_root: Path) -> None:
    app = wizard(wizard_root, clock=time.time)
    async with app.run_test(size=(80, 24)) as pilot:
        await applied(pilot, "joblet-production")
        await keys(pilot, "k")  # no ssh session applied it: nothing to warn about
        await until(pilot, lambda: txn_status(app) == "confirmed")
    assert (wizard_root / "var/lib/tui-jail/jails/joblet-production.launch.json").is_file()
    spec = app.state.spec(final=True)
    assert not make_plan(spec, SystemRoot(wizard_root)).has_changes


@pytest.mark.parametrize(("environ", "modal"), [(NEW_LOGIN, False), (APPLIER, True)], ids=["new-login", "same-session"])
@run_async
async def test_recovery_keeps_a_real_pending_transaction(
    wizard_root: Path, environ: dict[str, str], modal: bool
) -> None:
    system = SystemRoot(wizard_root)
    pending = transaction.apply(make_plan(seedbox(), system), system, timeout=60, environ=APPLIER)
    app = wizard(wizard_root, environ=environ, clock=time.time)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: txn_status(app) == "pending")
        assert isinstance(app.screen, RecoveryScreen)
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, RecoveryScreen)  # not before it is kept or rolled back
        await keys(pilot, "k")
        assert isinstance(app.screen, KeepModal) is modal
        if modal:
            await keys(pilot, "y")
        await until(pilot, lambda: txn_status(app) == "confirmed")
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, HomeScreen)  # the jail kept is applied: home lists it
    assert journal.Journal(wizard_root, pending.id).state().status == "confirmed"


def phase(app: object) -> str:
    return str(app.screen.query_one("#phase", Label).render())  # type: ignore[attr-defined]


@run_async
async def test_while_pending_the_live_checks_run_and_v_runs_them_again(wizard_root: Path) -> None:
    app = wizard(wizard_root, environ=APPLIER, clock=time.time)
    async with app.run_test(size=(80, 24)) as pilot:
        await applied(pilot)
        await until(pilot, lambda: "every live check passes" in phase(app))
        findings = str(app.screen.query_one("#findings", Static).render())
        assert "sshd: media from 203.0.113.7 is jailed" in findings
        assert app.screen.query_one(TransactionPanel).query_one("#countdown").display  # the countdown stays
        # the live system drifts while pending: v shows it before the admin keeps the change
        subprocess.run(["umount", str(wizard_root / "chroot/rclone-sftp/IncomingTV")], check=True)
        await keys(pilot, "v")
        await until(pilot, lambda: "live check(s) failed" in phase(app))
        assert "mount: /chroot/rclone-sftp/IncomingTV" in str(app.screen.query_one("#findings", Static).render())
        assert txn_status(app) == "pending"


@run_async
async def test_the_deadline_is_set_before_applying(wizard_root: Path) -> None:
    app = wizard(wizard_root, environ=APPLIER, clock=time.time)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "review"), "ctrl+n")
        await until(pilot, lambda: not app.screen.query_one("#next-button", Button).disabled)
        app.screen.query_one("#timeout-input").focus()
        await keys(pilot, *["backspace"] * 5, "type:0")
        assert app.screen.query_one("#next-button", Button).disabled  # 0 s: not a deadline
        assert str(app.screen.query_one("#nav-error", Label).render()) == "deadline: 1 to 86400 seconds"
        await keys(pilot, "backspace", "type:900")
        assert not str(app.screen.query_one("#nav-error", Label).render())
        await keys(pilot, "ctrl+n")
        await until(pilot, lambda: txn_status(app) == "pending")
        assert app.screen.txn.timeout == 900  # type: ignore[attr-defined]
