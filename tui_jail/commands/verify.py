"""`tui-jail verify (--preset NAME | --spec FILE) [--root DIR] [--json]`: prove an applied jail works.

Runs every backend's checks for the spec (`tui_jail.verify.checks_for`) concurrently. On a terminal each
result is printed as it arrives, then a table of all of them; piped, only the table; `--json` one
document. Exit 1, with one line on stderr, when any check fails.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

from tui_jail.commands.common import (
    Subparsers,
    add_json,
    add_root,
    add_spec_source,
    print_json,
    refuse,
    spec_document,
    spec_source_line,
)
from tui_jail.core.checks import Check, CheckResult, run_checks
from tui_jail.paths.system import SystemRoot
from tui_jail.txn.admin import admin_connection
from tui_jail.verify.sshd_answers import SshdAnswers, asked_in_document

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    import argparse
    from contextlib import AbstractContextManager

    from rich.table import Table
    from rich.text import Text

    from tui_jail.backends.sshd import Connection

STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "skip": "dim"}
MARK = {"pass": "✓", "fail": "✗", "warn": "!", "skip": "-"}


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check that an applied jail works, and that your own access is intact",
        description="Check the live system against the spec: sshd's view of the jailed and other connections "
        "(yours included), the chroot chain, the mounts and fstab, the account. Exit 1 if any check fails.",
    )
    add_spec_source(parser)
    add_root(parser)
    add_json(parser)
    parser.set_defaults(**PLAIN.defaults)


def run(args: argparse.Namespace) -> int:
    document = spec_document(args)
    system, admin = SystemRoot(args.root), admin_connection(os.environ)
    with _ask_sshd(document, system, admin) as answers:
        # the validation and the plan, after sshd has started: beside it
        from tui_jail.core.spec import parse_spec
        from tui_jail.verify import checks_for

        spec = parse_spec(document)
        checks = checks_for(spec, system, admin=admin, answers=answers)
        # --json is one document: no rich, whose import costs more than some of the checks
        results = run_checks(checks) if args.json else _run_shown(spec.name, checks)
    failed = [r.name for r in results if r.status == "fail"]
    if args.json:
        print_json({"jail": spec.name, "ok": not failed, "results": [r.to_json() for r in results]})
    if failed:
        return refuse(
            f"verification of {spec.name} failed: {len(failed)} of {len(results)} checks ({', '.join(failed)})"
        )
    return 0


# its plain command lines, read without argparse (see cli._plain_args); the parser's defaults
PLAIN = spec_source_line(run)


def _ask_sshd(
    document: object, system: SystemRoot, admin: Connection | None
) -> AbstractContextManager[SshdAnswers | None]:
    """An sftp jail's `sshd -T -C` runs, started now, from the spec as read: the longest wait of a
    verification, so everything else (importing pydantic, validating the spec, the plan, the other
    checks) runs while sshd does. The checks read their answers (see `tui_jail.verify.sshd_answers`)."""
    asked = asked_in_document(document, admin)
    if asked is None:
        return contextlib.nullcontext()
    return SshdAnswers(system, asked.everyone).start()


def _run_shown(name: str, checks: list[Check]) -> list[CheckResult]:
    """Run the checks for a reader: on a terminal each result as it arrives, then the table; piped, the table."""
    from rich.console import Console

    console = Console(file=sys.stdout, highlight=False)
    lock = threading.Lock()

    def progress(result: CheckResult) -> None:
        with lock:  # results arrive from the checks' threads
            console.print(_line(result))

    results = run_checks(checks, on_result=progress if console.is_terminal else None)
    if console.is_terminal:
        console.print()
    console.print(table(name, results))
    return results


def _line(result: CheckResult) -> Text:
    from rich.text import Text

    line = Text().append(f"{MARK[result.status]} ", style=STYLE[result.status])
    return line.append(f"{result.name}: ", style="bold").append(result.detail)


def table(name: str, results: list[CheckResult]) -> Table:
    from rich.table import Table
    from rich.text import Text

    counts = {status: sum(r.status == status for r in results) for status in STYLE}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    grid = Table(title=f"jail {name}: {summary}", title_justify="left", expand=False)
    grid.add_column("", no_wrap=True)
    grid.add_column("check", style="bold")
    grid.add_column("result")
    for result in results:
        detail = result.detail + (f"\nfix: {result.fix}" if result.status == "fail" and result.fix else "")
        if result.status == "warn" and result.fix:
            detail += f"\nhint: {result.fix}"
        grid.add_row(Text(MARK[result.status], style=STYLE[result.status]), result.name, detail)
    return grid
