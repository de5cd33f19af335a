"""`tui-jail remove NAME`: take a jail down (unmount, remove its fstab block, sshd block and state)
through the same transaction as apply: journalled, watched, rolled back unless confirmed."""

from __future__ import annotations

import argparse

from tui_jail.commands.apply import add_transaction_options, run_transaction
from tui_jail.commands.common import Subparsers, add_root, check_watchdogs
from tui_jail.commands.plan import show_plan
from tui_jail.core.plan import applied_spec, plan_removal
from tui_jail.core.spec import check_jail_name
from tui_jail.paths.system import SystemRoot


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "remove",
        help="take a jail down through a transaction (confirm or it comes back)",
        description="Unmount the jail's mounts and remove its fstab block, sshd block and state file. "
        "The jail tree stays (it may hold data). Confirm like an apply.",
    )
    parser.add_argument("name", metavar="NAME", type=jail_name, help="the jail's name")
    add_root(parser)
    add_transaction_options(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="only show what would be removed (with --json: the plan as JSON)"
    )
    parser.set_defaults(handler=run, needs_root=True)


def jail_name(text: str) -> str:
    """NAME's type: the spec's rule, checked before anything is planned (the name becomes file paths)."""
    try:
        return check_jail_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    check_watchdogs(args.root)  # before planning (see apply)
    system = SystemRoot(args.root)
    plan = plan_removal(args.name, system, applied_spec(system, args.name))
    if args.dry_run:
        show_plan(plan, as_json=args.json)
        return 0
    return run_transaction(plan, system, args)
