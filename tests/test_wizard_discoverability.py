"""Pilot tests of issue 16 item 8, the wizard's discoverability: what a placeholder row shows, a
source's check refreshed when the mounts step is shown again, the review's keys and tabs at 80x24,
the open dialog's path completion, where saving goes and what it refuses to write through."""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable, Label
from wizard_support import keys, run_async, settle, walk, wizard

from tui_jail.screens.mounts import MountsScreen


def label(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Label).render())


def row(app, index: int) -> list[str]:
    table = app.screen.query_one("#mounts", DataTable)
    return [cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(index)]


@run_async
async def test_a_placeholder_row_is_unresolved_not_checked(sample_root: Path) -> None:
    """awf's /home/<agent-user> is not a path yet: '?' and a note saying so, never ✓."""
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("awf-host-chroot", "mounts"))
        assert isinstance(app.screen, MountsScreen)
        index = next(i for i, m in enumerate(app.state.mounts) if "<agent-user>" in m["source"])
        cells = row(app, index)
        assert cells[0] == "?" and cells[5] == "<agent-user> unset"
        assert row(app, 0)[0] == "✓"  # a real source still checks
        app.screen.query_one("#mounts", DataTable).move_cursor(row=index)
        await settle(pilot)
        assert "<agent-user> is set on a later step; not checked until then" in label(app, "#row-notes")


@run_async
async def test_a_source_made_meanwhile_is_checked_again_when_the_step_shows(sample_root: Path) -> None:
    """A source missing on arrival (✗) and made in another terminal: the row turns ✓ once the step is
    shown again (here after a dialog), without editing the row."""
    (sample_root / "tank/IncomingTV").rmdir()
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"))
        index = next(i for i, m in enumerate(app.state.mounts) if m["source"] == "/tank/IncomingTV")
        assert row(app, index)[0] == "✗"
        (sample_root / "tank/IncomingTV").mkdir()
        await keys(pilot, "a", "escape")
        assert isinstance(app.screen, MountsScreen)
        assert row(app, index)[0] == "✓"


@run_async
async def test_a_missing_source_is_created_as_a_step_of_the_plan(sample_root: Path) -> None:
    """✗ on a missing source, `c`: the row shows + and the plan makes the directory (owned by the jail's
    user once the Access step names it); the screen itself makes nothing."""
    (sample_root / "tank/IncomingTV").rmdir()
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"))
        index = next(i for i, m in enumerate(app.state.mounts) if m["source"] == "/tank/IncomingTV")
        app.screen.query_one("#mounts", DataTable).move_cursor(row=index)
        await settle(pilot)
        assert row(app, index)[0] == "✗"
        assert "c: create it as a step of the plan" in label(app, "#row-problem")
        await keys(pilot, "c")
        assert row(app, index)[0] == "+" and row(app, index)[5] == "create"
        assert "created if missing (<media-user> 0755)" in label(app, "#row-notes")
        assert not (sample_root / "tank/IncomingTV").exists()
        await keys(pilot, "ctrl+n", "type:203.0.113.7", "tab", "type:media", "ctrl+n")
        plan = app.state.plan
        assert plan is not None
        step = next(p for p in plan.path_changes if p.path == "/tank/IncomingTV")
        assert (step.action, step.uid, step.mode) == ("create", 1001, 0o755)
        assert "created: media 0755" in plan.tree
        await keys(pilot, "escape", "escape")
        assert isinstance(app.screen, MountsScreen)
        app.screen.query_one("#mounts", DataTable).move_cursor(row=index)
        await keys(pilot, "c")  # chosen again: not any more
        assert "create" not in app.state.mounts[index] and row(app, index)[0] == "✗"


