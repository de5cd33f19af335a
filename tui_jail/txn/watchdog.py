"""The rollback watchdog: a detached process that rolls a transaction back at its deadline unless
it was confirmed, and at once if the applying process died half-way.

The applier starts it (see `arming`) before its preflight, as `--control-fd FD ROOT`: it forks away
from its parent, starts its own session, ignores SIGHUP, then waits on FD for the transaction id,
sent once the journal exists. It reads that journal — its state, its steps and every backup, kept
in memory — logs to it, answers "ready PID START" and watches. So it is armed before the first
change, not a child of the TUI or of the applying process, and closing the terminal, dropping the
SSH connection or `kill -9` of the applier's whole session leaves it running; if the applier closes
FD first (a refused preflight) or dies, it exits. A command that finds a pending transaction whose
watchdog is gone arms a new one the same way (`watched.ensure_watched`). Where systemd is PID 1, a
transient timer runs the same loop (`ROOT TXN`) at the deadline, in case the watchdog itself is killed.

The loop re-reads the state, so a confirm or an extension is seen; the deadline is on the boot
clock (`journal_layout.seconds_left`), so a wall-clock step neither delays nor hastens it. What it
read when armed stands in for a journal damaged or deleted since: it still rolls back from memory.

It imports little (`journal_layout`: os, json and fcntl; no pathlib, dataclasses or subprocess),
as its start-up shares the CPUs with the preflight; `journal` and the undo machinery are loaded
only when there is something to roll back.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from tui_jail.txn import journal_layout as layout

TYPE_CHECKING = False  # not typing's (see the module's docstring)
if TYPE_CHECKING:
    from typing import Any

POLL = 0.1  # seconds between looks at the journal (the applier's death is noticed this fast)
RETRY = 2.0  # seconds between attempts at a rollback that could not be saved (a full disk)
HUNG_GRACE = 10.0  # past the deadline, an applier still holding the lock this long is killed


class Memory:
    """What the watchdog holds of its transaction: the steps and every backup, read when armed; the
    last state it read; the log open (only ever appended to, it holds the steps begun and the
    identity of each mount made: read through the descriptor, it is whole even once deleted). So it
    can roll back whatever becomes of the files."""

    def __init__(self, root: str, txn_id: str) -> None:
        self.root, self.id = root, txn_id
        self.directory = layout.transaction_dir(root, txn_id)
        self.state: dict[str, Any] = layout.read_state(self.directory)
        self.log = os.open(os.path.join(self.directory, "log"), os.O_RDONLY | os.O_CLOEXEC)
        self.ops: list[dict[str, Any]] | None = None
        self.backups: dict[int, bytes] = {}
        try:
            with open(os.path.join(self.directory, "ops.json"), "rb") as file:
                ops = json.loads(file.read())
            self.ops = ops if isinstance(ops, list) else None
            backup_dir = os.path.join(self.directory, "backup")
            for name in os.listdir(backup_dir):
                if name.isdigit():
                    with open(os.path.join(backup_dir, name), "rb") as file:
                        self.backups[int(name)] = file.read()
        except (OSError, ValueError) as exc:  # rolled back from what is on disk then, if anything
            _log(f"no copy of the undo in memory: {exc}")

    def current(self) -> dict[str, Any]:
        """The state as written now; the last one read when it is damaged or gone."""
        try:  # noqa: SIM105 — contextlib costs the watchdog's start-up (see `_armed`)
            self.state = layout.read_state(self.directory)
        except (OSError, layout.Damaged):
            pass
        return self.state

    def log_lines(self) -> list[str]:
        chunks, offset = [], 0
        while chunk := os.pread(self.log, 1 << 16, offset):
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks).decode(errors="replace").splitlines()


def _log(line: str) -> None:
    """A line in watchdog.log, if it can be written: a full disk must not stop the rollback."""
    try:  # noqa: SIM105 — contextlib costs the watchdog's start-up (see `_armed`)
        os.write(2, f"watchdog: {line}\n".encode(errors="replace"))
    except OSError:
        pass


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


def _armed(control: int, root: str) -> Memory | None:
    """Detach, take the transaction, read it into memory, log to its journal, acknowledge (the
    applier waits for this). None when there is nothing to watch."""
    _detach()
    txn_id = _await_transaction(control)
    if not txn_id or "/" in txn_id:
        return None
    memory = Memory(root, txn_id)  # readable, or fail before acknowledging
    log = os.open(os.path.join(memory.directory, "watchdog.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    try:  # noqa: SIM105 — contextlib.suppress: importing contextlib costs the watchdog 4 ms of start-up
        os.write(control, f"ready {os.getpid()} {layout.process_start(os.getpid())}\n".encode())
    except OSError:
        pass  # the applier gave up or died meanwhile: watching finishes what it left
    os.close(control)
    return memory


def watch(memory: Memory) -> int:
    """Wait for the deadline (or the applier's death) and roll back; return when nothing is left."""
    while True:
        state = memory.current()
        if not _watched(state):
            _report(state)
            return 0
        left = layout.seconds_left(state)
        if not left or state["status"] != "pending":
            try:
                lock = layout.take_lock(memory.root)
            except layout.Busy:
                if not left and state["status"] == "applying" and _hung(state):
                    _kill_hung_applier(state.get("applier_pid", 0))
            except OSError as exc:  # the journal's directory deleted, or its lock made a directory
                _log(f"cannot take the journal lock: {exc}")
                _repair_lock(memory.root)
                time.sleep(POLL)
                continue
            else:
                try:
                    if _rolled_back(memory):
                        return 0
                finally:
                    os.close(lock)
                time.sleep(RETRY)  # rolled back, but the end could not be saved: try again
                continue
        time.sleep(min(POLL, left) if left > 0 else POLL)


def _repair_lock(root: str) -> None:
    from pathlib import Path  # loaded only now (see the module's docstring)

    from tui_jail.txn.journal import repair_lock

    try:
        _log(repair_lock(Path(root)) or "the lock was not the matter")
    except OSError as exc:  # a full disk: tried again at the next look
        _log(f"could not repair the journal lock: {exc}")


def _hung(state: dict[str, Any]) -> bool:
    """An applier still holding the lock `HUNG_GRACE` seconds past the deadline."""
    deadline = state.get("boot_deadline")
    return not isinstance(deadline, (int, float)) or layout.boottime() >= deadline + HUNG_GRACE


def _rolled_back(memory: Memory) -> bool:
    """Holding the lock: roll back if the state (read again) still calls for it. True when nothing
    is left to watch."""
    reason = _reason(memory.current())
    if not reason:
        return False
    from pathlib import Path  # the rollback's imports, loaded only now (see the module's docstring)

    from tui_jail.txn.journal import Journal
    from tui_jail.txn.rollback import rollback

    log = memory.log_lines()
    journal = Journal.remembered(Path(memory.root), memory.id, memory.ops, memory.backups, memory.state, log)
    state = rollback(journal, reason)
    failed = f" ({state.error})" if state.error else ""  # under the systemd timer, this is in the journal
    _log(f"{state.action} of jail {state.jail} ({memory.id}) {state.status}{failed}: {reason}")
    memory.state = {**memory.state, "status": state.status}  # what stands when the journal is gone
    return not _watched(memory.current())  # else the end could not be saved (a full disk): again


def _report(state: dict[str, Any]) -> None:
    """One line on how the transaction ended, when another process ended it (under the systemd timer
    this reaches the journal whichever watchdog rolled back)."""
    ended = [note for note in state.get("notes", []) if " rollback: " in str(note)]
    why = f": {str(ended[-1]).split(' rollback: ', 1)[1]}" if ended and state["status"] != "confirmed" else ""
    what = f"{state.get('action', '?')} of jail {state.get('jail', '?')} ({state.get('id', '?')})"
    _log(f"{what} is {state['status']}{why}")


def _reason(state: dict[str, Any]) -> str:
    """Why to roll back now, holding the lock ('' for not yet)."""
    status = state["status"]
    if not _watched(state):
        return ""
    if status in ("preparing", "applying"):
        return "the applying process died before it finished (the lock was free)"
    if status == "rolling-back":
        return "a rollback was interrupted; finishing it"
    if not layout.seconds_left(state):
        return "watchdog: the confirm deadline passed without a confirmation"
    return ""


def _watched(state: dict[str, Any]) -> bool:
    """Still the watchdog's: not confirmed or rolled back, nor left for `recover` by a failed rollback."""
    return state["status"] in layout.UNFINISHED and state["status"] != "failed"


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
        memory = _armed(int(args[1]), args[2])
        return watch(memory) if memory else 0
    try:
        memory = Memory(args[0], args[1])
    except (OSError, layout.Damaged) as exc:
        print(f"tui-jail watchdog: {exc}", file=sys.stderr)
        return 1
    return watch(memory)


if __name__ == "__main__":
    sys.exit(main())
