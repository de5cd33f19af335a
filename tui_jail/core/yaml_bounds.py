"""What every reader of a spec's YAML holds to, whichever reads it (`plain_yaml` or ruamel): the size a
document may have, how deep it may nest, and the one-line error that names the file and the line."""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from typing import Any

MAX_BYTES = 64 * 1024  # the largest preset is 3 KiB; ruamel reads ~20 KiB of spec per second here
MAX_DEPTH = 32  # a spec nests 4 levels deep


class YamlError(ValueError):
    """YAML that could not be read; the message says where."""


def check_bounds(text: str, source: str) -> None:
    if len(text) > MAX_BYTES:
        raise YamlError(f"{source}: larger than {MAX_BYTES // 1024} KiB; a spec is a few kilobytes")
    if _bracket_depth(text) > MAX_DEPTH:
        # before ruamel sees it: its scanner keeps a possible key per open [ or { and rescans them all
        # per token (seconds for ten thousand `[`), however early the composer stops
        raise YamlError(f"{source}: nested deeper than {MAX_DEPTH} levels")


def yaml_error(exc: Any, source: str) -> YamlError:
    """ruamel's error (a YAMLError, with its marks), in one line."""
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
