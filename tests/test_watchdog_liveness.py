"""A dead watchdog and a stepped wall clock (issue 12, items 4 and 6), for real on sample roots in the
suite's private mount namespace.

Every command that reads the journal checks each unfinished transaction's watchdog by pid and start
time: gone before the deadline, a new one is armed; gone after it (or the transaction is from
another boot), the transaction is rolled back at once; the output says which. Deadlines are on the
boot clock: the wall clock stepped back or forward neither delays nor hastens a rollback (shown by
running the watchdog with `time.time` shifted through a sitecustomize shim: the host's clock is not
ours to change)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import nsenv
import pytest
from txn_helpers import apply_plain, changed_paths, cli, seedbox_text, snapshot, wait_exited, wait_finished

from tui_jail.txn import journal, transaction
from tui_jail.txn.journal_layout import boottime, process_start

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]


def kill_watchdog(root: Path, txn_id: str) -> int:
    pid = journal.Journal(root, txn_id).state().watchdog_pid
    os.kill(pid, signal.SIGKILL)
    wait_exited([pid])
    return pid


def until_overdue(root: Path, txn_id: str) -> None:
    """Until the transaction's deadline has passed on the boot clock."""
    state = journal.Journal(root, txn_id).state()
    time.sleep(max(0.0, state.boot_deadline - boottime()) + 0.05)


def test_a_reused_pid_is_not_the_watchdog() -> None:
    """Liveness is pid plus start time: the right pid with another start time is a different process."""
    me = journal.TxnState("t", "j", "apply", "pending", 0, 0, 0, watchdog_pid=os.getpid())
    me.watchdog_start = process_start(os.getpid())
    assert me.watchdog_running() and me.watchdog_state() == "armed"
    me.watchdog_start += 1
    assert not me.watchdog_running() and me.watchdog_state() == "gone"


def test_a_killed_watchdog_is_rearmed_by_the_next_command(world: Path) -> None:
    """kill -9 of the watchdog: `status` arms a new one and says so; the new one rolls back at the deadline."""
    before = snapshot(world)
    state = apply_plain(world, timeout=6)
    old = kill_watchdog(world, state.id)
    result = cli(world, "status")
    assert result.returncode == 0, result.stderr
    assert f"transaction {state.id}: its watchdog (pid {old}) was gone; re-armed (pid" in result.stderr
    rearmed = journal.Journal(world, state.id).state()
    assert rearmed.watchdog_pid != old and rearmed.watchdog_running()
    assert "(watchdog re-armed, pid" in result.stdout
    assert wait_finished(world, state.id, timeout=30).status == "rolled-back"
    assert snapshot(world) == before
    wait_exited([rearmed.watchdog_pid])


@pytest.mark.parametrize("module", ["tui_jail.txn.watchdog", "tui_jail.watchdog"])
def test_the_timers_command_rolls_back_under_todays_name_and_the_name_before_the_move(world: Path, module: str) -> None:
    """The transient systemd timer's command (`python -m MODULE ROOT TXN`, see `arming`) with the
    applier's watchdog dead: it rolls the change back at the deadline. A timer armed by an install from
    before the transaction moved into `tui_jail.txn` names the old module: an upgrade made while that
    change is pending must still see it rolled back."""
    before = snapshot(world)
    state = apply_plain(world, timeout=2)
    kill_watchdog(world, state.id)
    timer = subprocess.run(
        [sys.executable, "-P", "-m", module, str(world), state.id], capture_output=True, text=True, timeout=60
    )
    assert timer.returncode == 0, timer.stderr
    assert journal.Journal(world, state.id).state().status == "rolled-back"
    after = snapshot(world)
    assert after == before, changed_paths(before, after)


