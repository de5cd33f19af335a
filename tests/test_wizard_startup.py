"""The wizard's start-up: its first screen imports only what it shows, and the home screen paints its list
before the drift check starts (bench/startup.py times both on a real terminal)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from textual.app import App
from textual.css.stylesheet import Stylesheet
from textual.widgets import Button, DataTable
from wizard_support import applied_jails, run_async, settle, wizard

from tui_jail.screens.home import HomeScreen
from tui_jail.screens.wizard_state import WizardState

# the real CLI (`tui-jail --root DIR`), its app run headless until the first screen is up; then the
# modules loaded so far (on the home screen: when its drift check starts, once the list has painted) are
# written to the file named by the first argument
FIRST_SCREEN_MODULES = """
import gc
import sys
from pathlib import Path
from textual.app import App
from tui_jail.screens.wizard_state import WizardState

out, words = Path(sys.argv[1]), sys.argv[2:]
run, drift, painted = App.run, WizardState.drift, []

def first_drift(state, name):
    if not painted:
        painted.append(sorted(sys.modules))
    return drift(state, name)

async def first_screen(pilot):
    while type(pilot.app.screen).__name__ not in ("PresetScreen", "HomeScreen"):
        await pilot.pause(0.01)
    await pilot.pause()
    while type(pilot.app.screen).__name__ == "HomeScreen" and not painted:
        await pilot.pause(0.01)
    modules = painted[0] if painted else sorted(sys.modules)
    collector = f"{gc.get_freeze_count()} {gc.isenabled()}"
    out.write_text(type(pilot.app.screen).__name__ + "\\n" + collector + "\\n" + "\\n".join(modules))
    pilot.app.exit()

WizardState.drift = first_drift

