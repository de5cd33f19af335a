"""The CLI imports the command it runs and no other (each of the ten costs start-up time), while
`tui-jail --help` still lists them all; and the short commands an admin types with a rollback's clock
running — `status`, `confirm`, `rollback` — import none of the heavy libraries: not pydantic (the
spec), rich (their output goes to a pipe here, and is plain text anyway), textual, ruamel.yaml, nor
sh and the asyncio it brings (issue 15: each is tens of milliseconds of a ~60 ms budget); nor the
standard modules that cost them milliseconds each: dataclasses (and the inspect it brings), typing
(TYPE_CHECKING is spelt without it), signal's enums, subprocess, argparse with the gettext,
locale and shutil it loads to build a parser (their plain command lines are read without it:
tests/test_cli_plain.py), and pathlib with the urllib.parse and ipaddress it loads (the journal and
the path layer work on text; a Path is made only for a caller that asks for one). A rollback that
undoes a change is held to most of these too."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nsenv
import pytest
from txn_helpers import apply_plain, cli, seedbox_text, wait_watchdogs_gone

import tui_jail
from tui_jail.commands import COMMAND_MODULES
from tui_jail.txn import journal

TREE = Path(tui_jail.__file__).resolve().parents[1]

LOADED = """
import sys
from tui_jail import cli
code = cli.main(sys.argv[1:])
print(" ".join(sorted(m for m in sys.modules if m.startswith("tui_jail.commands."))), code)
"""
HEAVY = ("pydantic", "pydantic_core", "rich", "textual", "ruamel", "sh", "asyncio")
# what `status`, `confirm` and a rollback with nothing to undo leave out besides (see the journal's
# TxnState, session.Login, resolve.Entry: plain classes; faults, entry and systemd import late; cli's
# plain command lines)
START_UP = (
    *("dataclasses", "inspect", "signal", "subprocess", "argparse", "gettext", "locale", "shutil", "typing"),
    *("pathlib", "urllib", "ipaddress"),
)
in_namespace = pytest.mark.skipif(
    os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"
)


def loaded_commands(*words: str) -> tuple[set[str], str]:
    result = subprocess.run([sys.executable, "-c", LOADED, *words], capture_output=True, text=True, timeout=60)
    *modules, code = result.stdout.split("\n")[-2].split()
    return {m.removeprefix("tui_jail.commands.") for m in modules}, code


def heavy_imports(root: Path, *words: str, code: int = 0, heavy: tuple[str, ...] = HEAVY + START_UP) -> set[str]:
    """The heavy packages `tui-jail --root ROOT WORDS` imports, run as a user runs it (the real entry
    point, which ends the process with os._exit: no in-process bookkeeping survives that, so the
    interpreter's own -X importtime report is read, which lists every module the moment it loads).
    Without site (-S), the tree and the venv's packages on the path instead: a development venv's
    editable finder imports pathlib while site runs, which would hide pathlib coming back (a plain
    install's site imports nothing on these lists)."""
    argv = [sys.executable, "-S", "-X", "importtime", "-m", "tui_jail", "--root", str(root), *words]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TREE), sysconfig.get_paths()["purelib"]])}
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == code, (words, result.stdout, result.stderr)
    reports = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "tui_jail.cli" in reports, result.stderr  # the report was read: an empty one would pass anything
    return {name for name in reports if name in heavy or name.split(".")[0] in heavy}


def test_status_imports_only_its_own_command(tmp_path: Path) -> None:
    modules, code = loaded_commands("--root", str(tmp_path), "status")
    assert code == "0"
    assert modules == {"status", "common"}, modules
    modules, _ = loaded_commands(f"--root={tmp_path}", "presets")
    assert "status" not in modules and "presets" in modules, modules


def test_help_and_an_unknown_command_still_know_all_ten(tmp_path: Path) -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "tui_jail", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    listed = [line.split()[0] for line in help_text.splitlines() if line.startswith("    ") and line.split()]
    assert set(COMMAND_MODULES) <= set(listed), help_text
    wrong = subprocess.run(
        [sys.executable, "-m", "tui_jail", "--root", str(tmp_path), "statu"], capture_output=True, text=True, timeout=60
    )
    assert wrong.returncode == 2 and all(name in wrong.stderr for name in COMMAND_MODULES), wrong.stderr


def test_the_import_report_sees_a_heavy_import(sample_root: Path) -> None:
    """The control: a command that does load the spec (and refuses the preset's placeholders) is seen
    loading argparse and pathlib; pydantic's control (and the dataclasses and inspect it brings) is a
    spec that needs the model (below)."""
    seen = heavy_imports(sample_root, "plan", "--preset=seedbox-sftp", code=1)  # `=`: not plain, so argparse
    assert {"argparse", "pathlib"} <= seen, seen


