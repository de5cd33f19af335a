"""Bind mounts under the system root, made and undone by identity, never by a path string.

A bind is made with the new mount API: the source resolved safely and cloned (`open_tree`), made
read-only while still detached if asked (`mount_setattr`: no moment where a read-only bind is
writable), and attached onto the descriptor of the target resolved (`move_mount`). A mount point in a
directory another user can write is refused: they could swap it for a link between any check and
the mount. Each mount is known by its identity — mount ID (statx; unique per boot on this kernel),
target, the source's device and inode, and the boot ID — taken *before* it is attached and handed to
`record` (the journal), so that an undo touches only a mount that matches all of them. Mount
points are told by statx's mount-root flag, not `os.path.ismount` (overlayfs device nodes report the
lower layer's device: FACTS.md).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from tui_jail.paths import faults, kernel
from tui_jail.paths.files import Root
from tui_jail.paths.records import record
from tui_jail.paths.resolve import Entry, PathRefused, resolved, writable_by_others

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from typing import Any

Identity = dict[str, "Any"]  # target, source, mount_id, source_dev, source_ino, boot_id
Record = Callable[[Identity], None]
IDENTITY_KEYS = ("mount_id", "source_dev", "source_ino", "boot_id")  # what makes a mount the one recorded


def _identity(target: str, source: str, ms: kernel.MountStat) -> Identity:
    return {
        "target": target,
        "source": source,
        "mount_id": ms.mount_id,
        "source_dev": ms.dev,
        "source_ino": ms.ino,
        "boot_id": kernel.boot_id(),
    }


def _mount_point(entry: Entry) -> tuple[int, os.stat_result]:
    """The target, checked: it exists, is no link, and no user but root can swap it."""
    fd, st = entry.existing()
    if stat.S_ISLNK(st.st_mode):
        raise PathRefused(f"mount point {entry.path} is a symbolic link; not mounting over it")
    if writable_by_others(entry.dir_stat):
        raise PathRefused(
            f"mount point {entry.path} lies in a directory another user can write "
            f"(owner uid {entry.dir_stat.st_uid}, mode {stat.S_IMODE(entry.dir_stat.st_mode):04o}); not mounting there"
        )
    return fd, st


def bind(root: Root, source: str, target: str, *, readonly: bool = False, record: Record | None = None) -> Identity:
    """Bind `source` at `target` (both as seen inside `root`); returns the new mount's identity."""
    with resolved(root, source) as src, resolved(root, target, follow_last=False) as tgt:
        src_fd, _ = src.existing()
        target_fd, _ = _mount_point(tgt)
        faults.point("path")
        tree = kernel.clone_tree(src_fd)
        try:
            if readonly:
                kernel.set_readonly(tree, True)
            identity = _identity(target, source, kernel.mount_stat(tree))
            if record is not None:
                record(identity)
            kernel.move_mount(tree, target_fd)
        finally:
            os.close(tree)
    return identity


def current(root: Root, target: str) -> Identity | None:
    """The identity of the mount whose root is at `target` now (None when nothing is mounted there)."""
    try:
        with resolved(root, target, follow_last=False) as entry:
            if entry.fd is None:
                return None
            ms = kernel.mount_stat(entry.fd)
            return _identity(target, "", ms) if ms.mount_root else None
    except (FileNotFoundError, NotADirectoryError):
        return None


def mounted_on(entry: Entry) -> bool:
    """Something is mounted on what `entry` resolved (its descriptor, held since: no second walk)."""
    return entry.fd is not None and kernel.mount_stat(entry.fd).mount_root


def matches(live: Identity | None, recorded: Identity) -> bool:
    """The live mount is the one recorded: same boot, same mount, same object mounted."""
    return live is not None and all(live[key] == recorded.get(key) for key in IDENTITY_KEYS)


def still_mounted(identity: Identity) -> bool | None:
    """The recorded mount is still mounted somewhere (under another mount, say); None: cannot tell."""
    if identity.get("boot_id") != kernel.boot_id():
        return False
    return kernel.mount_exists(identity["mount_id"])


def is_mount_point(root: Root, path: str) -> bool:
    return current(root, path) is not None


def set_readonly(
    root: Root, target: str, readonly: bool, *, expect: Identity | None = None, record: Record | None = None
) -> bool:
    """Make the mount at `target` read-only or read-write; with `expect`, only if it is that mount.
    True when it changed the mount. Resolved afresh: a descriptor opened before the mount was made
    would name the directory beneath it (FACTS.md)."""
    with resolved(root, target, follow_last=False) as entry:
        fd, _ = _mount_point(entry)
        ms = kernel.mount_stat(fd)
        if not ms.mount_root:
            raise PathRefused(f"nothing is mounted at {target}")
        identity = _identity(target, "", ms)
        if expect is not None and not matches(identity, expect):
            return False
        if record is not None:
            record(identity)
        faults.point("path")
        kernel.set_readonly(fd, readonly)
        return True


@record
class Live:
    """What is mounted at a mount point: the object it shows, and whether it is read-only."""

    dev: int
    ino: int
    readonly: bool


def live(root: Root, target: str) -> Live | None:
    """The mount whose root is at `target` (None when nothing is mounted there): one resolution."""
    try:
        with resolved(root, target, follow_last=False) as entry:
            if entry.fd is None or not kernel.mount_stat(entry.fd).mount_root:
                return None
            st = entry.stat
            assert st is not None
            return Live(st.st_dev, st.st_ino, bool(os.fstatvfs(entry.fd).f_flag & os.ST_RDONLY))
    except (FileNotFoundError, NotADirectoryError):
        return None


def object_of(root: Root, path: str) -> tuple[int, int] | None:
    """The device and inode `path` names (links followed as the layer follows them), None when absent."""
    try:
        with resolved(root, path) as entry:
            return None if entry.stat is None else (entry.stat.st_dev, entry.stat.st_ino)
    except (FileNotFoundError, NotADirectoryError):
        return None


def unmount(root: Root, target: str, *, expect: Identity | None = None, record: Record | None = None) -> bool:
    """Unmount the mount at `target` — with `expect`, only if it is that very mount. True when it
    unmounted something. Never lazily (a busy mount stays, and the error says so)."""
    with resolved(root, target, follow_last=False) as entry:
        if entry.fd is None:
            return False
        fd, _ = _mount_point(entry)
        ms = kernel.mount_stat(fd)
        identity = _identity(target, expect.get("source", "") if expect else "", ms)
        if not ms.mount_root or (expect is not None and not matches(identity, expect)):
            return False
        if record is not None:
            record(identity)
        os.close(fd)  # a descriptor of the mount would keep it busy
        entry.fd = None
        faults.point("path")
        kernel.unmount(entry.dir_fd, entry.name)
        return True
