"""Unified diffs of large files whose change is one region (a managed block), fast.

`difflib.unified_diff` matches the whole of both files; ours trims the common head and tail
first (keeping the context lines), diffs the middle and shifts the hunk line numbers back. The
output has the same format and applies to give the new file (tests/test_difftext.py); where one region
changes it is difflib's text. Where repeated lines (blank ones, say) allow more than one alignment,
difflib matching the middle alone may pick another alignment, equally right, than over the whole files.

`unified_text_diff` trims whole texts before splitting them into lines: a plan of a 10,000-line fstab
splits only the lines around its block (splitting and comparing every line cost more than the rest of
the plan).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tui_jail.core.linebreaks import only_newline_breaks

_CHUNK = 4096  # characters compared at once while looking for the first and last difference


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def unified_diff(a: Sequence[str], b: Sequence[str], fromfile: str, tofile: str, n: int = 3) -> Iterator[str]:
    """`difflib.unified_diff(a, b, fromfile, tofile, n=n)` of two lists of lines, in the same format (and
    the same text when one region changes; see the module's docstring)."""
    head = 0
    limit = min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    lo = max(0, head - n)
    a_mid, b_mid = a[lo : len(a) - max(0, tail - n)], b[lo : len(b) - max(0, tail - n)]
    return _hunks(a_mid, b_mid, lo, fromfile, tofile, n)


def unified_text_diff(a: str, b: str, fromfile: str, tofile: str, n: int = 3) -> Iterator[str]:
    """`unified_diff` of `a.splitlines(keepends=True)` and `b`'s, the same text, splitting only the
    changed region and its context."""
    if not (only_newline_breaks(a) and only_newline_breaks(b)):
        return unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True), fromfile, tofile, n)
    if a == b:
        return iter(())
    head = a.rfind("\n", 0, _common_prefix(a, b)) + 1  # the equal lines before the change end here
    a_tail, b_tail = _tail_starts(a, b, head)
    start = _lines_back(a, head, n)  # the context before the change, the same in both
    stop = _lines_forward(a, a_tail, n) - a_tail  # and after it, as many characters in both
    a_mid = a[start : a_tail + stop].splitlines(keepends=True)
    b_mid = b[start : b_tail + stop].splitlines(keepends=True)
    return _hunks(a_mid, b_mid, a.count("\n", 0, start), fromfile, tofile, n)


def _tail_starts(a: str, b: str, head: int) -> tuple[int, int]:
    """Where the equal lines after the change start in a and in b: the first line start in both within
    the text they end with, which never reaches back before `head`."""
    same = _common_suffix(a, b, min(len(a), len(b)) - head)
    a_tail, b_tail = len(a) - same, len(b) - same
    # both start a line there only where one's whole remainder is that text (else their characters before
    # it differ, so at most one is a "\n")
    if (a_tail == head and b[b_tail - 1] == "\n") or (b_tail == head and a[a_tail - 1] == "\n"):
        return a_tail, b_tail
    newline = a.find("\n", a_tail)
    step = len(a) - a_tail if newline < 0 else newline + 1 - a_tail
    return a_tail + step, b_tail + step


def _common_prefix(a: str, b: str) -> int:
    """How many characters a and b start with alike."""
    limit = min(len(a), len(b))
    if a.startswith(b) if len(a) > len(b) else b.startswith(a):
        return limit  # a block appended: one comparison, no slices
    same = 0
    while same + _CHUNK <= limit and a[same : same + _CHUNK] == b[same : same + _CHUNK]:
        same += _CHUNK
    most = min(same + _CHUNK, limit)
    while same < most:  # the first difference lies in (same, most]: halve the gap
        half = (same + most + 1) // 2
        if a[same:half] == b[same:half]:
            same = half
        else:
            most = half - 1
    return same


def _common_suffix(a: str, b: str, limit: int) -> int:
    """How many characters a and b end with alike, at most `limit`."""

    def alike(start: int, stop: int) -> bool:  # the characters start..stop from the end
        return a[len(a) - stop : len(a) - start] == b[len(b) - stop : len(b) - start]

    same = 0
    while same + _CHUNK <= limit and alike(same, same + _CHUNK):
        same += _CHUNK
    most = min(same + _CHUNK, limit)
    while same < most:
        half = (same + most + 1) // 2
        if alike(same, half):
            same = half
        else:
            most = half - 1
    return same


def _lines_back(text: str, pos: int, count: int) -> int:
    """Where the line `count` lines before the one starting at `pos` starts (0 at most)."""
    for _ in range(count):
        if pos == 0:
            break
        pos = text.rfind("\n", 0, pos - 1) + 1
    return pos


def _lines_forward(text: str, pos: int, count: int) -> int:
    """Where the line `count` lines after the one starting at `pos` starts (the end at most)."""
    for _ in range(count):
        if pos == len(text):
            break
        nl = text.find("\n", pos)
        pos = len(text) if nl < 0 else nl + 1
    return pos


def _hunks(a_mid: Sequence[str], b_mid: Sequence[str], lo: int, fromfile: str, tofile: str, n: int) -> Iterator[str]:
    """The diff of the regions a_mid and b_mid, which both start at line `lo` of their files."""
    import difflib  # here: importing the planner (verify does, and shows no diff) need not load it

    started = False
    for group in difflib.SequenceMatcher(None, a_mid, b_mid).get_grouped_opcodes(n):
        if not started:
            started = True
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1] + lo, last[2] + lo)} +{_range(first[3] + lo, last[4] + lo)} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a_mid[i1:i2])
                continue
            if tag in ("replace", "delete"):
                yield from ("-" + line for line in a_mid[i1:i2])
            if tag in ("replace", "insert"):
                yield from ("+" + line for line in b_mid[j1:j2])
