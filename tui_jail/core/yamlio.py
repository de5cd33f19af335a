"""YAML in and out, round-trip: a user's spec keeps its comments and key order when saved again.

Reading is bounded before anything is validated: a spec is a small tree, so anchors and aliases are
refused (aliases expand when the tree is walked: a 400-byte alias bomb grows to gigabytes), nesting is
capped (the composer recurses, deep nesting was a RecursionError) and so is the document's size.

Two readers: `load_yaml_text` keeps the comments (the wizard saves a user's spec back with them);
`load_yaml_data` is for reading a spec to use it (apply, plan, verify, an applied record): the same
data from libyaml's parser in C, through the same bounded composer, five times faster."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import main as ruamel_main
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.resolver import VersionedResolver

from tui_jail.core.plain_yaml import PLAIN, QUOTED
from tui_jail.paths.system import read_regular

CParser: Any = getattr(ruamel_main, "CParser", None)  # libyaml's parser; None where ruamel has no C extension

MAX_BYTES = 64 * 1024  # the largest preset is 3 KiB; ruamel reads ~20 KiB of spec per second here
MAX_DEPTH = 32  # a spec nests 4 levels deep


class YamlError(ValueError):
    """YAML that could not be read; the message says where."""


class _BoundedComposer(Composer):
    """The composer, refusing anchors and aliases and nesting deeper than MAX_DEPTH."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent) or event.anchor is not None:
            raise ComposerError(None, None, "anchors and aliases (&name, *name) are not accepted", event.start_mark)
        if self.depth >= MAX_DEPTH:
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Composer = _BoundedComposer
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_yaml_text(text: str, *, source: str = "<spec>") -> Any:
    _check_bounds(text, source)
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        raise _yaml_error(exc, source) from None
    except RecursionError:  # the scanner's own recursion, should a document get past the composer's bound
        raise YamlError(f"{source}: nested too deeply") from None


def load_yaml_data(text: str, *, source: str = "<spec>") -> Any:
    """What `load_yaml_text` reads, without the comments: the same types and the same refusals, from
    libyaml's events (1-3 ms for a preset where ruamel's pure-Python scanner takes 8-17). A document
    libyaml might read otherwise than ruamel, and every error, is left to `load_yaml_text`: a tab
    (libyaml takes `a:<tab>b`), an explicit tag or a block scalar (`|#x`: libyaml reads a comment)."""
    if CParser is None or "\t" in text:
        return load_yaml_text(text, source=source)
    _check_bounds(text, source)
    try:
        return _LibyamlLoader(text).constructor.get_single_data()
    except (YAMLError, _Deferred):
        return load_yaml_text(text, source=source)  # its error, worded as ever (or its reading, if it has one)


class _Deferred(Exception):
    """An event whose reading libyaml and ruamel's own parser may not agree on."""


class _LibyamlEvents:
    """libyaml's parser as the event source of `_BoundedComposer` (the guard runs on its events as on
    ruamel's); hands a `%YAML 1.1` directive's version to the resolver as ruamel's scanner does."""

    def __init__(self, text: str) -> None:
        self._parser = CParser(text)
        self.yaml_version: Any = None

    def check_event(self, *choices: Any) -> bool:
        return bool(self._parser.check_event(*choices))

    def peek_event(self) -> Any:
        return self._parser.peek_event()

    def get_event(self) -> Any:
        event = self._parser.get_event()
        if isinstance(event, DocumentStartEvent) and event.version:
            self.yaml_version = event.version
        elif isinstance(event, ScalarEvent | CollectionStartEvent) and (
            event.tag is not None or getattr(event, "style", None) in ("|", ">")
        ):
            raise _Deferred
        return event


class _LibyamlLoader:
    """The parts ruamel's constructor and composer look up on their loader, libyaml's parser first."""

    comment_handling = None  # comments are not kept: libyaml reports none

    def __init__(self, text: str) -> None:
        self._parser = self._scanner = _LibyamlEvents(text)  # the resolver reads `_scanner.yaml_version`
        self._resolver = VersionedResolver(loadumper=self)
        self._composer = _BoundedComposer(loader=self)
        self.constructor = RoundTripConstructor(preserve_quotes=True, loader=self)


