"""A damaged journal (issue 12, item 5), for real on sample roots in the suite's private mount namespace.

The matrix: a pending transaction's state.json garbage, empty, `[]`, missing keys, wrong types, a NaN
or huge deadline; ops.json garbage or missing; the lock replaced by a directory; the journal
directory or the transaction's directory deleted. For each, with the watchdog alive and with it
killed: no command prints a traceback or an internal error, and the change is rolled back byte for
byte whenever the watchdog is alive (it holds the steps and backups in memory) or the steps and
backups on disk are intact; only where both are gone does a message stand alone (recover says what
to restore by hand). A damaged finished entry blocks nothing."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import nsenv
import pytest
from txn_helpers import apply_plain, changed_paths, cli, seedbox_text, snapshot, wait_exited

from tui_jail.cli import main as cli_main
from tui_jail.txn import journal, transaction

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]


def _state_file(txn: Path, text: bytes) -> None:
    (txn / "state.json").write_bytes(text)


def _edit_state(txn: Path, **changes: Any) -> None:
    state = json.loads((txn / "state.json").read_text())
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    (txn / "state.json").write_text(json.dumps(state))


def _lock_dir(txn: Path) -> None:
    lock = txn.parents[1] / "lock"
    lock.unlink()
    (lock / "inside").mkdir(parents=True)


DAMAGE = {
    "state garbage": lambda txn: _state_file(txn, b"\x00{garbage"),
    "state empty": lambda txn: _state_file(txn, b""),
    "state []": lambda txn: _state_file(txn, b"[]"),
    "state missing keys": lambda txn: _edit_state(txn, status=None, deadline=None),
    "state wrong types": lambda txn: _edit_state(txn, status=5, boot_deadline="soon", notes="x"),
    "deadline NaN": lambda txn: _edit_state(txn, boot_deadline=float("nan")),
    "deadline huge": lambda txn: _edit_state(txn, boot_deadline=1e300),
    "ops garbage": lambda txn: (txn / "ops.json").write_bytes(b"]]not json"),
    "ops missing": lambda txn: (txn / "ops.json").unlink(),
    "lock is a directory": _lock_dir,
    "journal dir deleted": lambda txn: shutil.rmtree(txn.parent),
    "txn dir deleted": lambda txn: shutil.rmtree(txn),
}
UNDO_GONE = {"ops garbage", "ops missing", "journal dir deleted", "txn dir deleted"}  # on disk, that is

COMMANDS = [
    ["status"],
    ["status", "--json"],
    ["recover", "--yes"],
    ["rollback"],
    ["apply", "--spec", "SPEC"],  # no --yes and no terminal: refused once it has looked at the journal
    ["remove", "rclone-sftp"],
    ["confirm"],  # last: confirming what is still pending would keep it
]


def every_command(root: Path, spec: Path) -> str:
    """Each command once, through the CLI's own entry point (in this process: the matrix would spend
    minutes starting interpreters); none may print a traceback. Returns what they printed."""
    printed = []
    for words in COMMANDS:
        args = [str(spec) if word == "SPEC" else word for word in words]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = cli_main(["--root", str(root), *args])
        assert "Traceback" not in out.getvalue() and "internal error" not in out.getvalue(), (words, out.getvalue())
        assert code in (0, 1), (words, out.getvalue())
        printed.append(out.getvalue())
    return "\n".join(printed)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "seed.yaml"
    path.write_text(seedbox_text())
    return path


@pytest.mark.parametrize("damage", DAMAGE)
def test_damage_with_the_watchdog_alive_is_rolled_back(world: Path, spec: Path, damage: str) -> None:
    """The watchdog holds the steps and backups in memory: whatever became of the journal, the change
    is gone byte for byte once it has acted (or a command did, from what is intact)."""
    before = snapshot(world)
    state = apply_plain(world, timeout=3)
    DAMAGE[damage](journal.Journal(world, state.id).dir)
    wait_exited([state.watchdog_pid], timeout=30)
    after = snapshot(world)
    assert after == before, changed_paths(before, after)
    every_command(world, spec)
    assert snapshot(world) == before


@pytest.mark.parametrize("damage", DAMAGE)
def test_damage_with_the_watchdog_killed(world: Path, spec: Path, damage: str, tmp_path: Path) -> None:
    """No watchdog: the commands roll back from the steps and backups on disk where they are intact;
    where they are gone, recover says what to restore by hand (and the copy of the journal taken
    before the damage puts the test's root back)."""
    before = snapshot(world)
    state = apply_plain(world, timeout=600)
    os.kill(state.watchdog_pid, signal.SIGKILL)
    wait_exited([state.watchdog_pid])
    txn = journal.Journal(world, state.id).dir
    copy = tmp_path / "journal-copy"
    shutil.copytree(txn, copy)
    DAMAGE[damage](txn)
    printed = every_command(world, spec)
    if damage not in UNDO_GONE:
        after = snapshot(world)
        assert after == before, (changed_paths(before, after), printed)
        return
    if damage.startswith("ops"):
        assert "cannot be undone automatically" in printed and "Restore by hand" in printed, printed
        assert str(txn / "plan.txt") in printed and "file /etc/fstab" in printed, printed
    assert snapshot(world) != before  # nothing could undo it: the message is all there is
    shutil.rmtree(txn, ignore_errors=True)
    shutil.copytree(copy, txn)
    transaction.rollback_txn(world, state.id, "test: the journal put back")
    assert snapshot(world) == before


def test_a_damaged_finished_entry_blocks_nothing(world: Path, spec: Path) -> None:
    """An old confirmed transaction with a truncated state.json: named in one line, and the next
    apply, boot recovery and status go on."""
    old = apply_plain(world)
    transaction.confirm(world, old.id, {})
    wait_exited([old.watchdog_pid])
    applied = snapshot(world)
    state_file = journal.Journal(world, old.id).dir / "state.json"
    state_file.write_bytes(state_file.read_bytes()[:40])
    remove = cli(world, "remove", "rclone-sftp", "--yes", "--confirm-timeout", "60")
    assert remove.returncode == 0, remove.stderr
    assert f"damaged journal entry {state_file}: not JSON" in remove.stderr
    assert "a finished transaction: it blocks nothing" in remove.stderr
    boot = cli(world, "recover", "--boot")
    assert boot.returncode == 0, boot.stderr
    assert snapshot(world) == applied  # the unconfirmed removal rolled back at boot
    status = cli(world, "status")
    assert status.returncode == 0 and f"{old.id}  damaged: {state_file}: not JSON" in status.stdout
