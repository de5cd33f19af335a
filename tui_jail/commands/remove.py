"""`tui-jail remove` — not built yet (see the open issues)."""

from __future__ import annotations

import argparse

from tui_jail.commands.common import refuse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("remove", help="(not built yet)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return refuse("remove is not built yet")
