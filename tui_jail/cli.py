"""The `tui-jail` command: the wizard by default, or one of the plain commands beneath it.

Parses arguments, dispatches to `tui_jail.commands.<name>`, and turns every expected failure into
one line on stderr with exit 1 (argparse's usage errors exit 2). No traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from tui_jail.commands import COMMAND_MODULES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-jail",
        description=(
            "Build chroot jails (SFTP-only and exec jails) without locking yourself out. "
            "With no command, start the wizard."
        ),
        epilog="Exit codes: 0 success, 1 refused (reason on stderr), 2 usage error.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--root",
        metavar="DIR",
        type=Path,
        default=None,
        help="the system root to work on, as if it were / (default: /)",
    )
    where.add_argument(
        "--sandbox", action="store_true", help="work on a throwaway root with a realistic /etc (safe to try everything)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"tui_jail.commands.{name}")
        module.add_parser(subparsers)
    return parser


def _exec_args(argv: list[str]) -> argparse.Namespace | None:
    """`[--root DIR] exec ...`, parsed by the exec command alone: exec is on every job's start-up path and
    must not import every command (and with them pydantic). None for anything else, --sandbox included,
    which the full parser handles (it also knows exec, for `tui-jail --help`)."""
    root = None
    if argv[:1] == ["--root"] and len(argv) > 1:
        root, argv = Path(argv[1]), argv[2:]
    elif argv[:1] and argv[0].startswith("--root="):
        root, argv = Path(argv[0].removeprefix("--root=")), argv[1:]
    if argv[:1] != ["exec"]:
        return None
    from tui_jail.commands import exec as exec_command

    return exec_command.parse_args(argv[1:], root)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _exec_args(argv) or build_parser().parse_args(argv)
    if args.root is None:
        args.root = Path("/")
    try:
        if args.command is None:
            from tui_jail.commands import wizard

            return wizard.run(args)
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("tui-jail: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 — the last line of defence: one line, never a traceback
        return _report(exc)


def _report(exc: Exception) -> int:
    from tui_jail.errors import Refused
    from tui_jail.plan import PlanError
    from tui_jail.presets import UnknownPreset
    from tui_jail.spec import SpecError
    from tui_jail.yamlio import YamlError

    if os.environ.get("TUI_JAIL_DEBUG"):
        raise exc
    expected = (Refused, SpecError, PlanError, UnknownPreset, YamlError)
    message = str(exc.args[0]) if isinstance(exc, UnknownPreset) and exc.args else str(exc)
    if not isinstance(exc, expected):
        message = f"internal error: {type(exc).__name__}: {exc} (set TUI_JAIL_DEBUG=1 for the traceback)"
    print(f"tui-jail: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
