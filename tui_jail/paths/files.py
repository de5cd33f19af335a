"""Every file-system change under the system root: atomic writes, new files, appends, directories,
device nodes, owners and modes, removals — each on a path resolved by `resolve`, acted on through
the descriptors the walk left open, never through the path string again.

A file is never half-written: the new content goes to a temporary file in the same directory
(created exclusively, so nothing planted there is truncated), fsynced, given its mode and owner,
renamed over the target, and the directory is fsynced so the rename survives a crash. Owners and
modes change through `/proc/self/fd/N` of an `O_PATH` descriptor: the object resolved, never a
link swapped in afterwards.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Callable

from tui_jail.paths import faults
from tui_jail.paths.resolve import Entry, PathRefused, resolved

# a system root or a host path: a str, or a Path where a caller has one (the short commands pass text:
# pathlib, with the urllib.parse and ipaddress it imports, is a sixth of a rollback's start-up)
Root = str | os.PathLike[str]
_O_LIST = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC  # a directory to read, never a link


def _proc(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def set_owner_mode(fd: int, uid: int, gid: int, mode: int) -> None:
    """Owner, then mode (chown clears set-id bits), of the object open at `fd` (an O_PATH one too)."""
    os.chown(_proc(fd), uid, gid)
    os.chmod(_proc(fd), mode)


def _sync_dir(entry: Entry) -> None:
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=entry.dir_fd)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _named(entry: Entry) -> str:
    if not entry.name:
        raise PathRefused(f"{entry.path}: is the root itself")
    return entry.name


def fsync_dir(root: Root, path: str) -> None:
    with resolved(root, path) as entry:
        fd, _ = entry.existing()
        real = os.open(_proc(fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(real)
        finally:
            os.close(real)


def _temp_prefix(name: str) -> str:
    return f".{name}.tui-jail-"  # then the writer's pid


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write(root: Root, path: str, data: bytes, mode: int, uid: int, gid: int) -> None:
    """Replace `path` with `data` (mode and owner as given), or leave it untouched on any error."""
    with resolved(root, path, follow_last=False) as entry:
        _write_at(entry, data, mode, uid, gid)


def save_file(root: Root, path: str, data: bytes) -> None:
    """Write a file the admin named (a saved spec), as root, where nobody else can change it behind
    them: refused when `path` is a symbolic link (never written through, nor silently replaced), is
    not a regular file, or lies in a directory group or other users can write (/tmp: anyone could
    swap the file for their own before it is applied). An existing file keeps its mode and owner; a
    new one is 0644 and its directory owner's (a user's own directory is theirs to keep files in)."""
    with resolved(root, path, follow_last=False) as entry:
        st, where = entry.stat, entry.dir_stat
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise PathRefused(f"{path} is a symbolic link: not written through; choose another name")
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise PathRefused(f"{path} is not a regular file: not written")
        if where.st_mode & 0o022:
            raise PathRefused(
                f"{posixpath.dirname(path) or '/'} can be written by other users (mode "
                f"{stat.S_IMODE(where.st_mode):04o}): anyone could replace the file; save it in a directory only "
                "you can write (e.g. /root)"
            )
        if st is not None:
            _write_at(entry, data, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        else:
            _write_at(entry, data, 0o644, where.st_uid, where.st_gid)


def _write_at(entry: Entry, data: bytes, mode: int, uid: int, gid: int) -> None:
    """The atomic write of `atomic_write`, at an entry already resolved."""
    name = _named(entry)
    tmp = f"{_temp_prefix(name)}{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=entry.dir_fd)  # ours from an earlier, killed attempt (same pid)
    faults.point("path")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=entry.dir_fd)
    try:
        try:
            _write_all(fd, data)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)  # after chown: chown clears set-id bits
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=entry.dir_fd, dst_dir_fd=entry.dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=entry.dir_fd)
        raise
    _sync_dir(entry)


def remove_stale_temps(root: Root, path: str) -> None:
    """Remove the temporary files of atomic writes of `path` whose process was killed before its
    rename (a rollback after `kill -9` of the applier: nobody else writes while it holds the lock)."""
    try:
        with resolved(root, path, follow_last=False) as entry:
            prefix = _temp_prefix(_named(entry))
            listing = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=entry.dir_fd)
            try:
                names = [n for n in os.listdir(listing) if n.startswith(prefix) and n[len(prefix) :].isdigit()]
            finally:
                os.close(listing)
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=entry.dir_fd)
            if names:
                _sync_dir(entry)
    except (FileNotFoundError, NotADirectoryError):
        return


def write_new(root: Root, path: str, data: bytes) -> None:
    """Create `path` (0600) holding `data`, fsynced, in place: for a new directory that nothing reads
    until a last file appears in it, whose own atomic write then fsyncs the directory for them all."""
    with resolved(root, path, follow_last=False) as entry:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(_named(entry), flags, 0o600, dir_fd=entry.dir_fd)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)


class Appender:
    """A file (created 0600 if absent) held open for appending lines: resolved once, as every path is,
    then written through its descriptor — a journal appends a line or two per step, and walking to
    its log for each cost more than the write. The descriptor stays on the file it opened, whatever
    is renamed or linked at its name afterwards: nothing is ever written through a link put there."""

    __slots__ = ("_fd",)

    def __init__(self, root: Root, path: str) -> None:
        self._fd = -1
        with resolved(root, path, follow_last=False) as entry:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
            self._fd = os.open(_named(entry), flags, 0o600, dir_fd=entry.dir_fd)

    def append(self, line: str, *, sync: bool = True) -> None:
        """Append one line, on disk before returning unless `sync` is false (the journal's step records)."""
        os.write(self._fd, line.encode() + b"\n")
        if sync:
            os.fdatasync(self._fd)  # the data and the new size; an append needs no timestamps on disk

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


def read_bytes(root: Root, path: str, *, limit: int | None = None) -> bytes | None:
    """A regular file's content (None when absent): for backups and the plan's view of a file. With
    `limit`, a larger file raises ValueError."""
    try:
        with resolved(root, path) as entry:
            if entry.fd is None:
                return None
            _, st = entry.existing()
            if not stat.S_ISREG(st.st_mode):
                raise PathRefused(f"{path} is not a regular file")
            fd = os.open(_named(entry), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=entry.dir_fd)
    except (FileNotFoundError, NotADirectoryError):  # a directory on the way is missing
        return None
    with os.fdopen(fd, "rb") as file:
        data = file.read() if limit is None else file.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise ValueError(f"larger than {limit // 1024} KiB")
    return data


def stat_of(root: Root, path: str, *, follow_last: bool = True) -> os.stat_result | None:
    """The stat of what `path` names (of a last link itself unless `follow_last`); None when absent."""
    try:
        with resolved(root, path, follow_last=follow_last) as entry:
            return entry.stat
    except (FileNotFoundError, NotADirectoryError):
        return None


def list_dir(root: Root, path: str) -> list[str] | None:
    """A directory's entries, sorted; None when it is absent or not a directory."""
    try:
        with resolved(root, path) as entry:
            if entry.fd is None:
                return None
            fd = os.open(_proc(entry.fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return sorted(os.listdir(fd))
    finally:
        os.close(fd)


def make_dirs(root: Root, path: str, mode: int) -> None:
    """mkdir -p with `mode` for the directories created (root-owned), each fsynced in its parent."""
    walked = ""
    for name in [p for p in path.split("/") if p]:
        walked += f"/{name}"
        with resolved(root, walked) as entry:
            if entry.fd is not None:
                continue
            with contextlib.suppress(FileExistsError):
                create(entry, "dir", mode, 0, 0)


def create(
    entry: Entry,
    kind: str,
    mode: int,
    uid: int,
    gid: int,
    device: tuple[int, int] | None = None,
    *,
    sync: bool = True,
    made: Callable[[os.stat_result], None] | None = None,
) -> None:
    """Create what `entry` names, absent until now: 'dir', 'file' (empty) or 'device' (character
    device `device`); its owner and mode set on the object made, then the parent fsynced (unless
    not `sync`: the caller fsyncs it later, once for all it creates there). `made` is told the new
    object's stat before it is given away (root's and 0700 until then), so a caller can record its
    identity (device, inode) first. An object meant to be root's is made with its final permission
    bits (less the umask) and changed only where it came out otherwise: a jail's mount points are
    0755 root's, and a chown and a chmod each were a journalled inode update per mount point."""
    name = _named(entry)
    if entry.fd is not None:
        raise FileExistsError(f"{entry.path} exists already")
    # never more open than it ends up, and owned by root while it is not its owner's yet
    initial = stat.S_IMODE(mode) & 0o777 if (uid, gid) == (0, 0) else 0o700 if kind == "dir" else 0o600
    faults.point("path")
    if kind == "dir":
        os.mkdir(name, initial, dir_fd=entry.dir_fd)
    elif kind == "file":
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, initial, dir_fd=entry.dir_fd))
    else:
        assert device is not None
        os.mknod(name, stat.S_IFCHR | initial, os.makedev(*device), dir_fd=entry.dir_fd)
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=entry.dir_fd)
    try:
        st = os.fstat(fd)
        if stat.S_IFMT(st.st_mode) != {"dir": stat.S_IFDIR, "file": stat.S_IFREG, "device": stat.S_IFCHR}[kind]:
            raise PathRefused(f"{entry.path} was replaced while it was being created; left alone")
        if made is not None:
            made(st)
        if (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (uid, gid, mode):
            set_owner_mode(fd, uid, gid, mode)
    finally:
        os.close(fd)
    if sync:
        _sync_dir(entry)


def create_path(
    root: Root,
    path: str,
    kind: str,
    mode: int,
    uid: int,
    gid: int,
    device: tuple[int, int] | None = None,
    *,
    sync: bool = True,
    made: Callable[[os.stat_result], None] | None = None,
) -> None:
    """`create` at an in-root path whose parent exists."""
    with resolved(root, path, follow_last=False) as entry:
        create(entry, kind, mode, uid, gid, device, sync=sync, made=made)


def remove_made_dir(root: Root, path: str, dev: int, ino: int, *, mounted: Callable[[], bool]) -> str:
    """Remove the directory `path` only while it is the very one made (device and inode `dev`, `ino`),
    empty and not mounted on (`mounted` asks); a link there is never followed. '' once removed (or
    gone already), else why it was left in place."""
    try:
        with resolved(root, path, follow_last=False) as entry:
            if entry.fd is None:
                return ""
            st = entry.stat
            assert st is not None
            if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
                return f"{path} is not the directory this transaction made (now {_what(st)}); left in place"
            if (st.st_dev, st.st_ino) != (dev, ino):
                return f"{path} is another directory than the one this transaction made; left in place"
            if mounted():
                return f"{path} is a mount point; left in place"
            if not is_empty_dir(entry):
                return f"{path} is not empty any more; left in place with what it holds"
            remove_entry(entry)
            return ""
    except (FileNotFoundError, NotADirectoryError):
        return ""


def _what(st: os.stat_result) -> str:
    return "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a directory"


def change_owner_mode(
    root: Root, path: str, uid: int, gid: int, mode: int, *, only_if: dict[str, int] | None = None
) -> bool:
    """Give an existing file or directory (never a link: it is refused) this owner and mode; with
    `only_if`, only while it still has that owner and mode. True when it changed something."""
    with resolved(root, path, follow_last=False) as entry:
        fd, st = entry.existing()
        if stat.S_ISLNK(st.st_mode) and only_if is not None:
            return False  # not what was changed: nothing of ours to give back
        if stat.S_ISLNK(st.st_mode):
            raise PathRefused(f"{path} is a symbolic link now; its owner and mode are left alone")
        now = {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
        if only_if is not None and now != only_if:
            return False
        if now == {"mode": mode, "uid": uid, "gid": gid}:
            return False
        faults.point("path")
        set_owner_mode(fd, uid, gid, mode)
        return True


def remove_entry(entry: Entry, *, sync: bool = True) -> None:
    """Remove the file, node or (empty) directory `entry` names, then fsync its parent (unless not
    `sync`: the caller fsyncs it later, once for all it removes there). The entry's own descriptor is
    closed first: held, it made the removed inode an orphan until closed, one more journalled update
    of the file system's orphan list each (ext4: ~1.4x the removal's time here). It pins nothing the
    removal needs: rmdir and unlink act on the name in the parent held open, as they did with it."""
    fd, st = entry.existing()
    entry.fd = None
    os.close(fd)
    faults.point("path")
    if stat.S_ISDIR(st.st_mode):
        os.rmdir(_named(entry), dir_fd=entry.dir_fd)
    else:
        os.unlink(_named(entry), dir_fd=entry.dir_fd)
    if sync:
        _sync_dir(entry)


def remove_file(root: Root, path: str) -> bool:
    """Remove a file (or link) if present; True when it did."""
    try:
        with resolved(root, path, follow_last=False) as entry:
            if entry.fd is None:
                return False
            remove_entry(entry)
            return True
    except (FileNotFoundError, NotADirectoryError):
        return False


def is_empty_dir(entry: Entry) -> bool:
    fd = os.open(_named(entry), _O_LIST, dir_fd=entry.dir_fd)
    try:
        return not os.listdir(fd)
    finally:
        os.close(fd)


def rename(root: Root, path: str, to: str) -> None:
    """Rename `path` to `to` (same file system) in one step, both resolved from the root: a reader
    sees the entry whole at one name or the other, never half of it."""
    with resolved(root, path, follow_last=False) as old, resolved(root, to, follow_last=False) as new:
        old.existing()
        faults.point("path")
        os.rename(_named(old), _named(new), src_dir_fd=old.dir_fd, dst_dir_fd=new.dir_fd)
        _sync_dir(old)
        _sync_dir(new)


def remove_tree(root: Root, path: str) -> None:
    """Remove `path` and everything below it, links removed and never followed (rm -r)."""
    with resolved(root, path, follow_last=False) as entry:
        if entry.fd is None:
            return
        if entry.stat is not None and stat.S_ISDIR(entry.stat.st_mode):
            fd = os.open(_named(entry), _O_LIST, dir_fd=entry.dir_fd)
            try:
                _empty(fd)
            finally:
                os.close(fd)
        remove_entry(entry)


def _empty(dir_fd: int) -> None:
    for name in os.listdir(dir_fd):
        if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            fd = os.open(name, _O_LIST, dir_fd=dir_fd)
            try:
                _empty(fd)
            finally:
                os.close(fd)
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)


_KIND_OF = {"dir": stat.S_ISDIR, "file": stat.S_ISREG, "device": stat.S_ISCHR}


def as_made(entry: Entry, made: dict[str, object]) -> str:
    """Why what `entry` names is no longer what the jail made ('' when it is): `made` holds kind
    (dir, file, device), mode, uid, gid and, for a device, major and minor. An empty directory, an
    empty regular file, a character device with those numbers, each with that mode and owner."""
    st = entry.stat
    assert st is not None
    if not _KIND_OF[str(made["kind"])](st.st_mode):
        return "replaced by something else"
    if {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid} != {
        key: made[key] for key in ("mode", "uid", "gid")
    }:
        return "its mode or owner changed"
    if made["kind"] == "file" and st.st_size:
        return "not empty any more"
    if made["kind"] == "device" and (os.major(st.st_rdev), os.minor(st.st_rdev)) != (made["major"], made["minor"]):
        return "a device with other numbers now"
    if made["kind"] == "dir" and not is_empty_dir(entry):
        return "not empty any more"
    return ""
