"""Recovery: the wizard opens here when a transaction is pending or failed.

It says what happened (status, who applied it from where, the deadline, any error), shows what the
transaction changed (the plan as the admin saw it), and offers the way back. The rollback itself is
the transaction's (`tui_jail.rollback`), run in a worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer
from textual.widgets import Label, Static

from tui_jail.messages import TransactionChanged, WorkFailed
from tui_jail.screens.step import StepScreen
from tui_jail.wizard_state import WizardState

if TYPE_CHECKING:
    from tui_jail.journal import Journal, TxnState

STATUS = {
    "preparing": "was being prepared when it stopped (nothing was changed yet)",
    "applying": "stopped while it was being applied",
    "pending": "is applied and waiting for confirmation",
    "rolling-back": "stopped while it was being rolled back",
    "failed": "could not be rolled back completely",
}


class RecoveryScreen(StepScreen):
    STEP = "Recovery"
    NEXT_LABEL = "Continue"
    CSS_PATH = "recovery.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", show=False),
        Binding("r", "rollback", "Roll back now"),
    ]

    def __init__(self, state: WizardState, journal: Journal) -> None:
        super().__init__(state)
        self.journal = journal

    def compose_body(self) -> ComposeResult:
        txn = self.journal.state()
        yield Label(self._headline(txn), id="headline")
        yield Static(self._details(txn), id="details")
        with ScrollableContainer(id="changes"):
            yield Static(Text(self.state.shown(self.journal.plan_text()), no_wrap=True))
        yield Label("r: roll back now (restores every file, unmounts what was mounted)", classes="intro")

    def _headline(self, txn: TxnState) -> str:
        return f"Transaction {txn.id} ({txn.action} {txn.jail}) {STATUS.get(txn.status, txn.status)}."

    def _details(self, txn: TxnState) -> Text:
        left = txn.deadline - self.state.clock()
        when = f"rolls back by itself in {left:.0f} s" if left > 0 else f"deadline passed {-left:.0f} s ago"
        text = Text.assemble(("Applied by ", "dim"), txn.user or "?", ("  from ", "dim"))
        text.append(txn.ssh_connection.split(" ")[0] if txn.ssh_connection else "a local console")
        if txn.status == "pending":
            text.append(f"\n{when}")
        if txn.error:
            text.append(f"\nerror: {self.state.shown(txn.error)}", "bold red")
        return text

    def action_back(self) -> None:
        """Nothing comes before recovery."""

    def action_rollback(self) -> None:
        self.query_one("#headline", Label).update("Rolling back…")
        self.roll_back()

    @work(thread=True, exclusive=True, exit_on_error=False, group="transaction", description="rolling back")
    def roll_back(self) -> None:
        from tui_jail.rollback import rollback

        try:
            state = rollback(self.journal, "rolled back from the wizard's recovery screen")
        except Exception as exc:  # noqa: BLE001 — shown inline; `tui-jail recover` is the fallback
            self.post_message(WorkFailed("rollback", f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(TransactionChanged(state.status, state))

    @on(TransactionChanged)
    def changed(self, message: TransactionChanged) -> None:
        txn = message.transaction
        self.query_one("#headline", Label).update(f"Transaction {txn.id}: {txn.status}.")
        self.query_one("#details", Static).update(self._details(txn))

    @on(WorkFailed)
    def failed(self, message: WorkFailed) -> None:
        self.show_error(f"rollback failed: {self.state.shown(message.reason)} — try `tui-jail recover`")
