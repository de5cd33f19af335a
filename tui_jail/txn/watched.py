"""Every command's first look at the journal: is each unfinished transaction still watched?

`ensure_watched(root)` runs before status, confirm, apply, remove, recover, rollback and the wizard.
For each unfinished transaction whose watchdog is gone (pid and start time, so a reused pid does
not count): before its deadline a new watchdog is armed for it; once the deadline has passed — or
the transaction is from another boot, where no boot guard ran — it is rolled back at once; one
interrupted half-way (its applier died and nothing watches it) is rolled back at once too. A
damaged entry is named in one line; a damaged unfinished one is rolled back from what is intact.
It returns what it found and did, one line each, for the command to print. Where systemd runs, the
transient timer (`arming.arm_systemd_timer`) stays a second, independent watchdog.
"""

from __future__ import annotations

from tui_jail.txn import journal
from tui_jail.txn.journal import Busy, Entry
from tui_jail.txn.journal_layout import boot_id
from tui_jail.txn.rollback import rollback

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from tui_jail.paths.files import Root


def ensure_watched(root: Root) -> list[str]:
    """Re-arm or roll back what nobody watches; one line for each thing found or done."""
    entries = journal.scan(root)
    lines = [_damaged_line(entry) for entry in entries if entry.problem and not _needs_action(entry)]
    if entries and (repaired := journal.repair_lock(root)):
        lines.append(repaired)
    if not any(_needs_action(entry) for entry in entries):
        return lines
    try:
        with journal.locked(root):  # looked at again under the lock: another command may have acted
            for entry in journal.scan(root):
                if _needs_action(entry):
                    lines.append(_act(entry))
    except Busy:
        pass  # another tui-jail process is acting on the journal right now: it makes this same check
    return lines


def _needs_action(entry: Entry) -> bool:
    if not entry.unfinished:
        return False
    state = entry.state
    return state is None or (state.status != "failed" and not state.watchdog_running())


def _act(entry: Entry) -> str:
    txn, state = entry.journal, entry.state
    if state is None:
        done = rollback(txn, f"its journal was damaged ({entry.problem})")
        return f"{_damaged_line(entry)}; {_outcome(done)}"
    nobody = f"its watchdog (pid {state.watchdog_pid}) was gone" if state.watchdog_pid else "it had no watchdog"
    if state.status != "pending":
        done = rollback(txn, f"interrupted while {state.status}, and nothing watched it")
        return f"transaction {state.id} was interrupted while {state.status} and {nobody}; {_outcome(done)}"
    if state.boot_id != boot_id():
        done = rollback(txn, "left pending from another boot")
        return f"transaction {state.id} was left pending from another boot; {_outcome(done)}"
    gone = f"transaction {state.id}: {nobody}"
    if not state.seconds_left():
        done = rollback(txn, "its watchdog was gone and the deadline had passed")
        return f"{gone} and the deadline had passed; {_outcome(done)}"
    return _rearm(txn, state, gone)


def _rearm(txn: journal.Journal, state: journal.TxnState, gone: str) -> str:
    # only now: starting a watchdog takes subprocess and socket, which status and confirm otherwise never load
    from tui_jail.txn import arming

    try:
        with arming.Watchdog(txn.root) as watchdog:
            pid, start = watchdog.arm(txn.id)
        txn.update(watchdog_pid=pid, watchdog_start=start, notes=[*state.notes, f"watchdog re-armed (pid {pid})"])
    except (OSError, arming.WatchdogError) as exc:
        done = rollback(txn, f"its watchdog was gone and a new one could not be armed: {exc}")
        return f"{gone} and a new one could not be armed ({exc}); {_outcome(done)}"
    return f"{gone}; re-armed (pid {pid}): it rolls back in {state.seconds_left():.0f} s unless confirmed"


def _outcome(state: journal.TxnState) -> str:
    if state.status == "rolled-back":
        return "rolled back now"
    return f"the rollback could not finish: {state.error} (see tui-jail recover)"


def _damaged_line(entry: Entry) -> str:
    kind = "an unfinished transaction" if entry.unfinished else "a finished transaction: it blocks nothing"
    return f"damaged journal entry {entry.problem} ({kind})"
