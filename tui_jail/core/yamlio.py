"""YAML in and out for the rest of tui-jail: every reader bounded (see `yaml_bounds`: size, nesting, no
anchors or aliases) before anything is validated, and ruamel.yaml imported only where it is needed.

Two readers: `load_yaml_text` keeps the comments (the wizard saves a user's spec back with them, round
trip, through ruamel); `load_yaml_data` is for reading a spec to use it (apply, plan, verify, an applied
record): the same data, read by `plain_yaml` without ruamel when the document is plain YAML (every
preset, what tui-jail writes, what a person writes in a spec), else by ruamel (`yaml_ruamel`), which
reads everything else and words every error as ever."""

from __future__ import annotations

import io
from pathlib import Path

from tui_jail.core.plain_yaml import PLAIN, QUOTED, NotPlain, plain_data
from tui_jail.core.yaml_bounds import MAX_BYTES as MAX_BYTES
from tui_jail.core.yaml_bounds import MAX_DEPTH as MAX_DEPTH
from tui_jail.core.yaml_bounds import YamlError as YamlError
from tui_jail.core.yaml_bounds import check_bounds
from tui_jail.paths.system import read_regular

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from typing import Any


def load_yaml_text(text: str, *, source: str = "<spec>") -> Any:
    """The document as ruamel's round-trip reader reads it: comments, quotes and key order kept."""
    check_bounds(text, source)
    from tui_jail.core import yaml_ruamel

    return yaml_ruamel.load_round_trip(text, source)


def load_yaml_data(text: str, *, source: str = "<spec>") -> Any:
    """What `load_yaml_text` reads, as plain data (dicts, lists, str, int, bool, None, in the same order),
    without its comments; the same refusals and errors. Plain YAML is read without importing ruamel
    (25-30 ms of a command, for a document `plain_yaml` reads in well under one)."""
    check_bounds(text, source)
    try:
        return plain_data(text)
    except NotPlain:
        from tui_jail.core import yaml_ruamel

        return yaml_ruamel.load_data(text, source)


def top_level_scalars(text: str, *, source: str = "<spec>") -> dict[str, str]:
    """The scalar values at the top of a mapping document (`kind: exec` gives {"kind": "exec"}), as written,
    read without building the document: the home screen lists every applied jail's kind and root before
    it first paints, and a round-trip load of three specs took 60-200 ms where this takes 1-10. Bounded
    as `load_yaml_text` is: size, nesting, no anchors or aliases."""
    check_bounds(text, source)
    from tui_jail.core import yaml_ruamel

    return yaml_ruamel.top_level_scalars(text, source)


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
    from tui_jail.core import yaml_ruamel

    out = io.StringIO()
    yaml_ruamel.dump(data, out)
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
