"""What keeps `tui-jail verify` fast (issue 15), each a property the process shows in its own audit events:
its `sshd -T -C` runs, the longest wait of a verification, start before the plan is imported (which then
runs beside sshd), and pydantic is never imported for a plain valid spec (core.spec); they run once per
connection asked about, never again for the checks that read the answers; and they report exactly what
the checks asked the slow way report, also when the spec as written names its addresses otherwise than
validation does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_verify_sftp import SPEC, write_plan_files

from tui_jail.core.checks import run_checks
from tui_jail.core.spec import parse_spec
from tui_jail.paths.system import SystemRoot
from tui_jail.verify import checks_for

# The CLI in a fresh interpreter, run as the console script runs it (its own exit included); an audit
# hook writes to stderr, in the order they happen, the first import of each module named and every
# sshd -T run started (sys.audit's "import" fires when a module is loaded, "subprocess.Popen" or
# "os.posix_spawn" when a process is started), and an atexit handler says when the interpreter's
# teardown runs.
AUDITED = """
import atexit, json, os, sys
WATCHED = ("pydantic", "tui_jail.core.plan", "rich", "textual", "sh", "asyncio", "socket")
WATCHED += ("dataclasses", "subprocess", "signal", "argparse", "difflib")
STARTS = ("subprocess.Popen", "os.posix_spawn")
def note(event):
    os.write(2, (json.dumps(event) + "\\n").encode())
def hook(event, args):
    if event == "import" and args[0] in WATCHED:
        note(args[0])
    elif event in STARTS and "-T" in args[1] and any(str(a).endswith("sshd") for a in args[1]):
        note("sshd -T " + args[1][-1])
sys.addaudithook(hook)
atexit.register(note, "teardown")
from tui_jail import cli
cli.main()
"""


def audited_verify(root: Path, spec_file: Path) -> tuple[dict[str, str], list[str]]:
    """(each check's status, the events) of `tui-jail verify --json` on `root`, not logged in over SSH."""
    argv = [sys.executable, "-c", AUDITED, "verify", "--json", "--spec", str(spec_file), "--root", str(root)]
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith('"')]
    statuses = {r["name"]: r["status"] for r in json.loads(result.stdout)["results"]}
    return statuses, events


# as written, an IPv4 network in its IPv4-mapped IPv6 form; validation makes it 203.0.113.0/24
MAPPED = {**SPEC, "sftp": {**SPEC["sftp"], "addresses": ["::ffff:203.0.113.0/120", "2001:db8:5::/64"]}}


def configured(root: Path, tmp_path: Path, written: dict[str, object] = SPEC) -> Path:
    """`root` with the jail's files written (its sshd drop-in among them: sshd answers for real), and the
    spec file as `written`."""
    write_plan_files(parse_spec(SPEC), SystemRoot(root))
    spec_file = tmp_path / "box.json"  # JSON is YAML
    spec_file.write_text(json.dumps(written))
    return spec_file


def test_sshd_runs_start_before_the_plan_is_imported_and_pydantic_never_is(sample_root: Path, tmp_path: Path) -> None:
    _, events = audited_verify(sample_root, configured(sample_root, tmp_path))
    runs = [e for e in events if e.startswith("sshd -T ")]
    assert "tui_jail.core.plan" in events and runs, events  # both seen: the order means something
    assert events.index(runs[-1]) < events.index("tui_jail.core.plan") and "pydantic" not in events, events


def test_sshd_runs_start_before_dataclasses_and_subprocess_and_without_argparse(
    sample_root: Path, tmp_path: Path
) -> None:
    """Nothing on the way to sshd's runs is a dataclass (the connections, the checks: records), nor
    subprocess (the runs are posix_spawn'ed) with the signal enums it loads: each cost more than starting
    the runs; the command line is read without argparse (see tui_jail.cli._plain_args), and difflib is
    left to the plans that show a diff."""
    _, events = audited_verify(sample_root, configured(sample_root, tmp_path))
    runs = [e for e in events if e.startswith("sshd -T ")]
    assert runs and "tui_jail.core.plan" in events, events  # the hook saw the runs and the imports
    assert not {"dataclasses", "subprocess", "signal"} & set(events[: events.index(runs[0])]), events
    assert not {"argparse", "difflib"} & set(events), events


def test_json_output_loads_no_ui_and_skips_the_teardown(sample_root: Path, tmp_path: Path) -> None:
    """--json is one document: no rich (nor textual, sh, asyncio; nor socket, which only sshd's reload
    uses); and the process ends with os._exit once it is written, without the interpreter's teardown of
    pydantic and the rest (tens of milliseconds)."""
    statuses, events = audited_verify(sample_root, configured(sample_root, tmp_path))
    assert statuses and "tui_jail.core.plan" in events, events  # the document came, and the hook saw imports
    assert not {"rich", "textual", "sh", "asyncio", "socket", "teardown"} & set(events), events


def test_each_connection_is_asked_once(sample_root: Path, tmp_path: Path) -> None:
    """Both ends of each network and an address outside them, for the one user: five runs, no second
    round for the checks."""
    _, events = audited_verify(sample_root, configured(sample_root, tmp_path))
    runs = [e.removeprefix("sshd -T ") for e in events if e.startswith("sshd -T ")]
    assert len(runs) == len(set(runs)) == 5, runs


@pytest.mark.parametrize("written", [SPEC, MAPPED], ids=["as-validated", "ipv4-mapped"])
def test_the_results_are_those_of_each_check_asking_alone(
    sample_root: Path, tmp_path: Path, written: dict[str, object]
) -> None:
    """Every check reports what it reports when it asks sshd itself; with the mapped form too, whose
    early answers are for addresses validation does not keep (the checks ask again)."""
    statuses, events = audited_verify(sample_root, configured(sample_root, tmp_path, written))
    alone = run_checks(checks_for(parse_spec(written), SystemRoot(sample_root), admin=None), concurrent=False)
    assert statuses == {r.name: r.status for r in alone}
    assert statuses["sshd: media from 203.0.113.1 is jailed"] == "pass"  # real answers, not errors
    asked_early = any("addr=::ffff:cb00:7101," in event for event in events)  # 203.0.113.1, mapped
    assert asked_early == (written is MAPPED), events  # the mapped form was asked about, then the right one
