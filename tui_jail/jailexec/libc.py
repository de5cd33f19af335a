"""The C library, for the system calls Python 3.11's `os` lacks: unshare, mount, prctl, capget/capset, ioctl, openat2.

One handle on libc shared by the exec launcher and `tui_jail.jailexec.capdrop`, the few C types they pass, and
`check`, which turns a failed call into `StepFailed` naming the step and the kernel's reason: that is
how every launch step fails closed with a reason the user reads.

Built on `_ctypes`, the C half of `ctypes`, and not on `ctypes` itself: the Python half declares some
thirty types, loads `struct` and the byte-order structures, and costs every job ~5 ms of CPU for the three
types declared below (each exactly as `ctypes` declares it: a `_SimpleCData` with its format letter).
A function of `libc` is what `ctypes.CDLL(None, use_errno=True)` would give: C calling convention,
`int` result, errno saved for `get_errno`.
"""

import os
from _ctypes import FUNCFLAG_CDECL, FUNCFLAG_USE_ERRNO, CFuncPtr, Structure, _SimpleCData, byref, dlopen, get_errno

__all__ = ["StepFailed", "Structure", "byref", "c_int", "c_uint", "c_ulong", "libc"]


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:  # the very types ctypes declares, and a type checker knows them there
    from ctypes import c_int, c_uint, c_ulong
else:

    class c_int(_SimpleCData):  # named as ctypes names them
        _type_ = "i"

    class c_uint(_SimpleCData):
        _type_ = "I"

    class c_ulong(_SimpleCData):
        _type_ = "L"


class _Function(CFuncPtr):
    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class _Library:
    """The symbols of the running process (libc among them), looked up on first use."""

    _handle = dlopen(None, os.RTLD_LOCAL)  # type: ignore[arg-type]  # None: the process itself, as CDLL(None)

    def __getattr__(self, name: str) -> _Function:
        function = _Function((name, self))  # type: ignore[arg-type]  # any object with a _handle, as CDLL is
        setattr(self, name, function)
        return function


libc = _Library()
libc.prctl.argtypes = [c_int, c_ulong, c_ulong, c_ulong, c_ulong]


class StepFailed(Exception):
    """A launch step failed; the message is the step and the reason."""


def check(what: str, result: int) -> int:
    """`result` of a libc call that returns -1 (and sets errno) on failure."""
    if result < 0:
        raise StepFailed(f"{what}: {os.strerror(get_errno())}")
    return result
