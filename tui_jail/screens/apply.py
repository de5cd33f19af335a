"""Step 5: apply — preflight first, then the transaction, then the wait for a confirmation.

Preflight (`tui_jail.txn.preflight`) runs in a worker and its findings are listed before anything can
change. Next then applies the plan as a transaction (`WizardState.apply`, in a worker) that rolls
itself back at the deadline unless confirmed; the panel below counts down and says how to confirm
from a new login. Only a confirmed transaction leads on to verification; while one is pending,
Back is refused, so the admin never walks away from a change that is about to be undone.

Test before keep: the deadline is set here before applying, and while the change is pending the
jail's live checks (verify's) run at once and again on `v`, above the countdown, so the admin keeps
a change they have seen working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, ScrollableContainer
from textual.validation import Number
from textual.widgets import Button, Input, Label, Static

from tui_jail.screens.field import Field
from tui_jail.screens.messages import ChecksFinished, TransactionChanged, WorkFailed
from tui_jail.screens.step import FIELD_STEPS, NEXT, step_title
from tui_jail.screens.transaction_panel import TransactionPanel
from tui_jail.screens.transaction_step import TransactionStep
from tui_jail.screens.wizard_state import field_of

if TYPE_CHECKING:
    from tui_jail.core.checks import CheckResult
    from tui_jail.txn.journal import TxnState

LONGEST_WAIT = 86400.0  # the transaction's own bound: 1 s to 1 day


class ApplyScreen(TransactionStep):
    STEP = "Apply"
    NEXT_LABEL = "Apply"
    CSS_PATH = "apply.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "prove", "exec -- true"),
        Binding("v", "live_checks", "Recheck"),
    ]
    busy = True  # preflight or the apply itself is running
    fix_at: str | None = None  # the step that fixes what preflight refused (Next goes there)
    _checked: str | None = None  # the transaction whose live checks ran by themselves

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "prove":  # an exec jail's proof: a job run in it, while the change is pending
            return self.state.kind == "exec" and self.txn is not None and self.txn.status == "pending"
        if action == "live_checks":
            return self.txn is not None and self.txn.status == "pending"
        if action == "back" and self.txn is not None and self.txn.unfinished:
            return False  # refused while the change can roll back: the footer's room goes to what works
        return super().check_action(action, parameters)

    @work(thread=True, exclusive=True, exit_on_error=False, group="prove", description="exec JAIL -- true")
    def action_prove(self) -> None:
        result = self.state.prove_exec()
        self.app.call_from_thread(self.panel.show_proof, result)

    def compose_body(self) -> ComposeResult:
        yield Label(f"Preflight for {self.state.name}: checking before anything changes…", id="phase", markup=False)
        with ScrollableContainer(id="preflight"):
            yield Static("", id="findings")
        with Horizontal(id="deadline-row"):
            yield Label("Next applies it; it rolls back by itself unless confirmed within ")
            yield Field(
                f"{self.state.confirm_timeout:g}",
                id="timeout-input",
                validators=[Number(minimum=1, maximum=LONGEST_WAIT)],
                compact=True,
            )
            yield Label(" s")
        yield TransactionPanel(self.state)

    @on(Input.Changed, "#timeout-input")
    def deadline_typed(self, event: Input.Changed) -> None:
        event.prevent_default()  # the bar's message is this field's own: not cleared as stale
        valid = event.validation_result is None or event.validation_result.is_valid
        if valid:
            self.state.confirm_timeout = float(event.value)
        self.query_one("#next-button", Button).disabled = self.busy or not valid
        # in the bar: beside the field, at the end of its row, it ran past 80 columns
        self.show_error(None if valid else f"deadline: 1 to {LONGEST_WAIT:g} seconds")

    def action_live_checks(self) -> None:
        self._phase("Applied, pending: checking it live…", "")
        self.live_checks()

    @work(thread=True, exclusive=True, exit_on_error=False, group="live-checks", description="live checks")
    def live_checks(self) -> None:
        from tui_jail.core.checks import run_checks
        from tui_jail.core.spec import SpecError

        try:
            results = run_checks(self.state.live_checks())
        except SpecError as exc:
            self.post_message(WorkFailed("live checks", str(exc)))
            return
        self.post_message(ChecksFinished(results))

    def on_mount(self) -> None:
        self.query_one("#next-button", Button).disabled = True
        self.preflight()

    @work(thread=True, exclusive=True, exit_on_error=False, group="preflight", description="preflight")
    def preflight(self) -> None:
        from tui_jail.core.checks import CheckResult
        from tui_jail.core.errors import Refused
        from tui_jail.core.plan import PlanError
        from tui_jail.core.spec import SpecError
        from tui_jail.txn.preflight import run_preflight

        try:
            plan = self.state.plan or self.state.make_plan()
            notes = run_preflight(plan, self.state.system, self.state.environ)
        except Refused as exc:
            self.post_message(WorkFailed("preflight", str(exc), exc.field))
            return
        except SpecError as exc:
            self.post_message(WorkFailed("preflight", str(exc), field_of(str(exc))))
            return
        except PlanError as exc:
            self.post_message(WorkFailed("preflight", str(exc)))
            return
        self.post_message(ChecksFinished([CheckResult("preflight", "pass", note) for note in notes], "preflight"))

    @on(ChecksFinished)
    def checks_finished(self, message: ChecksFinished) -> None:
        if message.what == "preflight":
            self.preflight_passed(message)
        elif self.txn is not None and self.txn.status == "pending":
            self.live_checked(message.results)

    def live_checked(self, results: list[CheckResult]) -> None:
        """The live checks while the change can still roll back: what keeping it would keep."""
        from tui_jail.screens.verify import ICONS

        failed = sum(r.status == "fail" for r in results)
        verdict = f"{failed} live check(s) failed: roll back (r) or fix" if failed else "every live check passes"
        self._phase(f"Applied, pending: {verdict} (v checks again).", "-failed" if failed else "-passed")
        lines = Text()
        for result in results:
            lines.append_text(ICONS[result.status])
            lines.append(f" {self.state.shown(result.name)}: {self.state.shown(result.detail)}\n")
            if result.status == "fail" and result.fix:
                lines.append(f"  fix: {self.state.shown(result.fix)}\n", "italic")
        lines.rstrip()
        self.query_one("#findings", Static).update(lines)

    def preflight_passed(self, message: ChecksFinished) -> None:
        self._phase("Preflight passed: nothing here would lock you out.", "-passed")
        lines = Text()
        for result in message.results:
            lines.append("✓ ", "bold green")
            lines.append(self.state.shown(result.detail) + "\n")
        lines.rstrip()
        self.query_one("#findings", Static).update(lines)
        self._ready()

    @work(thread=True, exclusive=True, exit_on_error=False, group="transaction", description="applying")
    def apply(self) -> None:
        try:
            txn = self.state.apply()
        except Exception as exc:  # noqa: BLE001 — refused or rolled back: one line on the screen, never a traceback
            self.post_message(WorkFailed("apply", str(exc)))
            return
        self.post_message(TransactionChanged("applied", txn))

    def action_next(self) -> None:
        if self.fix_at is not None:
            self.dismiss(self.fix_at)
            return
        if self.busy:
            return
        if self.txn is None or self.txn.status == "rolled-back":
            self.busy = True
            self.query_one("#next-button", Button).disabled = True
            self._phase("Applying: journal, watchdog, then each change…", "")
            self.apply()
        elif self.txn.status == "confirmed":
            self.dismiss(NEXT)
        else:
            self.show_error("keep it (k), confirm from a new login, or roll back (r) first")

    def action_back(self) -> None:
        if self.busy or (self.txn is not None and self.txn.unfinished):
            self.show_error("roll back (r) or keep (k) before going back")
            return
        super().action_back()

    def transaction_changed(self, txn: TxnState) -> None:
        self.busy = False
        summary = self.state.plan.summary() if self.state.plan else ""
        phases = {
            "pending": (f"Applied — {summary}.", "", "Verify"),
            "confirmed": ("Applied and confirmed.", "-passed", "Verify"),
            "rolled-back": ("Nothing of it is left: fix what needs fixing, or apply again.", "-failed", "Apply again"),
            "failed": ("The rollback could not finish: see below.", "-failed", "Verify"),
        }
        phase, style, label = phases.get(txn.status, (f"Transaction {txn.status}.", "", "Verify"))
        if self.state.removing and label == "Verify":
            label = "Done"  # a removed jail has nothing left to verify
        self._phase(phase, style)
        button = self.query_one("#next-button", Button)
        button.label = f"{label} ▶"
        button.disabled = txn.status not in ("pending", "confirmed", "rolled-back")
        self.set_class(txn.status != "rolled-back", "-applied")
        if txn.status == "pending" and self._checked != txn.id and not self.state.removing:
            self._checked = txn.id  # by themselves once a transaction; v for more
            self.action_live_checks()

    @on(WorkFailed)
    def _preflight_failed(self, message: WorkFailed) -> None:
        if message.what == "preflight":
            message.prevent_default()  # not the generic one-line failure of TransactionStep
            self.preflight_refused(self.state.shown(message.reason), message.field)

    def preflight_refused(self, reason: str, field: str | None) -> None:
        """Nothing was applied, so there is nothing to keep or roll back: the way on is the step
        that can fix what preflight found (Next), or Back to the review."""
        self.busy = False
        self.fix_at = FIELD_STEPS.get(field or "")
        self._phase("Preflight refused this change; nothing was changed.", "-failed")
        findings = Text("✗ " + reason, "bold red")
        button = self.query_one("#next-button", Button)
        if self.fix_at is not None:
            title = step_title(self.fix_at, self.state.kind)
            findings.append(f"\n\nFix it on the {title} step: Next (^n) goes there, Back returns to the review.")
            button.label = f"Fix in {title} ▶"
            button.disabled = False
            button.focus()
        else:
            findings.append("\n\nFix the system as it says, then come back: Back returns to the review.")
            button.display = False
        self.query_one("#findings", Static).update(findings)
        self.add_class("-refused")
        self.show_error(None)

    def work_failed(self, what: str, reason: str) -> None:
        if what == "apply":
            self._phase("Not applied.", "-failed")
            self.query_one("#findings", Static).update(Text("✗ " + reason, "bold red"))
            self._ready()
            self.show_error(None)
        else:
            super().work_failed(what, reason)

    def _ready(self) -> None:
        self.busy = False
        button = self.query_one("#next-button", Button)
        button.disabled = False
        button.focus()

    def _phase(self, text: str, style: str) -> None:
        phase = self.query_one("#phase", Label)
        phase.update(text)
        for name in ("-passed", "-failed"):
            phase.set_class(name == style, name)
