"""Snapshots of every wizard screen along each preset's walkthrough, at 80x24, on a sandbox root.

Each test drives the app with the keys a user would press (see wizard_support.walk) and compares the
screen with the SVG under __snapshots__/. The sandbox's temporary path never appears on screen
(it is shown as SANDBOX), the clock is fixed and the environment scrubbed, so the SVGs are stable.
Look at snapshot_report.html before accepting a change with --snapshot-update.
"""

from __future__ import annotations

import os
from pathlib import Path

import nsenv
import pytest
from wizard_support import (
    T0,
    applied_jails,
    keys,
    on_first_screen,
    pending_transaction,
    settle,
    stop_watchdog,
    txn_status,
    until,
    walk,
    wizard,
)

from tui_jail.sandbox import bind_host_binaries
from tui_jail.txn import journal
from tui_jail.txn.journal import transactions

PRESETS = ["seedbox-sftp", "joblet-production", "joblet-builder", "awf-host-chroot"]
SIZE = (80, 24)
applies = pytest.mark.skipif(
    os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="applies for real: needs root in a private mount ns"
)


@pytest.fixture(autouse=True)
def _steady_transaction_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """The panel shows the transaction's id in the confirm command: one made of the clock and random bytes
    would differ in every run."""
    monkeypatch.setattr(journal, "new_id", lambda jail, now: f"20231114-221320-{jail}-5eed")


def drive(*steps: str, until_status: str | None = None):
    async def run_before(pilot) -> None:
        await keys(pilot, *steps)
        if until_status is not None:
            await until(pilot, lambda: txn_status(pilot.app) == until_status)

    return run_before


def before_the_deadline(root: Path, seconds: float = 100.0):
    """A clock frozen `seconds` before the newest transaction's deadline: the countdown shows the same."""

    def clock() -> float:
        found = transactions(root)
        return found[-1].state().deadline - seconds if found else T0

    return clock


@pytest.mark.parametrize("preset", PRESETS)
class TestWalkthrough:
    def test_preset(self, snap_compare, sample_root: Path, preset: str) -> None:
        """Step 1: the preset list with the highlighted preset's description and source."""
        assert snap_compare(wizard(sample_root), run_before=drive(*walk(preset, "preset")), terminal_size=SIZE)

    def test_mounts(self, snap_compare, sample_root: Path, preset: str) -> None:
        """Step 2: the preset's bind mounts, each checked (✓) against the sandbox."""
        assert snap_compare(wizard(sample_root), run_before=drive(*walk(preset, "mounts")), terminal_size=SIZE)

    def test_settings(self, snap_compare, sample_root: Path, preset: str) -> None:
        """Step 3: access (sftp: addresses and users filled in) or capabilities (exec: user, namespaces, caps)."""
        assert snap_compare(wizard(sample_root), run_before=drive(*walk(preset, "settings")), terminal_size=SIZE)

    def test_review(self, snap_compare, sample_root: Path, preset: str) -> None:
        """Step 4: the plan's summary and the first file's diff."""
        assert snap_compare(wizard(sample_root), run_before=drive(*walk(preset, "review")), terminal_size=SIZE)

    def test_apply(self, snap_compare, sample_root: Path, preset: str) -> None:
        """Step 5: preflight findings before anything changes, and what Next will do."""
        steps = (*walk(preset, "review"), "ctrl+n")
        assert snap_compare(wizard(sample_root), run_before=drive(*steps), terminal_size=SIZE)

    @applies
    def test_pending(self, snap_compare, wizard_root: Path, preset: str) -> None:
        """Step 5, applied: the countdown to the automatic rollback and how to confirm from a new login."""
        environ = {"SSH_CONNECTION": "198.51.100.4 50022 192.0.2.1 22", "SUDO_USER": "admin"}
        app = wizard(wizard_root, environ=environ, clock=before_the_deadline(wizard_root))
        steps = drive(*walk(preset, "review"), "ctrl+n", "ctrl+n", until_status="pending")
        assert snap_compare(app, run_before=steps, terminal_size=SIZE)

    @applies
    def test_verify(self, snap_compare, wizard_root: Path, preset: str) -> None:
        """Step 6: applied, kept from the console, then every check of the live jail with its result
        (the host's programs are bound in, as `--sandbox` does, so the exec jails' probes run)."""
        bind_host_binaries(wizard_root)
        app = wizard(wizard_root, clock=before_the_deadline(wizard_root))
        keep = drive(*walk(preset, "review"), "ctrl+n", "ctrl+n", until_status="pending")
        confirmed = drive("k", until_status="confirmed")

        async def run_before(pilot) -> None:
            await keep(pilot)
            await confirmed(pilot)
            await keys(pilot, "ctrl+n")

        assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


class TestReview:
    def test_review_wrapped(self, snap_compare, sample_root: Path) -> None:
        """w wraps the diff: every fstab entry reads whole at 80 columns, no sideways scrolling."""
        steps = (*walk("seedbox-sftp", "review"), "w")
        assert snap_compare(wizard(sample_root), run_before=drive(*steps), terminal_size=SIZE)

    def test_exec_review_tree_tab_at_80_columns(self, snap_compare, sample_root: Path) -> None:
        """An exec jail on a root that boots with systemd: 10 files and the tree overflow one row of
        tabs; t brings the mount tree into view, active, and the line above says it is tab 11 of 11."""
        from txn_helpers import install_layout

        install_layout(sample_root)
        steps = (*walk("joblet-production", "review"), "t")
        assert snap_compare(wizard(sample_root), run_before=drive(*steps), terminal_size=SIZE)


