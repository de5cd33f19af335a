"""The spec reader without ruamel (core.plain_yaml.plain_data): for any document, either "not plain" (left
to ruamel) or exactly the data ruamel reads — the same types, values and key order (YAML 1.2 as ruamel
resolves it). Documents are generated in the shapes a person writes (block and flow, comments, quotes
and their escapes, every spelling of a number, a boolean or a null, keys that need quoting, unicode,
trailing spaces) and from loose fragments of lines, so an acceptance the subset should not make shows."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarint import ScalarInt
from ruamel.yaml.scalarstring import ScalarString

from tui_jail.core import plain_yaml, yaml_ruamel
from tui_jail.core.yamlio import YamlError, check_bounds, load_yaml_text

NOT_PLAIN = "not plain"


def typed(value: Any) -> Any:
    """`value` with the type of each node and scalar, ruamel's own containers and strings (which carry
    comments and quotes) read as the dict, list and str they are; any other ruamel type (a HexInt, a
    float, a date) stays itself, so the fast reader cannot pass by claiming one."""
    if isinstance(value, dict):
        assert type(value) in (dict, CommentedMap), type(value)
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        assert type(value) in (list, CommentedSeq), type(value)
        return ("list", [typed(v) for v in value])
    if isinstance(value, str):
        assert type(value) is str or isinstance(value, ScalarString), type(value)
        return ("str", str(value))
    if type(value) is ScalarInt:  # a decimal ruamel keeps the width of (`0`, `0755`): the int it is
        return ("int", repr(int(value)))
    return (type(value).__name__, repr(value))


def ruamel_reading(text: str) -> Any:
    """What ruamel reads: as `load_yaml_data` read every spec until now (libyaml's events, ruamel's
    constructor; ruamel's own parser for the rest), and the round-trip reader the same (unless it meets
    its own bug: a comment it cannot place raises NotImplementedError, `overlap in comment`)."""
    try:
        check_bounds(text, "<spec>")
        data = typed(yaml_ruamel.load_data(text, "<spec>"))
    except YamlError:
        return "refused"
    with contextlib.suppress(NotImplementedError):
        assert typed(load_yaml_text(text)) == data, text
    return data


def fast_reading(text: str) -> Any:
    try:
        return typed(plain_yaml.plain_data(text))
    except plain_yaml.NotPlain:
        return NOT_PLAIN


def builtin(value: Any) -> bool:
    """Whether `value` is made of Python's own dict, list, str, int, bool and None, nothing of ruamel's
    (spec.parse_spec reads only those without pydantic: ruamel's `'null'` is a SingleQuotedScalarString)."""
    if type(value) is dict:
        return all(builtin(k) and builtin(v) for k, v in value.items())
    if type(value) is list:
        return all(builtin(v) for v in value)
    return type(value) in (str, int, bool, type(None))


def assert_agrees(text: str) -> bool:
    """True if the fast reader took `text` (and read it as ruamel does, in Python's own types)."""
    fast = fast_reading(text)
    if fast == NOT_PLAIN:
        return False
    assert fast == ruamel_reading(text), text
    assert builtin(plain_yaml.plain_data(text)), text
    return True


# scalars as a person spells them
WORDS = ["a", "media", "/tank/IncomingTV", "<media-user>", "home/<agent-user>", "CAP_SYS_ADMIN", "é", "日本", "x y"]
WORDS += ["203.0.113.7", "10.0.0.0/8", "2001:db8::1", "::1", "a:b", "a#b", "a # b", "-x", "--", "---", "...", "-"]
WORDS += ["yes", "no", "on", "Off", "y", "N", "~", "null", "Null", "NULL", "nULL", "", " "]
WORDS += [w for b in ("true", "false") for w in (b, b.title(), b.upper(), b.capitalize().swapcase())]
NUMBERS = ["0", "1", "-1", "+1", "-0", "+0", "0755", "-0755", "007", "12", "1_000", "0x1f", "0X1F", "0o17", "0b101"]
NUMBERS += ["1.5", "-1.5", "1.", ".5", "1e3", "1E3", "1e+3", ".inf", "-.Inf", ".NaN", "1:30", "12:30:00", "0o", "0x"]
NUMBERS += ["2001-12-14", "2001-1-2", "2001-12-14T21:59:43.10-05:00", "2001-12-14 21:59:43", "1.2.3", "+", "-.5"]
ODD = ["<<", "=", "?x", ":x", "!x", "&x", "*x", "%x", "@x", "`x", "|", ">", "[x]", "{x}", "a,b", "a]b", "a{b", "x:"]
ODD += ["a: b", "a:", "#x", "'q'", '"q"', "it's", 'say "hi"', "back\\slash", "\u00a0", "a\u00a0b", "\U0001f600"]
ESCAPES = ["\\n", "\\t", "\\\\", '\\"', "\\/", "\\x41", "\\u00e9", "\\U0001F600", "\\0", "\\e", "\\_", "\\N", "\\ "]
ESCAPES += ["\\q", "\\x4", "\\ud800", "\\"]

# a tame document spells its scalars as a spec does (most of them in the subset); a wild one anyhow
TAME = st.sampled_from(WORDS + NUMBERS)
WILD = st.sampled_from(WORDS + NUMBERS + ODD) | st.text(st.sampled_from("ab09 -_:#,.'\"[]{}/\\é~!&*?|>%@"), max_size=6)


@st.composite
def spelled(draw: st.DrawFn, words: st.SearchStrategy[str]) -> str:
    """A scalar as a person might write it: bare, single-quoted, or double-quoted with escapes."""
    word = draw(words)
    style = draw(st.sampled_from(["plain", "plain", "single", "double"]))
    if style == "single":
        return "'" + word.replace("'", "''") + "'"
    if style == "double":
        escapes = ESCAPES[:13] if words is TAME else ESCAPES
        pieces = draw(st.lists(st.sampled_from([*escapes, word.replace("\\", "\\\\").replace('"', '\\"')]), max_size=3))
        return '"' + "".join(pieces) + '"'
    return word


def comment(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", "", "", " # a comment", "  #", " #: x", "#glued", "   "]))


@st.composite
def flow(draw: st.DrawFn, words: st.SearchStrategy[str], depth: int = 0) -> str:
    if depth < 2 and draw(st.booleans()):
        items = draw(st.lists(flow(words, depth + 1) | spelled(words), max_size=3))
        sep = draw(st.sampled_from([", ", ",", " , "]))
        if draw(st.booleans()):
            return "[" + sep.join(items) + "]"
        keys = draw(st.lists(spelled(words), max_size=3))
        return "{" + sep.join(f"{k}: {v}" for k, v in zip(keys, items, strict=False)) + "}"
    return draw(spelled(words))


@st.composite
def wrapped(draw: st.DrawFn, words: st.SearchStrategy[str], indent: int) -> str:
    """A flow collection, maybe over several lines as ruamel's emitter wraps a long one (deeper than the
    key, or not: then it is not plain)."""
    pieces = draw(flow(words)).split(", ")
    text = pieces[0]
    for piece in pieces[1:]:
        text += ",\n" + " " * draw(st.integers(0, indent + 4)) + piece if draw(st.booleans()) else ", " + piece
    return text


def on_its_line(draw: st.DrawFn, words: st.SearchStrategy[str], head: str, indent: int, kind: str) -> list[str]:
    """`head` (`key:` or `-`) with its value on its line: a scalar, a flow collection (maybe wrapped over
    the next lines), or none."""
    value = {"scalar": lambda: " " + draw(spelled(words)), "flow": lambda: " " + draw(wrapped(words, indent))}
    return f"{head}{value[kind]() if kind in value else ''}{comment(draw)}".split("\n")


@st.composite
def block(draw: st.DrawFn, words: st.SearchStrategy[str], indent: int = 0, depth: int = 0) -> list[str]:
    """The lines of a block mapping or sequence whose entries start at column `indent`."""
    pad = " " * indent
    step = draw(st.sampled_from([2, 2, 4, 1, 3]))
    lines: list[str] = []
    if draw(st.booleans()):  # a mapping
        for _ in range(draw(st.integers(1, 4))):
            key = draw(spelled(words))
            kind = draw(st.sampled_from(["scalar", "flow", "nested", "nested", "entries-at-key", "empty"]))
            if depth >= 3 and kind.startswith(("nested", "entries")):
                kind = "scalar"
            if kind in ("scalar", "flow", "empty"):
                lines += on_its_line(draw, words, f"{pad}{key}:", indent, kind)
            else:
                lines.append(f"{pad}{key}:{comment(draw)}")
                sub = draw(block(words, indent if kind == "entries-at-key" else indent + step, depth + 1))
                if kind == "entries-at-key" and not sub[0].lstrip().startswith("-"):
                    sub = draw(block(words, indent + step, depth + 1))
                lines += sub
            if draw(st.integers(0, 5)) == 0:
                lines.append(draw(st.sampled_from(["", "   ", "# between", "  # indented comment"])))
    else:  # a sequence
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["scalar", "flow", "compact", "nested", "empty"]))
            if depth >= 3 and kind in ("compact", "nested"):
                kind = "scalar"
            if kind in ("scalar", "flow", "empty"):
                lines += on_its_line(draw, words, f"{pad}-", indent, kind)
            elif kind == "compact":  # `- key: value` and the mapping's other keys under the first
                sub = draw(block(words, indent + step, depth + 1))
                lines.append(f"{pad}-{' ' * (step - 1)}{sub[0].lstrip(' ')}")
                lines += sub[1:]
            else:
                lines.append(f"{pad}-{comment(draw)}")
                lines += draw(block(words, indent + step, depth + 1))
    return lines


