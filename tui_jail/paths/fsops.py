"""The path layer's file operations for paths given on the host (the journal's, the boot guard's).

Each resolves its path from the host's `/` through `tui_jail.paths` (trusted links only), so the
journal gets the same atomic, descriptor-based writes as the jail: see `tui_jail.paths.files`.
"""

from __future__ import annotations

import os

from tui_jail.paths import files
from tui_jail.paths.files import Root


def fsync_dir(path: Root) -> None:
    files.fsync_dir("/", os.fspath(path))


def atomic_write(path: Root, data: bytes, mode: int, uid: int, gid: int) -> None:
    """Replace `path` with `data` (mode and owner as given), or leave it untouched on any error."""
    files.atomic_write("/", os.fspath(path), data, mode, uid, gid)


def save_file(path: Root, data: bytes) -> None:
    """A file the admin named (a saved spec): never through a link, never where others can write (see
    `files.save_file`)."""
    files.save_file("/", os.fspath(path), data)


def write_new(path: Root, data: bytes) -> None:
    """Create `path` (0600) holding `data`, fsynced, in place (see `files.write_new`)."""
    files.write_new("/", os.fspath(path), data)


def open_appender(path: Root) -> files.Appender:
    """`path` held open for appending lines (see `files.Appender`): the journal's log."""
    return files.Appender("/", os.fspath(path))


def make_dirs(path: Root, mode: int) -> None:
    """mkdir -p with `mode` for the directories created, each creation fsynced in its parent."""
    files.make_dirs("/", os.fspath(path), mode)


def restrict(path: Root, mode: int) -> None:
    """Make an existing directory root's, with `mode` (through its descriptor, never a link)."""
    files.change_owner_mode("/", os.fspath(path), 0, 0, mode)


def remove_file(path: Root) -> bool:
    """Remove a file (or link) if present; True when it did."""
    return files.remove_file("/", os.fspath(path))


def remove_tree(path: Root) -> None:
    """rm -r, never following a link."""
    files.remove_tree("/", os.fspath(path))


def move(path: Root, to: Root) -> None:
    """Rename `path` to `to` (a new name on the same file system) in one step (see `files.rename`)."""
    files.rename("/", os.fspath(path), os.fspath(to))
