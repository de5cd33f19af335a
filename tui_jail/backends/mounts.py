"""Bind mounts, read-only remounts and unmounts, and the `findmnt` check of what they left.

The kernel ignores `ro` on the first bind, so a read-only bind is two steps (bind, then
`remount,bind,ro`), journalled separately. An apply checks all its mounts with one `findmnt` run
once the last of them is made, before any file that sends logins into the jail is written; a
rollback checks each mount it restores. Never `umount -l`: a lazy unmount of something busy would
report success while the mount lives on.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from tui_jail.system import SystemRoot


class MountError(RuntimeError):
    pass


@dataclass(frozen=True)
class Expected:
    """What a live mount point must show: bound from `source` (if given), read-only or not (if given)."""

    target: str
    source: str | None = None
    readonly: bool | None = None


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # plain subprocess, not sh: sh's fork costs 4-5 ms a call, three times `mount` itself (bench/apply.py)
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")


def _mount(*args: str) -> None:
    done = _run(*args)
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        raise MountError(f"{' '.join(args)}: {detail[-1] if detail else f'exit {done.returncode}'}")


def bind(system: SystemRoot, source: str, target: str) -> None:
    _mount("mount", "--bind", str(system.host(source)), str(system.host(target)))


def remount(system: SystemRoot, target: str, readonly: bool) -> None:
    _mount("mount", "-o", f"remount,bind,{'ro' if readonly else 'rw'}", str(system.host(target)))


def umount(system: SystemRoot, target: str) -> None:
    _mount("umount", str(system.host(target)))


def check(system: SystemRoot, expected: Iterable[Expected]) -> None:
    """One `findmnt` run over the whole mount table; raise MountError at the first mount point that
    is not live, not bound from its source, or not read-only/read-write as expected."""
    done = _run("findmnt", "--json", "--list", "--output", "TARGET,VFS-OPTIONS")
    if done.returncode != 0:
        raise MountError(f"findmnt: {done.stderr.strip() or f'exit {done.returncode}'}")
    live: dict[str, set[str]] = {}
    for entry in json.loads(done.stdout)["filesystems"]:
        live[entry["target"]] = set((entry["vfs-options"] or "").split(","))  # the last listed is on top
    for want in expected:
        options = live.get(str(system.host(want.target)))
        if options is None:
            raise MountError(f"findmnt does not show {want.target} mounted")
        if want.source is not None and not _same_object(system, want.source, want.target):
            raise MountError(f"findmnt shows {want.target} mounted, but not from {want.source}")
        flag = {True: "ro", False: "rw", None: ""}[want.readonly]
        if flag and flag not in options:
            raise MountError(f"findmnt does not show {want.target} {flag}")


def _same_object(system: SystemRoot, source: str, target: str) -> bool:
    a, b = system.stat(source), system.stat(target)
    return a is not None and b is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def is_bound(system: SystemRoot, source: str, target: str) -> bool:
    """`target` is a live mount point showing the same object as `source`."""
    return target in system.mounts() and _same_object(system, source, target)


def is_mount_point(system: SystemRoot, path: str) -> bool:
    return path in system.mounts() or os.path.ismount(system.host(path))
