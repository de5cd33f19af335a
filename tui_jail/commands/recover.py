"""`tui-jail recover`: for a bare console — list every unfinished transaction, explain in plain text
what it changed and what undoing it will do, and roll it back. `--boot` (the boot guard's unit) does
it without asking: at boot an unconfirmed transaction is a rejected one."""

from __future__ import annotations

import argparse
import sys

from tui_jail import journal, steps
from tui_jail.commands.common import Subparsers, add_root
from tui_jail.commands.status import line
from tui_jail.errors import Refused
from tui_jail.transaction import rollback_txn


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


def explain(txn: journal.Journal) -> str:
    state = txn.state()
    ops, begun, done = txn.ops(), txn.begun(), txn.done()
    out = [line(state)]
    if state.ssh_connection:
        out.append(f"  applied by {state.user or '?'} over ssh ({state.ssh_connection})")
    changed = [i for i in sorted(begun) if i not in txn.undone()]
    if not changed:
        out.append("  it changed nothing that is still in place")
    for index in changed:
        partly = "" if index in done else " (interrupted half-way)"
        out.append(f"  - {steps.describe(ops[index])}{partly}; will {steps.undo_text(ops[index])}")
    if state.error:
        out.append(f"  last rollback failed: {state.error}")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    found = journal.unfinished(args.root)
    if not found:
        print("nothing to recover: no pending, interrupted or failed transaction")
        return 0
    failed = []
    for txn in reversed(found):
        print(explain(txn))
        if not (args.boot or args.yes):
            if not sys.stdin.isatty():
                raise Refused("not a terminal: pass --yes to roll back without asking")
            if input(f"Roll back {txn.id}? [y/N] ").strip().lower() not in ("y", "yes"):
                continue
        state = rollback_txn(args.root, txn.id, "tui-jail recover" + (" --boot" if args.boot else ""))
        print(f"  → {state.status}{': ' + state.error if state.error else ''}")
        if state.status != "rolled-back":
            failed.append(state.id)
    if failed:
        raise Refused(f"rollback incomplete for {', '.join(failed)}; fix the cause shown above and run recover again")
    return 0
