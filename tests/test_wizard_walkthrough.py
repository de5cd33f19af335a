"""Pilot tests of the editing steps: preset → mounts → access/capabilities → review, on a sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Label
from wizard_support import SETTINGS_KEYS, drawn_lines, keys, run_async, settle, walk, wizard

from tui_jail.screens.access import AccessScreen
from tui_jail.screens.capabilities import CapabilitiesScreen
from tui_jail.screens.mounts import MountsScreen
from tui_jail.screens.preset import PresetScreen
from tui_jail.screens.review import ReviewScreen


def label(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Label).render())


@pytest.mark.parametrize("preset", ["seedbox-sftp", "joblet-production", "joblet-builder", "awf-host-chroot"])
@run_async
async def test_every_preset_reaches_a_plan(sample_root: Path, preset: str) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, PresetScreen)
        await keys(pilot, *walk(preset, "review"))
        assert isinstance(app.screen, ReviewScreen), label(app, "#nav-error")
        assert app.state.preset == preset
        assert app.state.plan is not None and app.state.plan.has_changes
        assert "changes:" in label(app, "#summary")
        assert app.state.spec(final=True).unset_placeholders() == []


@run_async
async def test_placeholders_are_filled_everywhere(sample_root: Path) -> None:
    """The awf preset's <agent-user> typed once on the capabilities step fills its mounts too."""
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("awf-host-chroot", "review"))
        spec = app.state.spec(final=True)
        assert spec.exec is not None and spec.exec.user == "agent"
        assert any(m.source == "/home/agent" and m.target == "home/agent" for m in spec.mounts)


@run_async
async def test_back_keeps_the_edits(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "review"), "escape")
        assert isinstance(app.screen, AccessScreen)
        assert app.screen.query_one("#addresses-input").value == "203.0.113.7"
        await keys(pilot, "escape", "escape")
        assert isinstance(app.screen, PresetScreen)
        await keys(pilot, "enter", "ctrl+n")
        assert app.state.sftp["users"] == ["media"]


@run_async
async def test_a_bad_value_on_a_later_step_does_not_block_an_earlier_one(sample_root: Path) -> None:
    """A user name typed wrongly on Access, then Back: Next on Mounts still leads back to Access to fix it."""
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "settings-empty"), "type:203.0.113.7", "tab", "type:med*a", "escape")
        assert isinstance(app.screen, MountsScreen)
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, AccessScreen)
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, AccessScreen)  # where the mistake can be fixed, it is still refused
        assert "users" in label(app, "#nav-error")


@run_async
async def test_access_refuses_a_cidr_with_host_bits(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "settings-empty"), "type:203.0.113.7/24", "tab", "type:media")
        assert "host bits set" in label(app, "#addresses-error")
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, AccessScreen)
        assert "addresses" in label(app, "#nav-error")


@run_async
async def test_access_warns_when_the_admin_would_be_caught(sample_root: Path) -> None:
    environ = {"SSH_CONNECTION": "203.0.113.9 50022 192.0.2.1 22", "SUDO_USER": "media"}
    app = wizard(sample_root, environ=environ)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "settings-empty"), "type:203.0.113.0/24")
        assert "your own address 203.0.113.9 is in the list (your user media is not)" in label(app, "#admin-warning")
        await keys(pilot, "tab", "type:media")
        assert "your own login (media from 203.0.113.9) matches both lists" in label(app, "#admin-warning")
        await keys(pilot, "ctrl+n")  # it would be jailed: not on to a review that preflight refuses
        assert isinstance(app.screen, AccessScreen)
        assert label(app, "#nav-error") == "your own login would be jailed"
        await keys(pilot, *["backspace"] * 5, "type:agent")
        assert label(app, "#nav-error") == ""  # the refusal is gone once the field changes
        assert "your own address 203.0.113.9 is in the list" in label(app, "#admin-warning")
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, ReviewScreen)


