"""Capability sets of a process: reading them (`/proc/<pid>/status`) and lowering them (syscalls).

Used by the exec launcher (drop from the bounding set, clear ambient, lower inheritable/permitted/
effective, set no_new_privs, then read everything back through the same syscalls) and by
verification (decode a probe's `/proc/self/status` into names).

Direct syscalls through ctypes rather than `capsh`/`setpriv`: the launcher is already one process
that has to fork into its PID namespace, mount and chroot, so there is no binary to exec into half
way; each syscall reports its own errno, which is how every step can fail closed with its reason;
nothing needs to exist inside the jail (capsh would have to be there, or chroot itself with its
own idea of ordering); and it costs no extra exec on the start-up path. Every lowering is read
back with capget/PR_CAPBSET_READ/PR_CAP_AMBIENT_IS_SET before the command runs.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

from tui_jail.capabilities import BY_BIT, CAPABILITIES, decode_mask

PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_VERSION_3 = 0x20080522
SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


class CapabilityError(Exception):
    """A capability step the kernel refused, or a set that still holds a capability it must not."""


@dataclass(frozen=True)
class CapState:
    """The five capability masks of a process and its no_new_privs flag."""

    masks: dict[str, int]  # CapInh, CapPrm, CapEff, CapBnd, CapAmb → mask
    no_new_privs: int

    def names(self, which: str) -> frozenset[str]:
        return decode_mask(self.masks[which])

    def holding(self, removed: frozenset[str]) -> dict[str, frozenset[str]]:
        """For each set, the capabilities of `removed` it still holds (empty sets left out)."""
        found = {which: self.names(which) & removed for which in SETS}
        return {which: names for which, names in found.items() if names}


def parse_status(text: str) -> CapState:
    """The Cap* and NoNewPrivs lines of `/proc/<pid>/status`."""
    masks: dict[str, int] = {}
    no_new_privs = -1
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in SETS:
            masks[key] = int(value.strip(), 16)
        elif key == "NoNewPrivs":
            no_new_privs = int(value.strip())
    missing = [which for which in SETS if which not in masks]
    if missing:
        raise ValueError(f"no {', '.join(missing)} in the status text")
    return CapState(masks, no_new_privs)


def read_status(pid: int | str = "self") -> CapState:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return parse_status(status.read())


# --- lowering, for the launcher -------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class _Header(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _Data(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32))


def _prctl(what: str, option: int, arg2: int = 0, arg3: int = 0) -> int:
    result = int(_libc.prctl(option, arg2, arg3, 0, 0))
    if result < 0:
        errno = ctypes.get_errno()
        raise CapabilityError(f"{what}: {os.strerror(errno)}")
    return result


def last_cap() -> int:
    """The highest capability bit the running kernel knows. Read it before chroot: /proc may not be there."""
    with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
        return int(f.read())


def bits_of(names: frozenset[str], top: int) -> list[int]:
    """Bit numbers, refusing any the running kernel (whose last bit is `top`) does not know: it could not
    drop them."""
    bits = sorted(CAPABILITIES[name][0] for name in names)
    unknown = [BY_BIT[bit] for bit in bits if bit > top]
    if unknown:
        raise CapabilityError(f"this kernel does not know {', '.join(unknown)} (cap_last_cap is {top}); cannot drop it")
    return bits


def drop_bounding(bits: list[int]) -> None:
    """Remove from the bounding set: no exec, setuid binary or file capability can bring them back."""
    for bit in bits:
        _prctl(f"dropping {BY_BIT[bit]} from the bounding set", PR_CAPBSET_DROP, bit)


def clear_ambient() -> None:
    _prctl("clearing the ambient set", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def _capget() -> tuple[_Header, ctypes.Array[_Data]]:
    header = _Header(_CAP_VERSION_3, 0)
    data = (_Data * 2)()
    if _libc.capget(ctypes.byref(header), data) != 0:
        errno = ctypes.get_errno()
        raise CapabilityError(f"capget: {os.strerror(errno)}")
    return header, data


def lower(bits: list[int]) -> None:
    """Remove `bits` from the inheritable, permitted and effective sets (lowering needs no privilege)."""
    header, data = _capget()
    for bit in bits:
        word, mask = bit // 32, ~(1 << bit % 32) & 0xFFFFFFFF
        data[word].effective &= mask
        data[word].permitted &= mask
        data[word].inheritable &= mask
    if _libc.capset(ctypes.byref(header), data) != 0:
        errno = ctypes.get_errno()
        raise CapabilityError(f"capset: {os.strerror(errno)}")


def set_no_new_privs() -> None:
    _prctl("setting no_new_privs", PR_SET_NO_NEW_PRIVS, 1)


def current(top: int) -> CapState:
    """This process's sets through the syscalls, so it works where no /proc is mounted (after chroot)."""
    _, data = _capget()

    def mask(field: str) -> int:
        return int(getattr(data[0], field)) | int(getattr(data[1], field)) << 32

    bounding = sum(1 << bit for bit in range(top + 1) if _prctl("reading the bounding set", PR_CAPBSET_READ, bit))
    ambient = sum(
        1 << bit
        for bit in range(top + 1)
        if _prctl("reading the ambient set", PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, bit)
    )
    masks = {
        "CapInh": mask("inheritable"),
        "CapPrm": mask("permitted"),
        "CapEff": mask("effective"),
        "CapBnd": bounding,
        "CapAmb": ambient,
    }
    return CapState(masks, _prctl("reading no_new_privs", PR_GET_NO_NEW_PRIVS))


def require_removed(removed: frozenset[str], top: int) -> None:
    """Fail closed unless no set holds any of `removed` and no_new_privs is on."""
    state = current(top)
    left = state.holding(removed)
    if left:
        where = "; ".join(f"{which} still holds {', '.join(sorted(names))}" for which, names in left.items())
        raise CapabilityError(f"capabilities not removed: {where}")
    if state.no_new_privs != 1:
        raise CapabilityError("no_new_privs is not set")
