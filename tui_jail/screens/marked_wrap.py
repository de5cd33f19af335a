"""A renderable for diffs and trees on an 80-column screen: each line wrapped to the width it is
given, its continuations starting with the line's own diff marker (`+`, `-`) and an indent, so a
wrapped fstab entry still reads as added or removed. Given all the width it asks for, it wraps nothing."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

MARKERS = "+-"
HANG = 2  # continuation indent after the marker


class MarkedWrap:
    def __init__(self, text: Text) -> None:
        self.lines = text.split("\n", allow_blank=True)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max((line.cell_len for line in self.lines), default=0)
        return Measurement(min(widest, 1), widest)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(options.max_width, HANG + 2)
        out = Text(no_wrap=True, overflow="crop")
        for number, line in enumerate(self.lines):
            if number:
                out.append("\n")
            out.append_text(_wrapped(line, width))
        yield out


def _wrapped(line: Text, width: int) -> Text:
    if line.cell_len <= width:
        return line
    prefix = Text(" " * HANG)
    if line.plain[:1] in MARKERS:
        prefix = line[:1] + prefix  # the marker with its colour
    room = width - prefix.cell_len
    offsets = list(range(width, len(line.plain), room))
    first, *rest = line.divide(offsets)
    wrapped = first.copy()
    for part in rest:
        wrapped.append("\n")
        wrapped.append_text(prefix)
        wrapped.append_text(part)
    return wrapped
