"""Bind mounts, read-only remounts and unmounts, each checked with `findmnt` afterwards.

The kernel ignores `ro` on the first bind, so a read-only bind is two steps (bind, then
`remount,bind,ro`), journalled separately. Never `umount -l`: a lazy unmount of something busy
would report success while the mount lives on.
"""

from __future__ import annotations

import os
from pathlib import Path

import sh

from tui_jail.system import SystemRoot


class MountError(RuntimeError):
    pass


def _run(*args: str) -> str:
    try:
        return str(sh.Command(args[0])(*args[1:]))
    except sh.ErrorReturnCode as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        raise MountError(f"{' '.join(args)}: {detail[-1] if detail else f'exit {exc.exit_code}'}") from None


def live_options(target: Path) -> set[str] | None:
    """The per-mount options of the topmost mount at `target` (findmnt), None when nothing is mounted."""
    try:
        out = str(sh.Command("findmnt")("-n", "-o", "VFS-OPTIONS", "--mountpoint", str(target)))
    except sh.ErrorReturnCode:
        return None
    lines = out.strip().splitlines()
    return set(lines[-1].split(",")) if lines else None


def is_bound(system: SystemRoot, source: str, target: str) -> bool:
    """`target` is a live mount point showing the same object as `source`."""
    if target not in system.mounts():
        return False
    a, b = system.stat(source), system.stat(target)
    return a is not None and b is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def bind(system: SystemRoot, source: str, target: str) -> None:
    _run("mount", "--bind", str(system.host(source)), str(system.host(target)))
    if live_options(system.host(target)) is None or not is_bound(system, source, target):
        raise MountError(f"findmnt does not show {source} bound at {target} after mount --bind")


def remount(system: SystemRoot, target: str, readonly: bool) -> None:
    flag = "ro" if readonly else "rw"
    _run("mount", "-o", f"remount,bind,{flag}", str(system.host(target)))
    options = live_options(system.host(target))
    if options is None or flag not in options:
        raise MountError(f"findmnt does not show {target} {flag} after the remount")


def umount(system: SystemRoot, target: str) -> None:
    _run("umount", str(system.host(target)))


def is_mount_point(system: SystemRoot, path: str) -> bool:
    return path in system.mounts() or os.path.ismount(system.host(path))
