"""TERM=linux, a real recovery console: the recovery screen draws only what the kernel's built-in
font has (ASCII, code page 437's box-drawing, blocks and arrows), so nothing shows as a blob."""

from __future__ import annotations

from pathlib import Path

from wizard_support import CONSOLE_FONT, drawn, pending_transaction, run_async, settle, wizard

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
