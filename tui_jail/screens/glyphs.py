"""The few symbols the wizard draws, and their ASCII stand-ins for the Linux console.

A recovery console (TERM=linux) draws with the kernel's built-in font: ASCII, the box-drawing and
block characters of code page 437, a few arrows. ✓ ✗ ⚠ ◀ ▶ … — and rounded corners are not in it
and show as blobs, so with `WizardState.console_font` the screens use these stand-ins instead, and
`ConsoleFont` redraws whatever else a widget draws (Textual's input borders, tab underlines,
scrollbar eighths) with the nearest character the font has, on every screen.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter
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


# one cell for one cell: code page 437's look-alike (its box drawing, half blocks and triangles)
# for each character Textual or the screens draw that the console's font lacks
CONSOLE_STAND_INS = str.maketrans(
    {
        **dict(zip("╭╮╰╯", "┌┐└┘", strict=True)),
        **dict.fromkeys("━╸╺╼╾", "─"),
        **dict.fromkeys("┃╹╻╽╿", "│"),
        **dict.fromkeys("▔", "▀"),
        **dict.fromkeys("▁▂▃", "▄"),
        **dict.fromkeys("▅▆▇", "█"),
        **dict.fromkeys("▏▎▍▋▊", "▌"),
        "▉": "█",
        **dict(zip("✓✗⚠◀▶—…⭘", "+x!◄►-.*", strict=True)),
    }
)


class ConsoleFont(LineFilter):
    """Every drawn line with the console font's stand-ins (`App.get_line_filters` applies it)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [Segment(text.translate(CONSOLE_STAND_INS), style, control) for text, style, control in segments]
