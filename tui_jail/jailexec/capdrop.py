"""Lowering the launching process's capability sets by system calls, then reading them back.

The exec launcher's last steps before it execs the command: drop from the bounding set, clear
ambient, lower inheritable/permitted/effective, set no_new_privs, and check through the same
system calls that no set still holds a removed capability (`/proc` may not exist in the jail).

Direct syscalls (`tui_jail.jailexec.libc`) rather than `capsh`/`setpriv`: the launcher is already one process
that has to fork into its PID namespace, mount and chroot, so there is no binary to exec into half
way; each syscall reports its own errno, which is how every step can fail closed with its reason;
nothing needs to exist inside the jail (capsh would have to be there, or chroot itself with its
own idea of ordering); and it costs no extra exec on the start-up path. Reading a process's sets
from `/proc/<pid>/status` for verification is `tui_jail.backends.caps`.
"""

import os

from tui_jail.core.capabilities import BY_BIT, CAPABILITIES
from tui_jail.jailexec.libc import StepFailed, Structure, byref, c_int, c_uint, check, libc

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on exec's start-up path
if TYPE_CHECKING:
    from _ctypes import Array

PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_VERSION_3 = 0x20080522

# Removed from every set of every exec job, whatever the spec says (the launcher adds them to the spec's):
# each one lets a process leave a chroot or reach the host past it (open_by_handle_at, mount, chroot
# again, modules, ptrace, raw devices, device nodes, reboot).
CHROOT_BREAKING = frozenset(
    {
        "CAP_DAC_READ_SEARCH",
        "CAP_SYS_ADMIN",
        "CAP_SYS_CHROOT",
        "CAP_SYS_MODULE",
        "CAP_SYS_PTRACE",
        "CAP_SYS_RAWIO",
        "CAP_MKNOD",
        "CAP_SYS_BOOT",
    }
)


class _Header(Structure):  # struct __user_cap_header_struct (c_uint: 32 bits on every Linux ABI)
    _fields_ = (("version", c_uint), ("pid", c_int))


class _Data(Structure):  # struct __user_cap_data_struct
    _fields_ = (("effective", c_uint), ("permitted", c_uint), ("inheritable", c_uint))


def _prctl(what: str, option: int, arg2: int = 0, arg3: int = 0) -> int:
    return check(what, libc.prctl(option, arg2, arg3, 0, 0))


def last_cap() -> int:
    """The highest capability bit the running kernel knows (from the host's /proc)."""
    fd = os.open("/proc/sys/kernel/cap_last_cap", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return int(os.read(fd, 16))
    finally:
        os.close(fd)


def bits_of(names: frozenset[str], top: int) -> list[int]:
    """Bit numbers, refusing any the running kernel (whose last bit is `top`) does not know: it could not
    drop them."""
    bits = sorted(CAPABILITIES[name][0] for name in names)
    unknown = [BY_BIT[bit] for bit in bits if bit > top]
    if unknown:
        raise StepFailed(f"this kernel does not know {', '.join(unknown)} (cap_last_cap is {top}); cannot drop it")
    return bits


def drop_bounding(bits: list[int]) -> None:
    """Remove from the bounding set: no exec, setuid binary or file capability can bring them back."""
    for bit in bits:
        _prctl(f"dropping {BY_BIT[bit]} from the bounding set", PR_CAPBSET_DROP, bit)


def clear_ambient() -> None:
    _prctl("clearing the ambient set", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def _capget() -> "tuple[_Header, Array[_Data]]":
    header = _Header(_CAP_VERSION_3, 0)
    data = (_Data * 2)()
    check("capget", libc.capget(byref(header), data))
    return header, data


def lower(bits: list[int]) -> None:
    """Remove `bits` from the inheritable, permitted and effective sets (lowering needs no privilege)."""
    header, data = _capget()
    for bit in bits:
        word, mask = bit // 32, ~(1 << bit % 32) & 0xFFFFFFFF
        data[word].effective &= mask
        data[word].permitted &= mask
        data[word].inheritable &= mask
    check("capset", libc.capset(byref(header), data))


def set_no_new_privs() -> None:
    _prctl("setting no_new_privs", PR_SET_NO_NEW_PRIVS, 1)


def require_removed(bits: list[int]) -> None:
    """Fail closed unless no set holds any of `bits` and no_new_privs is on, read back by the system calls."""
    _, data = _capget()
    left: dict[str, list[str]] = {}
    for bit in bits:
        word, mask = data[bit // 32], 1 << bit % 32
        held = {
            "CapInh": word.inheritable & mask,
            "CapPrm": word.permitted & mask,
            "CapEff": word.effective & mask,
            "CapBnd": _prctl("reading the bounding set", PR_CAPBSET_READ, bit),
            "CapAmb": _prctl("reading the ambient set", PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, bit),
        }
        for which, value in held.items():
            if value:
                left.setdefault(which, []).append(BY_BIT[bit])
    if left:
        where = "; ".join(f"{which} still holds {', '.join(names)}" for which, names in left.items())
        raise StepFailed(f"capabilities not removed: {where}")
    if _prctl("reading no_new_privs", PR_GET_NO_NEW_PRIVS) != 1:
        raise StepFailed("no_new_privs is not set")
