"""The part of a wizard step that holds a live transaction: the apply step and the recovery screen.

While a transaction is pending, `k` keeps it (from the session that applied it only after the
`KeepModal` warning), `e` pushes the deadline back and `r` rolls it back now; each runs in a worker
through the `WizardState`, which calls the transaction. A second worker watches the journal, so a
confirmation from another session, or the watchdog's rollback at the deadline, shows the moment it
happens. Every change arrives as a `TransactionChanged` and is shown by the `TransactionPanel`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.worker import get_current_worker

from tui_jail.screens.keep_modal import KeepModal
from tui_jail.screens.messages import TransactionChanged, WorkFailed
from tui_jail.screens.step import StepScreen
from tui_jail.screens.transaction_panel import TransactionPanel
from tui_jail.screens.wizard_state import EXTEND_BY

if TYPE_CHECKING:
    from tui_jail.txn.journal import TxnState

WATCH_EVERY = 0.2  # seconds between looks at the journal: a confirm elsewhere shows this fast


class TransactionStep(StepScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "keep", "Keep"),
        Binding("e", "extend", f"+{EXTEND_BY:g} s"),
        Binding("r", "rollback", "Roll back now"),
    ]
    txn: TxnState | None = None
    _watching: str | None = None

    @property
    def panel(self) -> TransactionPanel:
        return self.query_one(TransactionPanel)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        pending = self.txn is not None and self.txn.status == "pending"
        if action in ("keep", "extend"):
            return pending
        if action == "rollback":
            return self.txn is not None and self.txn.unfinished and self.txn.status != "rolling-back"
        return True

    def action_keep(self) -> None:
        assert self.txn is not None
        # a transaction that changed no sshd file (an exec jail) needs no new login: nothing to warn about
        if self.txn.needs_new_login and self.txn.applied_from(self.state.environ):
            self.app.push_screen(KeepModal(self.state.command("confirm", self.txn.id)), self._keep_answered)
        else:
            self.act("keep")

    def _keep_answered(self, keep: bool | None) -> None:
        if keep:
            self.act("keep")

    def action_extend(self) -> None:
        self.act("extend")

    def action_rollback(self) -> None:
        self.act("rollback")

    @work(thread=True, exclusive=True, exit_on_error=False, group="transaction", description="transaction")
    def act(self, what: str) -> None:
        txn = self.txn
        assert txn is not None
        try:
            if what == "keep":
                txn = self.state.confirm(txn)
            elif what == "extend":
                txn = self.state.extend(txn)
            else:
                txn = self.state.rollback(txn, f"rolled back from the wizard ({self.STEP.lower()} step)")
        except Exception as exc:  # noqa: BLE001 — one line on the screen; `tui-jail recover` is the fallback
            self.post_message(WorkFailed(what, str(exc)))
            return
        self.post_message(TransactionChanged(what, txn))

    @work(thread=True, exclusive=True, exit_on_error=False, group="watch", description="watching the journal")
    def watch_journal(self, txn_id: str) -> None:
        """Until the transaction is finished: show each change of it, and when its watchdog is gone,
        re-arm one (or, past the deadline, roll back) as any command would."""
        worker = get_current_worker()
        seen = (self.txn.status, self.txn.deadline, self.state.watchdog(self.txn)) if self.txn else None
        while not worker.is_cancelled:
            try:
                txn = self.state.transaction(txn_id)
            except (OSError, ValueError):  # a state file being replaced: look again
                txn = None
            if txn is not None and txn.status == "pending" and self.state.watchdog(txn) == "gone":
                self.post_message(TransactionChanged("watchdog gone", txn))
                self.state.ensure_watched()  # nothing, while another command holds the lock: look again
                time.sleep(WATCH_EVERY)
                continue
            if txn is not None and (txn.status, txn.deadline, self.state.watchdog(txn)) != seen:
                seen = (txn.status, txn.deadline, self.state.watchdog(txn))
                self.post_message(TransactionChanged("watched", txn))
            if txn is not None and not txn.unfinished:
                return
            time.sleep(WATCH_EVERY)

    @on(TransactionChanged)
    def _transaction_changed(self, message: TransactionChanged) -> None:
        txn: TxnState = message.transaction
        self.txn = txn
        self.panel.show(txn)
        self.show_error(None)
        self.refresh_bindings()
        if txn.unfinished and self._watching != txn.id:
            self._watching = txn.id
            self.watch_journal(txn.id)
        self.transaction_changed(txn)

    def transaction_changed(self, txn: TxnState) -> None:
        """What the step does when its transaction moves on (besides showing it)."""

    @on(WorkFailed)
    def _work_failed(self, message: WorkFailed) -> None:
        self.work_failed(message.what, self.state.shown(message.reason))

    def work_failed(self, what: str, reason: str) -> None:
        """A worker's one-line failure (an action on the transaction, or the step's own work)."""
        self.show_error(f"{what} refused: {reason}")
