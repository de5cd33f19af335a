"""Snapshots of every wizard screen along each preset's walkthrough, at 80x24, on a sandbox root.

Each test drives the app with the keys a user would press (see wizard_support.walk) and compares the
screen with the SVG under __snapshots__/. The sandbox's temporary path never appears on screen
(it is shown as SANDBOX), the clock is fixed and the environment scrubbed, so the SVGs are stable.
Look at snapshot_report.html before accepting a change with --snapshot-update.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from wizard_support import keys, pending_transaction, walk, wizard

PRESETS = ["seedbox-sftp", "joblet-production", "joblet-builder", "awf-host-chroot"]
SIZE = (80, 24)


def drive(*steps: str):
    async def run_before(pilot) -> None:
        await keys(pilot, *steps)

    return run_before


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
        """Step 5: preflight findings before anything changes."""
        steps = (*walk(preset, "review"), "ctrl+n")
        assert snap_compare(wizard(sample_root), run_before=drive(*steps), terminal_size=SIZE)

    def test_verify(self, snap_compare, sample_root: Path, preset: str) -> None:
        """Step 6: every check of the jail with its result (before an apply: the failures and their fixes)."""
        steps = (*walk(preset, "review"), "ctrl+n", "ctrl+n")
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


class TestRecovery:
    def test_pending_transaction(self, snap_compare, sample_root: Path) -> None:
        """A pending transaction at start: the wizard opens on recovery, saying what it changed and how to undo it."""
        pending_transaction(sample_root)
        assert snap_compare(wizard(sample_root), terminal_size=SIZE)
