"""The home screen's reader of applied records (core.plain_yaml): what yamlio.top_level_scalars reads, without
ruamel, for a record our emitter wrote or a spec a person wrote; None for anything else (left to the full
reader)."""

from __future__ import annotations

import pytest

from tui_jail.core import plain_yaml, yamlio
from tui_jail.core.plan import render_state
from tui_jail.core.spec import parse_spec
from tui_jail.presets import preset_names, preset_text

FILLED = {"<media-user>": "media", "<seedbox-ip>": "203.0.113.0/24", "<agent-user>": "agent"}


def applied_record(name: str) -> str:
    """The record apply writes for the preset `name` (placeholders filled)."""
    text = preset_text(name)
    for placeholder, value in FILLED.items():
        text = text.replace(placeholder, value)
    return render_state(parse_spec(yamlio.load_yaml_text(text)))


@pytest.mark.parametrize("name", preset_names())
def test_every_applied_record_is_read_as_the_full_reader_reads_it(name: str) -> None:
    record = applied_record(name)
    expected = yamlio.top_level_scalars(record)
    assert {"name", "kind", "root", "version"} <= set(expected)  # the control: there is something to agree on
    assert plain_yaml.top_level_scalars(record) == expected


RECORD_WITH_WORDS = (
    "# header\nname: 'null'\nversion: 1\nlist:\n  - 'true'\n  - x\nflag: false\nport: -22\nip: 10.0.0.0/8\n"
)


def test_a_record_with_words_yaml_would_misread_is_read_as_written() -> None:
    expected = yamlio.top_level_scalars(RECORD_WITH_WORDS)
    assert expected == {"name": "null", "version": "1", "flag": "false", "port": "-22", "ip": "10.0.0.0/8"}
    assert plain_yaml.top_level_scalars(RECORD_WITH_WORDS) == expected


# what people write besides what the emitter writes: read as the full reader reads it
WRITTEN = [
    "kind: exec # a comment\n",
    "kind: exec\nroot:\n",  # an empty value
    "kind: exec\nmounts:\n- a\n",  # a sequence at its key's indent
    "kind: exec\nmounts:\n    - a\n",
    "kind: exec\nmounts: [a, b]\nroot: /x\n",
    "kind: exec\n\nroot: /x\n",
    "---\nkind: exec\n",
    "kind: 'exec'\n",
    'kind: "exec"\n',
    "kind: yes\nroot: True\n",
    "kind: 0x1f\nroot: 1.5\n",
    "kind: exec\nmounts:\n  - source: /a\n    target: a\n  - source: /b\n    target: b\n    # a comment\n",
]


@pytest.mark.parametrize("text", WRITTEN, ids=range(len(WRITTEN)))
def test_what_a_person_writes_is_read_as_the_full_reader_reads_it(text: str) -> None:
    expected = yamlio.top_level_scalars(text)
    assert expected  # the control: there is something to agree on
    assert plain_yaml.top_level_scalars(text) == expected


OTHERS = [
    "",
    "# only a comment\n",
    "kind: exec\n  root: /x\n",  # a continued plain scalar
    "kind: exec\nkind: sftp\n",
    "kind: exec\nmounts:\n  - a\n   - b\n",
    "kind: exec\nmounts:\n  - - a\n",
    "kind: exec\nroot: &r /x\nother: *r\n",
    "kind: exec\r\nroot: /x\r\n",
    "kind: exec\froot: /x\n",
    "kind:\texec\n",
    "%YAML 1.1\n---\nkind: yes\n",
    "- kind: exec\n",
    "kind: exec\nmounts:\n  - source: /a\n      target: a\n",
    "".join("  " * depth + f"k{depth}:\n" for depth in range(40)) + "  " * 40 + "k: v\n",
    "k: " + "x" * yamlio.MAX_BYTES + "\n",
    "root: /x\n" + "pad: y\n" * 6000,
]


@pytest.mark.parametrize("text", OTHERS, ids=range(len(OTHERS)))
def test_anything_else_is_left_to_the_full_reader(text: str) -> None:
    assert plain_yaml.top_level_scalars(text) is None