@run_async
async def test_mounts_add_toggle_delete(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"))
        assert isinstance(app.screen, MountsScreen)
        await keys(pilot, "a", "type:/var/log", "tab", "type:logs", "enter")
        assert app.state.mounts[-1] == {"source": "/var/log", "target": "logs", "readonly": False, "persist": True}
        await keys(pilot, "r", "p")
        assert app.state.mounts[-1]["readonly"] is True and app.state.mounts[-1]["persist"] is False
        await keys(pilot, "d")
        assert [m["target"] for m in app.state.mounts][-1] == "IncomingTV_staging"


@run_async
async def test_mount_form_refuses_bad_paths(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"), "a", "type:/nowhere", "tab", "type:../up")
        assert "does not exist under SANDBOX" in label(app, "#source-error")
        assert "'..'" in label(app, "#target-error")
        await keys(pilot, "enter")
        assert "'..'" in label(app, "#form-error")
        await keys(pilot, "escape")
        assert isinstance(app.screen, MountsScreen) and len(app.state.mounts) == 4


@run_async
async def test_mounts_step_blocks_a_duplicate_target(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"))
        app.state.mounts[1]["target"] = "incomingmovies"  # as a hand-edited spec could have it
        app.screen.refresh_table()
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, MountsScreen)
        assert "already used" in label(app, "#nav-error")


@run_async
async def test_capabilities_cycle_and_namespaces(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("joblet-builder", "settings"))
        assert isinstance(app.screen, CapabilitiesScreen)
        assert app.state.capability_state("CAP_CHOWN") == "held"
        await keys(pilot, "tab", "tab", "tab", "tab", "space")  # user → ipc uts net → table (first row)
        assert app.state.capability_state("CAP_CHOWN") == "drop"
        await keys(pilot, "space")
        assert app.state.capability_state("CAP_CHOWN") == "never"
        await keys(pilot, "shift+tab", "space")  # net namespace on
        assert "net" in app.state.exec["namespaces"]
        await keys(pilot, "ctrl+n")
        spec = app.state.spec(final=True)
        assert spec.exec is not None and "CAP_CHOWN" in spec.exec.capabilities.never
        assert spec.exec.namespaces == ("mount", "pid", "ipc", "uts", "net")


@run_async
async def test_unknown_run_as_user_is_refused(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("awf-host-chroot", "settings-empty"), "type:ghost", "ctrl+n")
        assert isinstance(app.screen, CapabilitiesScreen)
        assert "no user 'ghost'" in label(app, "#nav-error")


@run_async
async def test_save_and_open_a_spec(sample_root: Path, tmp_path: Path) -> None:
    app = wizard(sample_root, save_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "review"), "s", "enter")
        saved = (tmp_path / "rclone-sftp.yaml").read_text()
        assert "# The seedbox's public address" in saved and "addresses: [203.0.113.7]" in saved
    app = wizard(sample_root, save_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, "o", "type:missing.yaml", "enter")
        assert "missing.yaml" in label(app, "#path-error")
        await keys(pilot, *["backspace"] * len("missing.yaml"), "type:rclone-sftp.yaml", "enter")
        assert isinstance(app.screen, MountsScreen)
        assert app.state.origin == "rclone-sftp.yaml" and app.state.sftp["users"] == ["media"]


@run_async
async def test_a_new_jail_gets_its_own_name_and_root(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"))
        app.screen.query_one("#name-input").focus()
        await keys(pilot, "ctrl+u", "type:Bad Name")
        assert label(app, "#identity-error").startswith("name")
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, MountsScreen)  # not on with a name the spec refuses
        await keys(pilot, "ctrl+u", "type:tv-box", "tab", "ctrl+u", "type:/chroot/tv-box")
        assert label(app, "#identity-error") == ""
        assert (app.state.name, app.state.data["root"]) == ("tv-box", "/chroot/tv-box")
        await keys(pilot, "ctrl+n", *SETTINGS_KEYS["seedbox-sftp"], "ctrl+n")
        assert isinstance(app.screen, ReviewScreen)
        assert app.state.plan is not None and app.state.plan.root == "/chroot/tv-box"


@run_async
async def test_a_long_root_path_leaves_the_step_in_the_header(sample_root: Path) -> None:
    """Over SSH on a real root the title is `root <path>`: a long path is cut in its middle, not the
    step at the end (the header's own ellipsis cut "2/6 Mounts" off)."""
    from tui_jail.app import make_app

    deep = sample_root.parent / ("a-rather-long-directory-name/" * 3)
    deep.mkdir(parents=True)
    root = sample_root.rename(deep / "root")
    app = make_app(root=root, environ={}, save_dir=root, program="tui-jail")
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, "enter")
        assert isinstance(app.screen, MountsScreen)
        header = drawn_lines(app.export_screenshot())[0]
        assert header.rstrip().endswith("…ectory-name/root — 2/6 Mounts"), header


@run_async
async def test_a_field_error_names_only_that_step_s_fields(sample_root: Path) -> None:
    """A user name typed wrongly on Access, then Back to Mounts and a bad jail name: the name's error
    says the name's problem alone (it went on with "; sftp.users[0]: not a user name ...")."""
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "settings-empty"), "type:203.0.113.7", "tab", "type:1.2.3.4")
        await keys(pilot, "escape")
        app.screen.query_one("#name-input").focus()
        await keys(pilot, "ctrl+u", "type:/chroot/seed")
        shown = label(app, "#identity-error")
        assert shown.startswith("name: ") and "sftp" not in shown, shown
