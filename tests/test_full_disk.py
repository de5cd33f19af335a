"""A full disk under the journal (issue 12, item 7), for real: the root's var/lib/tui-jail is a small
tmpfs in the suite's private mount namespace, filled to leave 12 KB to 200 KB, 4 KB apart, so the
apply runs out of room at every point: the journal, the watchdog's arming, the jail's state file,
the pending state. Each apply is pending or refused in one line that says the disk is full (never an
internal error); a refused one leaves nothing changed and no transaction that blocks the next apply;
with the space back, the next apply goes through."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path

import nsenv
import pytest
from txn_helpers import STATE, changed_paths, seedbox_text, snapshot, wait_watchdogs_gone

from tui_jail.cli import main as cli_main
from tui_jail.txn import journal, transaction

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]


def run_cli(root: Path, *args: str) -> tuple[int, str]:
    """The CLI's entry point in this process (a sweep of dozens of applies); its exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = cli_main(["--root", str(root), *args])
    return code, err.getvalue()


def fill(directory: Path, leave: int) -> Path:
    """A file taking all but `leave` bytes of the file system of `directory`."""
    filler = directory / "filler"
    filler.unlink(missing_ok=True)
    st = os.statvfs(directory)
    with open(filler, "wb") as file:
        file.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return filler


@pytest.fixture
def small_state(world: Path):
    state = world / STATE
    state.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "nsenv", str(state)], check=True)
    try:
        yield state
    finally:
        wait_watchdogs_gone(world)
        subprocess.run(["umount", "-l", str(state)], check=True)


def test_a_full_disk_leaves_nothing_that_blocks_the_next_apply(world: Path, small_state: Path) -> None:
    spec = world.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    before = snapshot(world)
    outcomes = set()
    for leave in range(12 * 1024, 200 * 1024, 4 * 1024):
        filler = fill(small_state, leave)
        code, err = run_cli(world, "apply", "--spec", str(spec), "--yes", "--confirm-timeout", "60")
        assert "internal error" not in err and "Traceback" not in err, (leave, err)
        if code == 0:
            outcomes.add("pending")
        else:
            outcomes.add("refused")
            assert len(err.strip().splitlines()) == 1 and "the disk is full" in err, (leave, err)
            after = snapshot(world)
            assert after == before, (leave, changed_paths(before, after))
        assert not [
            entry
            for entry in journal.scan(world)
            if entry.unfinished and entry.state is not None and entry.state.status != "pending"
        ], leave
        filler.unlink()
        for txn in journal.unfinished(world):  # a pending one, or one the watchdog still finishes
            assert transaction.rollback_txn(world, txn.id, "test: space again").status == "rolled-back", leave
        assert snapshot(world) == before, leave
        wait_watchdogs_gone(world)
    assert outcomes == {"pending", "refused"}, outcomes
