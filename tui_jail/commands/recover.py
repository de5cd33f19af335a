"""`tui-jail recover`: for a bare console — list every unfinished transaction, explain in plain text
what it changed and what undoing it will do, and roll it back. `--boot` (the boot guard's unit) does
it without asking: at boot an unconfirmed transaction is a rejected one. A damaged entry is named
and rolled back from what is intact; where its steps are lost, recover says what to restore by hand."""

from __future__ import annotations

import argparse
import sys
import textwrap

from tui_jail.commands.common import Subparsers, add_root, check_watchdogs
from tui_jail.commands.status import line
from tui_jail.core.errors import Refused
from tui_jail.txn import boot_recovery, journal, steps
from tui_jail.txn.journal import Damaged, Entry
from tui_jail.txn.pending import rollback_txn

WIDTH = 80  # a bare console


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "recover",
        help="explain and roll back unfinished transactions (plain text, for a console)",
        description="List pending, interrupted and failed transactions, explain what each changed and roll them back.",
    )
    add_root(parser)
    parser.add_argument("--boot", action="store_true", help="at boot: roll back every unconfirmed one, no questions")
    parser.add_argument("--yes", action="store_true", help="roll back without asking")
    parser.set_defaults(handler=run, needs_root=True)


def explain(entry: Entry) -> str:
    txn = entry.journal
    state, problem = txn.state_or_stand_in()
    out = [f"{txn.id}  damaged: {problem}" if problem else line(state, with_error=False)]
    if state.ssh_connection:
        out.append(f"  applied by {state.user or '?'} over ssh ({state.ssh_connection})")
    try:
        ops, begun = txn.ops(), txn.begun()
    except Damaged as exc:
        return "\n".join([*out, f"  {exc}", *by_hand(txn)])
    done, undone = txn.done(), txn.undone()
    changed = [i for i in sorted(begun) if i not in undone and i < len(ops)]
    if not changed:
        out.append("  it changed nothing that is still in place")
    for index in changed:
        # a run of path creations is begun at once (steps.begun_with): one not done may not have started
        partly = "" if index in done else " (begun, not known to have finished)"
        undo = steps.undo_text(ops[index])
        out.append(f"  - {steps.describe(ops[index])}{partly}; " + (f"will {undo}" if undo else "nothing to undo"))
    if state.error:
        out.append("  last rollback failed:")
        out += [_wrapped(f"- {failure}") for failure in state.error.splitlines()]
    return "\n".join(out)


def _wrapped(text: str) -> str:
    """A failure as lines that fit a console's 80 columns (an errno message can run to hundreds)."""
    return textwrap.fill(text, WIDTH, initial_indent="    ", subsequent_indent="      ", break_on_hyphens=False)


def by_hand(txn: journal.Journal) -> list[str]:
    """What to restore by hand when the steps cannot be read: the plan as applied, and the backups."""
    out = ["  it cannot be undone automatically. Restore by hand what the plan it applied lists:"]
    plan = txn.dir / "plan.txt"
    changed = [text[5:] for text in txn.plan_text().splitlines() if text.startswith("+++ b/")]
    out.append(f"    {plan} (every file it changed, with its diff; its paths and mounts)" if plan.exists() else "")
    out += [f"    file {path}" for path in changed]
    backups = sorted(txn.dir.glob("backup/*"))
    if backups:
        out.append(f"  the old content of each file it rewrote is one of {txn.dir / 'backup'}/N:")
        out += [f"    {path} ({path.stat().st_size} bytes)" for path in backups]
    out.append("  then remove that transaction's directory: " + str(txn.dir))
    return [text for text in out if text]


def run(args: argparse.Namespace) -> int:
    if args.boot:  # everything unfinished is rolled back below, with the boot as the reason
        for line in boot_recovery.stop_unconfirmed_mounts(args.root):
            print(line)
    else:
        check_watchdogs(args.root)
    found = [entry for entry in journal.scan(args.root) if entry.unfinished]
    if not found:
        print("nothing to recover: no pending, interrupted or failed transaction")
        return 0
    failed = []
    for entry in reversed(found):
        print(explain(entry))
        txn = entry.journal
        if not (args.boot or args.yes):
            if not sys.stdin.isatty():
                raise Refused("not a terminal: pass --yes to roll back without asking")
            if input(f"Roll back {txn.id}? [y/N] ").strip().lower() not in ("y", "yes"):
                continue
        reason = "tui-jail recover"
        if args.boot:
            reason = f"boot guard: the system restarted before {txn.id} was confirmed"
            print(f"  rolling back: {reason}")
        state = rollback_txn(args.root, txn.id, reason)
        print(f"  → {state.status}", flush=True)
        for failure in state.error.splitlines():
            print(_wrapped(f"- {failure}"))
        if state.status != "rolled-back":
            failed.append(state.id)
    if failed:
        raise Refused(f"rollback incomplete for {', '.join(failed)}; fix the cause shown above and run recover again")
    return 0