@st.composite
def documents(draw: st.DrawFn) -> str:
    lines = draw(block(draw(st.sampled_from([TAME, WILD]))))
    if draw(st.booleans()):
        lines = [line + draw(st.sampled_from(["", " ", "  "])) for line in lines]  # trailing spaces
    head = draw(st.sampled_from(["", "", "---\n", "# a spec\n", "# a spec\n---\n", "\n"]))
    return head + "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "\n# the end\n"]))


FRAGMENTS = ["", " ", "  ", "- ", "-", "a", "b", "k", ": ", ":", "'x'", '"y"', "[", "]", "{", "}", ", ", "#", " # c"]
FRAGMENTS += ["\t", "\r", "&a ", "*a", "!t ", "|", ">", "? ", "---", "...", "1", "0x1", "true", "~", "\\", "é", "'"]
loose_lines = st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=6).map("".join), min_size=1, max_size=6)


# what the generators reach seldom, or not at all
EDGES = [
    "k" * 1000 + ": v\n",
    "- " + "k" * 1000 + ": v\n",
    "k" * 1030 + ": v\n",
    "a: {" + "k" * 1030 + ": v}\n",
    "a: {" + "k" * 990 + ": v}\n",
    "a: [" + "k" * 2000 + "]\n",
    "a: [x,\n\n  y]\n",
    "a: [x,\n  # c\n  y]\n",
    "a: [x,\ny]\n",
    'a: ["x,\n  y"]\n',
    "a: [x,\n  y]: 1\n",
    "a: {b: [c,\n    d], e: f}\n",
    "a:\n- b: [c,\n   d]\n  e: f\n",
    "a: 123456789012345678901234567890\n",
    "a: -0\nb: +12\nc: 0755\nd: -0755\n",
]


