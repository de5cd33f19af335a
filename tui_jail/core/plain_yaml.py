"""The plain YAML that tui-jail's own emitter writes (`yamlio.dump_plain_yaml`, the applied records), read
back without ruamel.

The home screen lists every applied jail's kind and root before it first paints; importing ruamel for
that cost more than the rest of the list. A record our emitter wrote is a small, rigid subset of YAML:
block mappings and sequences indented by two, one scalar per line, each a plain word, path, IPv4 address,
integer, true/false, or a quoted YAML word ('null'). `top_level_scalars` reads exactly that subset and
nothing else (a comment after a value, a flow collection, an anchor, a tab, an unusual indent): that is
for `yamlio.top_level_scalars`, which reads and refuses as every load does.
"""

from __future__ import annotations

import re
from typing import Any

# a string YAML reads back as itself when written bare (YAML 1.2's true, false and null quoted): path-like
# words, nothing YAML could take for a number, a date, a key or a comment
PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@+-]*|[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?")  # or an IPv4 address
QUOTED = {"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"}  # YAML 1.2's words

# what the subset reader takes on, well inside yamlio's own bounds (so it never accepts what they refuse)
MAX_PLAIN_BYTES = 32 * 1024
MAX_PLAIN_DEPTH = 8
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_ENTRY = re.compile(r"([^\s:'#]+|'[A-Za-z]+'):(?: (.*))?")  # key: [value]


class _NotPlain(Exception):
    """Not a document the emitter writes: the full reader decides what it is."""


def top_level_scalars(text: str) -> dict[str, str] | None:
    """What `yamlio.top_level_scalars(text)` reads (the scalar values at the top of a mapping document, as
    written) if the emitter could have written `text`; None if not."""
    try:
        if len(text) > MAX_PLAIN_BYTES:
            raise _NotPlain
        # split at newlines alone: YAML does not break lines at what else str.splitlines() breaks at (\f, \x85)
        lines = [(len(line) - len(line.lstrip(" ")), line.lstrip(" ")) for line in text.removesuffix("\n").split("\n")]
        lines = [line for line in lines if not (line[0] == 0 and line[1].startswith("#"))]  # whole-line comments
        document, end = _mapping(lines, 0, 0, 0)
        if end != len(lines) or not document:
            raise _NotPlain
    except _NotPlain:
        return None
    return {key: value for key, value in document.items() if isinstance(value, str)}


Lines = list[tuple[int, str]]


def _mapping(lines: Lines, at: int, indent: int, depth: int) -> tuple[dict[str, Any], int]:
    """The block mapping whose keys start at column `indent` on lines[at:]; where it ends."""
    if depth > MAX_PLAIN_DEPTH:
        raise _NotPlain
    mapping: dict[str, Any] = {}
    while at < len(lines) and lines[at][0] == indent:
        entry = _ENTRY.fullmatch(lines[at][1])
        if entry is None:
            raise _NotPlain
        key, value = _scalar(entry[1]), entry[2]
        if key in mapping:
            raise _NotPlain  # the full reader says which of the two counts
        at += 1
        if value is not None:
            mapping[key] = _scalar(value)
        elif at < len(lines) and lines[at][0] == indent + 2:  # the emitter nests every collection by two
            mapping[key], at = _collection(lines, at, indent + 2, depth + 1)
        else:
            raise _NotPlain  # an empty value (a null): the emitter never writes one
    if at < len(lines) and lines[at][0] > indent:
        raise _NotPlain
    return mapping, at


def _collection(lines: Lines, at: int, indent: int, depth: int) -> tuple[Any, int]:
    if not lines[at][1].startswith("- "):
        return _mapping(lines, at, indent, depth)
    items: list[Any] = []
    while at < len(lines) and lines[at][0] == indent and lines[at][1].startswith("- "):
        item = lines[at][1][2:]
        if _ENTRY.fullmatch(item):  # a mapping: its first key after the dash, the others below it
            lines[at] = (indent + 2, item)
            mapping, at = _mapping(lines, at, indent + 2, depth + 1)
            items.append(mapping)
        else:
            items.append(_scalar(item))
            at += 1
    return items, at


def _scalar(text: str) -> str:
    """A scalar as written (quotes taken off), if it is one the emitter writes."""
    if text in ("true", "false") or _INTEGER.fullmatch(text):
        return text
    if len(text) > 2 and text[0] == text[-1] == "'" and text[1:-1] in QUOTED:
        return text[1:-1]
    if PLAIN.fullmatch(text) and text.lower() not in {"true", "false", "null"}:
        return text
    raise _NotPlain
