"""Step 4: the plan, read before anything changes — one tab per file diff, the mount tree as seen
from inside the jail, a summary line — and saving the spec as YAML (comments kept). Lines run
off an 80-column screen (fstab entries do), so `w` wraps them: the whole diff without scrolling
sideways, each continuation still marked + or -."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer, Vertical
from textual.content import Content
from textual.widgets import Button, Label, Static, TabbedContent, TabPane

from tui_jail.screens.marked_wrap import MarkedWrap
from tui_jail.screens.messages import PlanReady, WorkFailed
from tui_jail.screens.path_modal import PathModal
from tui_jail.screens.step import FIELD_STEPS, StepScreen, step_title
from tui_jail.screens.wizard_state import field_of

if TYPE_CHECKING:
    from tui_jail.core.plan import Plan

DIFF_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


class ReviewScreen(StepScreen):
    STEP = "Review"
    NEXT_LABEL = "Apply"
    CSS_PATH = "review.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "save", "Save spec"),
        Binding("w", "wrap", "Wrap lines"),
        Binding("t", "tree", "Mount tree"),
    ]
    fix_at: str | None = None  # the step that edits what made the plan impossible (Next goes there)

    def compose_body(self) -> ComposeResult:
        yield Label(f"Planning {self.state.name}…", id="summary", markup=False)
        yield Label("", id="notes", classes="warning", markup=False)
        yield Label("←/→ switch tabs · tab, then ↑/↓ PgUp/PgDn scroll the diff · t tree · w wrap", classes="intro")
        yield Label("", id="tab-where", classes="intro", markup=False)
        yield Vertical(id="plan-area")

    def on_mount(self) -> None:
        self.query_one("#next-button").disabled = True
        self.build_plan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan", description="planning")
    def build_plan(self) -> None:
        from tui_jail.core.plan import PlanError
        from tui_jail.core.spec import SpecError

        try:
            self.post_message(PlanReady(self.state.make_plan()))
        except (SpecError, PlanError) as exc:
            self.post_message(WorkFailed("plan", str(exc)))

    @on(WorkFailed)
    def plan_failed(self, message: WorkFailed) -> None:
        """No plan, no apply: Next leads to the step that edits the field the problem names (a jail
        root under a world-writable /tmp: Mounts), as after a refused preflight."""
        self.query_one("#summary", Label).update(f"Cannot plan this jail: {message.reason}")
        self.query_one("#summary", Label).add_class("-error")
        self.fix_at = FIELD_STEPS.get(field_of(message.reason))
        if self.fix_at is None:
            self.show_error("go back and fix it")
            return
        button = self.query_one("#next-button", Button)
        button.label = f"Fix in {step_title(self.fix_at, self.state.kind)} {self.glyph['next']}"
        button.disabled = False

    def action_next(self) -> None:
        if self.fix_at is not None:
            self.dismiss(self.fix_at)
        else:
            super().action_next()

    @on(PlanReady)
    async def plan_ready(self, message: PlanReady) -> None:
        plan = message.plan
        self.query_one("#summary", Label).update(f"{plan.name} ({plan.kind}) — {plan.summary()}")
        notes = [f"⚠ {w}" for w in plan.warnings] + [f"skipped: {s}" for s in plan.skipped]
        self.query_one("#notes", Label).update("\n".join(notes))
        # focus once the tabs exist, not after some later refresh: ←/→ must switch them from the start
        await self.query_one("#plan-area", Vertical).mount(PlanTabs(plan))
        self.query_one("#tabs Tabs").focus()
        self.query_one("#next-button").disabled = not plan.has_changes
        if not plan.has_changes:
            self.show_error("nothing to apply: the system already matches")

    def check(self) -> str | None:
        return None if self.state.plan is not None and self.state.plan.has_changes else "nothing to apply"

    def action_wrap(self) -> None:
        self.toggle_class("-wrap")

    def action_tree(self) -> None:
        """The mount tree, the last tab: off screen to the right when the plan touches many files."""
        for tabs in self.query("#tabs").results(TabbedContent):
            tabs.active = TREE

    @on(TabbedContent.TabActivated)
    def where(self, event: TabbedContent.TabActivated) -> None:
        """Which tab of how many, and the whole path of its file: the row of tabs may scroll at 80 columns."""
        tabs = event.tabbed_content
        panes = [pane.id for pane in tabs.query(TabPane)]
        plan = self.state.plan
        index = panes.index(event.pane.id) if event.pane.id in panes else 0
        if plan is None or event.pane.id == TREE:
            what = "the mount tree, as seen inside the jail"
        else:
            what = plan.changed_files[index].path
        self.query_one("#tab-where", Label).update(f"tab {index + 1} of {len(panes)}: {what}")

    def action_save(self) -> None:
        modal = PathModal("Save the spec as YAML", self.state.save_as(), self._save, self.state.save_dir)
        self.app.push_screen(modal, self._saved)

    def _save(self, path: Path) -> str | None:
        from tui_jail.core.spec import SpecError

        try:
            self.saved = self.state.save(path)
        except (SpecError, OSError) as exc:
            return str(exc)
        return None

    def _saved(self, path: Path | None) -> None:
        if path is not None:
            self.notify(f"saved {path}", title="Spec saved", markup=False)


class PlanTabs(Vertical):
    """One tab per changed file (its diff), then the mount tree as seen from inside the jail."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            for number, change in enumerate(self.plan.changed_files):
                label = Content(tab_label(change.path, self.plan.name))
                with TabPane(label, id=f"file-{number}"), ScrollableContainer():
                    yield Static(MarkedWrap(_diff(change.diff())), classes="plan-text")
            with TabPane("mount tree", id=TREE), ScrollableContainer():
                yield Static(MarkedWrap(Text(self.plan.tree)), classes="plan-text")


TREE = "mount-tree"


def tab_label(path: str, jail: str) -> str:
    """A file's tab, short enough for a row of them at 80 columns: the jail's own files by what they
    are (the line above the diff names the whole path)."""
    name = posixpath.basename(path)
    short = {
        f"{jail}.yaml": "spec",
        f"{jail}.launch.json": "launch",
        "tui-jail-recover.service": "guard",
        "50-tui-jail-recover.conf": "guard.d",
    }
    return short.get(name, name)


def _diff(text: str) -> Text:
    out = Text()
    for line in text.splitlines(keepends=True):
        style = next((s for prefix, s in DIFF_STYLES if line.startswith(prefix)), "")
        out.append(line, style)
    out.rstrip()
    return out if out.plain else Text("(no changes)")