@run_async
async def test_the_mount_form_takes_a_missing_source_to_create(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"), "a", "type:/tank/new", "tab", "type:new")
        assert "tick 'create if missing'" in label(app, "#source-error")
        app.screen.query_one("#create").focus()
        await keys(pilot, "space")
        assert label(app, "#source-error") == ""
        await pilot.click("#ok-button")
        await settle(pilot)
        assert isinstance(app.screen, MountsScreen)
        assert app.state.mounts[-1]["create"] == {"owner": "<media-user>", "mode": "0755"}
        assert row(app, len(app.state.mounts) - 1)[0] == "+"


def saved_spec(sample_root: Path, tmp_path: Path) -> Path:
    """The seedbox spec, filled in, saved in a directory of its own (not where the wizard runs)."""
    from txn_helpers import seedbox_text

    where = tmp_path / "specs"
    where.mkdir(mode=0o755)
    spec = where / "tv.yaml"
    spec.write_text(seedbox_text())
    return spec


@run_async
async def test_save_offers_the_file_the_spec_was_opened_from(sample_root: Path, tmp_path: Path) -> None:
    spec = saved_spec(sample_root, tmp_path)
    here = tmp_path / "cwd"
    here.mkdir()
    app = wizard(sample_root, save_dir=here)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, "o", f"type:{spec}", "enter", "ctrl+n", "ctrl+n", "s")
        assert app.screen.query_one("#path-input").value == str(spec)
        await keys(pilot, "enter")
        assert label(app, "#summary").startswith("rclone-sftp")  # back on the review: saved
    assert list(here.iterdir()) == []
    assert "# The seedbox's public address" in spec.read_text()


async def save_into(app, pilot) -> str:
    """From the start to the review, then `s` and enter: what the dialog says ('' once saved)."""
    await keys(pilot, *walk("seedbox-sftp", "review"), "s", "enter")
    return label(app, "#path-error") if app.screen.query("#path-error") else ""