@pytest.mark.parametrize("text", EDGES, ids=range(len(EDGES)))
def test_an_edge_is_read_as_ruamel_reads_it_or_left_to_ruamel(text: str) -> None:
    assert_agrees(text)


def test_a_long_wrapped_flow_collection_is_read_in_linear_time() -> None:
    """A flow sequence wrapped over 5,000 lines (25 KiB) is read at once: joining its lines one at a time
    and reading it again after each took a minute."""
    import time

    text = "a: [x,\n" + "  x,\n" * 5000 + "  x]\n"
    start = time.perf_counter()
    assert plain_yaml.plain_data(text) == {"a": ["x"] * 5002}
    assert time.perf_counter() - start < 2.0  # 20 ms here, loaded


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_a_written_document_is_read_as_ruamel_reads_it_or_left_to_ruamel(text: str) -> None:
    assert_agrees(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loose_lines.map("\n".join))
def test_loose_lines_are_read_as_ruamel_reads_them_or_left_to_ruamel(text: str) -> None:
    assert_agrees(text)


def corpus() -> dict[str, str]:
    """Every spec-like document tui-jail ships, writes or tests with: the presets as shipped and filled in,
    what apply keeps of each (the applied record), what the wizard saves (unchanged, edited, built new),
    ruamel's dump of each, and the specs the tests and benches write (JSON among them: JSON is YAML)."""
    import ast
    import json
    from pathlib import Path

    import fleet
    import test_path_races
    import test_plain_yaml
    import test_systemd
    import test_verify_speed
    import test_yamlio
    from txn_helpers import seedbox_text

    from tui_jail.core.plan import render_state
    from tui_jail.core.spec import parse_spec
    from tui_jail.core.spec_document import spec_yaml
    from tui_jail.core.yamlio import dump_plain_yaml, dump_yaml
    from tui_jail.paths.records import replace
    from tui_jail.presets import preset_document, preset_names, preset_text

    documents = {f"preset {name}": preset_text(name) for name in preset_names()}
    for name in preset_names():
        filled = preset_text(name)
        for placeholder, value in test_plain_yaml.FILLED.items():
            filled = filled.replace(placeholder, value)
        documents[f"filled {name}"] = filled
        documents[f"applied {name}"] = render_state(parse_spec(load_yaml_text(filled)))
        document, spec = load_yaml_text(filled), parse_spec(load_yaml_text(filled))
        documents[f"saved {name}"] = spec_yaml(document, spec)
        documents[f"built {name}"] = spec_yaml(None, spec)
        edited = replace(spec, mounts=(*spec.mounts, replace(spec.mounts[0], target="more", readonly=True)))
        documents[f"edited {name}"] = spec_yaml(preset_document(name), edited)
        documents[f"dumped {name}"] = dump_yaml(load_yaml_text(filled))
    for number, applied in enumerate(test_yamlio.applied_documents()):
        documents[f"emitted {number}"] = dump_plain_yaml(applied)
    documents["seedbox_text"] = seedbox_text(user="tjmedia", address="127.0.0.2")
    documents["fleet"] = fleet.seedbox_spec("media")
    documents["races"] = test_path_races.SPEC
    documents["systemd"] = test_systemd.SPEC
    documents["verify json"] = json.dumps(test_verify_speed.SPEC)
    documents["verify json mapped"] = json.dumps(test_verify_speed.MAPPED)
    documents["record with words"] = test_plain_yaml.RECORD_WITH_WORDS
    bench = ast.parse((Path(__file__).parents[1] / "bench/plan.py").read_text())
    documents["bench plan"] = next(
        ast.literal_eval(node.value)
        for node in bench.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SPEC"
    )
    return documents


