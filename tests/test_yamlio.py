"""Reading YAML costs what the document is worth: no alias expansion (a 400-byte bomb took minutes and
a gigabyte), bounded nesting (the composer recurses) and a bounded size, each a one-line error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui_jail.core.yamlio import MAX_BYTES, YamlError, load_yaml_file, load_yaml_text

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)


def one_line_error(text: str, *needles: str) -> str:
    with pytest.raises(YamlError) as info:
        load_yaml_text(text, source="spec.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("spec.yaml:"), message
    for needle in needles:
        assert needle in message, message
    return message


def test_the_alias_bomb_is_refused_at_once() -> None:
    assert len(BOMB.encode()) < 700
    start = time.perf_counter()
    one_line_error(BOMB, "line 1", "anchors and aliases")
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("text", ["a: &x 1\nb: *x\n", "base: &b {k: 1}\nother:\n  <<: *b\n", "a: &only 1\n"])
def test_any_anchor_or_alias_is_refused(text: str) -> None:
    one_line_error(text, "anchors and aliases")


@pytest.mark.parametrize("opening", ["[", "{a: ", "- "])
def test_deep_nesting_is_one_line_not_a_recursion_error(opening: str) -> None:
    text = opening * 2000 if opening != "- " else "".join("  " * i + "-\n" for i in range(200))
    one_line_error(text, "nested deeper than")


def test_deep_flow_nesting_is_refused_before_the_scanner_spends_seconds() -> None:
    start = time.perf_counter()
    one_line_error("a: " + "[" * 50000, "nested deeper than")
    assert time.perf_counter() - start < 0.5  # ruamel's scanner alone took 3 s on 10,000 `[`


def test_brackets_inside_strings_still_load() -> None:
    assert load_yaml_text('a: "[[[[x]]]]"\nb: [c, {d: [e]}]\n') == {"a": "[[[[x]]]]", "b": ["c", {"d": ["e"]}]}


def test_ordinary_nesting_still_loads() -> None:
    assert load_yaml_text("a:\n  b:\n    c: [1, {d: [2]}]\n") == {"a": {"b": {"c": [1, {"d": [2]}]}}}


def test_a_huge_document_is_refused_before_parsing() -> None:
    one_line_error("k: " + "x" * MAX_BYTES + "\n", "larger than")


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_a_spec_file_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = {"device": Path("/dev/zero"), "fifo": tmp_path / "fifo", "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(YamlError, match="not a regular file"):
        load_yaml_file(path)


def test_the_cli_refuses_a_bomb_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(BOMB)
    result = subprocess.run(
        [sys.executable, "-m", "tui_jail", "plan", "--spec", str(spec)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "anchors and aliases" in result.stderr, result.stderr
