"""Reading YAML costs what the document is worth: no alias expansion (a 400-byte bomb took minutes and
a gigabyte), bounded nesting (the composer recurses) and a bounded size, each a one-line error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tui_jail.core import yaml_ruamel, yamlio
from tui_jail.core.yamlio import (
    MAX_BYTES,
    YamlError,
    dump_plain_yaml,
    dump_yaml,
    load_yaml_file,
    load_yaml_text,
    top_level_scalars,
)
from tui_jail.presets import preset_names, preset_text

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


def applied_documents() -> list[dict[str, object]]:
    """What the planner writes as an applied record: every preset (placeholders filled), and a big jail."""
    from tui_jail.core.spec import parse_spec, spec_data
    from tui_jail.presets import preset_text

    filled = {"<media-user>": "media", "<seedbox-ip>": "203.0.113.0/24", "<agent-user>": "agent"}
    documents = []
    for name in ("seedbox-sftp", "joblet-production", "joblet-builder", "awf-host-chroot"):
        text = preset_text(name)
        for placeholder, value in filled.items():
            text = text.replace(placeholder, value)
        documents.append(load_yaml_text(text))
    mounts = [{"source": f"/tank/s{i}", "target": f"s{i}", "readonly": i % 2 == 0} for i in range(300)]
    documents.append({**documents[0], "mounts": mounts})
    return [{"version": s.version, **spec_data(s, exclude_defaults=True)} for s in map(parse_spec, documents)]


def test_the_fast_dump_writes_what_ruamel_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    documents = applied_documents()
    expected = [dump_yaml(document) for document in documents]
    # and without ruamel's emitter: the applied records of the presets never fall back to it
    monkeypatch.setattr(yamlio, "dump_yaml", lambda data: pytest.fail(f"fell back to ruamel for {data}"))
    assert [dump_plain_yaml(document) for document in documents] == expected


TRICKY = [
    "yes",
    "No",
    "on",
    "y",
    "null",
    "NULL",
    "tRUE",
    "True",
    "true",
    "1.0",
    "0o17",
    "1e3",
    ".inf",
    "~",
    "-x",
    "a: b",
    "a #b",
    "#x",
    "",
    " x",
]
TRICKY += ["1.2", "1.2.3", "1.2.3.4.5", "2001-12-14", "1_000", "12:30", "0x1f", "203.0.113.7", "10.0.0.0/8", "::1"]
TRICKY += ["x ", "with space", "é", "a\nb", "'q'", '"q"', "[x]", "{x}", "*x", "&x", "!x", "%x", "@x", "`x", "a,b", "?x"]


@pytest.mark.parametrize("value", TRICKY)
def test_a_string_yaml_could_misread_is_written_as_ruamel_writes_it(value: str) -> None:
    document = {"name": value, "list": [value, "plain"], "mounts": [{"source": value, "target": "t"}]}
    assert dump_plain_yaml(document) == dump_yaml(document)
    assert load_yaml_text(dump_plain_yaml(document)) == document


# top_level_scalars: what the home screen reads of each applied spec before it paints


@pytest.mark.parametrize("name", preset_names())
def test_top_level_scalars_agree_with_the_whole_load(name: str) -> None:
    text = preset_text(name)
    whole = load_yaml_text(text)
    # as written: `version: 1` reads "1" (the home screen shows the kind and root as text)
    expected = {key: str(value) for key, value in whole.items() if isinstance(value, str | int)}
    assert {"name", "kind", "root"} <= set(expected)  # the control: there is something to agree on
    assert top_level_scalars(text) == expected


def test_top_level_scalars_skip_collections_and_other_documents() -> None:
    text = 'kind: exec\nmounts: [{a: b}]\n? [complex]\n: value\nroot: "/x # y"  # comment\n'
    assert top_level_scalars(text) == {"kind": "exec", "root": "/x # y"}
    assert top_level_scalars("- kind: exec\n") == {}
    assert top_level_scalars("") == {}


@pytest.mark.parametrize(
    "text",
    [
        BOMB,
        "a: &x 1\nb: *x\n",
        "a: &only 1\n",
        "a: " + "[" * 50000,
        "".join("  " * depth + f"k{depth}:\n" for depth in range(200)),
        "k: " + "x" * MAX_BYTES + "\n",
    ],
    ids=["bomb", "alias", "anchor", "flow-depth", "block-depth", "size"],
)
def test_top_level_scalars_refuse_what_the_whole_load_refuses(text: str) -> None:
    one_line_error(text)  # the control: the whole load refuses it
    with pytest.raises(YamlError) as info:
        top_level_scalars(text, source="spec.yaml")
    assert "\n" not in str(info.value) and str(info.value).startswith("spec.yaml:")


# yaml_ruamel.load_data: what load_yaml_data reads with what plain_yaml leaves to ruamel (libyaml's
# parser, the same composer)


def typed(value: object) -> object:
    """`value` with the type of every node and scalar in it: the two readers must agree on both."""
    if isinstance(value, dict):
        return (type(value).__name__, [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, repr(value))


def reading(load: Callable[[str], object], text: str) -> object:
    try:
        return typed(load(text))
    except YamlError as exc:
        return str(exc)


AGREE = [preset_text(name) for name in preset_names()]
AGREE += [
    "a: 0x1f\nb: 0o17\nc: 1_000\nd: 1.5\ne: 2001-12-14\nf: 'q'\ng: \"q\"\nh: yes\ni: ~\nj: .inf\nk: 1e3\n",
    "l: 12:30\nn: [null, zero]\no: 2001-12-14T21:59:43.10-05:00\nversion: 1.0\nv2: true\nv3: 01\n",
    "%YAML 1.1\n---\na: yes\nb: 0755\nc: 1:30\n",  # the directive's 1.1 rules: yes is true, 0755 octal
    "a:\tb\n",  # libyaml takes a tab after the colon, ruamel refuses it
    "a: |#x\n",  # libyaml reads a comment after a block scalar's indicator, ruamel refuses it
    "a: |\n  x\n  y\nb: >\n  c\n  d\n",
    "m: !!str 1\n",  # an explicit tag: ruamel's round-trip reader keeps it as a TaggedScalar
    "a: !custom x\n",
    "a: b: c\n",  # a syntax error: worded as ruamel words it
    "a: x\u2028y\n",  # libyaml refuses a line separator in a plain scalar, ruamel reads it
    "a: \x07\n",
    "x: 1\nx: 2\n",
    '{"a":1, b: [c,d], e: {f: g}}\n',
    "? [a]\n: b\n",
    "- 1\n- {a: b}\n",
    "a: 1\n---\nb: 2\n",
    "",
    "\ufeffa: 1\r\nb: 'it''s'\r\n",
    'a: "\\x41\\u00e9\\/"\n',
    BOMB,
    "a: &only 1\n",
    "".join("  " * depth + f"k{depth}:\n" for depth in range(200)),
]


def libyaml_data(text: str) -> object:
    yamlio.check_bounds(text, "<spec>")
    return yaml_ruamel.load_data(text, "<spec>")


@pytest.mark.parametrize("text", AGREE)
def test_the_libyaml_reader_reads_what_the_round_trip_reader_reads(text: str) -> None:
    assert reading(libyaml_data, text) == reading(load_yaml_text, text)


def test_the_libyaml_reader_does_not_fall_back_to_the_pure_python_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        yaml_ruamel, "load_round_trip", lambda text, source: pytest.fail(f"fell back for {text[:40]!r}")
    )
    for name in preset_names():
        assert yaml_ruamel.load_data(preset_text(name), "<spec>")["kind"] in ("sftp", "exec")


def test_the_alias_guard_runs_on_libyaml_events() -> None:
    from ruamel.yaml import YAML

    small = "a: &a [x, x]\nb: [*a, *a]\n"
    assert YAML(typ="safe").load(small) == {"a": ["x", "x"], "b": [["x", "x"], ["x", "x"]]}  # the control
    for text in (small, BOMB):
        with pytest.raises(yaml_ruamel.ComposerError, match="anchors and aliases"):
            yaml_ruamel._LibyamlLoader(text).constructor.get_single_data()  # refused before any fallback
    with pytest.raises(yaml_ruamel.ComposerError, match="nested deeper than"):
        yaml_ruamel._LibyamlLoader("".join("  " * d + f"k{d}:\n" for d in range(200))).constructor.get_single_data()
