"""The journal's place on disk, its lock, its raw state and the clocks a deadline is kept on, with
nothing heavier than `os` and `json`.

The detached watchdog watches a transaction through this module alone and loads `journal` (and
the path layer) only once it has something to roll back: its interpreter starts beside the
preflight, on the same CPUs, and every import it skips is time the apply does not wait. `journal`
builds its typed API on the same functions, so there is one layout, one lock, one reading of a
state file (a damaged one raises `Damaged`, naming the file and what is wrong) and one rule for
when a deadline has come.

Deadlines are kept on CLOCK_BOOTTIME (it never steps, and counts a suspend) with the boot they
belong to; the wall-clock deadline is for display only. A pending transaction from another boot is
overdue. A watchdog is known by its pid and its start time (field 22 of /proc/PID/stat), so a pid
reused by another process is not taken for it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time

TYPE_CHECKING = False  # not typing's: importing typing is a noticeable part of the watchdog's start-up
if TYPE_CHECKING:
    from typing import Any

STATE_DIR = "/var/lib/tui-jail"  # the same directory as plan.STATE_DIR (the jails' state files)
TRANSACTIONS = f"{STATE_DIR}/transactions"
LONGEST_WAIT = 86400.0  # a change left unconfirmed for longer than a day is no safety net

# preparing: the journal is being written, nothing changed yet; applying: steps running;
# pending: applied, waiting for confirm; rolling-back; failed: a rollback could not finish (recover)
UNFINISHED = ("preparing", "applying", "pending", "rolling-back", "failed")
FINISHED = ("confirmed", "rolled-back")

# what a state file must hold, and the types of what it may hold (bool is not a number here)
_NUMBER = (int, float)
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "jail": str,
    "action": str,
    "status": str,
    "created": _NUMBER,
    "deadline": _NUMBER,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "timeout": _NUMBER,
    "applier_pid": int,
    "watchdog_pid": int,
    "watchdog_start": int,
    "boot_id": str,
    "boot_deadline": _NUMBER,
    "user": str,
    "ssh_connection": str,
    "notes": list,
    "error": str,
}


class Busy(Exception):
    """Another process holds the journal lock."""


class Damaged(ValueError):
    """A journal file that cannot be read as written; the message names the file and what is wrong."""


def transaction_dir(root: str, txn_id: str) -> str:
    return os.path.join(root, TRANSACTIONS.lstrip("/"), txn_id)


def read_state(directory: str) -> dict[str, Any]:
    """A transaction's `state.json` as written (see `journal.TxnState` for its fields). Raises
    FileNotFoundError when there is none, Damaged when it cannot be read as one."""
    path = os.path.join(directory, "state.json")
    try:
        with open(path, "rb") as file:
            data = file.read(1 << 20)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise Damaged(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        state = json.loads(data)
    except ValueError as exc:
        raise Damaged(f"{path}: {'empty' if not data.strip() else f'not JSON ({exc})'}") from None
    if not isinstance(state, dict):
        raise Damaged(f"{path}: not a JSON object but {type(state).__name__}")
    for key in _REQUIRED:
        if key not in state:
            raise Damaged(f"{path}: no {key!r}")
    for key, kind in (*_REQUIRED.items(), *_OPTIONAL.items()):
        value = state.get(key)
        if key in state and (isinstance(value, bool) or not isinstance(value, kind)):
            raise Damaged(f"{path}: {key!r} is {type(value).__name__} {value!r:.40}")
    if not all(isinstance(note, str) for note in state.get("notes", [])):
        raise Damaged(f"{path}: 'notes' holds something other than text")
    if state["status"] not in UNFINISHED + FINISHED:
        raise Damaged(f"{path}: unknown status {state['status']!r:.40}")
    return state


# --- the clocks ------------------------------------------------------------------------------------


def boottime() -> float:
    """Seconds since boot, suspend included: what a deadline is kept on (it never steps)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as file:
            return file.read().strip()
    except OSError:
        return ""


def seconds_left(state: dict[str, Any]) -> float:
    """Seconds until the state's deadline; 0.0 once it has come. A deadline from another boot, one
    that is not a finite number, or one further away than any tui-jail writes (a damaged journal)
    has come: it would otherwise never roll back."""
    deadline = state.get("boot_deadline")
    if state.get("boot_id") != boot_id() or isinstance(deadline, bool) or not isinstance(deadline, _NUMBER):
        return 0.0
    left = deadline - boottime()
    if not left <= LONGEST_WAIT + 60:  # NaN compares false: refused with infinity (and -inf is past)
        return 0.0
    return max(0.0, left)


# --- processes -------------------------------------------------------------------------------------


def process_start(pid: int) -> int:
    """When process `pid` started (clock ticks since boot, field 22 of /proc/PID/stat); 0 when no such
    process runs (or it is a zombie: it has ended)."""
    if pid <= 0:
        return 0
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    # fields[0] is field 3 (the state); field 22 is fields[19]
    return 0 if fields[0] in (b"Z", b"X") else int(fields[19])


def running(pid: int, start: int) -> bool:
    """The very process recorded as (pid, start) still runs: a reused pid does not count."""
    return bool(start) and process_start(pid) == start


# --- the lock --------------------------------------------------------------------------------------


def lock_path(root: str) -> str:
    return os.path.join(root, STATE_DIR.lstrip("/"), "lock")


def take_lock(root: str, wait: float = 0.0) -> int:
    """The one-at-a-time lock (flock: released by the kernel when its holder dies, even by kill -9).
    Returns the descriptor that holds it (closing it releases the lock); raises Busy when it is not
    free within `wait` seconds. The state directory must exist, and the lock be a file or absent
    (see `journal.repair_lock`)."""
    fd = os.open(lock_path(root), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    give_up = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:  # held by another process
                if time.monotonic() >= give_up:
                    raise Busy from None
            time.sleep(0.02)
    except BaseException:
        os.close(fd)
        raise
