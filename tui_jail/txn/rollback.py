"""Rollback, driven by the journal alone: undo every begun step in reverse order, then reload sshd.

Shared by `tui-jail rollback`, `recover`, a failed apply, a command that finds a transaction
nobody watches any more, and the detached watchdog (so it imports nothing heavy). The caller holds
the journal lock. Safe to run again after a crash half-way: each undo checks the live system, and
finished undos are recorded. A damaged journal is rolled back from what is intact: a state file
that cannot be read is replaced by what the watchdog remembers or a stand-in (and named in the
notes); steps that cannot be read leave the transaction `failed`, for `recover` to explain.
"""

from __future__ import annotations

import contextlib
import time

from tui_jail.paths import faults
from tui_jail.txn.journal import Damaged, Journal, TxnState

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from tui_jail.paths.files import Root
    from tui_jail.paths.system import SystemRoot

UNSAVED = "could not save the journal state"


def rollback(journal: Journal, reason: str) -> TxnState:
    from tui_jail.core.fstab import FSTAB
    from tui_jail.paths.system import SystemRoot
    from tui_jail.txn import steps  # loaded only when there is something to undo: the watchdog starts fast

    system = SystemRoot(journal.root)
    journal.release_reserve()
    state, problem = journal.state_or_stand_in()
    state.status = "rolling-back"
    if problem:
        state.notes.append(f"damaged journal: {problem}")
    state.notes.append(f"{time.strftime('%H:%M:%S')} rollback: {reason}")
    _save(journal, state)
    try:
        ops = journal.ops()
        begun = {index for index in journal.begun() if index < len(ops)}
    except Damaged as exc:
        return _finish(journal, state, [f"{exc}: the steps cannot be undone automatically (see tui-jail recover)"])
    undone = journal.undone()
    identities = journal.mount_records()
    errors: list[str] = []
    # paths the steps created, removed with their parents' fsync put off: each parent is fsynced once
    # at the end, and only then are those undos recorded, so no `undo` line reaches the disk before
    # the removal it stands for (a crash before finds them unrecorded, and removing what is gone is a no-op)
    unsynced: set[str] = set()
    removed: list[int] = []
    for index in sorted(begun, reverse=True):
        if index in undone:
            continue
        faults.point("rollback")
        try:
            steps.undo(ops[index], index, system, journal, identities, unsynced=unsynced)
        except steps.LeftInPlace as exc:
            state.notes.append(f"left in place: {exc}")
        except Exception as exc:  # noqa: BLE001 — keep undoing the rest; recover retries this one
            errors.append(f"{steps.undo_text(ops[index])}: {exc}")
            continue
        faults.point("rollback")
        if ops[index]["op"] in steps.CREATED and not ops[index].get("identity"):
            removed.append(index)
            continue
        with contextlib.suppress(OSError):  # a full disk: the undo is idempotent, so an unrecorded one is fine
            # a volatile step's undo, as its begin, is not fsynced: a crash of the machine ends its effect
            journal.record("undo", index, volatile=ops[index]["op"] in steps.VOLATILE)
    _record_removals(journal, system, unsynced, removed)
    if any(ops[i]["op"] == "write" and ops[i].get("sshd") for i in begun):
        try:
            state.notes.append(steps.reload_sshd(system))
        except Exception as exc:  # noqa: BLE001 — the files are back; a reload failure is reported, not fatal
            state.notes.append(f"sshd not reloaded: {exc}")
    if any(ops[i]["op"] == "write" and ops[i]["path"] == FSTAB for i in begun):
        try:
            state.notes.append(steps.reload_fstab_units(system))
        except Exception as exc:  # noqa: BLE001 — fstab is back; systemd reads it at the latest at the next boot
            state.notes.append(f"systemd not reloaded: {exc}")
    return _finish(journal, state, errors)


def _record_removals(journal: Journal, system: SystemRoot, unsynced: set[str], removed: list[int]) -> None:
    """Fsync each directory paths were removed from (those still there: a removed one's own parent
    holds its removal), then record those undos, one fdatasync for them all."""
    from tui_jail.paths import files

    with contextlib.suppress(OSError):  # unrecorded, the removals are done again by the next rollback: no-ops
        for directory in sorted(unsynced, reverse=True):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                files.fsync_dir(system.dir, directory)
        journal.record_all("undo", removed)


def _finish(journal: Journal, state: TxnState, errors: list[str]) -> TxnState:
    state.status = "failed" if errors else "rolled-back"
    state.error = "\n".join(errors)  # one failure a line; one-line outputs join them with "; "
    _save(journal, state)
    stop_timer(journal.root, journal.id)
    return state


def _save(journal: Journal, state: TxnState) -> None:
    """Best effort on a full disk: left unsaved, the old status makes the watchdog or recover retry."""
    try:
        journal.write_state(state)
    except OSError as exc:
        state.error = "; ".join(filter(None, [state.error, f"{UNSAVED}: {exc}"]))
        state.status = "failed"


def stop_timer(root: Root, txn_id: str) -> None:
    """Disarm the systemd transient timer, where systemd runs the root and so armed one."""
    from tui_jail.backends import systemd  # only where a timer can be

    if systemd.manages(root):
        systemd.stop_timer(txn_id)