def test_a_spec_in_plain_yaml_is_read_without_ruamel(sample_root: Path, tmp_path: Path) -> None:
    """plan (verify, apply: the same reading) of a spec file as a person writes one, or of a preset,
    reads it without ruamel.yaml (core.plain_yaml). The control: the same spec with its name as a block
    scalar, or with an anchor, is read by ruamel, as before: the same plan, the same refusal."""
    plain, folded, anchored = tmp_path / "plain.yaml", tmp_path / "folded.yaml", tmp_path / "anchored.yaml"
    plain.write_text(seedbox_text())
    folded.write_text(seedbox_text().replace("name: rclone-sftp", "name: >-\n  rclone-sftp"))
    anchored.write_text(seedbox_text().replace("root: /chroot", "root: &r /chroot"))
    ruamel = ("ruamel", "_ruamel_yaml")
    assert heavy_imports(sample_root, "plan", "--spec", str(plain), heavy=ruamel) == set()
    assert heavy_imports(sample_root, "plan", "--preset", "seedbox-sftp", code=1, heavy=ruamel) == set()
    assert "ruamel.yaml" in heavy_imports(sample_root, "plan", "--spec", str(folded), heavy=ruamel)
    assert "ruamel.yaml" in heavy_imports(sample_root, "plan", "--spec", str(anchored), code=1, heavy=ruamel)
    plans = [cli(sample_root, "plan", "--spec", str(path)) for path in (plain, folded)]
    assert plans[0].returncode == 0 and plans[0].stdout == plans[1].stdout.replace(str(folded), str(plain))
    refused = cli(sample_root, "plan", "--spec", str(anchored))
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "line 10: anchors and aliases (&name, *name) are not accepted" in refused.stderr, refused.stderr


def seedbox_spec(directory: Path, name: str, first_mount: str = "") -> Path:
    """The seedbox preset with its placeholders filled, `first_mount`'s lines added to its first mount."""
    text = seedbox_text().replace("    target: incomingmovies\n", f"    target: incomingmovies\n{first_mount}", 1)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


PYDANTIC = ("pydantic", "pydantic_core", "annotated_types", "typing_extensions")


def test_commands_read_a_plain_valid_spec_without_pydantic(sample_root: Path, tmp_path: Path) -> None:
    """verify, plan and apply (up to its question, refused with no terminal) load a valid spec of the
    types YAML gives without importing pydantic: its import was two thirds of verify's time (issue 15)."""
    spec = str(seedbox_spec(tmp_path, "plain", "    readonly: true\n"))
    assert heavy_imports(sample_root, "plan", "--spec", spec, heavy=PYDANTIC) == set()
    assert heavy_imports(sample_root, "verify", "--json", "--spec", spec, code=1, heavy=PYDANTIC) == set()
    assert heavy_imports(sample_root, "apply", "--spec", spec, code=1, heavy=PYDANTIC) == set()


def test_verify_of_an_ascii_spec_loads_neither_typing_nor_unicode_tables(sample_root: Path, tmp_path: Path) -> None:
    """typing (for annotations only) and unicodedata (to find invisible format characters, which ASCII
    has none of) were 10 ms of verify's CPU, at its goal's line. The control: a non-ASCII name loads the
    tables, and its format character is still refused."""
    lean = ("typing", "unicodedata")
    spec = seedbox_spec(tmp_path, "ascii")
    assert heavy_imports(sample_root, "verify", "--json", "--spec", str(spec), code=1, heavy=lean) == set()
    spec.write_text(spec.read_text().replace("target: incomingmovies", "target: incoming\u202emovies"))
    assert "unicodedata" in heavy_imports(sample_root, "plan", "--spec", str(spec), code=1, heavy=lean)
    assert "invisible format character U+202E" in cli(sample_root, "plan", "--spec", str(spec)).stderr


def test_a_spec_to_coerce_or_to_refuse_goes_to_pydantic(sample_root: Path, tmp_path: Path) -> None:
    """The control: a value pydantic coerces (`readonly: "yes"`) is read by the model, to the same plan
    as `readonly: true`; a value it refuses gets its message, worded as before the plain reader."""
    coerced = seedbox_spec(tmp_path, "coerced", '    readonly: "yes"\n')
    assert {"pydantic", "dataclasses", "inspect"} <= heavy_imports(sample_root, "plan", "--spec", str(coerced))
    plain = seedbox_spec(tmp_path, "plain", "    readonly: true\n")
    plans = [cli(sample_root, "plan", "--spec", str(path)) for path in (coerced, plain)]
    assert plans[0].returncode == 0 and plans[0].stdout == plans[1].stdout, plans
    assert "/tank/incomingmovies /chroot/rclone-sftp/incomingmovies none bind,ro" in plans[0].stdout.replace("\t", " ")
    refused = seedbox_spec(tmp_path, "refused", '    readonly: "perhaps"\n')
    assert "pydantic" in heavy_imports(sample_root, "plan", "--spec", str(refused), code=1, heavy=PYDANTIC)
    result = cli(sample_root, "plan", "--spec", str(refused))
    assert result.stderr == "tui-jail: mounts[0].readonly: Input should be a valid boolean, unable to interpret input\n"


def test_short_commands_with_nothing_pending_import_nothing_heavy(sample_root: Path) -> None:
    assert heavy_imports(sample_root, "status") == set()
    assert heavy_imports(sample_root, "status", "--json") == set()
    assert heavy_imports(sample_root, "confirm", code=1) == set()  # "no pending transaction"
    assert heavy_imports(sample_root, "rollback", code=1) == set()


