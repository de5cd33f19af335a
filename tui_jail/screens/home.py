"""Home: where the wizard opens on a system with applied jails (after recovery, if anything was pending).

One row per jail: name, kind, root, the state of its newest transaction, drift and when it last
changed. The list paints from the state directory and the journal alone; drift (a quick verify: the
plan of the applied spec against the live system) fills in from a worker afterwards, a row at a time,
so the first screen stays fast. The keys lead into the wizard's flow: a new jail from a preset, edit
(the applied spec as an editable document), remove (the same transaction, with its diff), verify,
and the transaction history. The screen dismisses with what was chosen; the app's orchestrator walks it.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static
from textual.worker import get_current_worker

from tui_jail.screens.glyphs import glyphs
from tui_jail.screens.messages import DriftFound
from tui_jail.screens.wizard_state import WizardState

STATE_STYLES = {"confirmed": "green", "pending": "yellow", "failed": "bold red", "rolled-back": "red"}


class HomeScreen(Screen[tuple[str, str]]):
    """Dismisses (action, jail): ("new", ""), ("edit", name), ("remove", name), ("verify", name)."""

    CSS_PATH = "home.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "choose('new')", "New"),
        Binding("e", "choose('edit')", "Edit"),
        Binding("d", "choose('remove')", "Remove"),
        Binding("v", "choose('verify')", "Verify"),
        Binding("h", "history", "History"),
    ]

    def __init__(self, state: WizardState) -> None:
        super().__init__()
        self.state = state
        self.jails = state.applied_jails()

    def compose(self) -> ComposeResult:
        yield Header(icon=glyphs(self.state.console_font)["icon"])
        yield Label("Applied jails. n: a new one from a preset; e, d, v act on the highlighted jail.", classes="intro")
        yield DataTable[Text](id="jails", cursor_type="row")
        yield Static("", id="jail-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Jails"
        table = self.query_one("#jails", DataTable)
        # the root last: a long one is cut here, and shown whole below for the highlighted row
        # as Text: a str label is read as markup, and rich's markup loads its emoji table (~8 ms) for it
        table.add_columns(*map(Text, ("jail", "kind", "state", "drift", "changed", "root")))
        self.drifts: dict[str, str] = {}
        for jail in self.jails:
            when = self._ago(jail.changed) if jail.changed else ""
            state = Text(jail.state, STATE_STYLES.get(jail.state, ""))
            root = Text(self.state.shown(jail.root))
            table.add_row(Text(jail.name), Text(jail.kind), state, Text("…", "dim"), Text(when), root, key=jail.name)
        names = [jail.name for jail in self.jails]
        if self.state.name in names:  # back from an errand: on the jail it was about
            table.move_cursor(row=names.index(self.state.name))
        table.focus()
        painted = threading.Event()
        self.call_after_refresh(painted.set)
        self.find_drift(painted)

    @work(thread=True, exclusive=True, exit_on_error=False, group="drift", description="quick verify")
    def find_drift(self, painted: threading.Event) -> None:
        """Started with the screen, checking once it has painted: the plans' imports and reads would
        hold the interpreter's lock while the list is drawn."""
        worker = get_current_worker()
        while not painted.wait(0.05):
            if worker.is_cancelled:
                return
        for jail in self.jails:
            if worker.is_cancelled:
                return
            self.post_message(DriftFound(jail.name, self.state.shown(self.state.drift(jail.name))))

    @on(DriftFound)
    def drift_found(self, message: DriftFound) -> None:
        self.drifts[message.jail] = message.drift
        verdict = message.drift.partition(":")[0]
        style = "green" if verdict == "in sync" else "yellow"
        table = self.query_one("#jails", DataTable)
        table.update_cell(message.jail, table.ordered_columns[3].key, Text(verdict, style), update_width=True)
        self.describe()

    @on(DataTable.RowHighlighted, "#jails")
    def describe(self) -> None:
        """The highlighted jail's root and drift in full (the table cuts them at 80 columns)."""
        table = self.query_one("#jails", DataTable)
        if not table.row_count:
            return
        jail = self.jails[table.cursor_row]
        detail = Text.assemble((jail.name, "bold"), f" at {self.state.shown(jail.root)}")
        detail.append(f"\n{self.drifts.get(jail.name, 'checking whether the live system still matches…')}")
        self.query_one("#jail-detail", Static).update(detail)

    def _ago(self, when: float) -> str:
        """How long ago, by the injected clock (a date would depend on the time zone)."""
        seconds = max(0.0, self.state.clock() - when)
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds // size:.0f} {unit} ago"
        return f"{seconds:.0f} s ago"

    def action_choose(self, action: str) -> None:
        table = self.query_one("#jails", DataTable)
        if action == "new":
            self.dismiss(("new", ""))
        elif table.row_count:
            self.dismiss((action, self.jails[table.cursor_row].name))

    def action_history(self) -> None:
        """Every transaction, newest first, under the list (h again hides it). Mounted at the first h, not
        before the first paint, which does not show it."""
        shown = self.query("#history")
        if not shown:
            self.mount(Static(self._history(), id="history"), after="#jail-detail")
            return
        history = shown.only_one(Static)
        history.display = not history.display
        if history.display:
            history.update(self._history())

    def _history(self) -> Text:
        lines = Text()
        for txn in self.state.history():
            lines.append(f"{self._ago(txn.created):>9}  {txn.action} {txn.jail}  ")
            lines.append(txn.status, STATE_STYLES.get(txn.status, ""))
            lines.append(f"  ({txn.id})\n")
        lines.rstrip()
        return lines if lines.plain else Text("no transactions")
