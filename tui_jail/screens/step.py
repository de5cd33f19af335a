"""The frame every wizard step shares: header (where we are), Back/Next, footer with the keys.

A step edits the `WizardState` and `dismiss()`es NEXT or BACK; the app's orchestrator decides what
comes next. `check()` is the whole-step validation run on Next; it returns the problem or None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label

from tui_jail.screens.compact_button import CompactButton
from tui_jail.screens.glyphs import glyphs
from tui_jail.screens.wizard_state import WizardState

BACK = "back"
NEXT = "next"
# the step (as the orchestrator names it) where each top-level field of the spec is edited: a step may
# also dismiss with one of these names to send the admin there (a refused preflight says which field)
FIELD_STEPS = {
    "name": "preset",
    "root": "mounts",
    "mounts": "mounts",
    "devices": "mounts",
    "sftp": "settings",
    "exec": "settings",
}


def step_title(step: str, kind: str) -> str:
    """The name the admin sees for an orchestrator step (`settings` depends on the jail's kind)."""
    if step == "settings":
        return "Capabilities" if kind == "exec" else "Access"
    return step.capitalize()


class StepScreen(Screen[str]):
    STEP = ""
    NEXT_LABEL = "Next"
    HAS_BACK = True  # False: a step with nothing behind it (its action_back does nothing) shows no Back button
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "next", "Next", priority=True),
    ]

    def __init__(self, state: WizardState) -> None:
        super().__init__()
        self.state = state

    @property
    def glyph(self) -> Mapping[str, str]:
        """The symbols this terminal can draw (ASCII stand-ins on the Linux console)."""
        return glyphs(self.state.console_font)

    def compose(self) -> ComposeResult:
        yield Header(icon=self.glyph["icon"])
        yield from self.compose_body()
        with Horizontal(id="nav"):
            if self.HAS_BACK:
                yield CompactButton(f"{self.glyph['back']} Back", id="back-button")
            yield Label(id="nav-error", markup=False)
            yield CompactButton(f"{self.NEXT_LABEL} {self.glyph['next']}", id="next-button", variant="primary")
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def check(self) -> str | None:
        return None

    @on(Input.Changed)
    def _edited(self) -> None:
        """What Next refused is stale once a field changes: the field's own label says what is wrong now."""
        self.show_error(None)

    def show_error(self, message: str | None) -> None:
        label = self.query_one("#nav-error", Label)
        label.update(message or "")
        label.set_class(bool(message), "-error")

    # the buttons go through the actions, so a step that overrides an action changes both
    @on(Button.Pressed, "#back-button")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#next-button")
    def _next_pressed(self) -> None:
        self.action_next()

    def action_back(self) -> None:
        self.dismiss(BACK)

    def action_next(self) -> None:
        problem = self.check()
        self.show_error(problem)
        if problem is None:
            self.dismiss(NEXT)
