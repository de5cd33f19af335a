"""Keeping a change from the session that applied it: allowed, but only after saying what it skips.

A session that was already logged in proves nothing about new logins; the safe confirmation is
`tui-jail confirm` from a new SSH session. This dialog says so and asks once more; No is the default.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from tui_jail.screens.compact_button import CompactButton


class KeepModal(ModalScreen[bool]):
    CSS_PATH = "keep_modal.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "keep", "Keep anyway"),
        Binding("n,escape", "cancel", "Cancel"),
    ]

    def __init__(self, confirm_command: str) -> None:
        super().__init__()
        self.confirm_command = confirm_command

    def compose(self) -> ComposeResult:
        with Vertical(id="keep-dialog"):
            yield Label("Keep it without proving that new logins work?", id="keep-title")
            yield Static(
                Text.assemble(
                    "You applied this over SSH from this very session, which was logged in before the change. "
                    "If the change locks new logins out, you would find out only once this session is gone "
                    "and the automatic rollback with it.\nThe safe way: open a NEW ssh session and run\n  ",
                    (self.confirm_command, "bold"),
                )
            )
            with Horizontal(id="keep-buttons"):
                yield CompactButton("Cancel (n)", id="cancel-button")
                yield CompactButton("Keep anyway (y)", id="keep-button", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#cancel-button", Button).focus()

    @on(Button.Pressed, "#keep-button")
    def action_keep(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel-button")
    def action_cancel(self) -> None:
        self.dismiss(False)
