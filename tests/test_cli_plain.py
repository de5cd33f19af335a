"""`status`, `confirm`, `rollback`, `plan` and `verify` read their plain command lines without building
argparse's parser (tui_jail.cli._plain_args, a tenth of their start-up): whatever that reading accepts, the
full parser reads alike, attribute for attribute; whatever is not plain (help, abbreviations,
`--opt=VALUE`, a value argparse refuses) is left to the full parser, which explains or refuses it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui_jail import cli

TXN = "20261202-021500-box-1a2b"
PLAIN = [
    [],  # the wizard
    ["status"],
    ["status", "--json"],
    ["confirm"],
    ["confirm", TXN],
    ["confirm", "--same-session"],
    ["confirm", "--extend", "60"],
    ["confirm", TXN, "--extend", "1.5", "--same-session"],
    ["confirm", "--same-session", TXN],
    ["rollback"],
    ["rollback", TXN],
    ["plan", "--preset", "seedbox-sftp"],
    ["plan", "--spec", "jail.yaml", "--json"],
    ["plan", "--json", "--spec", "jail.yaml", "--root", "."],  # the command's own --root replaces the first
    ["verify", "--json", "--preset", "seedbox-sftp"],
    ["verify", "--root", "/", "--spec", "jail.yaml"],
]
NOT_PLAIN = [
    ["status", "--js"],  # an abbreviation argparse accepts
    ["status", "--json", "--json"],
    ["confirm", "--extend=60"],
    ["confirm", "--extend", "0"],  # refused by the option's type: a usage error
    ["confirm", "--extend", "sixty"],
    ["confirm", "--extend"],
    ["confirm", TXN, TXN],
    ["confirm", "-h"],
    ["rollback", "--json"],
    ["status", TXN],
    ["status", "--root", "."],  # the command's own --root
    ["plan"],  # one of --preset and --spec is required
    ["plan", "--preset", "seedbox-sftp", "--spec", "jail.yaml"],  # and only one
    ["plan", "--spec=jail.yaml"],
    ["plan", "--spec", "jail.yaml", "--root", "/no/such/dir"],
    ["verify", "--spec", "jail.yaml", "--root"],
    ["verify", "--spec", "jail.yaml", "--sandbox"],
    ["remove", "box"],  # declares no plain line
]


def comparable(args: object) -> dict[str, object]:
    """The attributes, the root as text: a short command's plain line gives it so (its path does without
    pathlib), the full parser a Path; the same path either way."""
    values = dict(vars(args))
    values["root"] = os.fspath(values["root"])
    return values


@pytest.mark.parametrize("words", PLAIN, ids=lambda words: " ".join(words) or "the wizard")
def test_a_plain_line_reads_as_the_full_parser_reads_it(words: list[str], tmp_path: Path) -> None:
    for root in ([], ["--root", str(tmp_path)], [f"--root={tmp_path}"]):
        plain = cli._plain_args([*root, *words])
        assert plain is not None, [*root, *words]
        assert comparable(plain) == comparable(cli._parse([*root, *words]))


@pytest.mark.parametrize("words", NOT_PLAIN, ids=" ".join)
def test_anything_else_goes_to_the_full_parser(words: list[str], tmp_path: Path) -> None:
    assert cli._plain_args(["--root", str(tmp_path), *words]) is None


def test_a_root_that_is_no_directory_or_an_option_goes_to_the_full_parser(tmp_path: Path) -> None:
    assert cli._plain_args(["--root", str(tmp_path / "missing"), "status"]) is None
    assert cli._plain_args(["--root", "-x", "status"]) is None
    assert cli._plain_args(["--sandbox", "status"]) is None
    refused = subprocess.run(
        [sys.executable, "-m", "tui_jail", "--root", str(tmp_path / "missing"), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "no such directory" in refused.stderr, refused.stderr


def test_a_bad_value_is_still_a_usage_error_and_help_is_argparses(tmp_path: Path) -> None:
    def run(*words: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "tui_jail", "--root", str(tmp_path), *words]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    bad = run("confirm", "--extend", "0")
    assert bad.returncode == 2 and "usage: tui-jail confirm" in bad.stderr and "--extend" in bad.stderr, bad.stderr
    neither = run("plan", "--json")
    assert neither.returncode == 2 and "one of the arguments --preset --spec is required" in neither.stderr
    shown = run("status", "--help")
    assert shown.returncode == 0 and shown.stdout.startswith("usage: tui-jail status") and "--json" in shown.stdout
