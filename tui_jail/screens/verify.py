"""Step 6: verification — every check of the applied jail, streaming in as it finishes.

The rows are laid out in the checks' order before any result arrives, so the table never jumps;
each result fills its row (icon, detail, wrapped to the column) and the highlighted row's detail and
fix are spelled out below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from tui_jail.screens.messages import CheckDone, ChecksFinished, WorkFailed
from tui_jail.screens.step import StepScreen

if TYPE_CHECKING:
    from tui_jail.core.checks import CheckResult

ICONS = {
    "pass": Text("✓ pass", "bold green"),
    "fail": Text("✗ fail", "bold red"),
    "warn": Text("! warn", "bold yellow"),
}
ICONS["skip"] = Text("- skip", "dim")
WAITING = Text("… ", "dim")


class VerifyScreen(StepScreen):
    STEP = "Verify"
    NEXT_LABEL = "Done"
    CSS_PATH = "verify.tcss"
    HAS_BACK = False
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", show=False)]

    def compose_body(self) -> ComposeResult:
        yield Label(f"Checking {self.state.name} on the live system…", id="verdict", markup=False)
        yield DataTable[Text](id="checks", cursor_type="row")
        yield Static("", id="explain")

    def on_mount(self) -> None:
        self.names: list[str] = []
        self.results: dict[str, CheckResult] = {}
        # fixed widths and rows as tall as their text: a detail wraps instead of being cut at 80 columns
        # besides the check and detail columns: margins (2), the cells' padding (6), the result column
        # (6) and the vertical scrollbar (2), which more rows than fit bring (it took the detail
        # column's last two cells: "/tank/IncomingMovies_staging (rw")
        room = max(self.app.size.width - 16, 40)
        table = self.query_one("#checks", DataTable)
        table.add_column("result", width=6)
        table.add_column("check", width=room // 2)
        table.add_column("detail", width=room - room // 2)
        self.run_checks()

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify", description="verifying")
    def run_checks(self) -> None:
        from tui_jail.core.checks import run_checks
        from tui_jail.core.spec import SpecError

        try:
            checks = self.state.live_checks()
        except SpecError as exc:
            self.post_message(WorkFailed("verify", str(exc)))
            return
        self.app.call_from_thread(self._lay_out, [check.name for check in checks])

        def stream(result: CheckResult) -> None:
            self.post_message(CheckDone(result))

        results = run_checks(checks, on_result=stream)
        self.post_message(ChecksFinished(results))

    def _lay_out(self, names: list[str]) -> None:
        self.names = names
        self._fill()

    def _fill(self) -> None:
        """Every row again, in the checks' order: a row's height follows its text only when it is added."""
        table = self.query_one("#checks", DataTable)
        cursor = table.cursor_row
        table.clear()
        for name in self.names:
            result = self.results.get(name)
            icon, detail = (ICONS[result.status], result.detail) if result else (WAITING, "")
            table.add_row(icon, Text(self.state.shown(name)), Text(self.state.shown(detail)), key=name, height=None)
        table.move_cursor(row=cursor)

    @on(CheckDone)
    def check_done(self, message: CheckDone) -> None:
        self.results[message.result.name] = message.result
        self._fill()
        self.explain()

    @on(ChecksFinished)
    def finished(self, message: ChecksFinished) -> None:
        counts = {s: sum(r.status == s for r in message.results) for s in ("pass", "fail", "warn", "skip")}
        verdict = "the jail works as specified" if not counts["fail"] else "some checks failed: see the fixes"
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        label = self.query_one("#verdict", Label)
        label.update(f"{verdict} ({summary})")
        label.set_class(bool(counts["fail"]), "-failed")
        label.set_class(not counts["fail"], "-passed")

    @on(WorkFailed)
    def failed(self, message: WorkFailed) -> None:
        self.query_one("#verdict", Label).update(f"Cannot verify: {message.reason}")
        self.query_one("#verdict", Label).add_class("-failed")

    def action_back(self) -> None:
        """What was applied stays applied: the way back is the transaction, not this step."""

    @on(DataTable.RowHighlighted, "#checks")
    def explain(self) -> None:
        table = self.query_one("#checks", DataTable)
        if table.row_count == 0:
            return
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        result = self.results.get(name)
        text = Text(self.state.shown(name), "bold")
        if result is not None:
            text.append(f"\n{self.state.shown(result.detail)}")
            if result.fix:
                text.append(f"\nfix: {self.state.shown(result.fix)}", "italic")
        self.query_one("#explain", Static).update(text)
