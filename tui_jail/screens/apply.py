"""Step 5: apply — preflight first, then the transaction.

Preflight (`tui_jail.preflight`) runs in a worker and its findings are listed before anything can
change. Applying itself belongs to the transaction (`tui_jail.transaction`, issue 3): until that
module lands this step stops after preflight and shows the exact command that applies the same
spec with its watchdog and confirmation.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Label, Static

from tui_jail.messages import ChecksFinished, WorkFailed
from tui_jail.screens.step import StepScreen


class ApplyScreen(StepScreen):
    STEP = "Apply"
    NEXT_LABEL = "Verify"
    CSS_PATH = "apply.tcss"

    def compose_body(self) -> ComposeResult:
        yield Label(f"Preflight for {self.state.name}: checking before anything changes…", id="phase")
        with ScrollableContainer(id="preflight"):
            yield Static("", id="findings")
        yield Static("", id="next-steps")

    def on_mount(self) -> None:
        self.preflight()

    @work(thread=True, exclusive=True, exit_on_error=False, group="preflight", description="preflight")
    def preflight(self) -> None:
        from tui_jail.checks import CheckResult
        from tui_jail.errors import Refused
        from tui_jail.plan import PlanError
        from tui_jail.preflight import run_preflight
        from tui_jail.spec import SpecError

        try:
            plan = self.state.plan or self.state.make_plan()
            notes = run_preflight(plan, self.state.system, self.state.environ)
        except (Refused, SpecError, PlanError) as exc:
            self.post_message(WorkFailed("preflight", str(exc)))
            return
        self.post_message(ChecksFinished([CheckResult("preflight", "pass", note) for note in notes]))

    @on(ChecksFinished)
    def passed(self, message: ChecksFinished) -> None:
        self.query_one("#phase", Label).update("Preflight passed: nothing would lock you out.")
        self.query_one("#phase", Label).set_class(True, "-passed")
        lines = Text()
        for result in message.results:
            lines.append("✓ ", "bold green")
            lines.append(self.state.shown(result.detail) + "\n")
        self.query_one("#findings", Static).update(lines)
        self.query_one("#next-steps", Static).update(
            Text.assemble(
                ("Applying from the wizard arrives with the transaction module (issue 3). ", "bold"),
                "Save the spec on the review step (s), then apply it with its automatic rollback:\n",
                (f"  tui-jail apply --spec {self.state.name}.yaml{self._root_flag()}", "bold"),
                "\nand confirm from a new SSH session: ",
                (f"tui-jail confirm{self._root_flag()}", "bold"),
            )
        )

    def _root_flag(self) -> str:
        return "" if str(self.state.system.root) == "/" else f" --root {self.state.shown(str(self.state.system.root))}"

    @on(WorkFailed)
    def refused(self, message: WorkFailed) -> None:
        phase = self.query_one("#phase", Label)
        phase.update("Preflight refused this change; nothing was changed.")
        phase.set_class(True, "-failed")
        self.query_one("#findings", Static).update(Text("✗ " + self.state.shown(message.reason), "bold red"))
        self.show_error("go back and fix it")
