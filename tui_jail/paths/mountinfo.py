"""Parsing `/proc/self/mountinfo`: which mount points are live, from what, read-only or not."""

from __future__ import annotations

import re

from tui_jail.paths.records import record

_OCTAL = re.compile(r"\\([0-7]{3})")


def unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


@record
class MountEntry:
    mount_id: int
    parent_id: int
    device: str  # major:minor
    fs_root: str  # the path inside the source filesystem that is mounted here
    mount_point: str
    options: frozenset[str]  # per-mount options (ro/rw, nosuid, ...)
    fstype: str
    source: str
    super_options: frozenset[str]

    @property
    def readonly(self) -> bool:
        return "ro" in self.options


def parse_mountinfo(text: str) -> list[MountEntry]:
    entries = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        tail = right.split()
        if len(fields) < 6 or len(tail) < 2:
            continue
        entries.append(
            MountEntry(
                mount_id=int(fields[0]),
                parent_id=int(fields[1]),
                device=fields[2],
                fs_root=unescape(fields[3]),
                mount_point=unescape(fields[4]),
                options=frozenset(fields[5].split(",")),
                fstype=tail[0],
                source=unescape(tail[1]),
                super_options=frozenset(tail[2].split(",")) if len(tail) > 2 else frozenset(),
            )
        )
    return entries


def read_mountinfo(path: str = "/proc/self/mountinfo") -> list[MountEntry]:
    with open(path, encoding="utf-8", errors="surrogateescape") as file:
        return parse_mountinfo(file.read())
