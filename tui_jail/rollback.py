"""Rollback, driven by the journal alone: undo every begun step in reverse order, then reload sshd.

Shared by `tui-jail rollback`, `recover`, a failed apply and the detached watchdog (so it imports
nothing heavy). The caller holds the journal lock. Safe to run again after a crash half-way: each
undo checks the live system, and finished undos are recorded.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from tui_jail import faults
from tui_jail.journal import Journal, TxnState


def rollback(journal: Journal, reason: str) -> TxnState:
    from tui_jail import steps  # loaded only when there is something to undo: the watchdog starts fast
    from tui_jail.system import SystemRoot

    system = SystemRoot(journal.root)
    state = journal.state()
    state.status = "rolling-back"
    state.notes.append(f"{time.strftime('%H:%M:%S')} rollback: {reason}")
    _save(journal, state)
    ops = journal.ops()
    begun = journal.begun()
    undone = journal.undone()
    identities = journal.mount_records()
    errors: list[str] = []
    for index in sorted(begun, reverse=True):
        if index in undone:
            continue
        faults.point("rollback")
        try:
            steps.undo(ops[index], index, system, journal, identities)
        except Exception as exc:  # noqa: BLE001 — keep undoing the rest; recover retries this one
            errors.append(f"{steps.undo_text(ops[index])}: {exc}")
            continue
        faults.point("rollback")
        with contextlib.suppress(OSError):  # a full disk: the undo is idempotent, so an unrecorded one is fine
            journal.record("undo", index)
    notes = []
    if any(ops[i]["op"] == "write" and ops[i].get("sshd") for i in begun):
        try:
            notes.append(steps.reload_sshd(system))
        except Exception as exc:  # noqa: BLE001 — the files are back; a reload failure is reported, not fatal
            notes.append(f"sshd not reloaded: {exc}")
    state = journal.state()
    state.notes += notes
    state.status = "failed" if errors else "rolled-back"
    state.error = "; ".join(errors)
    _save(journal, state)
    stop_timer(journal.id)
    return state


def _save(journal: Journal, state: TxnState) -> None:
    """Best effort on a full disk: left unsaved, the old status makes the watchdog or recover retry."""
    try:
        journal.write_state(state)
    except OSError as exc:
        state.error = f"could not save the journal state: {exc}"
        state.status = "failed"


def stop_timer(txn_id: str) -> None:
    """Disarm the systemd transient timer, where there is one."""
    if not Path("/run/systemd/system").is_dir():
        return
    import sh

    sh.Command("systemctl")("stop", f"tui-jail-{txn_id}.timer", _ok_code=tuple(range(256)))  # absent already: fine
