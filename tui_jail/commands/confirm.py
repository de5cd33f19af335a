"""`tui-jail confirm [TXN]`: keep a pending transaction (or, with --extend, push its deadline back).

A change to sshd's config made over SSH is confirmed only from a new login: a connection sshd
accepted after it served the change (see `transaction.confirm`), as one that works is the proof that
logins still work. `--same-session` confirms without that proof. Other changes: from any session."""

from __future__ import annotations

import os

from tui_jail.commands.common import PlainLine, Subparsers, add_root, check_watchdogs, seconds
from tui_jail.txn.journal import LONGEST_WAIT
from tui_jail.txn.pending import confirm, extend

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "confirm",
        help="keep a pending transaction (run it from a new SSH login)",
        description="Confirm the pending transaction TXN (default: the latest). When it changed sshd's config "
        "over SSH, run this from a NEW login (ssh -o ControlPath=none): that it works proves logins still work.",
    )
    parser.add_argument("txn", metavar="TXN", nargs="?", help="transaction id (default: the pending one)")
    add_root(parser)
    parser.add_argument(
        "--same-session",
        action="store_true",
        help="confirm from a session that is no new login (the applying one, a tmux pane): no proof that logins work",
    )
    parser.add_argument(
        "--extend",
        metavar="SEC",
        type=seconds,
        help=f"do not confirm; move the deadline SEC later (1 to {LONGEST_WAIT:g})",
    )
    parser.set_defaults(**PLAIN.defaults)


def run(args: argparse.Namespace) -> int:
    check_watchdogs(args.root)
    if args.extend is not None:
        state = extend(args.root, args.txn, args.extend)
        print(f"transaction {state.id}: deadline in {state.seconds_left():.0f} s")
        return 0
    state = confirm(args.root, args.txn, os.environ, same_session=args.same_session)
    print(f"transaction {state.id} confirmed: {state.action} of jail {state.jail} is kept")
    return 0


# its plain command lines, read without argparse (see cli._plain_args); the parser's defaults
PLAIN = PlainLine(
    {"handler": run, "needs_root": True}, flags=("--same-session",), values={"--extend": seconds}, txn=True
)
