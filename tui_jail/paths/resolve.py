"""Resolving a path under the system root without being led astray: the first half of every write.

A path is walked one component at a time from a descriptor of the root (`O_PATH|O_NOFOLLOW`), each
directory held open while the next is looked up in it, so a rename behind the walk changes nothing
already resolved. A symbolic link is followed only when it is trusted — owned by root, in a
directory no other user can write (Debian's `/bin -> usr/bin`) — and always inside the root: an
absolute link starts again from the root's descriptor and `..` stops at the root, as in a chroot.
Anything else is refused with one line naming the link.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque

_O_WALK = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40  # as the kernel's ELOOP


class PathRefused(OSError):
    """A path the layer will not act on; the message is one line naming it and why."""

    def __str__(self) -> str:
        return str(self.args[0])


def writable_by_others(st: os.stat_result) -> bool:
    """Someone other than root can create, rename or remove entries in this directory."""
    return st.st_uid != 0 or bool(st.st_mode & stat.S_IWOTH) or bool(st.st_mode & stat.S_IWGRP and st.st_gid != 0)


def components(path: str) -> list[str]:
    return [part for part in path.split("/") if part and part != "."]


class Entry:
    """A resolved path: its parent directory (held open, O_PATH), its last name, and the entry
    itself (O_PATH, not followed when it is a link and the caller asked so; None when absent). A
    plain class, not a dataclass: the journal writes through here, and `status`, `confirm` and
    `rollback` must not load `dataclasses` (and `inspect`) for it (tests/test_cli_imports.py)."""

    __slots__ = ("dir_fd", "dir_stat", "fd", "name", "path", "stat")

    def __init__(
        self, path: str, dir_fd: int, dir_stat: os.stat_result, name: str, fd: int | None, stat: os.stat_result | None
    ) -> None:
        self.path = path  # as asked, for messages
        self.dir_fd = dir_fd
        self.dir_stat = dir_stat
        self.name = name  # '' for the root itself
        self.fd = fd
        self.stat = stat

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def existing(self) -> tuple[int, os.stat_result]:
        if self.fd is None or self.stat is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), self.path)
        return self.fd, self.stat

    def __enter__(self) -> Entry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolved(root: str | os.PathLike[str], path: str, *, follow_last: bool = True) -> Entry:
    """`path` (as seen inside `root`) resolved safely, for a `with` block: both descriptors are closed
    on leaving it. The entry is its own context manager, not a `contextlib.contextmanager` generator
    (with a second one for the root's descriptor): a rollback resolves some seventy paths."""
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)  # DIR, given by the admin: taken as it is
    try:
        return resolve(root_fd, path, follow_last=follow_last)
    finally:
        os.close(root_fd)


def resolve(root_fd: int, path: str, *, follow_last: bool = True) -> Entry:
    """Walk `path` from `root_fd`. A missing last component gives an Entry with fd None; a missing
    directory on the way raises FileNotFoundError; an untrusted link raises PathRefused."""
    chain: list[tuple[int, os.stat_result, str]] = [(os.dup(root_fd), os.fstat(root_fd), "")]
    parts = deque(components(path))
    links = 0
    try:
        while parts:
            name = parts.popleft()
            if name == "..":
                if len(chain) > 1:
                    os.close(chain.pop()[0])
                if not parts:
                    raise PathRefused(f"{path}: ends in '..'; name the directory itself")
                continue
            dir_fd, dir_stat, walked = chain[-1]
            here = f"{walked}/{name}"
            try:
                fd = os.open(name, _O_WALK, dir_fd=dir_fd)
            except FileNotFoundError:
                if parts:
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), here) from None
                chain.pop()
                return Entry(path, dir_fd, dir_stat, name, None, None)
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode) and (parts or follow_last):
                target = _trusted_target(fd, st, dir_stat, here)
                links += 1
                if links > _MAX_LINKS:  # e.g. DIR/bin -> /bin, which inside DIR names itself
                    raise PathRefused(f"{path}: too many symbolic links, each resolved inside the root")
                if target.startswith("/"):
                    while len(chain) > 1:
                        os.close(chain.pop()[0])
                parts.extendleft(reversed(components(target) or ["."]))
                continue
            if not parts:
                chain.pop()
                return Entry(path, dir_fd, dir_stat, name, fd, st)
            if not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), here)
            chain.append((fd, st, here))
        # the path names the root itself (or a directory reached through '..')
        top_fd, top_stat, _ = chain[-1]
        return Entry(path, os.dup(top_fd), top_stat, "", os.dup(top_fd), top_stat)
    finally:
        for fd, _, _ in chain:
            os.close(fd)


def _trusted_target(fd: int, link: os.stat_result, parent: os.stat_result, where: str) -> str:
    """The link's target when root made it where only root can change it; else refuse."""
    try:
        if link.st_uid != 0:
            raise PathRefused(f"{where} is a symbolic link owned by uid {link.st_uid}: not followed")
        if writable_by_others(parent):
            raise PathRefused(f"{where} is a symbolic link in a directory other users can write: not followed")
        return os.readlink("", dir_fd=fd)
    finally:
        os.close(fd)
