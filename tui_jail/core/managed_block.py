"""Managed blocks: the `# BEGIN tui-jail <name>` … `# END tui-jail <name>` regions tui-jail owns
inside files it shares with the admin (fstab, sshd_config). Everything outside a block is kept
byte for byte."""

from __future__ import annotations

import re

from tui_jail.paths.records import record


def begin_marker(name: str) -> str:
    return f"# BEGIN tui-jail {name}"


def end_marker(name: str) -> str:
    return f"# END tui-jail {name}"


@record
class BlockSpan:
    start: int  # character offset of the BEGIN line
    end: int  # character offset just after the END line (and its newline)


def find_block(text: str, name: str) -> BlockSpan | None:
    """The span of the named block, or None. A BEGIN without its END is an error: guessing where
    the block stops could delete the admin's lines."""
    if begin_marker(name) not in text:
        return None  # the common case, without a regex pass over a large file
    # \r?: a file an editor saved with CRLF endings keeps its block (else a second one was appended)
    pattern = re.compile(
        rf"^{re.escape(begin_marker(name))}[ \t]*\r?\n.*?^{re.escape(end_marker(name))}[ \t]*\r?(?:\n|\Z)",
        re.M | re.S,
    )
    match = pattern.search(text)
    if match is None:
        if re.search(rf"^{re.escape(begin_marker(name))}[ \t]*\r?$", text, re.M):
            raise ValueError(f"found '{begin_marker(name)}' without its '{end_marker(name)}'")
        return None
    return BlockSpan(match.start(), match.end())


def block_body(text: str, name: str) -> str | None:
    """The lines between the markers, or None when there is no block."""
    span = find_block(text, name)
    if span is None:
        return None
    inner = text[span.start : span.end].split("\n", 1)[1]
    return inner[: inner.rfind(end_marker(name))]


def wrap(name: str, body: str) -> str:
    if body and not body.endswith("\n"):
        body += "\n"
    return f"{begin_marker(name)}\n{body}{end_marker(name)}\n"


def set_block(text: str, name: str, body: str | None, *, must_be_last: bool = False) -> str:
    """Put the named block (body None: remove it) into text.

    An existing block is replaced in place, unless `must_be_last` and something other than blank
    lines follows it: then it moves to the end (an sshd Match block captures what follows it).
    A new block is appended; if the file does not end in a newline, one is added first so the
    admin's last line stays intact."""
    span = find_block(text, name)
    if span is not None:
        before, after = text[: span.start], text[span.end :]
        if body is None:
            return before + after
        if not must_be_last or not after.strip():
            return before + wrap(name, body) + after
        text = before + after
    if body is None:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + wrap(name, body)