@pytest.mark.ns
@in_namespace
def test_short_commands_on_a_pending_transaction_import_nothing_heavy(world: Path) -> None:
    """On a real pending transaction (the seedbox applied: binds, fstab, the sshd drop-in): status,
    an --extend, a confirm refused for want of a new login, the confirm, and a rollback that undoes
    every step and restores sshd's config."""
    over_ssh = {"SSH_CONNECTION": "127.0.0.1 50000 127.0.0.1 22", "USER": "root"}
    first = apply_plain(world, timeout=120, environ=over_ssh)
    assert heavy_imports(world, "status") == set()
    assert heavy_imports(world, "confirm", "--extend", "60", heavy=HEAVY) == set()  # arms a timer: subprocess
    # not from a new SSH login: the refusal names the command to type, found on a login's PATH by shutil.which
    assert heavy_imports(world, "confirm", code=1) <= {"shutil"}
    assert heavy_imports(world, "confirm", "--same-session") == set()
    assert journal.Journal(world, first.id).state().status == "confirmed"
    wait_watchdogs_gone(world)
    removal = subprocess.run(
        [sys.executable, "-m", "tui_jail", "--root", str(world), "remove", first.jail, "--yes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert removal.returncode == 0, removal.stderr
    # the undo's values are records, not dataclasses (paths.records); with no sshd running in the
    # root it loads no sshd backend (subprocess, signal: see steps.reload_sshd); it works on the root
    # as text (SystemRoot.dir, Journal.dir_path), and lists the sshd drop-ins without a glob; it asks
    # each mount itself (statx), never the mount table; nor does it load the helper naming the command to
    # type in a refusal (this undo of a removal mounts the binds again, and so updates the jail's applied
    # record: paths.applied, which the undo of an apply leaves out)
    undo_leaves_out = (*HEAVY, "subprocess", "signal", "dataclasses", "inspect", "typing", "pathlib", "urllib")
    undo_leaves_out += ("tui_jail.paths.mountinfo", "tui_jail.txn.entry")
    assert heavy_imports(world, "rollback", heavy=undo_leaves_out) == set()
    assert journal.Journal(world, journal.transactions(world)[-1].id).state().status == "rolled-back"
    wait_watchdogs_gone(world)


PLANNED = """
import io, sys
from tui_jail.core import spec, yamlio  # what loading the spec imports: not the planner's
before = set(sys.modules)
from tui_jail import cli
sys.stdout = io.StringIO()
code = cli.main(sys.argv[1:])
sys.stdout = sys.__stdout__
print(code, *sorted(set(sys.modules) - before))
"""
# what the planner and the CLI's reading of a plan's or verify's line leave out besides the spec's imports
# (each a millisecond or more of a plan of a large system, issue 15): argparse and what it loads, the
# dataclasses' inspect, typing, shlex (for quoted sshd_config arguments only)
PLANNER_LEAVES_OUT = ("argparse", "gettext", "locale", "shutil", "dataclasses", "inspect", "typing", "shlex")


def planned_imports(*words: str) -> set[str]:
    """The modules `tui-jail WORDS` (a plan that succeeds) imports beyond what loading a spec does."""
    result = subprocess.run([sys.executable, "-c", PLANNED, *words], capture_output=True, text=True, timeout=60)
    code, *modules = result.stdout.split()
    assert code == "0" and "tui_jail.core.plan" in modules, result.stdout + result.stderr
    return {name for name in modules if name.split(".")[0] in PLANNER_LEAVES_OUT}


def test_a_plan_imports_little_beyond_the_spec(sample_root: Path, tmp_path: Path) -> None:
    spec = tmp_path / "seedbox.yaml"
    spec.write_text(seedbox_text())
    assert planned_imports("--root", str(sample_root), "plan", "--spec", str(spec)) == set()
    assert planned_imports("plan", "--json", "--spec", str(spec), "--root", str(sample_root)) == set()
    # the control: a line that is not plain (`--root=DIR`) is read by argparse, and that is seen
    assert "argparse" in planned_imports("plan", "--spec", str(spec), f"--root={sample_root}")


PLUGIN_SCANS = """
import os, sys
import pydantic.plugin._loader as loader
scans = []
scan = loader.entry_points
loader.entry_points = lambda **kw: scans.append(kw) or scan(**kw)
import tui_jail.core.spec_model
print(len(scans))
os.environ.pop("PYDANTIC_DISABLE_PLUGINS")
class Control(tui_jail.core.spec_model.SpecModel):  # a model built with the switch off: pydantic scans then
    pass
print(len(scans))
"""


def test_the_spec_builds_its_models_without_pydantics_plugin_scan() -> None:
    """Every installed distribution's entry points would be read at the first model built; the second
    count is the control (the same scan hook sees pydantic's own look-up once the switch is off)."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    result = subprocess.run([sys.executable, "-c", PLUGIN_SCANS], capture_output=True, text=True, timeout=60, env=env)
    assert result.stdout.split() == ["0", "1"], result.stdout + result.stderr