COMMANDS = {
    "status": ["status"],
    "status --json": ["status", "--json"],
    "confirm": ["confirm"],
    "rollback": ["rollback"],
    "recover": ["recover", "--yes"],
    "apply": ["apply", "--spec", "SPEC"],  # not a terminal and no --yes: refused after the check
    "remove": ["remove", "rclone-sftp"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_dead_watchdog_past_the_deadline_is_rolled_back_by_any_command(world: Path, command: str) -> None:
    """The watchdog killed and the deadline passed: whichever command comes next rolls back at once."""
    before = snapshot(world)
    spec = world.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    state = apply_plain(world, timeout=1)
    kill_watchdog(world, state.id)
    until_overdue(world, state.id)
    args = [str(spec) if word == "SPEC" else word for word in COMMANDS[command]]
    result = cli(world, *args, stdin=subprocess.DEVNULL)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert f"transaction {state.id}: its watchdog" in result.stderr
    assert "was gone and the deadline had passed; rolled back now" in result.stderr
    assert journal.Journal(world, state.id).state().status == "rolled-back"
    after = snapshot(world)
    assert after == before, changed_paths(before, after)


def test_a_transaction_left_pending_from_another_boot_is_overdue(world: Path) -> None:
    """No boot guard ran (no systemd): the next command rolls back what an earlier boot left pending,
    however far its deadline looked."""
    before = snapshot(world)
    state = apply_plain(world, timeout=600)
    kill_watchdog(world, state.id)
    txn = journal.Journal(world, state.id)
    txn.update(boot_id="00000000-0000-0000-0000-000000000000")
    result = cli(world, "status")
    assert f"transaction {state.id} was left pending from another boot; rolled back now" in result.stderr
    assert txn.state().status == "rolled-back"
    assert snapshot(world) == before


SHIFTED_CLOCK = """\
import time
_real = time.time
time.time = lambda: _real() + {shift}
"""


def shifted_watchdog(tmp_path: Path, root: Path, txn_id: str, shift: float) -> subprocess.Popen[bytes]:
    """The timer mode of the watchdog (`ROOT TXN`, what systemd's timer runs) with `time.time` shifted
    by `shift` seconds in its process: a wall clock stepped by NTP or `date -s`."""
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(SHIFTED_CLOCK.format(shift=shift))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), *sys.path[1:]])}
    shown = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], env=env, capture_output=True)
    assert abs(float(shown.stdout) - time.time() - shift) < 5  # the shim works: the step is real for that process
    return subprocess.Popen([sys.executable, "-m", "tui_jail.txn.watchdog", str(root), txn_id], env=env)


def test_the_wall_clock_stepped_back_does_not_delay_the_rollback(world: Path, tmp_path: Path) -> None:
    """time.time() 600 s behind: the watchdog still rolls back at the deadline, not 600 s later."""
    before = snapshot(world)
    state = apply_plain(world, timeout=2)
    kill_watchdog(world, state.id)
    watchdog = shifted_watchdog(tmp_path, world, state.id, -600)
    try:
        assert watchdog.wait(timeout=30) == 0
    finally:
        watchdog.kill()
        watchdog.wait()
    assert journal.Journal(world, state.id).state().status == "rolled-back"
    assert snapshot(world) == before


def test_the_wall_clock_stepped_forward_does_not_hasten_the_rollback(world: Path, tmp_path: Path) -> None:
    """time.time() 600 s ahead: a transaction with 60 s left stays pending."""
    state = apply_plain(world, timeout=60)
    kill_watchdog(world, state.id)
    watchdog = shifted_watchdog(tmp_path, world, state.id, 600)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            watchdog.wait(timeout=2)
        assert journal.Journal(world, state.id).state().status == "pending"
    finally:
        watchdog.kill()
        watchdog.wait()
    transaction.rollback_txn(world, state.id, "test cleanup")


@pytest.mark.slow
def test_kill_9_of_the_watchdog_at_random_moments(world: Path) -> None:
    """30 runs: the watchdog of a pending transaction killed at a random moment (before its deadline,
    after it, in the middle of its rollback); the next command restores everything byte for byte, or
    re-arms before the deadline and the new watchdog does."""
    before = snapshot(world)
    rng = random.Random(1212)
    outcomes = set()
    for run in range(30):
        state = apply_plain(world, timeout=2)
        time.sleep(rng.uniform(0.0, 3.0))
        os.kill(state.watchdog_pid, signal.SIGKILL)
        wait_exited([state.watchdog_pid])
        result = cli(world, "status")
        assert result.returncode == 0 and "Traceback" not in result.stderr, (run, result.stderr)
        now = journal.Journal(world, state.id).state()
        if "re-armed" in result.stderr:
            outcomes.add("re-armed")
            assert now.watchdog_running(), (run, now)
            now = wait_finished(world, state.id, timeout=30)
            wait_exited([now.watchdog_pid])
        elif "rolled back now" in result.stderr:
            outcomes.add("rolled back by the command")
        else:
            outcomes.add("rolled back by the watchdog before it was killed")
        assert now.status == "rolled-back", (run, now, result.stderr)
        after = snapshot(world)
        assert after == before, (run, changed_paths(before, after))
    assert {"re-armed", "rolled back by the command"} <= outcomes, outcomes
