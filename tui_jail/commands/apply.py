"""`tui-jail apply`: plan the spec, show it, and apply it as a transaction left pending confirmation.

The watchdog rolls it back at the deadline unless `tui-jail confirm` runs (from a new SSH login,
when applied over SSH). Exit 0 when applied and pending; 1 when refused (nothing changed, or
everything rolled back).
"""

from __future__ import annotations

import argparse
import sys

from tui_jail.commands.common import (
    Subparsers,
    add_json,
    add_root,
    add_spec_source,
    check_watchdogs,
    load_spec,
    print_json,
    seconds,
)
from tui_jail.core.errors import Refused
from tui_jail.core.plan import Plan, make_plan
from tui_jail.core.render import print_plan
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import entry, history, journal
from tui_jail.txn.history import DEFAULT_KEEP
from tui_jail.txn.journal import DEFAULT_TIMEOUT, LONGEST_WAIT, TxnState
from tui_jail.txn.pending import pending_refusal
from tui_jail.txn.transaction import apply


def add_transaction_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--confirm-timeout",
        metavar="SEC",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        help=f"roll back unless confirmed within SEC seconds, 1 to {LONGEST_WAIT:g} (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask before changing anything")
    parser.add_argument(
        "--keep-history",
        metavar="N",
        type=history_size,
        default=DEFAULT_KEEP,
        help=f"keep the last N finished transactions in the journal, pruning older ones (default {DEFAULT_KEEP})",
    )
    add_json(parser)


def history_size(text: str) -> int:
    """--keep-history's type: a whole number, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of transactions (0 or more), not {text!r}")
    return int(text)


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="apply a spec as a transaction that rolls itself back unless confirmed",
        description="Apply the spec: preflight, journal, watchdog, changes; then confirm within the timeout "
        "from a new login (tui-jail confirm), or everything is rolled back.",
    )
    add_spec_source(parser)
    add_root(parser)
    add_transaction_options(parser)
    parser.set_defaults(handler=run, needs_root=True)


def run(args: argparse.Namespace) -> int:
    check_watchdogs(args.root)  # before planning: a rollback it makes changes what the plan starts from
    system = SystemRoot(args.root)
    plan = make_plan(load_spec(args), system)
    return run_transaction(plan, system, args)


def run_transaction(plan: Plan, system: SystemRoot, args: argparse.Namespace) -> int:
    """Shared with `remove`: show the plan, ask, apply, say how to confirm. With --json (for fleets:
    the Ansible module) one document: the plan and the pending transaction's id (null: nothing to do).
    Then the journal's history is pruned to --keep-history (its new transaction is never pruned)."""
    try:
        return _run_transaction(plan, system, args)
    finally:
        _prune(system, args.keep_history)


def _prune(system: SystemRoot, keep: int) -> None:
    """Housekeeping: a journal that cannot be pruned now never fails the command (nor hides its error)."""
    if problem := history.tidy(system.root, keep):
        print(f"tui-jail: note: {problem}", file=sys.stderr)


def _run_transaction(plan: Plan, system: SystemRoot, args: argparse.Namespace) -> int:
    if any(entry.unfinished for entry in journal.scan(system.root)):  # a plan may look done only because of it
        raise Refused(pending_refusal(system.root))
    if args.json:
        if plan.has_changes and not args.yes:
            raise Refused("--json applies without asking: pass --yes")
        state = apply(plan, system, timeout=args.confirm_timeout) if plan.has_changes else None
        print_json({"plan": plan.to_json(), "transaction": state and {"id": state.id, "status": state.status}})
        return 0
    if not plan.has_changes:
        print(f"jail {plan.name}: {plan.summary()}")
        return 0
    print_plan(plan)
    if not args.yes:
        if not sys.stdin.isatty():
            raise Refused("not a terminal: pass --yes to apply without asking")
        if input("Apply these changes? [y/N] ").strip().lower() not in ("y", "yes"):
            raise Refused("not applied")
    state = apply(plan, system, timeout=args.confirm_timeout)
    print(pending_message(state, system, exec_jail=plan.kind == "exec"))
    return 0


def pending_message(state: TxnState, system: SystemRoot, *, exec_jail: bool = False) -> str:
    """How to confirm. An exec jail changes no sshd file: no login can be locked out, so the confirmation
    is for the jail itself, and the proof is a job run in it, not a new SSH login."""
    where = (
        "from a NEW ssh login (not a shared one: ssh -o ControlPath=none)"
        if state.needs_new_login
        else "from any session"
    )
    confirm, rollback = (entry.command(system.root, word, state.id) for word in ("confirm", "rollback"))
    proof = entry.command(system.root, "exec", state.jail, "--", "true")
    return (
        f"applied as transaction {state.id}, pending confirmation.\n"
        + (
            f"This exec jail changes no sshd config: confirm once the jail runs its job. Prove it:  {proof}\n"
            if exec_jail and not state.needs_new_login
            else ""
        )
        + f"Confirm within {state.timeout:g} s {where}:  {confirm}\n"
        f"Otherwise everything is rolled back at the deadline (or now: {rollback})."
    )
