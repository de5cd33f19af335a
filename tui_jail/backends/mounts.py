"""Bind mounts, read-only remounts and unmounts of a jail, and the check of what they left.

The mechanics — safe resolution, the new mount API, identities — are the path layer's
(`tui_jail.paths.binds`); this backend speaks in the jail's terms. A read-only bind is made
read-only before it is attached (no moment where it is writable). An apply checks all its mounts
once the last of them is made, before any file that sends logins into the jail is written; a
rollback checks each mount it restores. Never a lazy unmount: one of something busy would report
success while the mount lives on.
"""

from __future__ import annotations

from collections.abc import Iterable

from tui_jail.paths import binds
from tui_jail.paths.binds import Identity, Record
from tui_jail.paths.records import record
from tui_jail.paths.system import SystemRoot


class MountError(RuntimeError):
    pass


@record
class Expected:
    """What a live mount point must show: bound from `source` (if given), read-only or not (if given)."""

    target: str
    source: str | None = None
    readonly: bool | None = None


def bind(
    system: SystemRoot, source: str, target: str, *, readonly: bool = False, record: Record | None = None
) -> Identity:
    return binds.bind(system.dir, source, target, readonly=readonly, record=record)


def remount(
    system: SystemRoot, target: str, readonly: bool, *, expect: Identity | None = None, record: Record | None = None
) -> bool:
    return binds.set_readonly(system.dir, target, readonly, expect=expect, record=record)


def umount(system: SystemRoot, target: str, *, expect: Identity | None = None, record: Record | None = None) -> bool:
    return binds.unmount(system.dir, target, expect=expect, record=record)


def check(system: SystemRoot, expected: Iterable[Expected]) -> None:
    """Raise MountError at the first mount point that is not live, not bound from its source, or not
    read-only/read-write as expected (asked of each mount itself: statx and statvfs, no table read)."""
    for want in expected:
        live = binds.live(system.dir, want.target)
        if live is None:
            raise MountError(f"the mount table does not show {want.target} mounted")
        if want.source is not None and binds.object_of(system.dir, want.source) != (live.dev, live.ino):
            raise MountError(f"the mount table shows {want.target} mounted, but not from {want.source}")
        if want.readonly is not None and live.readonly != want.readonly:
            raise MountError(f"the mount table does not show {want.target} {'ro' if want.readonly else 'rw'}")


def is_mount_point(system: SystemRoot, path: str) -> bool:
    return binds.is_mount_point(system.dir, path)
