"""A transaction as the admin needs to see it while it can still roll back: its state, the countdown
to the automatic rollback as a draining bar, and exactly how to confirm it from a new login.

Shared by the apply step and the recovery screen. It only shows: the screen that owns it acts on the
transaction and calls `show()` with every new state; the countdown ticks from the injected clock.
While the transaction is the watchdog's, a line says what really watches it: the watchdog armed,
re-armed (the first one was gone), or gone (being re-armed or rolled back right now).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

if TYPE_CHECKING:
    from tui_jail.screens.wizard_state import WizardState
    from tui_jail.txn.journal import TxnState

TICK = 0.5  # seconds between countdown updates: whole seconds are shown, so twice a second is smooth
STATES = ("pending", "confirmed", "rolling-back", "rolled-back", "failed", "interrupted")
WATCHDOG = {
    "armed": "Watchdog armed: it rolls back at the deadline, even if this session dies.",
    "re-armed": "Watchdog re-armed (the first one was gone): it rolls back at the deadline.",
    "gone": "Watchdog gone: re-arming it, or rolling back now if the deadline has passed…",
}


class TransactionPanel(Vertical):
    DEFAULT_CSS = """
    TransactionPanel {
        height: auto;
        padding: 0 1;
    }
    TransactionPanel #txn-headline {
        width: 1fr;
        text-style: bold;
    }
    TransactionPanel.-pending #txn-headline, TransactionPanel.-interrupted #txn-headline {
        color: $warning;
    }
    TransactionPanel.-confirmed #txn-headline {
        color: $success;
    }
    TransactionPanel.-rolled-back #txn-headline, TransactionPanel.-failed #txn-headline {
        color: $error;
    }
    TransactionPanel #countdown {
        height: 1;
        display: none;
    }
    TransactionPanel.-pending #countdown {
        display: block;
    }
    TransactionPanel #countdown-bar {
        width: auto;
    }
    TransactionPanel #countdown-left {
        padding: 0 1;
    }
    TransactionPanel #txn-howto {
        height: auto;
    }
    TransactionPanel #txn-watchdog {
        display: none;
        color: $text-muted;
    }
    TransactionPanel #txn-watchdog.-watched {
        display: block;
    }
    TransactionPanel #txn-watchdog.-gone {
        color: $error;
    }
    """

    def __init__(self, state: WizardState, intro: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.intro = intro
        self.txn: TxnState | None = None
        self.proof = ""  # the last `exec JAIL -- true` result, for an exec jail

    def compose(self) -> ComposeResult:
        yield Label(self.intro, id="txn-headline")
        with Horizontal(id="countdown"):
            yield ProgressBar(show_eta=False, show_percentage=False, id="countdown-bar")
            yield Label("", id="countdown-left")
        yield Label("", id="txn-watchdog")
        yield Static("", id="txn-howto")

    def on_mount(self) -> None:
        self.set_interval(TICK, self.tick)

    def show(self, txn: TxnState) -> None:
        self.txn = txn
        shown_state = txn.status if txn.status in STATES else "interrupted"
        for name in STATES:
            self.set_class(name == shown_state, f"-{name}")
        headline, howto = self._texts(txn)
        self.query_one("#txn-headline", Label).update(headline)
        self.query_one("#txn-howto", Static).update(howto)
        watchdog = self.query_one("#txn-watchdog", Label)
        word = self.state.watchdog(txn)
        watchdog.update(WATCHDOG.get(word, ""))
        watchdog.set_class(bool(word), "-watched")
        watchdog.set_class(word == "gone", "-gone")
        self.tick()

    def show_proof(self, result: str) -> None:
        self.proof = result
        if self.txn is not None:
            self.show(self.txn)

    def tick(self) -> None:
        if self.txn is None or self.txn.status != "pending":
            return
        left = max(0.0, self.txn.deadline - self.state.clock())
        bar = self.query_one("#countdown-bar", ProgressBar)
        bar.update(total=max(self.txn.timeout, left, bar.total or 0.0), progress=left)
        self.query_one("#countdown-left", Label).update(f"{left:.0f} s left")

    def _texts(self, txn: TxnState) -> tuple[str, Text]:
        confirm = self.state.command("confirm", txn.id)
        if txn.status == "pending":
            if self.state.kind == "exec" and txn.jail == self.state.name and not txn.needs_new_login:
                # no sshd file changed: the confirmation is for the jail itself, proven by a job run in it
                howto = Text.assemble(
                    "No sshd change: prove the jail runs its job instead (x runs it here):\n  ",
                    (self.state.command("exec", txn.jail, "--", "true"), "bold"),
                    "\nthen keep it (k).",
                    *(("\n", self.proof) if self.proof else ()),
                )
            elif txn.needs_new_login:
                howto = Text.assemble(
                    "Prove logins still work: log in anew (ssh -o ControlPath=none) and run\n  ",
                    (confirm, "bold"),
                    "\nIt shows here the moment it happens.",
                )
            else:
                howto = Text.assemble("Confirm from any session, or keep it from here (k):\n  ", (confirm, "bold"))
            return "Applied. It rolls back by itself unless it is confirmed.", howto
        if txn.status == "confirmed":
            return "Confirmed: the change is kept.", Text(self.state.shown(_last_note(txn, "confirmed from")))
        if txn.status == "rolled-back":
            reason = _last_note(txn, "rollback: ").partition("rollback: ")[2]
            return "Rolled back: every file restored, every mount undone.", Text(f"why: {self.state.shown(reason)}")
        if txn.status == "failed":
            return (
                "The rollback could not finish.",
                Text.assemble(
                    (self.state.shown(txn.error), "red"),
                    "\nFix the cause, then roll back again (r) or run  ",
                    (self.state.command("recover"), "bold"),
                ),
            )
        if txn.status == "rolling-back":
            return "Rolling back…", Text("")
        return f"Interrupted while {txn.status}.", Text("Rolling it back undoes exactly what it did.")


def _last_note(txn: TxnState, marker: str) -> str:
    return next((note for note in reversed(txn.notes) if marker in note), "")
