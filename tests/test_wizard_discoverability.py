"""Pilot tests of issue 16 item 8, the wizard's discoverability: what a placeholder row shows, a
source's check refreshed when the mounts step is shown again, the review's keys and tabs at 80x24,
the open dialog's path completion, where saving goes and what it refuses to write through."""

from __future__ import annotations

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
