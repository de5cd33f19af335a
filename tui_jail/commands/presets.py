"""`tui-jail presets` and `tui-jail presets show NAME`."""

from __future__ import annotations

import argparse
import sys

from tui_jail.commands.common import Subparsers, add_json, print_json
from tui_jail.presets import DESCRIPTIONS, preset_text


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "presets",
        help="list the presets, or print one as a starting spec",
        description="List the shipped presets, or print one's YAML.",
    )
    add_json(parser)
    inner = parser.add_subparsers(dest="presets_command", metavar="show")
    show = inner.add_parser(
        "show",
        help="print a preset's YAML (save it, fill in the <placeholders>)",
        description="Print a preset's YAML: a starting spec to save and edit.",
    )
    show.add_argument("name", metavar="NAME", help="the preset's name")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "presets_command", None) == "show":
        sys.stdout.write(preset_text(args.name))
        return 0
    if args.json:
        print_json([{"name": n, "builds": b, "source": s} for n, (b, s) in DESCRIPTIONS.items()])
        return 0
    width = max(len(name) for name in DESCRIPTIONS)
    for name, (builds, source) in DESCRIPTIONS.items():
        print(f"{name:<{width}}  {builds}")
        print(f"{'':<{width}}  from: {source}")
    return 0
