"""`tui-jail exec JAIL [--root DIR] [--user U] -- COMMAND...`: run a command inside an applied exec jail.

Loads the jail's applied spec (`jail_state_path`), lets the launcher check that the jail is live as
the spec says, and runs the command there. Exit status: the command's own when it ran (128+N when
a signal ended it); 1 when exec refused before running anything, with the reason on stderr.
"""

from __future__ import annotations

import argparse

from tui_jail.commands.common import Subparsers, add_root
from tui_jail.errors import Refused


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "exec",
        help="run a command inside an exec jail",
        description="Run COMMAND inside the applied exec jail JAIL: new namespaces, a fresh /proc, chroot, "
        "capabilities dropped, then the jail's user. Exit status: the command's own; 1 if refused before running.",
    )
    parser.add_argument("jail", metavar="JAIL", help="the name of an applied exec jail")
    add_root(parser)
    parser.add_argument("--user", metavar="U", help="run as this user instead of the spec's exec.user")
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- COMMAND...", help="the command and its arguments"
    )
    parser.set_defaults(handler=run)


def _options_after_jail(args: argparse.Namespace) -> list[str]:
    """argparse's REMAINDER swallows options written after JAIL (`exec JAIL --root DIR -- CMD`, as the
    contract writes it): read the ones before `--` here; everything after `--` is the command."""
    if "--" not in args.command:
        return list(args.command)
    split = args.command.index("--")
    late = argparse.ArgumentParser(prog=f"tui-jail exec {args.jail}", add_help=False)
    add_root(late)
    late.add_argument("--user", metavar="U")
    late.set_defaults(root=None)
    options = late.parse_args(args.command[:split])
    args.root = options.root or args.root
    args.user = options.user or args.user
    return list(args.command[split + 1 :])


def run(args: argparse.Namespace) -> int:
    from tui_jail import launcher
    from tui_jail.plan import PlanError, jail_state_path
    from tui_jail.spec import load_spec_file
    from tui_jail.system import SystemRoot

    command = _options_after_jail(args)
    if not command:
        raise Refused("exec: no command given (tui-jail exec JAIL -- COMMAND...)")
    system = SystemRoot(args.root)
    state = system.host(jail_state_path(args.jail))
    if not state.is_file():
        raise Refused(f"exec: no applied jail named {args.jail!r} ({state} does not exist); the command did not run")
    spec = load_spec_file(state)
    try:
        launch = launcher.prepare(spec, system, command, user=args.user)
    except (Refused, PlanError) as exc:
        raise Refused(f"exec {args.jail}: {exc}; the command did not run") from None
    return launcher.run(launch)
