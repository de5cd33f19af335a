"""`tui-jail exec JAIL [--root DIR] [--user U] -- COMMAND...`: run a command inside an applied exec jail.

Reads nothing but the jail's launch file (compiled by the plan), lets the launcher check that the
jail is live as it says, and runs the command there. Exit status: the command's own when it ran
(128+N when a signal ended it); 1 when exec refused before running anything, with the reason on
stderr.

exec is on every job's start-up path, so `tui_jail.cli` hands it its words before building the
full parser (`job`), and this module imports no spec, planner or UI module — not even
`commands.common`, which imports argparse, json and pathlib. The usual shape of the words is read without argparse
(`_quick_parse`); argparse stays the reference for everything else, help and usage errors included.
"""

from tui_jail.core.errors import Refused

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from os import PathLike

    from tui_jail.commands.common import Subparsers

DESCRIPTION = (
    "Run COMMAND inside the applied exec jail JAIL: new namespaces, a fresh /proc, chroot, capabilities "
    "dropped, then the jail's user. Exit status: the command's own; 1 if refused before running."
)
OPTIONS = ("--root", "--user")


def add_parser(subparsers: "Subparsers") -> None:
    """For the full parser (`tui-jail --help`, and `--sandbox exec`): the same arguments as `parse_args`."""
    parser = subparsers.add_parser("exec", help="run a command inside an exec jail", description=DESCRIPTION)
    _add_arguments(parser)


def job(words: list[str], root: str | None) -> "Callable[[], int]":
    """The exec to run for `words` (those after the word `exec`); `root` is a global `tui-jail --root DIR`
    given before `exec`, used unless exec is given its own. Usage errors exit 2 here, as argparse does."""
    quick = _quick_parse(words, root)
    if quick is not None:
        jail, root, user, command = quick
        return lambda: launch(jail, root, user, command)
    args = parse_args(words, root)
    return lambda: run(args)


def _quick_parse(words: list[str], root: str | None) -> tuple[str, str | None, str | None, list[str]] | None:
    """(jail, root, user, command) for `JAIL`, `--root DIR` and `--user U` (or `--root=DIR`, `--user=U`)
    in any order, then `--` and the command: what argparse (`parse_args`) makes of the same words, without
    paying for argparse and its help formatter on every job. None for anything else — no `--`, an
    abbreviated or unknown option, an empty value, `-h` — which argparse then reads, or refuses."""
    values = {"--root": root, "--user": None}
    jail = None
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            return None if jail is None else (jail, values["--root"], values["--user"], words[index + 1 :])
        option, equals, value = word.partition("=")
        if option in OPTIONS and not equals:
            index += 1
            value = words[index] if index < len(words) else ""
        if option in OPTIONS and value and not value.startswith("-"):
            values[option] = value  # argparse's rule too: the last one given wins
        elif jail is None and not word.startswith("-"):
            jail = word
        else:
            return None
        index += 1
    return None


def parse_args(words: list[str], root: str | None) -> "argparse.Namespace":
    """`exec`'s own arguments (after the word `exec`) parsed by argparse, without the other commands."""
    import argparse

    parser = argparse.ArgumentParser(prog="tui-jail exec", description=DESCRIPTION)
    _add_arguments(parser)
    parser.set_defaults(root=root, command="exec")
    return parser.parse_args(words)


def _add_arguments(parser: "argparse.ArgumentParser") -> None:
    import argparse

    parser.add_argument("jail", metavar="JAIL", help="the name of an applied exec jail")
    _add_options(parser)
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- COMMAND...", help="the command and its arguments"
    )
    parser.set_defaults(handler=run)


def _add_options(parser: "argparse.ArgumentParser") -> None:
    import argparse
    from pathlib import Path

    # commands.common.add_root's --root, which this module does not import (argparse, json, pathlib)
    parser.add_argument(
        "--root",
        metavar="DIR",
        type=Path,
        # SUPPRESS: an unset exec --root must not overwrite `tui-jail --root DIR exec`
        default=argparse.SUPPRESS,
        help="the system root, as if it were / (default: /)",
    )
    parser.add_argument("--user", metavar="U", help="run as this user instead of the spec's exec.user")
    parser.add_argument(
        "--pty",
        action="store_true",
        help="give the command a terminal of its own (an interactive shell); without it, it has none",
    )
    # verify's probe as root in the jail (`tui_jail.verify.exec`); not for jobs, so not in the help
    parser.add_argument("--root-probe", action="store_true", help=argparse.SUPPRESS)


def _options_after_jail(args: "argparse.Namespace") -> list[str]:
    """argparse's REMAINDER swallows options written after JAIL (`exec JAIL --root DIR -- CMD`, as the
    contract writes it): read the ones before `--` here; everything after `--` is the command."""
    import argparse

    if "--" not in args.command:
        return list(args.command)
    split = args.command.index("--")
    late = argparse.ArgumentParser(prog=f"tui-jail exec {args.jail}", add_help=False)
    _add_options(late)
    late.set_defaults(root=None)
    options = late.parse_args(args.command[:split])
    args.root = options.root or args.root
    args.user = options.user or args.user
    args.root_probe = options.root_probe or args.root_probe
    args.pty = options.pty or args.pty
    return list(args.command[split + 1 :])


def run(args: "argparse.Namespace") -> int:
    """The handler the full parser dispatches to."""
    command = _options_after_jail(args)
    return launch(args.jail, args.root, args.user, command, root_probe=args.root_probe, pty=args.pty)


def launch(
    jail: str,
    root: "str | PathLike[str] | None",
    user: str | None,
    command: list[str],
    *,
    root_probe: bool = False,
    pty: bool = False,
) -> int:
    from tui_jail.jailexec import launcher

    if not command:
        raise Refused("exec: no command given (tui-jail exec JAIL -- COMMAND...)")
    try:
        prepared = launcher.prepare(jail, str(root or "/"), command, user=user, root_probe=root_probe, pty=pty)
        return launcher.run(prepared)
    except Refused as exc:
        raise Refused(f"exec {jail}: {exc}; the command did not run") from None
