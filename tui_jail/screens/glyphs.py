"""The few symbols the wizard draws, and their ASCII stand-ins for the Linux console.

A recovery console (TERM=linux) draws with the kernel's built-in font: ASCII, the box-drawing and
block characters of code page 437, a few arrows. ✓ ✗ ⚠ ◀ ▶ … — and rounded corners are not in it
and show as blobs, so with `WizardState.console_font` the screens use these stand-ins instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.scrollbar import ScrollBarRender

UNICODE = {"pass": "✓", "fail": "✗", "warn": "⚠", "back": "◀", "next": "▶", "dash": "—", "dots": "…", "icon": "⭘"}
ASCII = {"pass": "+", "fail": "x", "warn": "!", "back": "<", "next": ">", "dash": "-", "dots": "...", "icon": "*"}


def glyphs(ascii_only: bool) -> Mapping[str, str]:
    return ASCII if ascii_only else UNICODE


def console_text(text: str) -> str:
    """Text from a file or the journal with the symbols above replaced by their stand-ins."""
    for name, symbol in UNICODE.items():
        text = text.replace(symbol, ASCII[name])
    return text


class BlockScrollBar(ScrollBarRender):
    """A scrollbar of whole cells (the eighth-blocks of the stock one are not in the console font)."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8
