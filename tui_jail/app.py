"""The wizard application: `make_app` builds it for the CLI and the tests alike.

The app owns the `WizardState` and one orchestrator worker that walks the steps
(preset → mounts → access or capabilities → review → apply → verify), each step a screen pushed with
`push_screen_wait` that dismisses NEXT or BACK. A pending or failed transaction found at start opens
the recovery screen first. Everything non-deterministic (clock, environment, where files are saved)
is injected here so tests build exactly what a user runs.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.filter import LineFilter

from tui_jail.paths.system import SystemRoot
from tui_jail.screens.glyphs import ConsoleFont, console_text, glyphs
from tui_jail.screens.wizard_state import WizardState
from tui_jail.txn import entry
from tui_jail.txn.journal import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from tui_jail.screens.step import StepScreen
    from tui_jail.txn.journal import Journal

DEFAULT_THEME = "textual-dark"
HEADER_CHROME = 18  # the header's icon (8 cells) and clock space (10) beside the title
CONSOLE_FONT = ConsoleFont()
KEPT_TAIL = 16  # of a title cut short: the end of the root's path, where its name is
COMMON_CSS = "screens/common.tcss"


class WizardApp(App[None]):
    TITLE = "tui-jail"
    CSS_PATH = COMMON_CSS
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, state: WizardState, *, theme: str = DEFAULT_THEME) -> None:
        # the first screen's stylesheet is read with the app's: a screen bringing a stylesheet of its own
        # makes textual parse every stylesheet again (each widget's defaults too) as it is pushed
        first = "home" if state.has_applied_jails() else "preset"
        super().__init__(css_path=[COMMON_CSS, f"screens/{first}.tcss"])
        self.state = state
        self.theme = theme
        self.animation_level = "none"
        self.title = f"tui-jail · {state.where}"
        self.set_class(state.console_font, "-ascii")

    def format_title(self, title: str, sub_title: str) -> Content:
        """The step (the sub-title) always shows: a root's long path is cut in its middle instead
        (the header's own ellipsis cut the end, and with it "3/6 Access")."""
        room = self.size.width - HEADER_CHROME - len(" — " + sub_title if sub_title else "")
        cut = glyphs(self.state.console_font)["dots"]
        if len(title) > room > 2 * KEPT_TAIL:
            title = title[: room - KEPT_TAIL - len(cut)] + cut + title[-KEPT_TAIL:]
        if not self.state.console_font:
            return super().format_title(title, sub_title)
        return Content(console_text(f"{title} - {sub_title}" if sub_title else title).replace("·", "-"))

    def get_line_filters(self) -> Sequence[LineFilter]:
        filters = super().get_line_filters()
        return [*filters, CONSOLE_FONT] if self.state.console_font else filters

    def on_mount(self) -> None:
        self.walk()

    @work(group="wizard", exclusive=True)
    async def walk(self) -> None:
        """The orchestrator: one screen at a time, the stack one step deep. With applied jails on
        the system it starts (and ends each errand) on the home screen; otherwise on the presets."""
        # before any screen, on the UI's loop: nothing is shown yet, and it is quick unless it must
        # roll back (then the recovery screen must not open on a transaction it is undoing)
        notices = self.state.ensure_watched()
        found = _transaction_to_show(self.state, bool(notices))
        if found is not None:
            from tui_jail.screens.recovery import RecoveryScreen

            await self.push_screen_wait(RecoveryScreen(self.state, found.state(), notices))
        if not self.state.has_applied_jails():
            await self.steps(STEPS)
            self.exit()
            return
        from tui_jail.screens.home import HomeScreen

        while True:
            action, jail = await self.push_screen_wait(HomeScreen(self.state))
            if action == "new":
                self.state.start_over()
                await self.steps(STEPS)
                continue
            self.state.load_applied(jail)
            if action == "edit":
                await self.steps(STEPS[1:])
            elif action == "remove":
                self.state.removing = True
                await self.steps(("review", "apply"))
            else:
                await self.steps(("verify",))

    async def steps(self, steps: tuple[str, ...]) -> None:
        """Walk `steps` in order; Back from the first of them (or the last step's Next) ends the walk."""
        from tui_jail.screens.step import BACK  # with the steps: the home screen shows none

        index = 0
        while 0 <= index < len(steps):
            screen = _step_screen(steps[index], self.state.kind)(self.state)
            screen.sub_title = f"{index + 1}/{len(steps)} {screen.STEP}"
            result = await self.push_screen_wait(screen)
            if result == BACK and index == 0 and steps[0] != STEPS[0]:
                return  # out of an errand that started mid-way: back home
            index = _next_index(steps, index, result)


def _next_index(steps: tuple[str, ...], index: int, result: str) -> int:
    """Where a step's result leads: on, back, or (a step's name) to the step that fixes what a later one found."""
    from tui_jail.screens.step import BACK

    if result in steps:
        return steps.index(result)
    return max(0, index - 1) if result == BACK else index + 1


# the wizard's steps, each a module of tui_jail.screens; "settings" depends on the jail's kind
STEPS = ("preset", "mounts", "settings", "review", "apply", "verify")
SCREENS = {
    "preset": "PresetScreen",
    "mounts": "MountsScreen",
    "access": "AccessScreen",
    "capabilities": "CapabilitiesScreen",
    "review": "ReviewScreen",
    "apply": "ApplyScreen",
    "verify": "VerifyScreen",
}


def _step_screen(step: str, kind: str) -> type[StepScreen]:
    """Imported when the step is reached: the first screen must not wait for the others' imports."""
    if step == "settings":
        step = "capabilities" if kind == "exec" else "access"
    module = importlib.import_module(f"tui_jail.screens.{step}")
    screen: type[StepScreen] = getattr(module, SCREENS[step])
    return screen


def _transaction_to_show(state: WizardState, acted: bool) -> Journal | None:
    """The unfinished transaction to recover; or, when the start-up check just rolled one back (its
    watchdog was gone past the deadline), that one, so the admin sees what happened."""
    from tui_jail.txn.journal import transactions, unfinished

    found = unfinished(state.system.root) or (transactions(state.system.root) if acted else [])
    return found[-1] if found else None


def make_app(
    *,
    root: Path | None = None,
    sandbox: bool = False,
    clock: Callable[[], float] = time.time,
    environ: Mapping[str, str] | None = None,
    save_dir: Path | None = None,
    theme: str = DEFAULT_THEME,
    root_label: str | None = None,
    confirm_timeout: float = DEFAULT_TIMEOUT,
    program: str | None = None,
) -> WizardApp:
    """The wizard on `root` (default /). `sandbox=True` labels every screen SANDBOX; the caller
    makes the sandbox root (`tui_jail.sandbox`) and passes it as `root`. `root_label` is shown in
    place of the root's path (tests: a temporary path); `confirm_timeout` is the apply's deadline;
    `program` how the screens tell the admin to run tui-jail (default: `entry.program()`)."""
    state = WizardState(
        system=SystemRoot(root or Path("/")),
        sandbox=sandbox,
        environ=dict(os.environ if environ is None else environ),
        clock=clock,
        save_dir=save_dir or Path.cwd(),
        root_label=root_label,
        confirm_timeout=confirm_timeout,
        program=program or entry.program(),
    )
    return WizardApp(state, theme=theme)
