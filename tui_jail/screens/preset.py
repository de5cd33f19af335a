"""Step 1: pick a preset (what it builds, where it comes from) or open a saved spec."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tui_jail.presets import DESCRIPTIONS
from tui_jail.screens.step import NEXT, StepScreen


class PresetScreen(StepScreen):
    STEP = "Preset"
    CSS_PATH = "preset.tcss"
    HAS_BACK = False
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", show=False), Binding("o", "open", "Open spec")]

    def compose_body(self) -> ComposeResult:
        yield Label("Start from a preset (enter), or open a spec you saved before (o).", classes="intro")
        yield OptionList(*[Option(name, id=name) for name in DESCRIPTIONS], id="presets")
        yield Static(id="details")
        yield Label(self._loaded(), id="loaded", classes="intro", markup=False)

    def on_mount(self) -> None:
        presets = self.query_one("#presets", OptionList)
        if self.state.preset is not None:
            presets.highlighted = presets.get_option_index(self.state.preset)
        presets.focus()

    def _loaded(self) -> str:
        return f"Editing {self.state.name} (from {self.state.origin})" if self.state.origin else ""

    @on(OptionList.OptionHighlighted, "#presets")
    def describe(self, event: OptionList.OptionHighlighted) -> None:
        builds, source = DESCRIPTIONS[str(event.option.id)]
        text = Text.assemble(("Builds: ", "bold"), builds, "\n", ("From: ", "bold"), (source, "dim"))
        self.query_one("#details", Static).update(text)

    def action_back(self) -> None:
        """The first step has nothing behind it."""

    @on(OptionList.OptionSelected, "#presets")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.state.load_preset(str(event.option.id))
        self.dismiss(NEXT)

    def check(self) -> str | None:
        presets = self.query_one("#presets", OptionList)
        if presets.highlighted is None:
            return "choose a preset first"
        self.state.load_preset(str(presets.get_option_at_index(presets.highlighted).id))
        return None

    def action_open(self) -> None:
        from tui_jail.screens.path_modal import PathModal  # the first screen does not wait for the dialog

        modal = PathModal("Open a saved spec (YAML)", "", self._open, self.state.save_dir)
        self.app.push_screen(modal, self._opened)

    def _open(self, path: Path) -> str | None:
        from tui_jail.core.spec import SpecError
        from tui_jail.core.yamlio import YamlError

        try:
            self.state.load_file(path if path.is_absolute() else self.state.save_dir / path)
        except (YamlError, SpecError) as exc:
            return str(exc)
        return None

    def _opened(self, path: Path | None) -> None:
        if path is not None:
            self.dismiss(NEXT)
