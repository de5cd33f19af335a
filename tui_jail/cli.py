"""The `tui-jail` command: the wizard by default, or one of the plain commands beneath it.

Parses arguments, dispatches to `tui_jail.commands.<name>`, and turns every expected failure into
one line on stderr with exit 1 (argparse's usage errors exit 2). No traceback reaches the user.
"""

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from types import SimpleNamespace

# argparse, pathlib and the command modules are imported where the full parser is built: `tui-jail
# exec` is on every job's start-up path and must not pay for them (see `_exec_job`).


def build_parser(only: str | None = None, *, wizard: bool = False) -> "argparse.ArgumentParser":
    """The whole parser, or with `only` one command's, or with `wizard` none: each command module
    imports what it runs, and a command line naming one need not pay for the other nine, nor the
    wizard's for any (`--help` builds the whole one)."""
    import argparse
    import importlib

    from tui_jail.commands import COMMAND_MODULES
    from tui_jail.commands.common import root_dir

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
        type=root_dir,
        default=None,
        help="the system root to work on, as if it were / (default: /)",
    )
    where.add_argument(
        "--sandbox", action="store_true", help="work on a throwaway root with a realistic /etc (safe to try everything)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in () if wizard else COMMAND_MODULES if only is None else (only,):
        module = importlib.import_module(f"tui_jail.commands.{name}")
        module.add_parser(subparsers)
    return parser


def _exec_job(words: list[str]) -> "Callable[[], int] | None":
    """`[--root DIR] exec ...`, read by the exec command alone: exec is on every job's start-up path and
    must not import every command (and with them pydantic). None for anything else, --sandbox included,
    which the full parser handles (it also knows exec, for `tui-jail --help`)."""
    root, words = _root_prefix(words)
    if words[:1] != ["exec"]:
        return None
    from tui_jail.commands import exec as exec_command

    return exec_command.job(words[1:], root)


def _root_prefix(words: list[str]) -> tuple[str | None, list[str]]:
    """A leading `--root DIR` or `--root=DIR` and the words after it; (None, words) when there is none."""
    if words[:1] == ["--root"] and len(words) > 1:
        return words[1], words[2:]
    if words[:1] and words[0].startswith("--root=") and words[0] != "--root=":  # an empty one: the full parser's
        return words[0].removeprefix("--root="), words[1:]
    return None, words


def _plain_args(words: list[str]) -> "SimpleNamespace | None":
    """What the full parser makes of a plain command line of a command that declares one (`PLAIN`:
    status, confirm and rollback, typed with a rollback's clock running; plan and verify, timed on
    large systems) or of the wizard's, read without building it: argparse, gettext, locale and shutil
    are a tenth of those commands' start-up, and a few milliseconds before the wizard's first screen.
    Plain means an optional leading `--root DIR` and then nothing (the wizard) or only the words the
    command's `PLAIN` names, spelt out; anything else (--help, --sandbox, an abbreviation, a bad value)
    is None, for the full parser to read, refuse or explain. tests/test_cli_plain.py holds both readings equal
    (a command's root is the same path as text)."""
    from types import SimpleNamespace

    from tui_jail.commands import COMMAND_MODULES

    root, rest = _root_prefix(words)
    if root is not None and root.startswith("-"):
        return None
    values: dict[str, object] | None = {}
    if not rest:
        command = None
    elif rest[0] in COMMAND_MODULES:
        command = rest[0]
        # __import__, not importlib.import_module: importlib's package brings warnings, ~2 M
        # instructions of the short commands' start-up (the full parser's build_parser uses it)
        module = f"tui_jail.commands.{command}"
        __import__(module)
        plain = getattr(sys.modules[module], "PLAIN", None)
        values = None if plain is None else plain.read(rest[1:])
    else:
        return None
    if values is None:
        return None
    from tui_jail.commands.common import root_dir, root_text

    # a command's plain line gives its root as text, which its whole path accepts (pathlib is a sixth of
    # a short command's start-up); the wizard's, whose screens work on Paths, as the full parser does
    read_root = root_dir if command is None else root_text
    try:
        root_given = read_root("/" if root is None else root)
    except Exception:  # noqa: BLE001 — argparse's type error: the full parser says it as a usage error
        return None
    # a command's own --root (see PlainLine.own_root) replaces the one before it, as in the full parser
    return SimpleNamespace(**{"root": root_given, "sandbox": False, "command": command, **values})


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: this process's). As the console entry point (no `argv`), a
    command's process ends as soon as it is done (see `_end_process`); called with words, as the tests
    do, it returns the exit code like any function."""
    words = sys.argv[1:] if argv is None else argv
    job = _exec_job(words)
    if job is None:
        from functools import partial

        from tui_jail.txn.session import adopt_login

        adopt_login()  # before anything reads SSH_CONNECTION or the user: su, sudo and tmux change them
        args = _plain_args(words) or _parse(words)
        if args.command is None:  # Textual restores the terminal in its own teardown: the wizard keeps it
            return _guarded(partial(_wizard, args))
        job = partial(_command, args)
    code = _guarded(job)
    if argv is None:
        _end_process(code)
    return code


def _parse(words: list[str]) -> "argparse.Namespace":
    """The full parser's reading of `words` (a command, or none for the wizard); exits 2 on a usage error."""
    from pathlib import Path

    args = build_parser(_command_named(words), wizard=_wizard_named(words)).parse_args(words)
    if args.root is None:
        args.root = Path("/")
    return args


def _command_named(words: list[str]) -> str | None:
    """The command `words` run when only --root DIR or --sandbox come before it; None for anything else
    (--help, the wizard, a word that is no command), which the whole parser reads."""
    from tui_jail.commands import COMMAND_MODULES

    word = _first_word(words)
    return word if word in COMMAND_MODULES else None


def _wizard_named(words: list[str]) -> bool:
    """Whether `words` start the wizard: nothing but --root DIR or --sandbox (a missing DIR included,
    which the wizard's parser refuses as the whole one would)."""
    return _first_word(words) is None


def _first_word(words: list[str]) -> str | None:
    """The first word past the options --root DIR and --sandbox, or None when there is none."""
    rest = iter(words)
    for word in rest:
        if word == "--root":
            next(rest, None)
        elif not (word.startswith("--root=") or word == "--sandbox"):
            return word
    return None


def _command(args: "argparse.Namespace | SimpleNamespace") -> int:
    if getattr(args, "needs_root", False) and os.geteuid() != 0:
        from tui_jail.core.errors import Refused

        # at once, not half-way through with a permission error
        raise Refused(f"tui-jail {args.command} needs root: it changes system files, mounts and the journal")
    return int(args.handler(args))


def _wizard(args: "argparse.Namespace | SimpleNamespace") -> int:
    from tui_jail.commands import wizard

    return wizard.run(args)


def _guarded(call: "Callable[[], int]") -> int:
    try:
        return call()
    except KeyboardInterrupt:
        print("tui-jail: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 — the last line of defence: one line, never a traceback
        return _report(exc)


def _end_process(code: int) -> None:
    """A command's work is all this process did: end it without the interpreter's teardown, which frees
    every module one by one (tens of milliseconds after pydantic or rich, for nothing). Everything the
    command wrote is already written and fsynced (the journal and the path layer fsync before they
    return); only the standard streams are flushed here. A thread still running (none of the commands
    leaves one) keeps the ordinary exit, which waits for it; so does a profiler or tracer (cProfile,
    coverage), which reports at exit."""
    threading = sys.modules.get("threading")
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return
    if threading is not None and any(
        thread.is_alive() and not thread.daemon and thread is not threading.main_thread()
        for thread in threading.enumerate()
    ):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:  # a closed stream cannot be told more anyway: the exit status stands
        os._exit(code)


def _report(exc: Exception) -> int:
    from tui_jail.core.errors import Refused

    if os.environ.get("TUI_JAIL_DEBUG"):
        raise exc
    print(f"tui-jail: {str(exc) if isinstance(exc, Refused) else _message(exc)}", file=sys.stderr)
    return 1


def _message(exc: Exception) -> str:
    # Only here, past Refused (all exec ever raises), are the spec's and the planner's errors imported:
    # they bring pydantic, which a refused job should not wait for.
    from tui_jail.core.plan import PlanError
    from tui_jail.core.spec import SpecError
    from tui_jail.core.yamlio import YamlError
    from tui_jail.paths.resolve import PathRefused
    from tui_jail.presets import UnknownPreset

    if isinstance(exc, UnknownPreset) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, (SpecError, PlanError, UnknownPreset, YamlError, PathRefused)):
        return str(exc)
    if isinstance(exc, PermissionError):
        return f"{exc.strerror}: {exc.filename} (tui-jail reads and changes system files: run it as root)"
    return f"internal error: {type(exc).__name__}: {exc} (set TUI_JAIL_DEBUG=1 for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
