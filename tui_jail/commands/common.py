"""Pieces every command shares: the spec arguments, --root, JSON output, one-line refusals.

Imported by every command, so it imports only what all of them need: the spec (and with it pydantic)
and the journal are loaded by the helpers that use them, not by `status`, `confirm` or `rollback`
for nothing (tests/test_cli_imports.py holds them to that)."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
# what each command module's add_parser receives (subscriptable for mypy only)
if TYPE_CHECKING:
    from typing import Any

    from tui_jail.core.spec import Spec

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction


def root_dir(text: str) -> Path:
    """--root's type: an existing directory. A mistyped root must not read as an empty system, where
    `recover` would find nothing to recover and `status` no transactions."""
    try:
        is_dir = stat.S_ISDIR(os.stat(text).st_mode)
    except PermissionError:
        raise argparse.ArgumentTypeError(f"{text}: permission denied (run tui-jail as root)") from None
    except OSError:
        is_dir = False
    if not is_dir:
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    return Path(text)


def seconds(text: str) -> float:
    """--confirm-timeout's and --extend's type: refused before anything is planned or shown."""
    from tui_jail.txn.journal import wait_problem

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if problem := wait_problem(value):
        raise argparse.ArgumentTypeError(problem)
    return value


def add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        metavar="DIR",
        type=root_dir,
        # SUPPRESS: an unset subcommand --root must not overwrite `tui-jail --root DIR COMMAND`
        default=argparse.SUPPRESS,
        help="the system root to read and change, as if it were / (default: /)",
    )


def add_spec_source(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--preset", metavar="NAME", help="start from a shipped preset (see `tui-jail presets`)")
    group.add_argument("--spec", metavar="FILE", type=Path, help="a spec YAML file (e.g. an edited preset)")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def load_spec(args: argparse.Namespace) -> Spec:
    from tui_jail.core.spec import parse_spec

    return parse_spec(spec_document(args))


def spec_document(args: argparse.Namespace) -> Any:
    """The spec --spec FILE or --preset NAME gives, as read and not yet validated (so without pydantic):
    what `load_spec` validates, for a command with work to start before that (verify's sshd runs)."""
    if args.spec is not None:
        from tui_jail.core.yamlio import load_yaml_file

        return load_yaml_file(args.spec, comments=False)
    from tui_jail.presets import preset_data

    return preset_data(args.preset)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def check_watchdogs(root: Path) -> None:
    """Every command that reads the journal first makes sure each unfinished transaction is watched
    (see `watched.ensure_watched`), and says on stderr what it found and did."""
    from tui_jail.txn.watched import ensure_watched

    for line in ensure_watched(root):
        print(f"tui-jail: {line}", file=sys.stderr)


def refuse(message: str) -> int:
    print(f"tui-jail: {message}", file=sys.stderr)
    return 1
