"""Durable file operations for the transaction: atomic replace, new files, appends, fsynced directories.

A file the transaction touches is never half-written: the new content goes to a temporary file in
the same directory, which is fsynced, given the mode and owner, renamed over the target, and the
directory is fsynced so the rename itself survives a crash. A full disk fails the temporary file,
never the target. The journal's own new files need no rename (see `write_new`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tui-jail-"  # then the writer's pid


def atomic_write(path: Path, data: bytes, mode: int, uid: int, gid: int) -> None:
    """Replace `path` with `data` (mode and owner as given), or leave it untouched on any error."""
    tmp = path.with_name(f"{_temp_prefix(path)}{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            _write_all(fd, data)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)  # after chown: chown clears set-id bits
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def remove_stale_temps(path: Path) -> None:
    """Remove the temporary files of atomic writes of `path` whose process was killed before its
    rename (a rollback after `kill -9` of the applier: nobody else writes while it holds the lock)."""
    prefix = _temp_prefix(path)
    try:
        names = [name for name in os.listdir(path.parent) if name.startswith(prefix) and name[len(prefix) :].isdigit()]
    except FileNotFoundError:
        return
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path.parent / name)
    if names:
        fsync_dir(path.parent)


def write_new(path: Path, data: bytes) -> None:
    """Create `path` (0600) holding `data`, fsynced, in place: for a new directory that nothing reads
    until a last file appears in it, whose own atomic write then fsyncs the directory for them all."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def append_line(path: Path, line: str, *, sync: bool = True) -> None:
    """Append one line, on disk before returning unless `sync` is false (the journal's step records)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode() + b"\n")
        if sync:
            os.fdatasync(fd)  # the data and the new size; an append needs no timestamps on disk
    finally:
        os.close(fd)


def make_dirs(path: Path, mode: int) -> None:
    """mkdir -p with `mode` for the directories created, each creation fsynced in its parent."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, mode)
            os.chmod(directory, mode)
        fsync_dir(directory.parent)
