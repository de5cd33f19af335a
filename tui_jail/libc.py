"""The C library, for the system calls Python 3.11's `os` lacks: unshare, mount, prctl, capget/capset, ioctl.

One `ctypes` handle shared by the exec launcher and `tui_jail.capdrop`, and `check`, which turns a
failed call into `StepFailed` naming the step and the kernel's reason: that is how every launch
step fails closed with a reason the user reads.
"""

from __future__ import annotations

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class StepFailed(Exception):
    """A launch step failed; the message is the step and the reason."""


def check(what: str, result: int) -> int:
    """`result` of a libc call that returns -1 (and sets errno) on failure."""
    if result < 0:
        raise StepFailed(f"{what}: {os.strerror(ctypes.get_errno())}")
    return result
