"""Doing and undoing one journalled step. Each undo looks at the live system, so it is right whether
its step never started, half-ran or completed, and running it twice changes nothing.

A step (`journal.Op`) is a small dict: `op` is one of mkdir, touch, mknod, fix, write, bind,
remount, umount, check (the mounts made so far, with findmnt), reload; paths are as seen inside
the root. A `write` step's old content lives in the journal's backup; its new content is handed to
`do` by the applying process.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Any

from tui_jail.backends import mounts
from tui_jail.fsops import atomic_write, fsync_dir, remove_stale_temps
from tui_jail.journal import Journal, Op
from tui_jail.system import SystemRoot


def describe(op: Op) -> str:
    """One plain line for `recover` and `status`."""
    kind = op["op"]
    if kind == "write":
        if op.get("delete"):
            return f"deleted {op['path']}"
        return f"{'rewrote' if op['before'] else 'created'} {op['path']}"
    if kind in ("mkdir", "touch", "mknod"):
        what = {"mkdir": "directory", "touch": "empty file (mount point)", "mknod": "device node"}[kind]
        return f"created {what} {op['path']}"
    if kind == "fix":
        return f"changed owner/mode of {op['path']} to {op['uid']}:{op['gid']} {op['mode']:04o}"
    if kind == "bind":
        return f"bind-mounted {op['source']} at {op['target']}"
    if kind == "remount":
        return f"remounted {op['target']} {'read-only' if op['readonly'] else 'read-write'}"
    if kind == "umount":
        return f"unmounted {op['target']}"
    if kind == "check":
        return f"checked {len(op['mounts'])} mount(s) with findmnt"
    return "reloaded sshd"


def undo_text(op: Op) -> str:
    kind = op["op"]
    if kind == "write":
        return f"restore {op['path']} from the backup" if op["before"] else f"delete {op['path']}"
    if kind in ("mkdir", "touch", "mknod"):
        still = {"mkdir": "empty", "touch": "an empty file", "mknod": "a device node"}[kind]
        return f"remove {op['path']} if it is still {still}"
    if kind == "fix":
        was = op["was"]
        return f"give {op['path']} back {was['uid']}:{was['gid']} {was['mode']:04o}"
    if kind == "bind":
        return f"unmount {op['target']}"
    if kind == "remount":
        return f"remount {op['target']} {'read-write' if op['readonly'] else 'read-only'} again"
    if kind == "umount":
        if op.get("source"):
            return f"mount {op['source']} at {op['target']} again"
        return f"leave {op['target']} unmounted (where it was mounted from is unknown)"
    if kind == "check":
        return "leave it (a check changes nothing)"
    return "reload sshd once the files are restored"


# --- do --------------------------------------------------------------------------------------------


def do(op: Op, system: SystemRoot, after: bytes | None) -> str:
    """Carry out one step; returns a note for the journal ('' for none)."""
    kind = op["op"]
    path = system.host(op["path"]) if "path" in op else None
    if kind == "mkdir":
        assert path is not None
        os.mkdir(path, 0o700)  # the final mode only once the owner is right
        _own(path, op)
        fsync_dir(path.parent)
    elif kind == "touch":
        assert path is not None
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        _own(path, op)
        fsync_dir(path.parent)
    elif kind == "mknod":
        assert path is not None
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(op["major"], op["minor"]))
        _own(path, op)
        fsync_dir(path.parent)
    elif kind == "fix":
        assert path is not None
        _own(path, op)
    elif kind == "write":
        assert path is not None
        if op.get("delete"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            fsync_dir(path.parent)
        else:
            assert after is not None
            atomic_write(path, after, op["mode"], op["uid"], op["gid"])
    elif kind == "bind":
        mounts.bind(system, op["source"], op["target"])
    elif kind == "remount":
        mounts.remount(system, op["target"], op["readonly"])
    elif kind == "umount":
        mounts.umount(system, op["target"])
    elif kind == "check":
        mounts.check(system, [mounts.Expected(**want) for want in op["mounts"]])
    elif kind == "reload":
        return reload_sshd(system)
    return ""


def _own(path: Path, owner: dict[str, Any]) -> None:
    os.lchown(path, owner["uid"], owner["gid"])
    os.chmod(path, owner["mode"])


def reload_sshd(system: SystemRoot) -> str:
    from tui_jail.backends import sshd  # loaded only when sshd is involved

    # nothing to reload when no sshd runs: ask `sshd -T` for a PidFile only when the config sets one
    configs = [system.read_text(p) or "" for p in ["/etc/ssh/sshd_config", *system.glob("/etc/ssh/sshd_config.d/*")]]
    named = any("pidfile" in text.lower() for text in configs)
    pidfile = sshd.configured_pidfile(system) if named else "/run/sshd.pid"
    if sshd.running_sshd(system, pidfile) is None:
        return "sshd is not running: nothing to reload"
    return sshd.reload_sshd(system, pidfile)


# --- undo ------------------------------------------------------------------------------------------


def undo(op: Op, index: int, system: SystemRoot, journal: Journal) -> None:
    """Undo one step, whatever state it reached. Raises OSError/MountError when it cannot."""
    kind = op["op"]
    path = system.host(op["path"]) if "path" in op else None
    if kind == "write":
        assert path is not None
        remove_stale_temps(path)  # the applier's, when it was killed half-way through writing this file
        if op["before"] is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                fsync_dir(path.parent)
        else:
            was = op["before"]
            atomic_write(path, journal.backup(index), was["mode"], was["uid"], was["gid"])
    elif kind in ("mkdir", "touch", "mknod"):
        assert path is not None
        _remove_if_ours(system, op, path)
    elif kind == "fix":
        assert path is not None
        if os.path.lexists(path):
            _own(path, op["was"])
    elif kind != "check":
        _undo_mount(op, system)


def _undo_mount(op: Op, system: SystemRoot) -> None:
    kind, target = op["op"], op.get("target", "")
    if kind == "bind" and mounts.is_bound(system, op["source"], target):
        mounts.umount(system, target)
    elif kind == "remount" and target in system.mounts() and system.mounts()[target].readonly != op["was"]:
        mounts.remount(system, target, op["was"])
        mounts.check(system, [mounts.Expected(target, readonly=op["was"])])
    elif kind == "umount" and op.get("source") and not mounts.is_bound(system, op["source"], target):
        mounts.bind(system, op["source"], target)
        if op["readonly"]:
            mounts.remount(system, target, True)
        mounts.check(system, [mounts.Expected(target, op["source"], op["readonly"])])


def _remove_if_ours(system: SystemRoot, op: Op, path: Path) -> None:
    """Remove what the step created, and only while it is still as created (empty, not mounted on)."""
    st = system.lstat(op["path"])
    if st is None:
        return
    if mounts.is_mount_point(system, op["path"]):
        raise OSError(f"{op['path']} is still a mount point; not removing it")
    if op["op"] == "mkdir" and stat.S_ISDIR(st.st_mode):
        if os.listdir(path):
            raise OSError(f"{op['path']} is not empty any more; left in place")
        os.rmdir(path)
    elif (op["op"] == "touch" and stat.S_ISREG(st.st_mode) and st.st_size == 0) or (
        op["op"] == "mknod" and stat.S_ISCHR(st.st_mode)
    ):
        os.unlink(path)
    else:
        raise OSError(f"{op['path']} was replaced by something else; left in place")
    fsync_dir(path.parent)
