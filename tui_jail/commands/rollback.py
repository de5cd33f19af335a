"""`tui-jail rollback [TXN]`: undo a pending (or interrupted) transaction now, from its journal."""

from __future__ import annotations

from tui_jail.commands.common import PlainLine, Subparsers, add_root, check_watchdogs
from tui_jail.core.errors import Refused
from tui_jail.txn.pending import rollback_txn

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="undo a pending transaction now",
        description="Undo the transaction TXN (default: the pending one) from its journal: unmount, restore "
        "files byte for byte, remove what it created, reload sshd. Safe to run twice.",
    )
    parser.add_argument("txn", metavar="TXN", nargs="?", help="transaction id (default: the pending one)")
    add_root(parser)
    parser.set_defaults(**PLAIN.defaults)


def run(args: argparse.Namespace) -> int:
    check_watchdogs(args.root)
    state = rollback_txn(args.root, args.txn, "tui-jail rollback")
    if state.status != "rolled-back":
        failures = "; ".join(state.error.splitlines())
        raise Refused(f"transaction {state.id}: rollback incomplete: {failures} (see tui-jail recover)")
    print(f"transaction {state.id} rolled back")
    for note in state.notes:
        if note.startswith("left in place"):  # made by it, but changed by someone since: not its to remove
            print(note)
    return 0


# its plain command lines, read without argparse (see cli._plain_args); the parser's defaults
PLAIN = PlainLine({"handler": run, "needs_root": True}, txn=True)