def test_every_spec_tui_jail_ships_writes_or_tests_with_is_read_plainly_and_as_ruamel_reads_it() -> None:
    documents = corpus()
    assert len(documents) > 40, sorted(documents)
    declined = [name for name, text in documents.items() if not assert_agrees(text)]
    assert declined == []  # none left to ruamel: the fast path took each of them


def test_what_the_bounds_refuse_is_left_to_ruamel_which_refuses_it() -> None:
    """The bounds hold on both paths: nothing the full reader refuses for its size, its depth, an anchor
    or an alias is read plainly; `load_yaml_data` refuses each with the full reader's own message."""
    from test_yamlio import BOMB

    from tui_jail.core.yamlio import MAX_BYTES, MAX_DEPTH, load_yaml_data

    assert plain_yaml.MAX_PLAIN_BYTES < MAX_BYTES and plain_yaml.MAX_PLAIN_DEPTH < MAX_DEPTH

    nine_deep = "".join("  " * depth + f"k{depth}:\n" for depth in range(9)) + "  " * 9 + "k: v\n"
    refused = {
        "bomb": BOMB,
        "alias": "a: 1\nb: *x\n",
        "anchor": "a: &x 1\n",
        "flow depth": "a: " + "[" * 50000,
        "block depth": "".join("  " * depth + f"k{depth}:\n" for depth in range(200)),
        "size": "k: " + "x" * MAX_BYTES + "\n",
    }
    for name, text in refused.items():
        with pytest.raises(plain_yaml.NotPlain):
            plain_yaml.plain_data(text)
        with pytest.raises(YamlError) as info:
            load_yaml_text(text, source="spec.yaml")
        with pytest.raises(YamlError) as fast:
            load_yaml_data(text, source="spec.yaml")
        assert str(fast.value) == str(info.value), name
    with pytest.raises(plain_yaml.NotPlain):  # deeper than the subset goes, not than YAML may: ruamel reads it
        plain_yaml.plain_data(nine_deep)
    assert load_yaml_data(nine_deep) == load_yaml_text(nine_deep)
    assert plain_yaml.plain_data("a:\n  b:\n    c: [1, {d: [2]}]\n") == load_yaml_text(
        "a:\n  b:\n    c: [1, {d: [2]}]\n"
    )


def test_a_quoted_word_is_a_str_not_ruamels_own_string() -> None:
    """What the emitter writes for the device `null` is read as a str: ruamel's reading (the control) is
    its SingleQuotedScalarString, which sent every spec the wizard saved to pydantic."""
    text = "devices: ['null', zero]\n"
    assert not builtin(yaml_ruamel.load_data(text, "<spec>"))
    assert plain_yaml.plain_data(text) == {"devices": ["null", "zero"]}
    assert builtin(plain_yaml.plain_data(text))
