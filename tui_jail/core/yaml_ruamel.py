"""ruamel.yaml behind the bounds (see `yaml_bounds`): the round-trip reader and writer (a user's spec keeps
its comments and key order when saved again), and the reader of what `plain_yaml` leaves to ruamel.
`yamlio` imports this module only when it needs it: ruamel's import is 25-30 ms of a command.

Reading refuses anchors and aliases (aliases expand when the tree is walked: a 400-byte alias bomb grows
to gigabytes) and nesting deeper than MAX_DEPTH (the composer recurses, deep nesting was a
RecursionError); `yamlio` has checked the document's size and flow nesting before."""

from __future__ import annotations

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

from tui_jail.core.yaml_bounds import MAX_DEPTH, YamlError, yaml_error

CParser: Any = getattr(ruamel_main, "CParser", None)  # libyaml's parser; None where ruamel has no C extension


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


def load_round_trip(text: str, source: str) -> Any:
    """The document with its comments (the wizard saves a user's spec back with them)."""
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        raise yaml_error(exc, source) from None
    except RecursionError:  # the scanner's own recursion, should a document get past the composer's bound
        raise YamlError(f"{source}: nested too deeply") from None


def load_data(text: str, source: str) -> Any:
    """What `load_round_trip` reads, without the comments: the same types and the same refusals, from
    libyaml's events (1-3 ms for a preset where ruamel's pure-Python scanner takes 8-17). A document
    libyaml might read otherwise than ruamel, and every error, is left to `load_round_trip`: a tab
    (libyaml takes `a:<tab>b`), an explicit tag or a block scalar (`|#x`: libyaml reads a comment)."""
    if CParser is None or "\t" in text:
        return load_round_trip(text, source)
    try:
        return _LibyamlLoader(text).constructor.get_single_data()
    except (YAMLError, _Deferred):
        return load_round_trip(text, source)  # its error, worded as ever (or its reading, if it has one)


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


def top_level_scalars(text: str, source: str) -> dict[str, str]:
    """See `yamlio.top_level_scalars`: read from libyaml's events without building the document, and
    refusing as the composer does (anchors, aliases, nesting)."""
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
        raise yaml_error(exc, source) from None
    return values


def dump(data: Any, out: Any) -> None:
    _yaml().dump(data, out)
