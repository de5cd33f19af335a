"""Step 2: the bind mounts, as a table — add, edit, remove, toggle read-only and fstab persistence.

Every row is checked as it changes (source exists under the root, target inside the jail, no
duplicate target); the highlighted row's problem is spelled out under the table, and Next waits
until no row has one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label

from tui_jail.screens.field import Field
from tui_jail.screens.mount_form import MountForm
from tui_jail.screens.step import StepScreen
from tui_jail.screens.wizard_state import PLACEHOLDER


class MountsScreen(StepScreen):
    STEP = "Mounts"
    CSS_PATH = "mounts.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("d", "remove", "Delete"),
        Binding("r", "flip('readonly')", "RO/RW"),
        Binding("p", "flip('persist')", "fstab"),
        Binding("c", "create", "Create"),
    ]

    _warned: int | None = None  # the row whose deletion was just warned about

    def compose_body(self) -> ComposeResult:
        root = self.state.data.get("root", "?")
        if self.state.applied_name:  # an applied jail keeps its name and root: another is a new jail
            yield Label(f"Bind mounts into {root} (the jail root on the host).", classes="intro", markup=False)
        else:
            with Horizontal(id="identity"):
                yield Label("Jail name ")
                yield Field(self.state.name, id="name-input", compact=True)
                yield Label(" root on the host ")
                yield Field(str(root), id="root-input", compact=True)
            yield Label("", id="identity-error", classes="field-error", markup=False)
        table: DataTable[Text] = DataTable(id="mounts", cursor_type="row", zebra_stripes=True)
        table.add_columns("", "source (host)", "target (in jail)", "mode", "fstab", "notes")
        yield table
        yield Label("", id="row-problem", classes="field-error", markup=False)
        yield Label("", id="row-notes", classes="intro", markup=False)

    @on(Input.Changed, "#name-input")
    @on(Input.Changed, "#root-input")
    def identity_typed(self, event: Input.Changed) -> None:
        key = "name" if event.input.id == "name-input" else "root"
        self.state.data[key] = event.value.strip()
        self.query_one("#identity-error", Label).update(self.state.problem("name", "root") or "")

    def on_mount(self) -> None:
        self.query_one("#mounts", DataTable).focus()

    def on_screen_resume(self) -> None:
        """Shown (again, after a dialog): each source is checked anew, since one may have been made
        or removed meanwhile, here or in another terminal."""
        self.refresh_table()

    def refresh_table(self, cursor: int | None = None) -> None:
        table = self.query_one("#mounts", DataTable)
        row = table.cursor_row if cursor is None else cursor
        table.clear()
        for index, mount in enumerate(self.state.mounts):
            made = "create" in mount and not self.state.source_exists(str(mount.get("source", "")))
            table.add_row(*_cells(mount, self.state.row_problem(index) is not None, made), key=str(index))
        if self.state.mounts:
            table.move_cursor(row=min(max(row, 0), len(self.state.mounts) - 1))
        self.show_row_problem()

    @on(DataTable.RowHighlighted, "#mounts")
    def show_row_problem(self) -> None:
        table = self.query_one("#mounts", DataTable)
        index = table.cursor_row
        known = 0 <= index < len(self.state.mounts)
        problem = self.state.row_problem(index) if known else None
        self.query_one("#row-problem", Label).update(f"row {index + 1}: {problem}" if problem else "")
        notes = _notes(self.state.mounts[index], full=True) if known else ""
        self.query_one("#row-notes", Label).update(f"row {index + 1}: {notes}" if notes else "")

    def _current(self) -> int | None:
        index = self.query_one("#mounts", DataTable).cursor_row
        return index if 0 <= index < len(self.state.mounts) else None

    def action_add(self) -> None:
        self._form(None)

    @on(DataTable.RowSelected, "#mounts")
    def action_edit(self) -> None:
        if (index := self._current()) is not None:
            self._form(index)

    def _form(self, index: int | None) -> None:
        def done(mount: dict[str, Any] | None) -> None:
            if mount is not None:
                self.state.put_mount(index, mount)
                self.refresh_table(len(self.state.mounts) - 1 if index is None else index)

        self.app.push_screen(MountForm(self.state, index), done)

    def action_remove(self) -> None:
        if (index := self._current()) is not None:
            # an entry the jail's own shell needs: warn first, delete on a second d
            if self._warned != index and (loses := self.state.shell_loses(index)):
                self._warned = index
                self.notify(f"{loses}. Press d again to delete it anyway.", severity="warning", timeout=10)
                return
            self._warned = None
            del self.state.mounts[index]
            self.refresh_table()

    def action_flip(self, key: str) -> None:
        if (index := self._current()) is not None:
            self.state.toggle_mount(index, key)
            self.refresh_table()

    def action_create(self) -> None:
        """Have the plan make the highlighted row's missing source (a step of the transaction, undone
        by its rollback), or not any more."""
        if (index := self._current()) is None:
            return
        mount = self.state.mounts[index]
        if "create" not in mount and (self.state.source_exists(str(mount.get("source", ""))) or _unset(mount)):
            self.notify("its source is there already, or not set yet: nothing to create", markup=False)
            return
        self.state.toggle_create(index)
        self.refresh_table()

    def check(self) -> str | None:
        for index in range(len(self.state.mounts)):
            if problem := self.state.row_problem(index):
                return f"row {index + 1}: {problem}"
        return self.state.problem("name", "mounts", "root", "devices")


def _notes(mount: dict[str, Any], *, full: bool = False) -> str:
    """The column's short notes, or (`full`) the line under the table for the highlighted row,
    since the column is cut at 80 columns."""
    notes = []
    if isinstance(create := mount.get("create"), dict):
        made = f"{create.get('owner', 'root')} {create.get('mode', '0755')}"
        notes.append(f"created if missing ({made}), by the transaction; rollback removes it" if full else "create")
    if unset := _unset(mount):
        notes.append(f"{unset} is set on a later step; not checked until then" if full else f"{unset} unset")
    if mount.get("optional"):
        notes.append("optional: skipped on a host without the source" if full else "optional")
    if mount.get("children"):
        excluded = ", ".join(mount.get("exclude") or ())
        notes.append(f"each entry{f' but {excluded}' if excluded else ''}")
    return "; ".join(notes)


def _cells(mount: dict[str, Any], bad: bool, made: bool) -> tuple[Text, ...]:
    """The row as text, never markup: a source may well be named `/srv/tank/[done]`. `made`: the plan
    creates its missing source."""
    cells = (
        # a <placeholder> is not checked until it is filled in
        "✗" if bad else "?" if _unset(mount) else "+" if made else "✓",
        str(mount.get("source", "")),
        str(mount.get("target", "")),
        "ro" if mount.get("readonly") else "rw",
        "yes" if mount.get("persist", True) else "no",
        _notes(mount),
    )
    return tuple(Text(cell) for cell in cells)


def _unset(mount: dict[str, Any]) -> str:
    """The first `<placeholder>` left in the row's source or target ('' for none)."""
    found = (PLACEHOLDER.search(str(mount.get(key, ""))) for key in ("source", "target"))
    return next((match.group(0) for match in found if match), "")
