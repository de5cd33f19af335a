"""Recovery: the wizard opens here when a transaction is pending, interrupted or failed.

It says what happened (who applied it from where, its state, any error, what the start-up check of
its watchdog found and did: re-armed, or rolled back), shows what the transaction changed (the plan
as the admin saw it), and offers the way on: keep it (`k`, a confirmation from this
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

from tui_jail.screens.glyphs import BlockScrollBar, console_text
from tui_jail.screens.marked_wrap import MarkedWrap
from tui_jail.screens.messages import TransactionChanged
from tui_jail.screens.step import NEXT
from tui_jail.screens.transaction_panel import TransactionPanel
from tui_jail.screens.transaction_step import TransactionStep
from tui_jail.screens.wizard_state import WizardState

if TYPE_CHECKING:
    from tui_jail.txn.journal import TxnState

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
    HAS_BACK = False
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", show=False)]

    def __init__(self, state: WizardState, txn: TxnState, notices: list[str] | None = None) -> None:
        super().__init__(state)
        self.found = txn
        self.notices = notices or []

    def compose_body(self) -> ComposeResult:
        txn = self.found
        yield Label(_headline(txn), id="headline", markup=False)
        if self.notices:
            yield Static(Text("\n".join(self.notices)), id="notices")
        yield Static(_who(txn), id="who")
        plan = self.state.shown(self.state.plan_text(txn))
        with ScrollableContainer(id="changes"):
            # wrapped to the screen, each continuation marked + or - like its line (the review's way)
            yield Static(MarkedWrap(Text(console_text(plan) if self.state.console_font else plan)), id="plan")
        yield TransactionPanel(self.state)

    def on_mount(self) -> None:
        if self.state.console_font:
            changes = self.query_one("#changes", ScrollableContainer)
            # per widget, as Textual documents it (mypy sees only the class variable)
            changes.vertical_scrollbar.renderer = BlockScrollBar  # type: ignore[misc]
            changes.horizontal_scrollbar.renderer = BlockScrollBar  # type: ignore[misc]
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


def _who(txn: TxnState) -> Text:
    """ "Applied by admin from 198.51.100.4" or "… on a local console": never an empty address."""
    who = Text.assemble(("Applied by ", "dim"), txn.user) if txn.user else Text("Applied", "dim")
    address = (txn.ssh_connection or "").split()
    who.append_text(Text.assemble((" from ", "dim"), address[0]) if address else Text(" on a local console", "dim"))
    return who
