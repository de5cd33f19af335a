"""`tui-jail plan`: the diffs and the mount tree a spec would produce. Writes nothing."""

from __future__ import annotations

from tui_jail.commands.common import (
    Subparsers,
    add_json,
    add_root,
    add_spec_source,
    load_spec,
    print_json,
    spec_source_line,
)
from tui_jail.core.plan import Plan, make_plan
from tui_jail.core.render import print_plan
from tui_jail.paths.system import SystemRoot

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show the diffs and mount tree a spec would produce (writes nothing)",
        description="Show every file diff, path, mount and the mount tree the spec would produce. Writes nothing.",
    )
    add_spec_source(parser)
    add_root(parser)
    add_json(parser)
    parser.set_defaults(**PLAIN.defaults)


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args)
    show_plan(make_plan(spec, SystemRoot(args.root)), as_json=args.json)
    return 0


# its plain command lines, read without argparse (see cli._plain_args); the parser's defaults
PLAIN = spec_source_line(run)


def show_plan(plan: Plan, *, as_json: bool) -> None:
    """Shared with `remove --dry-run`."""
    if as_json:
        print_json(plan.to_json())
    else:
        print_plan(plan)
