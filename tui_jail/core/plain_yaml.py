"""Plain YAML: the YAML a person writes in a spec, the presets, and what tui-jail writes (an applied record,
a spec the wizard saves), read without ruamel.

A command that only uses a spec (plan, verify, apply, an applied record, the home screen's list) imported
ruamel.yaml for 25-30 ms to read a few KiB. What a spec holds is a small subset of YAML: block mappings
and sequences, flow sequences and mappings (on one line, or wrapped between entries as ruamel's emitter
wraps a long one), plain and quoted scalars on one line, comments, blank lines, a leading `---`, and JSON
on one line. This module reads exactly that subset, into what ruamel reads (YAML 1.2 as ruamel resolves
it: `yes` is a string, `0755` the integer 755, `~` a null), and says `NotPlain` for anything else (an
anchor, an alias, a tag, a tab, a block scalar, a multi-line scalar, an odd indent, a duplicate key, a
float or a date, every error): `yamlio` leaves those to ruamel, which reads them, or words their error,
as ever. Its bounds are inside `yaml_bounds`'.
"""

from __future__ import annotations

import functools
import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Line = tuple[int, str, int]  # the indent, the line's text after it (trailing spaces removed), its number
    Scalar = Callable[[str, bool], Any]  # what a scalar becomes, from its value and whether it was plain

