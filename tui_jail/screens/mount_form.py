"""The add/edit dialog of the mounts step: source and target checked as typed."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

from tui_jail.screens.step import Field, Tick
from tui_jail.screens.validators import SpecValue
from tui_jail.wizard_state import WizardState


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
            with Horizontal(id="buttons"):
                yield Label("", id="form-error", classes="field-error", markup=False)
                yield Button("Cancel", id="cancel-button", compact=True)
                yield Button("OK", id="ok-button", variant="primary", compact=True)

    def _source_exists(self, value: str) -> str | None:
        if self.state.source_exists(value) or self.values.get("optional"):
            return None
        return f"{value} does not exist under {self.state.where}"

    def _unused(self, value: str) -> str | None:
        for other, mount in enumerate(self.state.mounts):
            if other != self.index and mount.get("target") == value:
                return f"already the target of {mount.get('source')}"
        return None

    @on(Input.Changed)
    def show_problem(self, event: Input.Changed) -> None:
        if event.input.id is None or event.validation_result is None:
            return
        label = self.query_one(f"#{event.input.id.removesuffix('-input')}-error", Label)
        label.update("; ".join(event.validation_result.failure_descriptions))

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok-button")
    def save(self) -> None:
        source = self.query_one("#source-input", Input).value.strip()
        target = self.query_one("#target-input", Input).value.strip()
        problem = self.state.mount_problem(source, target, self.index, optional=bool(self.values.get("optional")))
        self.query_one("#form-error", Label).update(problem or "")
        if problem is None:
            self.values.update(
                source=source,
                target=target,
                readonly=self.query_one("#readonly", Checkbox).value,
                persist=self.query_one("#persist", Checkbox).value,
            )
            self.dismiss(self.values)

    @on(Button.Pressed, "#cancel-button")
    def action_cancel(self) -> None:
        self.dismiss(None)
