"""The wizard's checkbox (mount flags, forwarding, namespaces): a module of its own, so that the steps' frame
(`step.py`, on the first screen's path) does not import Textual's checkbox for the screens that show one."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class Tick(Checkbox):
    """A checkbox drawn `[x]` or `[ ]`: readable without colour (NO_COLOR, a console), where the
    stock one draws the same X in both states."""

    @property
    def _button(self) -> Content:
        return Content("[x]" if self.value else "[ ]")
