"""Text from the user, a file or the system is shown as typed, never parsed as Rich markup: markup
typed into every input of the wizard neither crashes it (MarkupError) nor loses brackets."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Label
from wizard_support import keys, run_async, settle, walk, wizard

from tui_jail.screens.access import AccessScreen
from tui_jail.screens.capabilities import CapabilitiesScreen
from tui_jail.screens.mount_form import MountForm
from tui_jail.screens.mounts import MountsScreen
from tui_jail.screens.path_modal import PathModal

MARKUP = "[/]x[b]"


def shown(app, selector: str) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(selector, Label).render())


@run_async
async def test_markup_in_the_access_fields_is_shown_as_typed(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "settings-empty"), "type:127.0.0.2, [/]", "tab", f"type:{MARKUP}")
        assert isinstance(app.screen, AccessScreen)
        await keys(pilot, "ctrl+n")  # the whole-step check reports the value as typed
        assert isinstance(app.screen, AccessScreen)
        assert "[/]" in shown(app, "#addresses-error") or "[/]" in shown(app, "#nav-error")
        assert shown(app, "#users-error")  # the user field says why, whatever its words


@run_async
async def test_a_source_with_brackets_is_named_whole(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"), "a", "type:/srv/tank/[done]", "tab", f"type:in{MARKUP}")
        assert isinstance(app.screen, MountForm)
        assert "/srv/tank/[done] does not exist" in shown(app, "#source-error")
        await keys(pilot, "enter")
        assert "/srv/tank/[done]" in shown(app, "#form-error")
        await keys(pilot, "escape")
        assert isinstance(app.screen, MountsScreen)


@run_async
async def test_a_source_with_brackets_that_exists_is_listed_whole(sample_root: Path) -> None:
    (sample_root / "srv/tank/[done]").mkdir(parents=True)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"), "a", "type:/srv/tank/[done]", "tab", "type:done", "enter")
        assert isinstance(app.screen, MountsScreen)
        assert "/srv/tank/[done]" in app.export_screenshot()  # as drawn, not as stored


@run_async
async def test_opening_a_path_with_markup_says_what_is_wrong(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await keys(pilot, "o", "type:/tmp/[/]x.yaml", "enter")
        assert isinstance(app.screen, PathModal)
        assert "[/]x.yaml" in shown(app, "#path-error")


@run_async
async def test_markup_as_the_run_as_user(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("joblet-production", "settings-empty"))
        assert isinstance(app.screen, CapabilitiesScreen)
        await keys(pilot, *["backspace"] * 12, f"type:{MARKUP}", "ctrl+n")
        assert isinstance(app.screen, CapabilitiesScreen)
        assert shown(app, "#user-error") and shown(app, "#nav-error")


@run_async
async def test_saving_as_a_path_with_markup(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "review"), "s", *["backspace"] * 20, "type:/nowhere/[/]x.yaml", "enter")
        assert isinstance(app.screen, PathModal)
        assert "[Errno 2] No such file or directory" in shown(app, "#path-error")