class TestValidation:
    def test_mount_form_errors(self, snap_compare, sample_root: Path) -> None:
        """Adding a mount with a missing source and a target that climbs out of the jail: both fields say why."""
        steps = (*walk("seedbox-sftp", "mounts"), "a", "type:/nowhere", "tab", "type:../up")
        assert snap_compare(wizard(sample_root), run_before=drive(*steps), terminal_size=SIZE)

    def test_access_errors(self, snap_compare, sample_root: Path) -> None:
        """A CIDR with host bits set and a user name sshd would split, refused on Next; the admin warning."""
        environ = {"SSH_CONNECTION": "203.0.113.9 50022 192.0.2.1 22", "SUDO_USER": "admin"}
        steps = (*walk("seedbox-sftp", "settings-empty"), "type:203.0.113.7/24", "tab", "type:me dia", "ctrl+n")
        app = wizard(sample_root, environ=environ)
        assert snap_compare(app, run_before=drive(*steps), terminal_size=SIZE)

    def test_review_after_a_failed_plan_is_not_reached(self, snap_compare, sample_root: Path) -> None:
        """Next on the access step with the preset's placeholders still unset stays there and says so."""
        steps = (*walk("seedbox-sftp", "settings-empty"), "ctrl+n")
        assert snap_compare(wizard(sample_root), run_before=drive(*steps), terminal_size=SIZE)


class TestKeep:
    @applies
    def test_keep_from_the_applying_session_warns(self, snap_compare, wizard_root: Path) -> None:
        """k over the same SSH session that applied: the dialog says what keeping from here skips."""
        environ = {"SSH_CONNECTION": "198.51.100.4 50022 192.0.2.1 22", "SUDO_USER": "admin"}
        app = wizard(wizard_root, environ=environ, clock=before_the_deadline(wizard_root))
        pending = drive(*walk("seedbox-sftp", "review"), "ctrl+n", "ctrl+n", until_status="pending")

        async def run_before(pilot) -> None:
            await pending(pilot)
            await keys(pilot, "k")

        assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


class TestRecovery:
    def test_pending_transaction(self, snap_compare, sample_root: Path) -> None:
        """A pending transaction at start: the wizard opens on recovery, saying what it changed and how to
        undo it, and that its watchdog is armed."""
        pending_transaction(sample_root)
        assert snap_compare(wizard(sample_root), run_before=on_first_screen, terminal_size=SIZE)

    def test_watchdog_gone_is_rearmed(self, snap_compare, sample_root: Path) -> None:
        """Its watchdog gone before the deadline: the wizard arms a new one at start and says so."""
        txn_id = pending_transaction(sample_root, watchdog_alive=False)
        try:
            assert snap_compare(wizard(sample_root), run_before=on_first_screen, terminal_size=SIZE)
        finally:
            stop_watchdog(sample_root, txn_id)

    def test_watchdog_gone_past_the_deadline_is_rolled_back(self, snap_compare, sample_root: Path) -> None:
        """Its watchdog gone and the deadline passed: rolled back at start; recovery says what happened."""
        pending_transaction(sample_root, watchdog_alive=False, seconds_left=-5)
        assert snap_compare(wizard(sample_root), run_before=on_first_screen, terminal_size=SIZE)


class TestRefused:
    def test_refused_preflight_leads_to_the_fix(self, snap_compare, sample_root: Path) -> None:
        """Preflight refuses (a bind source removed since the review): no countdown, no "Next applies
        it"; Next is "Fix in Mounts", Back returns to the review."""

        async def run_before(pilot) -> None:
            await drive(*walk("seedbox-sftp", "review"))(pilot)
            (sample_root / "tank/IncomingTV").rmdir()
            await drive("ctrl+n")(pilot)
            await until(pilot, lambda: pilot.app.screen.has_class("-refused"))

        assert snap_compare(wizard(sample_root), run_before=run_before, terminal_size=SIZE)


class TestVerify:
    def test_verify_details_wrap(self, snap_compare, sample_root: Path) -> None:
        """Verify on a jail not applied yet: every check fails with a long detail, each wrapped in
        its row at 80 columns (not cut after a few characters); the fix of the highlighted one below."""
        from tui_jail.screens.verify import VerifyScreen

        async def run_before(pilot) -> None:
            await keys(pilot, *walk("seedbox-sftp", "review"))
            pilot.app.push_screen(VerifyScreen(pilot.app.state))
            await settle(pilot)  # every row in place before the cursor moves
            await keys(pilot, "down")

        assert snap_compare(wizard(sample_root), run_before=run_before, terminal_size=SIZE)


class TestHome:
    def test_three_jails(self, snap_compare, sample_root: Path) -> None:
        """Started with three applied jails (confirmed, newest change rolled back, no journal): the
        list with each one's state, drift from the quick verify, last change; the history below (h)."""
        applied_jails(sample_root)
        assert snap_compare(wizard(sample_root), run_before=drive("h"), terminal_size=SIZE)
