"""The rollback watchdog: a detached process that rolls a transaction back at its deadline unless
it was confirmed, and at once if the applying process died half-way.

The applier starts it (see `arming`) before its preflight, as `--control-fd FD ROOT`: it forks away
from its parent, starts its own session, ignores SIGHUP, then waits on FD for the transaction id,
sent once the journal exists. It reads that journal, logs to it, answers "ready PID" and watches.
So it is armed before the first change, not a child of the TUI or of the applying process, and
closing the terminal, dropping the SSH connection or `kill -9` of the applier's whole session
leaves it running; if the applier closes FD first (a refused preflight) or dies, it exits. Where
systemd is PID 1, a transient timer runs the same loop (`ROOT TXN`) at the deadline, in case the
watchdog itself is killed. The loop re-reads the journal, so a confirm or an extension is seen.

It imports little (`journal_layout`: os, json and fcntl; no pathlib, dataclasses or subprocess),
as its start-up shares the CPUs with the preflight; `journal` and the undo machinery are loaded
only when there is something to roll back.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time

from tui_jail import journal_layout as layout

TYPE_CHECKING = False  # not typing's (see the module's docstring)
if TYPE_CHECKING:
    from typing import Any

POLL = 0.1  # seconds between looks at the journal (the applier's death is noticed this fast)
HUNG_GRACE = 10.0  # past the deadline, an applier still holding the lock this long is killed


def _detach() -> None:
    if os.fork():
        os._exit(0)
    os.setsid()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _await_transaction(control: int) -> str:
    """The id the applier sends once its journal exists; '' when it closes the socket first."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(control, 256)
        if not chunk:
            return ""
        data += chunk
    return data.decode().strip()


def _armed(control: int, root: str) -> str:
    """Detach, take the transaction, log to its journal, acknowledge (the applier waits for this).
    Returns the transaction id, '' when there is none to watch."""
    _detach()
    txn_id = _await_transaction(control)
    if not txn_id or "/" in txn_id:
        return ""
    directory = layout.transaction_dir(root, txn_id)
    layout.read_state(directory)  # readable, or fail before acknowledging
    log = os.open(os.path.join(directory, "watchdog.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    try:  # noqa: SIM105 — contextlib.suppress: importing contextlib costs the watchdog 4 ms of start-up
        os.write(control, f"ready {os.getpid()}\n".encode())
    except OSError:
        pass  # the applier gave up or died meanwhile: watching finishes what it left
    os.close(control)
    return txn_id


def watch(root: str, txn_id: str) -> int:
    """Wait for the deadline (or the applier's death) and roll back; return when nothing is left."""
    directory = layout.transaction_dir(root, txn_id)
    while True:
        state = layout.read_state(directory)
        if not _watched(state):
            return 0
        deadline = _deadline(state)
        due = time.time() >= deadline
        if due or state["status"] != "pending":
            try:
                lock = layout.take_lock(root)
            except layout.Busy:
                if due and state["status"] == "applying" and time.time() >= deadline + HUNG_GRACE:
                    _kill_hung_applier(state["applier_pid"])
            else:
                try:
                    if _rolled_back(root, txn_id):
                        return 0
                finally:
                    os.close(lock)
        remaining = deadline - time.time()
        time.sleep(min(POLL, remaining) if remaining > 0 else POLL)


def _rolled_back(root: str, txn_id: str) -> bool:
    """Holding the lock: roll back if the state (read again) still calls for it."""
    reason = _reason(layout.read_state(layout.transaction_dir(root, txn_id)))
    if not reason:
        return False
    from pathlib import Path  # the rollback's imports, loaded only now (see the module's docstring)

    from tui_jail.journal import Journal
    from tui_jail.rollback import rollback

    rollback(Journal(Path(root), txn_id), reason)
    return True


def _reason(state: dict[str, Any]) -> str:
    """Why to roll back now, holding the lock ('' for not yet)."""
    status = state["status"]
    if not _watched(state):
        return ""
    if status in ("preparing", "applying"):
        return "the applying process died before it finished (the lock was free)"
    if status == "rolling-back":
        return "a rollback was interrupted; finishing it"
    if time.time() >= _deadline(state):
        return "watchdog: the confirm deadline passed without a confirmation"
    return ""


def _watched(state: dict[str, Any]) -> bool:
    """Still the watchdog's: not confirmed or rolled back, nor left for `recover` by a failed rollback."""
    return state["status"] in layout.UNFINISHED and state["status"] != "failed"


def _deadline(state: dict[str, Any]) -> float:
    """The deadline, or one long past when the journal holds no real number (NaN would never come due)."""
    deadline = state["deadline"]
    return deadline if isinstance(deadline, (int, float)) and math.isfinite(deadline) else 0.0


def _kill_hung_applier(pid: int) -> None:
    """Only a tui-jail process with the recorded pid: a reused pid is left alone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            cmdline = file.read()
        if b"tui_jail" in cmdline or b"tui-jail" in cmdline:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    """`--control-fd FD ROOT` (started by the applier, see `arming`) or `ROOT TXN` (the systemd timer)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--control-fd"]:
        txn_id = _armed(int(args[1]), args[2])
        return watch(args[2], txn_id) if txn_id else 0
    return watch(args[0], args[1])


if __name__ == "__main__":
    sys.exit(main())
