"""Recovery: the wizard opens here when a transaction is pending, interrupted or failed.

It says what happened (who applied it from where, its state, any error), shows what the transaction
changed (the plan as the admin saw it), and offers the way on: keep it (`k`, a confirmation from this
new session), push the deadline back (`e`) or roll it back (`r`), all through the transaction under
its lock. Continue is refused until the transaction is finished one way or the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer
from textual.widgets import Label, Static

from tui_jail.messages import TransactionChanged
from tui_jail.screens.step import NEXT
from tui_jail.screens.transaction_panel import TransactionPanel
from tui_jail.screens.transaction_step import TransactionStep
from tui_jail.wizard_state import WizardState

if TYPE_CHECKING:
    from tui_jail.journal import TxnState

STATUS = {
    "preparing": "was being prepared when it stopped (nothing was changed yet)",
    "applying": "stopped while it was being applied",
    "pending": "is applied and waiting for confirmation",
    "rolling-back": "stopped while it was being rolled back",
    "failed": "could not be rolled back completely",
    "confirmed": "is confirmed: the change is kept",
    "rolled-back": "is rolled back: nothing of it is left",
}


class RecoveryScreen(TransactionStep):
    STEP = "Recovery"
    NEXT_LABEL = "Continue"
    CSS_PATH = "recovery.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", show=False)]

    def __init__(self, state: WizardState, txn: TxnState) -> None:
        super().__init__(state)
        self.found = txn

    def compose_body(self) -> ComposeResult:
        txn = self.found
        yield Label(_headline(txn), id="headline")
        who = Text.assemble(("Applied by ", "dim"), txn.user, ("  from ", "dim")) if txn.user else Text("Applied from ")
        who.append(txn.ssh_connection.split(" ")[0] if txn.ssh_connection else "a local console")
        yield Static(who, id="who")
        with ScrollableContainer(id="changes"):
            yield Static(Text(self.state.shown(self.state.plan_text(txn)), no_wrap=True))
        yield TransactionPanel(self.state)

    def on_mount(self) -> None:
        self.post_message(TransactionChanged("found", self.found))

    def transaction_changed(self, txn: TxnState) -> None:
        self.query_one("#headline", Label).update(_headline(txn))

    def action_back(self) -> None:
        """Nothing comes before recovery."""

    def action_next(self) -> None:
        if self.txn is not None and self.txn.unfinished:
            self.show_error("keep it (k) or roll it back (r) first")
        else:
            self.dismiss(NEXT)


def _headline(txn: TxnState) -> str:
    return f"Transaction {txn.id} ({txn.action} {txn.jail}) {STATUS.get(txn.status, txn.status)}."
