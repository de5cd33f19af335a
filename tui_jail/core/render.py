"""A plan as text for a terminal: coloured diffs and the mount tree with rich, plain when piped."""

from __future__ import annotations

import sys

from tui_jail.core.plan import SOURCE, Plan

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from typing import TextIO


def header_lines(plan: Plan) -> list[str]:
    lines = [f"jail {plan.name} ({plan.kind}){' — removal' if plan.removal else ''}: {plan.summary()}"]
    lines += [f"warning: {w}" for w in plan.warnings]
    lines += [f"skipped: {s}" for s in plan.skipped]
    return lines


def tail_lines(plan: Plan) -> list[str]:
    """Paths, mounts and the mount tree: everything after the diffs."""
    out: list[str] = []
    if plan.path_changes:
        out += ["", "paths:"]
        for step in plan.path_changes:
            what = f"char {step.device[0]},{step.device[1]}" if step.device else step.kind
            why = f"  ({SOURCE})" if step.reason == SOURCE else ""
            out.append(f"  {step.action:<6} {step.path}  {what} {step.mode:04o} {step.uid}:{step.gid}{why}")
    if plan.mount_changes or plan.unmounts:
        out += ["", "mounts:"]
        for mount in plan.mount_changes:
            out.append(f"  {mount.action:<7} {mount.source} → {mount.target} ({'ro' if mount.readonly else 'rw'})")
        out += [f"  unmount {target}" for target in plan.unmounts]
    if plan.tree and not plan.removal:
        out += ["", "mount tree inside the jail:", plan.tree]
    return out


def plan_text(plan: Plan) -> str:
    """The plain-text form (what a pipe or a recovery console gets)."""
    out = header_lines(plan)
    for change in plan.changed_files:
        out += ["", change.diff().rstrip("\n")]
    return "\n".join(out + tail_lines(plan)) + "\n"


def print_plan(plan: Plan, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    if not stream.isatty():
        stream.write(plan_text(plan))
        return
    # rich only for a terminal: its import costs a piped plan (and the transaction's journal) more than the plan
    from rich.console import Console
    from rich.syntax import Syntax
    from rich.text import Text

    console = Console(file=stream, highlight=False)
    head, *notes = header_lines(plan)
    console.print(Text(head, style="bold"))
    for note in notes:
        console.print(Text(note, style="yellow" if note.startswith("warning") else "dim"))
    for change in plan.changed_files:
        console.print()
        console.print(Syntax(change.diff().rstrip("\n"), "diff", theme="ansi_dark", background_color="default"))
    console.print(Text("\n".join(tail_lines(plan))))
