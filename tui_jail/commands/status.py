"""`tui-jail status`: the transactions in the journal, newest first, and what each is waiting for.

It first makes sure every unfinished transaction is watched (a watchdog gone before the deadline is
re-armed, after it the transaction is rolled back) and says so; a damaged entry is named in one line."""

from __future__ import annotations

import time

from tui_jail.commands.common import PlainLine, Subparsers, add_json, add_root, check_watchdogs, print_json
from tui_jail.txn import journal

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("status", help="show pending and past transactions")
    add_root(parser)
    add_json(parser)
    parser.set_defaults(**PLAIN.defaults)


def run(args: argparse.Namespace) -> int:
    check_watchdogs(args.root)
    entries = list(reversed(journal.scan(args.root)))
    states = [entry.state for entry in entries if entry.state is not None]
    if args.json:
        print_json(
            {
                "pending": [e.state.id if e.state else e.journal.id for e in entries if e.unfinished],
                "transactions": [
                    {
                        **s.as_dict(),
                        "remaining": s.seconds_left() if s.status == "pending" else None,
                        "watchdog": s.watchdog_state() or None,
                    }
                    for s in states
                ],
                "damaged": [{"id": e.journal.id, "problem": e.problem} for e in entries if e.problem],
            }
        )
        return 0
    if not entries:
        print("no transactions")
    for entry in entries:
        print(line(entry.state) if entry.state else f"{entry.journal.id}  damaged: {entry.problem}")
    return 0


# its plain command lines, read without argparse (see cli._plain_args); the parser's defaults
PLAIN = PlainLine({"handler": run}, flags=("--json",))


def line(state: journal.TxnState, *, with_error: bool = True) -> str:
    """One transaction on one line; `recover` lists a failed rollback's errors below it instead."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.created))
    extra = ""
    if state.status == "pending":
        extra = f", rolled back in {state.seconds_left():.0f} s unless confirmed"
    elif state.error and with_error:
        extra = f": {'; '.join(state.error.splitlines())}"
    if watchdog := state.watchdog_state():
        extra += f" (watchdog {watchdog}{f', pid {state.watchdog_pid}' if watchdog != 'gone' else ''})"
    return f"{state.id}  {state.action} {state.jail}  {state.status}{extra}  (started {when})"
