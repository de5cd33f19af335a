"""Pilot tests of the home screen: with applied jails (and nothing pending) the wizard opens on their
list; drift fills in from a worker after the list paints; new, edit and verify lead into the steps
and back home."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from wizard_support import applied_jails, keys, run_async, settle, wizard

from tui_jail.app import WizardApp
from tui_jail.screens.home import HomeScreen
from tui_jail.screens.mounts import MountsScreen
from tui_jail.screens.preset import PresetScreen
from tui_jail.screens.verify import VerifyScreen


def rows(app) -> list[list[str]]:  # type: ignore[no-untyped-def]
    table = app.screen.query_one("#jails", DataTable)
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


@asynccontextmanager
async def home(sample_root: Path) -> AsyncIterator[tuple[WizardApp, Pilot[None]]]:
    """The wizard on a root with three applied jails, at 80x24, its start-up workers done."""
    applied_jails(sample_root)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        yield app, pilot


@run_async
async def test_the_list_paints_then_drift_fills_in(sample_root: Path) -> None:
    applied_jails(sample_root)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await settle(pilot)
        listed = {row[0]: row for row in rows(app)}
        assert set(listed) == {"rclone-sftp", "joblet-production", "joblet-builder"}
        assert listed["rclone-sftp"][1:] == ["sftp", "confirmed", "drifted", "1 h ago", "/chroot/rclone-sftp"]
        assert listed["joblet-production"][2] == "rolled-back"
        assert listed["joblet-builder"][2] == "applied"  # no journal left: applied, state unknown
        assert all(row[3] == "drifted" for row in listed.values())  # nothing is live here
        detail = str(app.screen.query_one("#jail-detail", Static).render())
        assert detail.startswith("joblet-builder at /opt/joblet/jobs/builder\ndrifted: changes: ")


@run_async
async def test_edit_opens_the_applied_spec_and_back_returns_home(sample_root: Path) -> None:
    async with home(sample_root) as (app, pilot):
        await keys(pilot, "e")  # the first row
        assert isinstance(app.screen, MountsScreen)
        assert app.state.origin == f"the applied jail {app.state.name}"
        assert "do not edit" not in str(app.state.document.ca.comment)  # the editable document
        await keys(pilot, "escape")
        assert isinstance(app.screen, HomeScreen)


@run_async
async def test_verify_and_new_lead_into_the_steps(sample_root: Path) -> None:
    async with home(sample_root) as (app, pilot):
        await keys(pilot, "v")
        assert isinstance(app.screen, VerifyScreen)
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, HomeScreen)
        await keys(pilot, "h")
        assert "apply rclone-sftp  confirmed" in str(app.screen.query_one("#history", Static).render())
        await keys(pilot, "n")
        assert isinstance(app.screen, PresetScreen)
        assert app.state.origin == ""


@run_async
async def test_the_history_is_made_at_the_first_h_and_h_toggles_it(sample_root: Path) -> None:
    async with home(sample_root) as (app, pilot):
        assert not app.screen.query("#history")  # not composed before the first paint, which does not show it
        await keys(pilot, "h")
        history = app.screen.query_one("#history", Static)
        assert history.display and "apply rclone-sftp  confirmed" in str(history.render())
        await keys(pilot, "h")
        assert not history.display
        await keys(pilot, "h")
        assert history.display and "apply rclone-sftp  confirmed" in str(history.render())