def top_level_scalars(text: str, *, source: str = "<spec>") -> dict[str, str]:
    """The scalar values at the top of a mapping document (`kind: exec` gives {"kind": "exec"}), as written,
    read from libyaml's events without building the document: the home screen lists every applied
    jail's kind and root before it first paints, and a round-trip load of three specs took 60-200 ms
    where this takes 1-10. Bounded as `load_yaml_text` is: size, nesting, no anchors or aliases."""
    _check_bounds(text, source)
    values: dict[str, str] = {}
    depth, key, at_key = 0, None, True  # at_key: the next top-level node is a key (else its value)
    try:
        for event in YAML(typ="safe").parse(text):  # libyaml's parser where ruamel has it, which is fast
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
                raise YamlError(f"{source}: anchors and aliases (&name, *name) are not accepted")
            if isinstance(event, MappingStartEvent | SequenceStartEvent):
                if depth == 0 and isinstance(event, SequenceStartEvent):
                    return {}  # not a mapping
                if depth == 1:
                    key, at_key = None, not at_key  # a collection as key or value: no scalar to report
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlError(f"{source}: nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                depth -= 1
            elif isinstance(event, ScalarEvent) and depth == 1:
                if not at_key and key is not None:
                    values[key] = event.value
                key, at_key = (event.value if at_key else None), not at_key
    except YAMLError as exc:
        raise _yaml_error(exc, source) from None
    return values


def _check_bounds(text: str, source: str) -> None:
    if len(text) > MAX_BYTES:
        raise YamlError(f"{source}: larger than {MAX_BYTES // 1024} KiB; a spec is a few kilobytes")
    if _bracket_depth(text) > MAX_DEPTH:
        # before ruamel sees it: its scanner keeps a possible key per open [ or { and rescans them all
        # per token (seconds for ten thousand `[`), however early the composer stops
        raise YamlError(f"{source}: nested deeper than {MAX_DEPTH} levels")


def _yaml_error(exc: YAMLError, source: str) -> YamlError:
    mark = getattr(exc, "problem_mark", None)
    where = f" line {mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return YamlError(f"{source}:{where}: {problem}")


_NOT_BRACKETS = re.compile(r"[^][{}]+")


def _bracket_depth(text: str) -> int:
    """The deepest nesting of flow brackets, quotes not considered (a bracket inside a string counts:
    that only overestimates, and a real spec has no 32 unclosed ones)."""
    depth = deepest = 0
    for char in _NOT_BRACKETS.sub("", text):
        depth = depth + 1 if char in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def load_yaml_file(path: Path, *, comments: bool = True) -> Any:
    """The file's document, `load_yaml_text`'s (with `comments`, for saving it again) or `load_yaml_data`'s."""
    try:
        data = read_regular(path, MAX_BYTES)
    except OSError as exc:
        raise YamlError(f"{path}: {exc.strerror}") from None
    except ValueError as exc:
        raise YamlError(f"{path}: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlError(f"{path}: not UTF-8 text") from None
    return (load_yaml_text if comments else load_yaml_data)(text, source=str(path))


def dump_yaml(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


class _NotPlain(Exception):
    pass


def dump_plain_yaml(data: dict[str, Any]) -> str:
    """`dump_yaml` of plain data (a dict of dicts, lists, bools, ints and strings), the same text at a
    fraction of the cost when every string, key and list is simple: ruamel's pure-Python emitter takes a
    millisecond or more per mount of a spec. Anything else goes to ruamel itself."""
    try:
        lines: list[str] = []
        _emit_mapping(data, "", lines)
    except _NotPlain:
        return dump_yaml(data)
    return "".join(lines)


def _emit_mapping(data: dict[str, Any], indent: str, lines: list[str], first: str | None = None) -> None:
    """Each key on a line of its own at `indent` (the first after `first`, a list item's dash, if given)."""
    if not data:
        raise _NotPlain
    for key, value in data.items():
        head = f"{indent if first is None else first}{_scalar(key)}:"
        first = None
        if isinstance(value, dict):
            lines.append(head + "\n")
            _emit_mapping(value, indent + "  ", lines)
        elif isinstance(value, list):
            lines.append(head + "\n")
            _emit_sequence(value, indent + "  ", lines)
        else:
            lines.append(f"{head} {_scalar(value)}\n")


def _emit_sequence(items: list[Any], indent: str, lines: list[str]) -> None:
    if not items:
        raise _NotPlain
    for item in items:
        if isinstance(item, dict):
            _emit_mapping(item, indent + "  ", lines, first=indent + "- ")
        elif isinstance(item, list):
            raise _NotPlain
        else:
            lines.append(f"{indent}- {_scalar(item)}\n")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and PLAIN.fullmatch(value):
        if value in QUOTED:  # the device `null` is a word, not a null
            return f"'{value}'"
        if value.lower() not in {"true", "false", "null"}:
            return value
    raise _NotPlain
