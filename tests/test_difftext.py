"""Our trimmed unified diff is a right diff in difflib's format, and difflib's very text when one region
changes (a managed block), only faster."""

from __future__ import annotations

import difflib
from typing import ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from tui_jail.core.difftext import unified_diff, unified_text_diff
from tui_jail.core.plan import FileChange

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


# pieces of text with every line break str.splitlines knows of, lines without one at the end, CRLF
texts = st.lists(st.sampled_from(["a\n", "b\n", "a\r\n", "\r\n", "\n", "x", "\r", "\x0c", "\u2028", "b"]), max_size=14)


@settings(max_examples=1500, deadline=None)
@given(head=texts, old=texts, new=texts, tail=texts, context=st.sampled_from([0, 1, 3]))
def test_text_diff_is_the_diff_of_the_split_lines(
    head: list[str], old: list[str], new: list[str], tail: list[str], context: int
) -> None:
    a, b = "".join(head + old + tail), "".join(head + new + tail)
    want = list(unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True), "a", "b", context))
    assert list(unified_text_diff(a, b, "a", "b", context)) == want


def test_where_repeated_lines_align_otherwise_the_diff_still_gives_the_new_text() -> None:
    # difflib over the whole files aligns these blank lines otherwise than over the trimmed middle: a
    # different text, but a diff that must still turn a into b
    a = "babb\nabaa\nabab\n\nb\n\nb\n\n\nab\na\n\nb"
    b = "babb\nabaa\nabab\n\nb\n\n\n\n\n"
    ours = list(unified_text_diff(a, b, "a", "b"))
    assert ours != list(difflib.unified_diff(a.splitlines(True), b.splitlines(True), "a", "b"))
    assert "".join(_apply(a.splitlines(True), ours)) == b


class _SplitSpy(str):
    """A text that records every splitlines of the whole of it (a slice of it is a plain str)."""

    calls: ClassVar[list[int]] = []

    def splitlines(self, keepends: bool = False) -> list[str]:
        self.calls.append(len(self))
        return super().splitlines(keepends)


def test_a_plan_diff_splits_only_the_changed_region_of_a_large_file() -> None:
    # splitting a 10,000-line fstab (twice) cost a plan more than the rest of its diff
    fstab = "".join(f"/dev/disk{i} /srv/data{i} ext4 defaults,nofail 0 2\n" for i in range(10_000))
    block = "# BEGIN tui-jail x\n/tank /chroot/x/t none bind,nofail 0 0\n# END tui-jail x\n"
    for after in (fstab + block, fstab[:200_000] + block + fstab[200_000:]):
        _SplitSpy.calls.clear()
        diff = FileChange("/etc/fstab", _SplitSpy(fstab), _SplitSpy(after)).diff()
        assert _SplitSpy.calls == []
        lines = difflib.unified_diff(fstab.splitlines(True), after.splitlines(True), "a/etc/fstab", "b/etc/fstab")
        assert diff == "".join(lines)


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