# a string YAML reads back as itself when written bare (YAML 1.2's true, false and null quoted): path-like
# words, nothing YAML could take for a number, a date, a key or a comment
PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@+-]*|[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?")  # or an IPv4 address
QUOTED = {"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"}  # YAML 1.2's words

# what the subset reader takes on, well inside yamlio's own bounds (so it never accepts what they refuse)
MAX_PLAIN_BYTES = 32 * 1024
MAX_PLAIN_DEPTH = 8
MAX_KEY = 1000  # YAML's implicit keys end within 1024 characters of their start

_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")  # a plain scalar does not start with one (but `-x` does)
_FLOW_STOPS = frozenset(",[]{}")

# YAML 1.2 as ruamel resolves a plain scalar (its VersionedResolver): nulls, booleans, decimal integers
# (leading zeros are decimal: `0755` is 755); any other int, float, timestamp, `<<` or `=` is one of ruamel's
# own types, left to it
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@functools.cache
def _typed() -> re.Pattern[str]:
    """ruamel's other ints, its floats, timestamps, `<<` and `=` (each with at most one `.`), compiled when
    first needed: a spec's values seldom are (0.6 of the 1.2 ms this module's import took)."""
    return re.compile(
        r"""[-+]?(?:0b[0-1_]+|0o?[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+)
    |[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
    |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
      (?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?
    |<<|=""",
        re.X,
    )


_ESCAPES = {
    "0": "\0",
    "a": "\x07",
    "b": "\x08",
    "t": "\t",
    "n": "\n",
    "v": "\x0b",
    "f": "\x0c",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_SINGLE = re.compile(r"'((?:[^']|'')*)'")
_DOUBLE = re.compile(r'"((?:[^"\\]|\\.)*)"')


class NotPlain(Exception):
    """Not in the subset: the full reader decides what it is."""


class _Unclosed(NotPlain):
    """A flow collection still open where its line ends (it may go on over the next lines)."""


def plain_data(text: str) -> Any:
    """The document `text`, as ruamel reads it (dicts, lists, str, int, bool and None, in order), if it is
    in the subset; raises NotPlain if not."""
    return _Reader(text, _resolved).document()


def top_level_scalars(text: str) -> dict[str, str] | None:
    """What `yamlio.top_level_scalars(text)` reads (the scalar values at the top of a mapping document, as
    written) if `text` is in the subset; None if not."""
    try:
        document = _Reader(text, lambda value, plain: value).document()
    except NotPlain:
        return None
    if not isinstance(document, dict):
        return None
    return {key: value for key, value in document.items() if isinstance(value, str)}


def _resolved(value: str, plain: bool) -> Any:
    """A scalar as ruamel constructs it: a quoted one is a string; a plain one is resolved (YAML 1.2)."""
    if not plain:
        return value
    if value in _NULLS:
        return None
    if value in _BOOLEANS:
        return _BOOLEANS[value]
    digits = value[1:] if value[0] in "-+" else value
    if digits and _DIGITS.issuperset(digits):
        return int(value)
    if value[0] in "-+.0123456789<=" and value.count(".") < 2 and _typed().fullmatch(value):
        raise NotPlain  # (an IPv4 address, with its three dots, is a string: no need to compile the pattern)
    return value


class _Reader:
    """The block structure, line by line: each content line is a key, a sequence entry, or both (`- key:`)."""

    def __init__(self, text: str, scalar: Scalar) -> None:
        if len(text) > MAX_PLAIN_BYTES or any(map(_unusual, set(text))):
            raise NotPlain
        self.scalar = scalar
        self.lines: list[Line] = []
        for number, line in enumerate(text.split("\n")):
            content = line.strip(" ")
            if content and not content.startswith("#"):  # blank lines and whole-line comments
                self.lines.append((len(line) - len(line.lstrip(" ")), content, number))
        if self.lines and self.lines[0][:2] == (0, "---"):
            del self.lines[0]
        if any(indent == 0 and content[:3] in ("---", "...") for indent, content, _ in self.lines):
            raise NotPlain  # another document, or a document's end

    def document(self) -> Any:
        if not self.lines or self.lines[0][0] != 0:
            raise NotPlain  # empty, or indented
        if self.lines[0][1][0] in "[{" and len(self.lines) == 1:
            return self.inline(self.lines[0][1], 0)  # a flow collection (JSON on one line is YAML)
        node, at = self.block(0, 0, 1)
        if at != len(self.lines):
            raise NotPlain
        return node

    def block(self, at: int, indent: int, depth: int) -> tuple[Any, int]:
        """The block collection whose entries start at column `indent` on lines[at:]; where it ends."""
        if depth > MAX_PLAIN_DEPTH:
            raise NotPlain
        node, at = (self.sequence if _is_entry(self.lines[at][1]) else self.mapping)(at, indent, depth)
        if at < len(self.lines) and self.lines[at][0] > indent:
            raise NotPlain  # a continued scalar, or an indent no collection has
        return node, at

    def mapping(self, at: int, indent: int, depth: int) -> tuple[dict[Any, Any], int]:
        mapping: dict[Any, Any] = {}
        while at < len(self.lines) and self.lines[at][0] == indent and not _is_entry(self.lines[at][1]):
            split = self.key(self.lines[at][1])
            if split is None:
                raise NotPlain
            key, rest = split
            if key in mapping:
                raise NotPlain  # the full reader says which of the two counts, or refuses
            mapping[key], at = self.value(rest, at + 1, indent, depth, nested_entries=True)
        return mapping, at

    def sequence(self, at: int, indent: int, depth: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        while at < len(self.lines) and self.lines[at][0] == indent and _is_entry(self.lines[at][1]):
            after = self.lines[at][1][1:]
            item = after.lstrip(" ")
            column = indent + 1 + len(after) - len(item)
            if _is_entry(item):
                raise NotPlain  # `- - x`, a sequence in a sequence on one line
            if item[:1] not in ("", "#") and self.key(item) is not None:
                # a mapping: its first key after the dash, the others below it
                self.lines[at] = (column, item, self.lines[at][2])
                node, at = self.block(at, column, depth + 1)
            else:
                node, at = self.value(item, at + 1, indent, depth, nested_entries=False)
            items.append(node)
        return items, at

    def value(self, rest: str, at: int, indent: int, depth: int, *, nested_entries: bool) -> tuple[Any, int]:
        """The value written as `rest` (after a key's colon or an entry's dash) on the line before
        lines[at]; if none, the block below it (deeper, or a key's sequence at the key's own indent)."""
        if rest and not rest.startswith("#"):
            return self.wrapped(rest, at, indent, depth)
        if at < len(self.lines):
            next_indent, next_content, _ = self.lines[at]
            if next_indent > indent or (nested_entries and next_indent == indent and _is_entry(next_content)):
                return self.block(at, next_indent, depth + 1)
        return self.scalar("", True), at

    def wrapped(self, text: str, at: int, indent: int, depth: int) -> tuple[Any, int]:
        """The value written as `text` on the line before lines[at], and where it ends: a flow collection
        may go on over the next lines, as ruamel's emitter wraps a long one (the wizard saves specs with
        it), if each is deeper than `indent` and goes on between entries (after `,`, `[` or `{`, or at a
        closing bracket: no scalar is folded), with no comment or blank line between."""
        try:
            return self.inline(text, depth), at
        except _Unclosed:
            pieces = [text]
            while at < len(self.lines):  # every line that may go on: once closed, what follows is not plain
                next_indent, next_content, number = self.lines[at]
                if next_indent <= indent or number != self.lines[at - 1][2] + 1:
                    break
                if not (pieces[-1].endswith((",", "[", "{")) or next_content.startswith(("]", "}"))):
                    break
                pieces.append(next_content)
                at += 1
        if len(pieces) == 1:
            raise NotPlain
        return self.inline(" ".join(pieces), depth), at

    def key(self, content: str) -> tuple[Any, str] | None:
        """A line's key (as its scalar) and what follows its colon, if the line is `key: ...`."""
        if content[0] in "[{":
            return None  # a flow collection (as a key, the full reader's)
        if content[0] in "'\"":
            value, end = _quoted(content, 0)
            plain = False
        else:
            colon = _key_end(content)
            if colon is None:
                return None
            value, end, plain = content[:colon], colon, True
            _check_plain(value)
        if end > MAX_KEY or content[end : end + 1] != ":" or content[end + 1 : end + 2] not in ("", " "):
            return None
        return self.scalar(value, plain), content[end + 1 :].lstrip(" ")

    def inline(self, text: str, depth: int) -> Any:
        """A value on one line: a quoted or plain scalar, or a flow collection, maybe with a comment after."""
        if text[0] in "[{":
            node, end = self.flow(text, 0, depth + 1)
            _end_of_line(text, end)
            return node
        if text[0] in "'\"":
            value, end = _quoted(text, 0)
            _end_of_line(text, end)
            return self.scalar(value, False)
        comment = text.find(" #")
        value = text if comment < 0 else text[:comment].rstrip(" ")
        _check_plain(value)
        if ": " in value or value.endswith(":"):
            raise NotPlain  # a key where a value goes
        return self.scalar(value, True)

    def flow(self, text: str, at: int, depth: int) -> tuple[Any, int]:
        """The flow collection opening at text[at] and where it closes, on this line."""
        if depth > MAX_PLAIN_DEPTH:
            raise NotPlain
        closing = "]" if text[at] == "[" else "}"
        node: Any = [] if closing == "]" else {}
        at = _skip_spaces(text, at + 1)
        if text[at : at + 1] == closing:
            return node, at + 1
        while True:
            if at == len(text):
                raise _Unclosed
            if closing == "]":
                item, at = self.flow_node(text, at, depth)
                node.append(item)
            else:
                if text[at : at + 1] in ("[", "{"):
                    raise NotPlain  # a collection as a key
                start = at
                key, at = self.flow_node(text, at, depth)
                if text[at : at + 2] != ": " or key in node or at - start > MAX_KEY:
                    raise NotPlain  # no value, `a:b`, a duplicate key, or too long a key
                node[key], at = self.flow_node(text, _skip_spaces(text, at + 2), depth)
            at = _skip_spaces(text, at)
            if text[at : at + 1] == closing:
                return node, at + 1
            if at == len(text):
                raise _Unclosed
            if text[at] != ",":
                raise NotPlain
            at = _skip_spaces(text, at + 1)
            if text[at : at + 1] in (closing, ","):
                raise NotPlain  # a trailing comma, or an empty entry

    def flow_node(self, text: str, at: int, depth: int) -> tuple[Any, int]:
        if text[at : at + 1] in ("[", "{"):
            return self.flow(text, at, depth + 1)
        if text[at : at + 1] in ("'", '"'):
            value, at = _quoted(text, at)
            return self.scalar(value, False), at
        end = at
        while end < len(text) and text[end] not in _FLOW_STOPS and text[end : end + 2] not in (": ", " #"):
            end += 1
        value = text[at:end].rstrip(" ")
        if value.endswith(":"):
            raise NotPlain  # `a:,` or `a:` at the end of the line
        _check_plain(value)
        return self.scalar(value, True), end


def _unusual(char: str) -> bool:
    """A character outside YAML's printable set, or a line break other than \n (\r, NEL, LS, PS), a tab, a
    BOM (a set of ranges, not a regular expression: compiling that class took 10-35 ms)."""
    code = ord(char)
    return not (
        code == 0x0A
        or 0x20 <= code <= 0x7E
        or (0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029))
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or code >= 0x10000
    )


def _is_entry(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _key_end(content: str) -> int | None:
    """Where a plain key ends: its first colon followed by a space or the end of the line, before any
    comment; None if the line has none."""
    comment = content.find(" #")
    at = content.find(":")
    while at >= 0 and (comment < 0 or at < comment):
        if content[at + 1 : at + 2] in ("", " "):
            return at
        at = content.find(":", at + 1)
    return None


def _check_plain(value: str) -> None:
    """Refuses a plain scalar YAML would read otherwise: empty, one that starts with an indicator (`-x`
    is a scalar, `- x` an entry), or one with spaces around it or a comment in it."""
    if not value or (value[0] in _INDICATORS and not (value[0] == "-" and value[1:2] not in ("", " "))):
        raise NotPlain
    if " #" in value or value != value.strip(" "):
        raise NotPlain


def _quoted(text: str, at: int) -> tuple[str, int]:
    """The quoted scalar opening at text[at] (its value, escapes read) and where it ends, on this line."""
    quoted = (_SINGLE if text[at] == "'" else _DOUBLE).match(text, at)
    if quoted is None:
        raise NotPlain  # the scalar goes on to the next line, or is not closed
    if text[at] == "'":
        return quoted[1].replace("''", "'"), quoted.end()
    body, chunks, done = quoted[1], [], 0
    while (slash := body.find("\\", done)) >= 0:
        chunks.append(body[done:slash])
        escape = body[slash + 1]
        if escape in _ESCAPES:
            chunks.append(_ESCAPES[escape])
            done = slash + 2
        elif escape in _HEX_ESCAPES:
            digits = body[slash + 2 : slash + 2 + _HEX_ESCAPES[escape]]
            if len(digits) != _HEX_ESCAPES[escape] or not _HEX_DIGITS.issuperset(digits):
                raise NotPlain
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise NotPlain  # half a surrogate pair, or no character at all
            chunks.append(chr(code))
            done = slash + 2 + len(digits)
        else:
            raise NotPlain  # an escape YAML does not have: the full reader words the error
    chunks.append(body[done:])
    return "".join(chunks), quoted.end()


def _end_of_line(text: str, at: int) -> None:
    """Nothing but a comment (after a space) may follow a value on its line."""
    rest = text[at:]
    if rest.strip(" ") and not (rest.startswith(" ") and rest.lstrip(" ").startswith("#")):
        raise NotPlain


def _skip_spaces(text: str, at: int) -> int:
    while text[at : at + 1] == " ":
        at += 1
    return at
