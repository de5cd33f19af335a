"""A small dialog asking for a file path: opening a saved spec, saving the edited one.

The caller passes what to do with the path; a returned message is shown under the field and the
dialog stays open, so a typo never loses what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from tui_jail.screens.field import Field


class PathModal(ModalScreen[Path | None]):
    CSS_PATH = "path_modal.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "complete", "Complete", show=False, priority=True),  # the one field: no focus to move
    ]

    def __init__(self, title: str, default: str, action: Callable[[Path], str | None], base: Path) -> None:
        """`base`: where a relative path is taken from (the caller resolves it so), for completion."""
        super().__init__()
        self.title_text = title
        self.default = default
        self.action = action
        self.base = base

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield Field(self.default, id="path-input")
            yield Label("", id="path-error", classes="field-error", markup=False)
            yield Label("", id="path-hints", classes="intro", markup=False)
            yield Label("tab: complete   enter: OK   esc: cancel", classes="intro")

    def action_complete(self) -> None:
        """Tab: the longest common prefix of the matching entries; the entries themselves when several."""
        from tui_jail.completion import complete

        field = self.query_one("#path-input", Input)
        completed, found = complete(field.value, self.base)
        field.value = completed
        field.cursor_position = len(completed)
        hints = "" if len(found) < 2 else "  ".join(found[:12]) + ("  …" if len(found) > 12 else "")
        self.query_one("#path-hints", Label).update(hints or ("no match" if not found else ""))

    @on(Input.Submitted, "#path-input")
    def submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        problem = self.action(Path(text)) if text else "type a file name"
        self.query_one("#path-error", Label).update(problem or "")
        if problem is None:
            self.dismiss(Path(text))

    def action_cancel(self) -> None:
        self.dismiss(None)
