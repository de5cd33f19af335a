"""Step: apply (stub, replaced below)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Label

from tui_jail.screens.step import StepScreen


class ApplyScreen(StepScreen):
    STEP = "Apply"

    def compose_body(self) -> ComposeResult:
        yield Label("not yet")
