"""TERM=linux, a real recovery console: the recovery screen, every step of the wizard with its modals,
the home screen, history and verify draw only what the kernel's built-in font has (ASCII, code page
437's box-drawing, blocks and arrows), so nothing shows as a blob."""

from __future__ import annotations

from pathlib import Path

import pytest
from wizard_support import (
    CONSOLE_FONT,
    PRESET_KEYS,
    SETTINGS_KEYS,
    applied_jails,
    drawn,
    keys,
    pending_transaction,
    run_async,
    settle,
    until,
    wizard,
)

from tui_jail.screens.recovery import RecoveryScreen


@run_async
async def test_the_recovery_screen_draws_only_what_the_console_font_has(sample_root: Path) -> None:
    pending_transaction(sample_root)
    app = wizard(sample_root, environ={"TERM": "linux"})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RecoveryScreen)
        text = drawn(app.export_screenshot())
        assert "Continue >" in text and "Roll back now" in text
        assert not set(text) - CONSOLE_FONT, sorted(set(text) - CONSOLE_FONT)


@run_async
async def test_outside_the_console_the_symbols_stay(sample_root: Path) -> None:
    """The positive control: the same screen elsewhere draws symbols the console font lacks."""
    pending_transaction(sample_root)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert set(drawn(app.export_screenshot())) - CONSOLE_FONT


# every screen of a walk, and the modals on the way: what to press from the previous one
CONSOLE_WALK = (
    ("preset", []),
    ("open modal", ["o"]),
    ("mounts", ["escape", "enter"]),
    ("mount form", ["a"]),
    ("settings", ["escape", "ctrl+n"]),
    ("review", ["ctrl+n"]),
    ("wrapped review", ["w"]),
    ("save modal", ["s"]),
    ("apply: preflight", ["escape", "ctrl+n"]),
)


def off_font(app) -> set[str]:  # type: ignore[no-untyped-def]
    return set(drawn(app.export_screenshot())) - CONSOLE_FONT


async def stages_off_font(pilot, preset: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each stage of the walk through `preset` whose screen draws characters the console font lacks."""
    app = pilot.app
    lacking: dict[str, str] = {}
    await settle(pilot)
    for stage, pressed in CONSOLE_WALK:
        if stage == "mounts":
            pressed = ["escape", *PRESET_KEYS[preset], "enter"]
        if stage == "review":
            pressed = [*SETTINGS_KEYS[preset], "ctrl+n"]
        await keys(pilot, *pressed)
        if stage == "apply: preflight":
            await until(pilot, lambda: not app.screen.query_one("#next-button").disabled)
        if off_font(app):
            lacking[f"{stage} ({type(app.screen).__name__})"] = "".join(sorted(off_font(app)))
    return lacking


@pytest.mark.parametrize("preset", list(PRESET_KEYS))
@run_async
async def test_every_step_draws_only_what_the_console_font_has(sample_root: Path, preset: str) -> None:
    """Each step of the walk through a preset, its modals and the preflight, at TERM=linux."""
    app = wizard(sample_root, environ={"TERM": "linux"})
    async with app.run_test(size=(80, 24)) as pilot:
        lacking = await stages_off_font(pilot, preset)
    assert not lacking, lacking


@run_async
async def test_outside_the_console_every_step_draws_symbols(sample_root: Path) -> None:
    """The positive control: the same walk elsewhere draws, on every stage, what the font lacks."""
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        lacking = await stages_off_font(pilot, "seedbox-sftp")
    assert len(lacking) == len(CONSOLE_WALK), lacking


@run_async
async def test_home_history_and_verify_draw_only_what_the_console_font_has(sample_root: Path) -> None:
    applied_jails(sample_root)
    app = wizard(sample_root, environ={"TERM": "linux"})
    lacking: dict[str, str] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        for stage, pressed in (("home", []), ("history", ["h"]), ("verify", ["v"])):
            await keys(pilot, *pressed)
            if off_font(app):
                lacking[stage] = "".join(sorted(off_font(app)))
    assert not lacking, lacking
