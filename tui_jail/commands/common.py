"""Pieces every command shares: the spec arguments, --root, JSON output, one-line refusals.

Imported by every command, so it imports only what all of them need: the spec (and with it pydantic)
and the journal are loaded by the helpers that use them, not by `status`, `confirm` or `rollback`
for nothing (tests/test_cli_imports.py holds them to that); nor argparse, which those three skip on
their plain command lines (see `tui_jail.cli`): it is imported where a parser is built or refuses."""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
# what each command module's add_parser receives (subscriptable for mypy only)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from tui_jail.core.spec import Spec
    from tui_jail.paths.files import Root

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = (
        "argparse._SubParsersAction"  # a name for annotations only: the modules importing it use none at run time
    )


def root_dir(text: str) -> Path:
    """--root's type: an existing directory. A mistyped root must not read as an empty system, where
    `recover` would find nothing to recover and `status` no transactions."""
    from pathlib import Path  # here: the short commands' plain command lines take `root_text`

    return Path(root_text(text))


def root_text(text: str) -> str:
    """`root_dir`, as text (the same string: pathlib's normal form), for the short commands, whose
    plain command lines (see `tui_jail.cli`) do without pathlib: it and the urllib.parse and ipaddress
    it imports are a sixth of a rollback's start-up."""
    try:
        is_dir = stat.S_ISDIR(os.stat(text).st_mode)
    except PermissionError:
        raise _type_error(f"{text}: permission denied (run tui-jail as root)") from None
    except OSError:
        is_dir = False
    if not is_dir:
        raise _type_error(f"{text}: no such directory")
    return _normal_form(text)


def _normal_form(text: str) -> str:
    """`str(pathlib.PurePosixPath(text))`: empty and `.` components dropped, a trailing slash too, and
    `..` kept (it is resolved on the disk, where a link may lead elsewhere than the text says); two
    leading slashes stay two, as POSIX leaves their meaning to the system."""
    names = [name for name in text.split("/") if name and name != "."]
    top = "//" if text.startswith("//") and not text.startswith("///") else "/" if text.startswith("/") else ""
    return top + "/".join(names) or "."


def _type_error(message: str) -> Exception:
    """argparse's refusal of an option's value (a usage error, exit 2): imported only to refuse one."""
    import argparse

    return argparse.ArgumentTypeError(message)


def seconds(text: str) -> float:
    """--confirm-timeout's and --extend's type: refused before anything is planned or shown."""
    from tui_jail.txn.journal import wait_problem

    try:
        value = float(text)
    except ValueError:
        raise _type_error(f"{text!r} is not a number of seconds") from None
    if problem := wait_problem(value):
        raise _type_error(problem)
    return value


class PlainLine:
    """The plain command line of a command typed often or timed closely (a rollback's clock running, a
    plan or verify of a large system), which `tui_jail.cli` reads without argparse (see
    `cli._plain_args`): its flags (store_true), its options taking one value (with the value's type),
    whether one TXN may stand among them, the options of which exactly one must be given (`one_of`: a
    required mutually exclusive group), whether it takes its own `--root DIR` (`add_root`: given, it
    replaces the one before the command), and what its parser's set_defaults sets. It must say what the
    command's add_parser says: tests/test_cli_plain.py reads command lines both ways."""

    __slots__ = ("defaults", "flags", "one_of", "own_root", "txn", "values")

    def __init__(
        self,
        defaults: dict[str, Any],
        *,
        flags: tuple[str, ...] = (),
        values: dict[str, Callable[[str], Any]] | None = None,
        txn: bool = False,
        one_of: tuple[str, ...] = (),
        own_root: bool = False,
    ) -> None:
        self.defaults, self.flags, self.values, self.txn = defaults, flags, values or {}, txn
        self.one_of, self.own_root = one_of, own_root

    def read(self, words: list[str]) -> dict[str, Any] | None:
        """The parser's attributes for the words after the command; None when they are not plain (an
        option twice, an abbreviation, `--opt=VALUE`, a value the option's type refuses, none or two of
        `one_of`...)."""
        values = {**self.values, "--root": root_text} if self.own_root else self.values  # as text: see root_text
        read: dict[str, Any] = {_dest(flag): False for flag in self.flags}
        read |= {_dest(option): None for option in self.values} | ({"txn": None} if self.txn else {})
        seen = set()
        rest = iter(words)
        for word in rest:
            if word in seen:
                return None
            seen.add(word)
            if word in self.flags:
                read[_dest(word)] = True
            elif word in values:
                value = next(rest, "-")
                if value.startswith("-"):
                    return None
                try:
                    read[_dest(word)] = values[word](value)
                except Exception:  # noqa: BLE001 — argparse's type error: the full parser says it
                    return None
            elif self.txn and not word.startswith("-") and read["txn"] is None:
                read["txn"] = word
            else:
                return None
        if self.one_of and len(seen.intersection(self.one_of)) != 1:
            return None
        return read | self.defaults


def _dest(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def add_root(parser: argparse.ArgumentParser) -> None:
    import argparse

    parser.add_argument(
        "--root",
        metavar="DIR",
        type=root_dir,
        # SUPPRESS: an unset subcommand --root must not overwrite `tui-jail --root DIR COMMAND`
        default=argparse.SUPPRESS,
        help="the system root to read and change, as if it were / (default: /)",
    )


def add_spec_source(parser: argparse.ArgumentParser) -> None:
    from pathlib import Path  # here: see root_text

    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--preset", metavar="NAME", help="start from a shipped preset (see `tui-jail presets`)")
    group.add_argument("--spec", metavar="FILE", type=Path, help="a spec YAML file (e.g. an edited preset)")


def spec_source_line(handler: Callable[[argparse.Namespace], int]) -> PlainLine:
    """The plain command line of a command built of add_spec_source, add_root and add_json (plan, verify)."""
    from pathlib import Path  # here: see root_text (plan and verify load it with the spec anyway)

    return PlainLine(
        {"handler": handler},
        flags=("--json",),
        values={"--preset": str, "--spec": Path},
        one_of=("--preset", "--spec"),
        own_root=True,
    )


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
    import json  # only for --json: a plan's text and status's lines are printed without it

    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def check_watchdogs(root: Root) -> None:
    """Every command that reads the journal first makes sure each unfinished transaction is watched
    (see `watched.ensure_watched`), and says on stderr what it found and did."""
    from tui_jail.txn.watched import ensure_watched

    for line in ensure_watched(root):
        print(f"tui-jail: {line}", file=sys.stderr)


def refuse(message: str) -> int:
    print(f"tui-jail: {message}", file=sys.stderr)
    return 1
