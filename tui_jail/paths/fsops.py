"""The path layer's file operations for paths given on the host (the journal's, the boot guard's).

Each resolves its path from the host's `/` through `tui_jail.paths` (trusted links only), so the
journal gets the same atomic, descriptor-based writes as the jail: see `tui_jail.paths.files`.
"""

from __future__ import annotations

from pathlib import Path

from tui_jail.paths import files


def fsync_dir(path: Path) -> None:
    files.fsync_dir("/", str(path))


def atomic_write(path: Path, data: bytes, mode: int, uid: int, gid: int) -> None:
    """Replace `path` with `data` (mode and owner as given), or leave it untouched on any error."""
    files.atomic_write("/", str(path), data, mode, uid, gid)


def save_file(path: Path, data: bytes) -> None:
    """A file the admin named (a saved spec): never through a link, never where others can write (see
    `files.save_file`)."""
    files.save_file("/", str(path), data)


def write_new(path: Path, data: bytes) -> None:
    """Create `path` (0600) holding `data`, fsynced, in place (see `files.write_new`)."""
    files.write_new("/", str(path), data)


def open_appender(path: Path) -> files.Appender:
    """`path` held open for appending lines (see `files.Appender`): the journal's log."""
    return files.Appender("/", str(path))


def make_dirs(path: Path, mode: int) -> None:
    """mkdir -p with `mode` for the directories created, each creation fsynced in its parent."""
    files.make_dirs("/", str(path), mode)


def restrict(path: Path, mode: int) -> None:
    """Make an existing directory root's, with `mode` (through its descriptor, never a link)."""
    files.change_owner_mode("/", str(path), 0, 0, mode)


def remove_file(path: Path) -> bool:
    """Remove a file (or link) if present; True when it did."""
    return files.remove_file("/", str(path))


def remove_tree(path: Path) -> None:
    """rm -r, never following a link."""
    files.remove_tree("/", str(path))


def move(path: Path, to: Path) -> None:
    """Rename `path` to `to` (a new name on the same file system) in one step (see `files.rename`)."""
    files.rename("/", str(path), str(to))
