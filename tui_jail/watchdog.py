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

It imports little (no argparse, no subprocess), as its start-up shares the CPUs with the
preflight; the undo machinery is loaded by `rollback` only when there is something to undo.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from tui_jail.journal import Busy, Journal, TxnState, locked
from tui_jail.rollback import rollback

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


def _armed(control: int, root: Path) -> Journal | None:
    """Detach, take the transaction, log to its journal, acknowledge (the applier waits for this)."""
    _detach()
    txn_id = _await_transaction(control)
    if not txn_id or "/" in txn_id:
        return None
    journal = Journal(root, txn_id)
    journal.state()  # readable, or fail before acknowledging
    log = os.open(journal.dir / "watchdog.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    with contextlib.suppress(OSError):  # the applier gave up or died meanwhile: watching finishes what it left
        os.write(control, f"ready {os.getpid()}\n".encode())
    os.close(control)
    return journal


def watch(journal: Journal) -> int:
    """Wait for the deadline (or the applier's death) and roll back; return when nothing is left."""
    while True:
        state = journal.state()
        if not state.unfinished or state.status == "failed":
            return 0  # confirmed, rolled back, or left for `recover` after a failed rollback
        due = time.time() >= state.deadline
        if due or state.status != "pending":
            try:
                with locked(journal.root):
                    reason = _reason(journal.state())
                    if reason:
                        rollback(journal, reason)
                        return 0
            except Busy:
                if due and state.status == "applying" and time.time() >= state.deadline + HUNG_GRACE:
                    _kill_hung_applier(state)
        remaining = state.deadline - time.time()
        time.sleep(min(POLL, remaining) if remaining > 0 else POLL)


def _reason(state: TxnState) -> str:
    """Why to roll back now, holding the lock ('' for not yet)."""
    if not state.unfinished or state.status == "failed":
        return ""
    if state.status in ("preparing", "applying"):
        return "the applying process died before it finished (the lock was free)"
    if state.status == "rolling-back":
        return "a rollback was interrupted; finishing it"
    if time.time() >= state.deadline:
        return "watchdog: the confirm deadline passed without a confirmation"
    return ""


def _kill_hung_applier(state: TxnState) -> None:
    """Only a tui-jail process with the recorded pid: a reused pid is left alone."""
    try:
        cmdline = Path(f"/proc/{state.applier_pid}/cmdline").read_bytes()
        if b"tui_jail" in cmdline or b"tui-jail" in cmdline:
            os.kill(state.applier_pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


def main(argv: list[str] | None = None) -> int:
    """`--control-fd FD ROOT` (started by the applier, see `arming`) or `ROOT TXN` (the systemd timer)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--control-fd"]:
        journal = _armed(int(args[1]), Path(args[2]))
        return 0 if journal is None else watch(journal)
    return watch(Journal(Path(args[0]), args[1]))


if __name__ == "__main__":
    sys.exit(main())
