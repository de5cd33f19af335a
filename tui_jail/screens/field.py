"""The wizard's text field (names, paths, addresses, the deadline): a module of its own, so that the steps'
frame (`step.py`, on the first screen's path) does not make the class for the preset screen, which has none."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Input


class Field(Input):
    """An input whose cursor does not blink (steady screenshots, calmer over slow SSH links)."""

    cursor_blink = reactive(False, init=False)
