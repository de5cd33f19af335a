"""`tui-jail status` — not built yet (see the open issues)."""

from __future__ import annotations

import argparse

from tui_jail.commands.common import refuse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="(not built yet)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return refuse("status is not built yet")
