"""`tui-jail status`: the transactions in the journal, newest first, and what each is waiting for."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

from tui_jail import journal
from tui_jail.commands.common import Subparsers, add_json, add_root, print_json


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("status", help="show pending and past transactions")
    add_root(parser)
    add_json(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    states = [j.state() for j in reversed(journal.transactions(args.root))]
    if args.json:
        now = time.time()
        print_json(
            {
                "pending": [s.id for s in states if s.unfinished],
                "transactions": [
                    {**asdict(s), "remaining": max(0.0, s.deadline - now) if s.status == "pending" else None}
                    for s in states
                ],
            }
        )
        return 0
    if not states:
        print("no transactions")
    for state in states:
        print(line(state))
    return 0


def line(state: journal.TxnState) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.created))
    extra = ""
    if state.status == "pending":
        extra = f", rolled back in {max(0.0, state.deadline - time.time()):.0f} s unless confirmed"
    elif state.error:
        extra = f": {state.error}"
    return f"{state.id}  {state.action} {state.jail}  {state.status}{extra}  (started {when})"
