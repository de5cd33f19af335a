"""The journal's place on disk, its lock and its raw state, with nothing heavier than `os` and `json`.

The detached watchdog watches a transaction through this module alone and loads `journal`
(dataclasses, pathlib) only once it has something to roll back: its interpreter starts beside the
preflight, on the same CPUs, and every import it skips is time the apply does not wait. `journal`
builds its typed API on the same functions, so there is one layout and one lock.
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

# preparing: the journal is being written, nothing changed yet; applying: steps running;
# pending: applied, waiting for confirm; rolling-back; failed: a rollback could not finish (recover)
UNFINISHED = ("preparing", "applying", "pending", "rolling-back", "failed")


class Busy(Exception):
    """Another process holds the journal lock."""


def transaction_dir(root: str, txn_id: str) -> str:
    return os.path.join(root, TRANSACTIONS.lstrip("/"), txn_id)


def read_state(directory: str) -> dict[str, Any]:
    """A transaction's `state.json` as written (see `journal.TxnState` for its fields)."""
    with open(os.path.join(directory, "state.json"), encoding="utf-8") as file:
        state: dict[str, Any] = json.load(file)
    return state


def take_lock(root: str, wait: float = 0.0) -> int:
    """The one-at-a-time lock (flock: released by the kernel when its holder dies, even by kill -9).
    Returns the descriptor that holds it (closing it releases the lock); raises Busy when it is not
    free within `wait` seconds. The state directory must exist."""
    fd = os.open(os.path.join(root, STATE_DIR.lstrip("/"), "lock"), os.O_RDWR | os.O_CREAT, 0o600)
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
