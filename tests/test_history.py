"""The journal keeps the last N finished transactions (`--keep-history`, default 50): pruning removes
only confirmed or rolled-back entries, never an unfinished one nor a damaged one, and a journal that
held a thousand past transactions is back to the cost of a short one after the next apply."""

from __future__ import annotations

import json
import os
import resource
import shutil
from pathlib import Path

import nsenv
import pytest
from txn_helpers import apply_plain, cli, seedbox_text, wait_watchdogs_gone

from tui_jail.txn import history, journal, transaction
from tui_jail.txn.journal_layout import TRANSACTIONS


def finished_txn(root: Path) -> journal.Journal:
    """A real transaction of the seedbox, applied and rolled back."""
    state = apply_plain(root)
    transaction.rollback_txn(root, state.id, "test history")
    wait_watchdogs_gone(root)
    return journal.Journal(root, state.id)


def clone(txn: journal.Journal, count: int, *, status: str = "", first: float = 1_000_000.0) -> list[str]:
    """`count` copies of a real entry, older than it, as past applies would have left them."""
    ids = []
    for n in range(count):
        txn_id = f"19700112-{int(first) + n:07d}-rclone-sftp-{status or 'past'}"
        target = txn.dir.parent / txn_id
        shutil.copytree(txn.dir, target)
        state = json.loads((target / "state.json").read_text())
        state.update(id=txn_id, created=first + n, **({"status": status} if status else {}))
        (target / "state.json").write_text(json.dumps(state))
        ids.append(txn_id)
    return ids


def entries(root: Path) -> set[str]:
    return set(os.listdir(root / TRANSACTIONS.lstrip("/")))


@pytest.mark.ns
@pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns")
def test_prune_keeps_the_newest_finished_and_never_an_unfinished_or_damaged_one(world: Path) -> None:
    real = finished_txn(world)
    past = clone(real, 10)
    pending = clone(real, 1, status="pending", first=0.0)  # the oldest of all
    damaged = clone(real, 1, first=500.0)
    (real.dir.parent / damaged[0] / "state.json").write_text("{not json")
    # a damaged pending one: the newest entry, no state.json, a step begun and no end in its log
    newest = real.dir.parent / "29991231-235959-rclone-sftp-torn"
    shutil.copytree(real.dir, newest)
    (newest / "state.json").unlink()
    (newest / "log").write_text("begin 0\n")
    torn = next(e for e in journal.scan(world) if e.journal.id == newest.name)
    assert torn.unfinished and torn.state is None  # the journal itself takes it for unfinished
    before = entries(world)

    assert history.prune(world, keep=3) == 8  # 11 finished (the real one newest): 8 go
    assert entries(world) == before - set(past[:8])
    assert {*pending, *damaged, newest.name, real.id, *past[8:]} <= entries(world)
    assert history.prune(world, keep=3) == 0  # already pruned
    assert history.prune(world, keep=0) == 3
    assert entries(world) == {*pending, *damaged, newest.name}
    assert not (journal.state_dir(world) / history.PRUNED).exists()


def status_seconds(root: Path) -> float:
    """CPU seconds of one `tui-jail status` process (its wall time on a shared machine is mostly waiting)."""
    start = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert cli(root, "status").returncode == 0
    end = resource.getrusage(resource.RUSAGE_CHILDREN)
    return end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime


@pytest.mark.ns
@pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns")
def test_a_thousand_past_transactions_are_pruned_by_the_next_apply(world: Path) -> None:
    real = finished_txn(world)
    short = min(status_seconds(world) for _ in range(3))  # a journal of one entry
    past = clone(real, 999)
    thousand = status_seconds(world)
    spec = world.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    applied = cli(world, "apply", "--spec", str(spec), "--yes", "--keep-history", "20")
    try:
        assert applied.returncode == 0, applied.stderr
        pending = journal.unfinished(world)[0].id
        assert entries(world) == {pending, real.id, *past[-19:]}  # the pending one is never pruned
        transaction.rollback_txn(world, pending, "test history")
        wait_watchdogs_gone(world)
        after = min(status_seconds(world) for _ in range(3))  # 21 finished entries, like the one before
        assert after - short <= 0.2, (short, thousand, after)  # flat (generous: 21 state files cost ~ms)
        # the default keeps 50: a second apply keeps all 21 and adds its own
        again = cli(world, "apply", "--spec", str(spec), "--yes")
        assert again.returncode == 0, again.stderr
        assert len(entries(world)) == 22
    finally:
        for txn in journal.unfinished(world):
            transaction.rollback_txn(world, txn.id, "test cleanup")
        wait_watchdogs_gone(world)


@pytest.mark.ns
@pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns")
def test_the_wizards_apply_prunes_as_the_cli_does(world: Path) -> None:
    from tui_jail.paths.system import SystemRoot
    from tui_jail.screens.wizard_state import WizardState

    real = finished_txn(world)
    past = clone(real, 60)
    spec = world.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    state = WizardState(system=SystemRoot(world), save_dir=world.parent)
    state.load_file(spec)
    assert state.keep_history == history.DEFAULT_KEEP == 50
    state.keep_history = 5
    txn = state.apply()
    try:
        assert txn.status == "pending"
        assert entries(world) == {txn.id, real.id, *past[-4:]}  # the pending one is never pruned
    finally:
        transaction.rollback_txn(world, txn.id, "test cleanup")
        wait_watchdogs_gone(world)


def test_keep_history_is_a_whole_number(tmp_path: Path) -> None:
    result = cli(tmp_path, "apply", "--preset", "seedbox-sftp", "--keep-history", "-1")
    assert result.returncode == 2 and "--keep-history" in result.stderr and "Traceback" not in result.stderr
    help_text = cli(tmp_path, "remove", "--help").stdout
    assert "--keep-history N" in help_text and "default 50" in help_text