@run_async
async def test_save_refuses_a_link_planted_where_others_can_write(sample_root: Path, tmp_path: Path) -> None:
    """Run from /tmp (1777), the default ./rclone-sftp.yaml is a link another user planted to a file
    of root's: refused, the link and the file it names untouched. Without the link, refused all the
    same (anyone could swap the saved file before it is applied)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    victim = tmp_path / "victim"
    victim.write_text("root's own\n")
    planted = shared / "rclone-sftp.yaml"
    planted.symlink_to(victim)
    # the control: a plain write of that name writes the file the link names
    with open(planted, "w") as naive:
        naive.write("overwritten\n")
    assert victim.read_text() == "overwritten\n"
    victim.write_text("root's own\n")

    app = wizard(sample_root, save_dir=shared)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "is a symbolic link: not written through" in await save_into(app, pilot)
    assert planted.is_symlink() and victim.read_text() == "root's own\n"
    planted.unlink()
    app = wizard(sample_root, save_dir=shared)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "can be written by other users (mode 1777)" in await save_into(app, pilot)
    assert list(shared.iterdir()) == []


@run_async
async def test_save_in_a_users_own_directory_gives_the_new_file_to_them(sample_root: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chown(home, 1001, 1001)
    app = wizard(sample_root, save_dir=home)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await save_into(app, pilot) == ""
    made = (home / "rclone-sftp.yaml").stat()
    assert (made.st_uid, made.st_gid, made.st_mode & 0o777) == (1001, 1001, 0o644)


def _pane_text(app) -> str:
    from textual.widgets import Static, TabbedContent

    tabs = app.screen.query_one("#tabs", TabbedContent)
    return str(tabs.get_pane(tabs.active).query_one(Static).render())


@run_async
async def test_the_review_says_how_to_switch_tabs_and_scroll_and_both_work(sample_root: Path) -> None:
    from textual.containers import ScrollableContainer
    from textual.widgets import TabbedContent

    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("joblet-builder", "review"))
        assert "←/→ switch tabs · tab, then ↑/↓ PgUp/PgDn scroll the diff · t tree · w wrap" in label(app, ".intro")
        shown = {binding.key for (_, binding, enabled, _) in app.screen.active_bindings.values() if binding.show}
        assert {"s", "w", "t"} <= shown  # in the footer
        assert label(app, "#tab-where") == "tab 1 of 4: /etc/fstab"
        await keys(pilot, "right")
        assert label(app, "#tab-where") == "tab 2 of 4: /var/lib/tui-jail/jails/joblet-builder.yaml"
        await keys(pilot, "left", "tab")
        diff = app.screen.query_one("#tabs", TabbedContent).get_pane("file-0").query_one(ScrollableContainer)
        assert diff.has_focus and diff.max_scroll_y > 0
        await keys(pilot, "down", "down")
        assert diff.scroll_y == 2


@run_async
async def test_a_diff_and_the_tree_show_their_last_line(sample_root: Path) -> None:
    """The review's text was one line short of its content: the END of the fstab block and the tree's
    last entry were never on screen, scrolled or not."""
    from textual.widgets import Static, TabbedContent

    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("joblet-production", "review"))
        plan = app.state.plan
        tabs = app.screen.query_one("#tabs", TabbedContent)
        fstab = plan.changed_files[0].diff().rstrip("\n").splitlines()
        assert fstab[-1] == "+# END tui-jail joblet-production"
        assert tabs.get_pane("file-0").query_one(Static).size.height == len(fstab)
        await keys(pilot, "t")
        assert tabs.get_pane("mount-tree").query_one(Static).size.height == len(plan.tree.splitlines())


@run_async
async def test_every_review_tab_is_reachable_and_shown_at_80_columns(sample_root: Path) -> None:
    """An exec jail on a root that boots with systemd: 10 files and the tree, more than a row of 80
    columns holds. `t` (and → as often as needed) brings the tree tab into view, and the line above
    says which of how many it is."""
    from textual.widgets import Tab, TabbedContent
    from txn_helpers import install_layout

    install_layout(sample_root)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("joblet-production", "review"))
        tabs = app.screen.query_one("#tabs", TabbedContent)
        count = len(app.state.plan.changed_files) + 1
        assert count == 11
        tree_tab = app.screen.query_one("#tabs Tab#--content-tab-mount-tree", Tab)
        assert tree_tab.region.right > 80 or not tree_tab.region  # off screen at first
        await keys(pilot, "t")
        assert tabs.active == "mount-tree"
        assert tree_tab.region.x >= 0 and tree_tab.region.right <= 80 and tree_tab.region.width
        assert label(app, "#tab-where") == f"tab {count} of {count}: the mount tree, as seen inside the jail"
        await keys(pilot, *["left"] * (count - 1))
        assert label(app, "#tab-where") == "tab 1 of 11: /etc/systemd/system/tui-jail-recover.service"


@run_async
async def test_the_open_dialog_completes_paths_on_tab(sample_root: Path, tmp_path: Path) -> None:
    """Tab extends the typed path by what its directory's matching entries share (a lone directory
    gets its /), and lists them when several match; relative to where the wizard saves."""
    from txn_helpers import seedbox_text

    here = tmp_path / "cwd"
    (here / "specs").mkdir(parents=True)
    (here / "specs/rclone-one.yaml").write_text(seedbox_text())
    (here / "specs/rclone-two.yaml").write_text(seedbox_text())
    (here / "specs/other.yaml").write_text("")
    app = wizard(sample_root, save_dir=here)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, "o", "type:sp", "tab")
        field = app.screen.query_one("#path-input")
        assert field.value == "specs/"
        await keys(pilot, "type:r", "tab")
        assert field.value == "specs/rclone-"
        assert label(app, "#path-hints") == "rclone-one.yaml  rclone-two.yaml"
        await keys(pilot, "type:o", "tab")
        assert field.value == "specs/rclone-one.yaml" and label(app, "#path-hints") == ""
        await keys(pilot, "enter")
        assert isinstance(app.screen, MountsScreen)
        assert app.state.opened == here / "specs/rclone-one.yaml"
    app = wizard(sample_root, save_dir=here)
    async with app.run_test(size=(80, 24)) as pilot:  # an absolute path, and no match
        await keys(pilot, "o", f"type:{here}/spe", "tab", "type:x", "tab")
        assert app.screen.query_one("#path-input").value == f"{here}/specs/x"
        assert label(app, "#path-hints") == "no match"