App.run = lambda self: run(self, headless=True, size=(80, 24), auto_pilot=first_screen)
from tui_jail import cli
sys.exit(cli.main(words))
"""

# what the first screen does not show: the spec's model and its YAML reader, the other steps, the planner,
# the transaction, the commands, rich's emoji table (markup read from a str); a module moved elsewhere must
# be renamed here (checked: each is importable)
NOT_ON_THE_FIRST_SCREEN = (
    "pydantic",
    "ruamel.yaml",
    "rich._emoji_codes",
    "sh",
    "tui_jail.core.spec",
    "tui_jail.core.plan",
    "tui_jail.core.render",
    "tui_jail.txn.transaction",
    "tui_jail.screens.field",
    "tui_jail.screens.mounts",
    "tui_jail.screens.path_modal",
    "tui_jail.screens.review",
    "tui_jail.screens.apply",
    "tui_jail.screens.verify",
    "tui_jail.screens.access",
    "tui_jail.screens.capabilities",
    "tui_jail.commands.apply",
    "tui_jail.commands.plan",
    "tui_jail.commands.status",
    "textual.widgets._checkbox",
)
# nor, on the home screen, the steps' frame (the home screen has no Back)
NOT_ON_THE_HOME_SCREEN = ("tui_jail.screens.step",)
# the wizard's plain command line (`tui-jail --root DIR`) is read without building argparse's parser
NOT_ARGPARSE = ("argparse", "gettext")


def test_the_modules_named_exist() -> None:
    missing = [
        name
        for name in (*NOT_ON_THE_FIRST_SCREEN, *NOT_ON_THE_HOME_SCREEN, *NOT_ARGPARSE, "importlib.resources")
        # sh replaces its module in sys.modules with one whose __spec__ is None: find_spec raises on it
        # once an earlier test imported it, so an imported module counts as existing
        if name not in sys.modules and importlib.util.find_spec(name) is None
    ]
    assert not missing


def first_screen(root: Path, out: Path) -> tuple[str, str, set[str]]:
    """The first screen's name, the collector's state then (objects frozen, enabled) and the modules loaded."""
    words = ["--root", str(root)]
    done = subprocess.run([sys.executable, "-c", FIRST_SCREEN_MODULES, str(out), *words], timeout=120, check=False)
    assert done.returncode == 0
    screen, collector, *modules = out.read_text().splitlines()
    return screen, collector, set(modules)


def first_screen_modules(root: Path, out: Path) -> tuple[str, set[str]]:
    screen, _, modules = first_screen(root, out)
    return screen, modules


def test_the_app_is_built_without_the_garbage_collector_walking_it(sample_root: Path, tmp_path: Path) -> None:
    """The imports and the app are made with the cyclic collector paused, then frozen out of its generations
    (it walked them again and again as they were made: ~80 M instructions of the first screen's ~1,300 M);
    the collector runs again for what the wizard makes after."""
    screen, collector, _ = first_screen(sample_root, tmp_path / "modules")
    frozen, enabled = collector.split()
    assert screen == "PresetScreen"
    assert int(frozen) > 20_000  # ~36,000 here (0 when nothing was frozen)
    assert enabled == "True"


def test_the_preset_screen_imports_only_what_it_shows(sample_root: Path, tmp_path: Path) -> None:
    screen, modules = first_screen_modules(sample_root, tmp_path / "modules")
    assert screen == "PresetScreen"
    assert "tui_jail.screens.preset" in modules and "textual.widgets._option_list" in modules  # the control
    loaded = sorted(
        module for module in (*NOT_ON_THE_FIRST_SCREEN, *NOT_ARGPARSE, "importlib.resources") if module in modules
    )
    assert not loaded
    assert {m for m in modules if m.startswith("tui_jail.commands.")} <= {
        "tui_jail.commands.common",
        "tui_jail.commands.wizard",
    }


def records_as_apply_writes_them(root: Path) -> None:
    """The applied records rewritten as apply writes them (applied_jails copies the presets' text, comments
    and all, which only the full YAML reader reads)."""
    from tui_jail.core.plan import render_state
    from tui_jail.core.spec import parse_spec
    from tui_jail.core.yamlio import load_yaml_text

    records = sorted((root / "var/lib/tui-jail/jails").glob("*.yaml"))
    assert len(records) == 3
    for record in records:
        record.write_text(render_state(parse_spec(load_yaml_text(record.read_text()))))


def test_the_home_screen_imports_only_what_it_shows(sample_root: Path, tmp_path: Path) -> None:
    applied_jails(sample_root)
    records_as_apply_writes_them(sample_root)
    screen, modules = first_screen_modules(sample_root, tmp_path / "modules")
    assert screen == "HomeScreen"
    assert {"tui_jail.screens.home", "textual.widgets._data_table"} <= modules  # the control
    # the list has painted and the drift check (a plan of each jail, which reads the specs whole) starts
    first_screen = (*NOT_ON_THE_FIRST_SCREEN, *NOT_ON_THE_HOME_SCREEN, *NOT_ARGPARSE)
    loaded = sorted(module for module in first_screen if module in modules)
    assert not loaded


@pytest.mark.parametrize("jails", [False, True], ids=["preset screen", "home screen"])
@run_async
async def test_the_first_screen_does_not_make_textual_reparse_every_stylesheet(
    sample_root: Path, monkeypatch: pytest.MonkeyPatch, jails: bool
) -> None:
    """A screen whose stylesheet is new to the app makes textual parse all of them again as it is pushed:
    the app reads the first screen's with its own."""
    if jails:
        applied_jails(sample_root)
    reparse, reparsed = Stylesheet.reparse, []

    def counted(stylesheet: Stylesheet) -> None:
        reparsed.append(stylesheet)
        reparse(stylesheet)

    monkeypatch.setattr(Stylesheet, "reparse", counted)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == ("HomeScreen" if jails else "PresetScreen")
        assert not reparsed
        await pilot.press("n" if jails else "enter")  # the control: the next screen brings a stylesheet
        await settle(pilot)
        assert type(app.screen).__name__ == ("PresetScreen" if jails else "MountsScreen")
        assert reparsed


def default_css_parsed(app: App[None]) -> set[str]:
    """The widget classes whose DEFAULT_CSS the app's stylesheet holds (it parses each as one is first mounted)."""
    return {name.removesuffix(".DEFAULT_CSS") for _, name in app.stylesheet.source if name.endswith(".DEFAULT_CSS")}


@pytest.mark.parametrize("jails", [False, True], ids=["preset screen", "home screen"])
@run_async
async def test_the_first_screen_parses_no_button_stylesheet(sample_root: Path, jails: bool) -> None:
    """Textual's Button brings 7 KB of CSS (~10 ms to parse before the first paint); the wizard's buttons are
    CompactButtons, which bring only the rules they draw with."""
    if jails:
        applied_jails(sample_root)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        parsed = default_css_parsed(app)
        assert ("OptionList" if not jails else "DataTable") in parsed  # the control: the screen's list is read
        assert "Button" not in parsed
        await app.screen.mount(Button("a stock button"))  # the control: a stock one would bring it
        await settle(pilot)
        assert "Button" in default_css_parsed(app)


@run_async
async def test_the_preset_screen_composes_no_back_button(sample_root: Path) -> None:
    """The first step has nothing behind it: no Back button (it was composed hidden, styled and laid out
    before the first paint for nothing)."""
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "PresetScreen"
        assert not app.screen.query("#back-button")
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "MountsScreen"
        assert app.screen.query("#back-button")  # the control: a step with one behind it has it


@run_async
async def test_drift_is_checked_only_once_the_list_has_painted(
    sample_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied_jails(sample_root)
    events: list[str] = []
    paint = HomeScreen._compositor_refresh
    drift = WizardState.drift

    def painted(screen: HomeScreen) -> None:
        paint(screen)
        if screen.query_one("#jails", DataTable).row_count:
            events.append("list painted")

    def checked(state: WizardState, name: str) -> str:
        events.append(f"drift {name}")
        return drift(state, name)

    monkeypatch.setattr(HomeScreen, "_compositor_refresh", painted)
    monkeypatch.setattr(WizardState, "drift", checked)
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
    checks = [event for event in events if event.startswith("drift")]
    assert len(checks) == 3  # the control: every jail's drift was checked
    assert events[0] == "list painted", events
