"""`tui-jail exec JAIL [--root DIR] [--user U] -- COMMAND...`: run a command inside an applied exec jail.

Reads nothing but the jail's launch file (compiled by the plan), lets the launcher check that the
jail is live as it says, and runs the command there. Exit status: the command's own when it ran
(128+N when a signal ended it); 1 when exec refused before running anything, with the reason on
stderr.

exec is on every job's start-up path, so `tui_jail.cli` hands it its arguments before building the
full parser (`parse_args`), and this module imports no spec, planner or UI module — not even
`commands.common`, which imports the spec.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tui_jail.errors import Refused

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from tui_jail.commands.common import Subparsers

DESCRIPTION = (
    "Run COMMAND inside the applied exec jail JAIL: new namespaces, a fresh /proc, chroot, capabilities "
    "dropped, then the jail's user. Exit status: the command's own; 1 if refused before running."
)


def add_parser(subparsers: Subparsers) -> None:
    """For the full parser (`tui-jail --help`, and `--sandbox exec`): the same arguments as `parse_args`."""
    parser = subparsers.add_parser("exec", help="run a command inside an exec jail", description=DESCRIPTION)
    _add_arguments(parser)


def parse_args(argv: list[str], root: Path | None) -> argparse.Namespace:
    """`exec`'s own arguments (after the word `exec`), parsed without the other commands; `root` is a
    global `tui-jail --root DIR` given before `exec`, used unless exec is given its own."""
    parser = argparse.ArgumentParser(prog="tui-jail exec", description=DESCRIPTION)
    _add_arguments(parser)
    parser.set_defaults(root=root, command="exec")
    return parser.parse_args(argv)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("jail", metavar="JAIL", help="the name of an applied exec jail")
    _add_options(parser)
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- COMMAND...", help="the command and its arguments"
    )
    parser.set_defaults(handler=run)


def _add_options(parser: argparse.ArgumentParser) -> None:
    # commands.common.add_root's --root, which this module cannot import (common imports the spec)
    parser.add_argument(
        "--root",
        metavar="DIR",
        type=Path,
        # SUPPRESS: an unset exec --root must not overwrite `tui-jail --root DIR exec`
        default=argparse.SUPPRESS,
        help="the system root, as if it were / (default: /)",
    )
    parser.add_argument("--user", metavar="U", help="run as this user instead of the spec's exec.user")


def _options_after_jail(args: argparse.Namespace) -> list[str]:
    """argparse's REMAINDER swallows options written after JAIL (`exec JAIL --root DIR -- CMD`, as the
    contract writes it): read the ones before `--` here; everything after `--` is the command."""
    if "--" not in args.command:
        return list(args.command)
    split = args.command.index("--")
    late = argparse.ArgumentParser(prog=f"tui-jail exec {args.jail}", add_help=False)
    _add_options(late)
    late.set_defaults(root=None)
    options = late.parse_args(args.command[:split])
    args.root = options.root or args.root
    args.user = options.user or args.user
    return list(args.command[split + 1 :])


def run(args: argparse.Namespace) -> int:
    from tui_jail import launcher
    from tui_jail.system import SystemRoot

    command = _options_after_jail(args)
    if not command:
        raise Refused("exec: no command given (tui-jail exec JAIL -- COMMAND...)")
    try:
        launch = launcher.prepare(args.jail, SystemRoot(args.root), command, user=args.user)
    except Refused as exc:
        raise Refused(f"exec {args.jail}: {exc}; the command did not run") from None
    return launcher.run(launch)
