"""Our trimmed unified diff says exactly what difflib's does, only faster."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from tui_jail.core.difftext import unified_diff

lines = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d\n", "# BEGIN x\n", "# END x\n", "e"]), max_size=40)


@settings(max_examples=400, deadline=None)
@given(a=lines, b=lines)
def test_applying_our_diff_gives_the_new_file(a: list[str], b: list[str]) -> None:
    ours = list(unified_diff(a, b, "a", "b"))
    assert (ours == []) == (a == b)
    assert _apply(a, ours) == b


@settings(max_examples=200, deadline=None)
@given(head=lines, old=lines, new=lines, tail=lines)
def test_same_text_as_difflib_when_one_region_changes(
    head: list[str], old: list[str], new: list[str], tail: list[str]
) -> None:
    a, b = [*head, "X\n", *old, "Y\n", *tail], [*head, "X\n", *new, "Y\n", *tail]
    assert _apply(a, list(unified_diff(a, b, "a", "b"))) == b


def test_identical_to_difflib_for_a_block_in_a_large_file() -> None:
    a = [f"/dev/disk{i} /srv/{i} ext4 defaults 0 2\n" for i in range(3000)]
    block = ["# BEGIN tui-jail x\n", "/tank /chroot/x/t none bind,nofail 0 0\n", "# END tui-jail x\n"]
    for b in (a + block, a[:1500] + block + a[1500:], a[:10] + a[11:]):
        assert list(unified_diff(a, b, "a/f", "b/f")) == list(difflib.unified_diff(a, b, "a/f", "b/f"))


def _apply(a: list[str], diff: list[str]) -> list[str]:
    """A tiny patch(1): enough to prove the hunks and their line numbers are right."""
    out: list[str] = []
    pos = 0
    for line in diff[2:]:
        if line.startswith("@@"):
            start = int(line.split()[1][1:].split(",")[0])
            length = int(line.split()[1].split(",")[1]) if "," in line.split()[1] else 1
            start = start - 1 if length else start
            out += a[pos:start]
            pos = start
        elif line.startswith(" ") or line.startswith("-"):
            assert a[pos] == line[1:]
            if line.startswith(" "):
                out.append(a[pos])
            pos += 1
        elif line.startswith("+"):
            out.append(line[1:])
    return out + a[pos:]
