"""The system calls the path layer needs that Python's `os` lacks: statx (mount ID, mount root),
the new mount API (open_tree, mount_setattr, move_mount) and umount2, through ctypes.

Each call raises OSError with the kernel's errno, like `os` does. Numbers are the asm-generic ones
(the same on x86_64 and aarch64 for these calls); statx differs, so it goes through glibc.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from tui_jail.paths.records import record

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.statx.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

AT_EMPTY_PATH = 0x1000
AT_SYMLINK_NOFOLLOW = 0x100
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429
_SYS_MOUNT_SETATTR = 442
_SYS_STATMOUNT = 457  # Linux 6.8
_STATMOUNT_SB_BASIC = 0x1
_OPEN_TREE_CLONE = 1
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOVE_MOUNT_T_EMPTY_PATH = 0x40
_MOUNT_ATTR_RDONLY = 0x1
_STATX_MNT_ID = 0x1000
_STATX_MNT_ID_UNIQUE = 0x4000  # Linux 6.8: 64 bits, never reused while the system runs
_STATX_ATTR_MOUNT_ROOT = 0x2000
_UMOUNT_NOFOLLOW = 0x8


def _checked(result: int) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


@record
class MountStat:
    """What statx says of an open file: the mount it is on, whether it is that mount's root, its object."""

    mount_id: int
    mount_root: bool
    dev: int
    ino: int


_unique_ids: bool | None = None  # whether this kernel has STATX_MNT_ID_UNIQUE (asked once)


def mount_stat(fd: int) -> MountStat:
    global _unique_ids
    buf = ctypes.create_string_buffer(256)
    want = _STATX_MNT_ID_UNIQUE if _unique_ids is not False else _STATX_MNT_ID
    _checked(_libc.statx(fd, b"", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, want, buf))
    mask, _, attributes = struct.unpack_from("=IIQ", buf, 0)
    if _unique_ids is None:
        _unique_ids = bool(mask & _STATX_MNT_ID_UNIQUE)
        if not _unique_ids:
            return mount_stat(fd)
    (ino,) = struct.unpack_from("=Q", buf, 32)
    dev_major, dev_minor, mount_id = struct.unpack_from("=IIQ", buf, 136)
    return MountStat(mount_id, bool(attributes & _STATX_ATTR_MOUNT_ROOT), os.makedev(dev_major, dev_minor), ino)


def clone_tree(fd: int) -> int:
    """A detached bind of the file or directory open at `fd` (not recursive, like `mount --bind`)."""
    flags = _OPEN_TREE_CLONE | os.O_CLOEXEC | AT_EMPTY_PATH
    return _checked(_libc.syscall(_SYS_OPEN_TREE, fd, b"", flags))


def set_readonly(fd: int, readonly: bool) -> None:
    """Make the mount at `fd` (its root, or a detached tree) read-only or read-write."""
    attr = struct.pack("=QQQQ", _MOUNT_ATTR_RDONLY if readonly else 0, 0 if readonly else _MOUNT_ATTR_RDONLY, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    _checked(_libc.syscall(_SYS_MOUNT_SETATTR, fd, b"", AT_EMPTY_PATH, buf, len(attr)))


def move_mount(tree_fd: int, target_fd: int) -> None:
    """Attach the detached tree `tree_fd` onto the file or directory open at `target_fd`."""
    flags = _MOVE_MOUNT_F_EMPTY_PATH | _MOVE_MOUNT_T_EMPTY_PATH
    _checked(_libc.syscall(_SYS_MOVE_MOUNT, tree_fd, b"", target_fd, b"", flags))


def unmount(parent_fd: int, name: str) -> None:
    """Unmount what is mounted at `name` in the directory open at `parent_fd`, a link never followed.
    Never lazily: a busy mount stays and says so. (Through a descriptor of the mount itself it would
    always be busy: the descriptor holds it.)"""
    path = f"/proc/self/fd/{parent_fd}/{name}".encode("utf-8", "surrogateescape")
    _checked(_libc.umount2(path, _UMOUNT_NOFOLLOW))


def mount_exists(mount_id: int) -> bool | None:
    """Whether the mount with this unique ID is still mounted anywhere in this namespace (statmount);
    None when the kernel cannot say (no statmount, or IDs that are not the unique kind)."""
    if _unique_ids is None:  # not asked yet in this process
        root = os.open("/", os.O_PATH | os.O_CLOEXEC)
        try:
            mount_stat(root)
        finally:
            os.close(root)
    if not _unique_ids:
        return None
    request = struct.pack("=IIQQ", 24, 0, mount_id, _STATMOUNT_SB_BASIC)
    buf = ctypes.create_string_buffer(4096)
    if _libc.syscall(_SYS_STATMOUNT, request, buf, len(buf), 0) == 0:
        return True
    return False if ctypes.get_errno() == errno.ENOENT else None


_boot_id: str | None = None  # read once: a process does not outlive its boot


def boot_id() -> str:
    global _boot_id
    if _boot_id is None:
        with open("/proc/sys/kernel/random/boot_id", "rb") as file:  # bytes: a text file loads encodings.ascii
            _boot_id = file.read().strip().decode("ascii")
    return _boot_id
