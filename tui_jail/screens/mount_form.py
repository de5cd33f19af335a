"""The add/edit dialog of the mounts step: source and target checked as typed."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult
from textual.widgets import Button, Checkbox, Input, Label

from tui_jail.screens.compact_button import CompactButton
from tui_jail.screens.field import Field
from tui_jail.screens.tick import Tick
from tui_jail.screens.validators import SpecValue
from tui_jail.screens.wizard_state import WizardState


class MountForm(ModalScreen[dict[str, Any] | None]):
    CSS_PATH = "mount_form.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, state: WizardState, index: int | None) -> None:
        super().__init__()
        self.state = state
        self.index = index
        self.values: dict[str, Any] = dict(state.mounts[index]) if index is not None else {}

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Edit mount" if self.index is not None else "Add a bind mount", id="dialog-title")
            yield Label("Source (a path on the host):")
            yield Field(
                self.values.get("source", ""),
                id="source-input",
                validators=[SpecValue("abs", self._source_exists)],
                valid_empty=False,
            )
            yield Label("", id="source-error", classes="field-error", markup=False)
            yield Label(
                f"Target (inside the jail, relative to {self.state.data.get('root', 'the jail root')}):", markup=False
            )
            yield Field(self.values.get("target", ""), id="target-input", validators=[SpecValue("rel", self._unused)])
            yield Label("", id="target-error", classes="field-error", markup=False)
            with Horizontal(id="flags"):
                yield Tick("read-only", self.values.get("readonly", False), id="readonly", compact=True)
                yield Tick("in fstab (persist)", self.values.get("persist", True), id="persist", compact=True)
                yield Tick("create if missing", "create" in self.values, id="create", compact=True)
            with Horizontal(id="buttons"):
                yield Label("", id="form-error", classes="field-error", markup=False)
                yield CompactButton("Cancel", id="cancel-button")
                yield CompactButton("OK", id="ok-button", variant="primary")

    def _source_exists(self, value: str) -> str | None:
        if self.state.source_exists(value) or self.values.get("optional") or self._create() is not None:
            return None
        return f"{value} does not exist under {self.state.where} (tick 'create if missing')"

    def _create(self) -> dict[str, str] | None:
        """How the plan makes the source when it is missing (None: it does not)."""
        ticks = self.query("#create").results(Checkbox)
        if not any(tick.value for tick in ticks):  # unticked (or not composed yet)
            return None
        made: dict[str, str] | None = self.values.get("create")
        return made or self.state.suggested_create(readonly=self.query_one("#readonly", Checkbox).value)

    @on(Checkbox.Changed, "#create")
    def recheck_source(self) -> None:
        field = self.query_one("#source-input", Input)
        self._show(field, field.validate(field.value))

    def _unused(self, value: str) -> str | None:
        for other, mount in enumerate(self.state.mounts):
            if other != self.index and mount.get("target") == value:
                return f"already the target of {mount.get('source')}"
        return None

    @on(Input.Changed)
    def show_problem(self, event: Input.Changed) -> None:
        self._show(event.input, event.validation_result)

    def _show(self, field: Input, result: ValidationResult | None) -> None:
        if field.id is not None and result is not None:
            label = self.query_one(f"#{field.id.removesuffix('-input')}-error", Label)
            label.update("; ".join(result.failure_descriptions))

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok-button")
    def save(self) -> None:
        source = self.query_one("#source-input", Input).value.strip()
        target = self.query_one("#target-input", Input).value.strip()
        create = self._create()
        optional = bool(self.values.get("optional"))
        problem = self.state.mount_problem(source, target, self.index, optional=optional, create=create)
        self.query_one("#form-error", Label).update(problem or "")
        if problem is None:
            self.values.update(
                source=source,
                target=target,
                readonly=self.query_one("#readonly", Checkbox).value,
                persist=self.query_one("#persist", Checkbox).value,
            )
            self.values.pop("create", None)
            self.values.update({"create": create} if create is not None else {})
            self.dismiss(self.values)

    @on(Button.Pressed, "#cancel-button")
    def action_cancel(self) -> None:
        self.dismiss(None)
