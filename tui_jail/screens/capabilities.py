"""Step 3 (exec jails): who the command runs as, its namespaces, and its capabilities.

Every Linux capability is listed with its one-line meaning; each is held, dropped before the command
(bounding set too) or never held at all. Space or enter cycles the highlighted one.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Checkbox, DataTable, Input, Label

from tui_jail.core.capabilities import CAPABILITIES
from tui_jail.screens.field import Field
from tui_jail.screens.step import StepScreen
from tui_jail.screens.tick import Tick
from tui_jail.screens.validators import SpecValue
from tui_jail.screens.wizard_state import PLACEHOLDER

NAMESPACES = ("mount", "pid", "ipc", "uts", "net")
REQUIRED = ("mount", "pid")
LEGEND = (
    "[x] drop: dropped before the command runs   [!] never: not held at any point\n"
    "[ ] held: kept in the bounding set (one run as nobody has none in effect)"
)
MARKS = {"drop": Text("[x] drop", "bold red"), "never": Text("[!] never", "bold yellow"), "held": Text("[ ] held")}


class CapabilitiesScreen(StepScreen):
    STEP = "Capabilities"
    CSS_PATH = "capabilities.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "cycle", "Drop/never/held")]

    def compose_body(self) -> ComposeResult:
        settings = self.state.exec
        self.initial_user = str(settings.get("user", "nobody"))
        unset = bool(PLACEHOLDER.fullmatch(self.initial_user))
        with Horizontal(id="user-row"):
            yield Label("Run as user:")
            yield Field(
                "" if unset else self.initial_user,
                placeholder=f"{self.initial_user} — to fill in" if unset else "",
                id="user-input",
                validators=[SpecValue("user", self._known_user)],
                compact=True,
            )
            yield Label("", id="user-error", classes="field-error", markup=False)
        with Horizontal(id="namespaces"):
            yield Label("Namespaces:")
            chosen = settings.get("namespaces") or list(REQUIRED)
            for name in NAMESPACES:
                yield Tick(name, name in chosen, id=f"ns-{name}", disabled=name in REQUIRED, compact=True)
        table: DataTable[Text] = DataTable(id="caps", cursor_type="row")
        table.add_columns("state", "capability", "what it allows")
        yield table
        yield Label("", id="cap-detail", markup=False)
        yield Label(LEGEND, classes="intro", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#caps", DataTable)
        for name, (_, meaning) in CAPABILITIES.items():
            table.add_row(MARKS[self.state.capability_state(name)], Text(name), Text(meaning), key=name)
        self.query_one("#user-input", Field).focus()

    def _known_user(self, name: str) -> str | None:
        return None if self.state.user_exists(name) else f"no user {name!r} in {self.state.where}'s /etc/passwd"

    @on(Input.Changed, "#user-input")
    def user_typed(self, event: Input.Changed) -> None:
        result = event.validation_result
        self.query_one("#user-error", Label).update("; ".join(result.failure_descriptions) if result else "")
        self.state.exec["user"] = event.value.strip()

    @on(Checkbox.Changed)
    def namespace_toggled(self) -> None:
        self.state.exec["namespaces"] = [n for n in NAMESPACES if self.query_one(f"#ns-{n}", Checkbox).value]

    @on(DataTable.RowSelected, "#caps")
    def action_cycle(self) -> None:
        table = self.query_one("#caps", DataTable)
        if not table.has_focus or table.row_count == 0:
            return
        name = list(CAPABILITIES)[table.cursor_row]
        table.update_cell(name, table.ordered_columns[0].key, MARKS[self.state.cycle_capability(name)])
        self.describe()

    @on(DataTable.RowHighlighted, "#caps")
    def describe(self) -> None:
        """The highlighted capability's meaning in full: the table's column is cut at 80 columns."""
        table = self.query_one("#caps", DataTable)
        if table.row_count == 0:
            return
        name = list(CAPABILITIES)[table.cursor_row]
        state = MARKS[self.state.capability_state(name)].plain
        self.query_one("#cap-detail", Label).update(f"{state} {name}: {CAPABILITIES[name][1]}")

    def check(self) -> str | None:
        from tui_jail.core.spec import SpecError

        user = self.query_one("#user-input", Field)
        result = user.validate(user.value)
        if result is not None and not result.is_valid:
            return f"user: {result.failure_descriptions[0]}"
        self.state.fill_placeholder(self.initial_user, user.value.strip())
        try:
            self.state.spec(final=True)
        except SpecError as exc:
            return str(exc)
        return None
