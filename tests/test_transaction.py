"""The transaction, for real, in the suite's private mount namespace on sample roots: apply, confirm,
rollback, the watchdog, recover, the one-at-a-time lock, fault injection at every step boundary of
apply and of rollback, kill -9 at random moments, a full disk. After every failure, the files are
byte-identical (content, mode, owner) and the mount table is as before."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import nsenv
import pytest
from txn_helpers import (
    apply_plain,
    changed_paths,
    cli,
    install_layout,
    seedbox,
    seedbox_text,
    snapshot,
    wait_exited,
    wait_finished,
    wait_watchdogs_gone,
    watchdog_pids,
)

from tui_jail.core import bootguard
from tui_jail.core.errors import Refused
from tui_jail.core.plan import make_plan
from tui_jail.paths import faults
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import journal, transaction, watchdog

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]


def forked(fn: object, fault: str) -> int:
    """Run fn() in a child with the fault switch set; returns the signal that ended it (0: none)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover — the child
        os.environ[faults.ENV] = fault
        try:
            fn()  # type: ignore[operator]
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0


# --- the happy paths ---------------------------------------------------------------------------------


def log_lines(fd: int) -> list[str] | None:
    """The journal log's lines as a sync of `fd` takes them to disk; None when `fd` is another file."""
    if not os.readlink(f"/proc/self/fd/{fd}").endswith("/log"):
        return None
    with open(f"/proc/self/fd/{fd}", "rb") as log:
        return log.read().decode().splitlines()


def synced_path(fd: int, world: Path) -> str:
    """The path of what `fd` holds, as seen inside the sample root `world`."""
    return os.path.normpath("/" + os.path.relpath(os.readlink(f"/proc/self/fd/{fd}"), world))


def test_apply_then_confirm_keeps_everything_and_journals_it(world: Path) -> None:
    state = apply_plain(world)
    assert state.status == "pending"
    system = SystemRoot(world)
    assert not make_plan(seedbox(), system).has_changes  # the system now matches the spec
    assert set(system.mounts()) >= {"/chroot/rclone-sftp/incomingmovies", "/chroot/rclone-sftp/IncomingTV"}
    assert os.stat(world / "var/lib/tui-jail").st_mode & 0o777 == 0o700
    txn = journal.Journal(world, state.id)
    assert txn.done() == set(range(len(txn.ops())))
    assert transaction.confirm(world, None, {}).status == "confirmed"
    assert wait_finished(world, state.id).status == "confirmed"
    assert not make_plan(seedbox(), SystemRoot(world)).has_changes


def test_a_steps_begin_is_on_disk_before_it_runs_unless_a_machine_crash_undoes_it_anyway(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step that leaves something on disk (a directory, a device node, a file) has its `begin`
    fdatasynced before it runs; a bind mount, the mount check and the sshd reload do not (a crash of
    the machine unmounts and restarts sshd by itself; a kill -9 leaves the line in the page cache).
    The directories paths are created in are fsynced once each, before the change is pending. A run
    of path creations (the jail's tree) has its begins synced together: one fdatasync, not one each."""
    synced: list[str] = []  # the log's lines on disk, as of each fdatasync
    syncs: list[list[str]] = []  # the lines each fdatasync took to the disk
    dirs: list[str] = []
    fdatasync, fsync = os.fdatasync, os.fsync

    def watched_fdatasync(fd: int) -> None:
        if (lines := log_lines(fd)) is not None:
            syncs.append(lines[len(synced) :])
            synced[:] = lines
        fdatasync(fd)

    def watched_fsync(fd: int) -> None:
        dirs.append(synced_path(fd, world))
        if ".state.json." in dirs[-1]:
            with open(f"/proc/self/fd/{fd}", "rb") as state:
                dirs.append("pending" if b'"pending"' in state.read() else "")
        fsync(fd)

    monkeypatch.setattr(os, "fdatasync", watched_fdatasync)
    monkeypatch.setattr(os, "fsync", watched_fsync)
    state = apply_plain(world)
    monkeypatch.undo()
    ops = journal.Journal(world, state.id).ops()

    def synced_for(lines: list[str]) -> list[int]:
        """The begins a sync was made for: its last lines (a volatile step's begin earlier in it rode along)."""
        numbers: list[int] = []
        while lines and lines[-1].startswith("begin "):
            numbers.insert(0, int(lines.pop().split()[1]))
        return numbers

    begin_syncs = [numbers for numbers in map(synced_for, syncs) if numbers]
    begun = {number for numbers in begin_syncs for number in numbers}
    kinds = {op["op"] for op in ops}
    assert {"bind", "check", "mkdir", "mknod", "write"} <= kinds  # both sorts are in the seedbox's apply
    assert begun == {i for i, op in enumerate(ops) if op["op"] not in ("bind", "remount", "umount", "check", "reload")}
    creations = [i for i, op in enumerate(ops) if op["op"] in ("mkdir", "mknod")]
    assert len(begin_syncs) < len(creations)  # one sync per step before
    for numbers in begin_syncs:  # each sync begins steps that run one after another, creations when several
        assert numbers == list(range(numbers[0], numbers[-1] + 1)), numbers
        assert len(numbers) == 1 or all(ops[i]["op"] in ("mkdir", "mknod") for i in numbers), numbers
    # the jail's tree (the journal's own directory is fsynced for the journal's files besides)
    parents = {os.path.dirname(op["path"]) for op in ops if op["op"] in ("mkdir", "mknod")} - {"/var/lib/tui-jail"}
    assert {"/", "/chroot", "/chroot/rclone-sftp", "/chroot/rclone-sftp/dev"} <= parents
    assert all(dirs.count(parent) == 1 for parent in parents), (parents, dirs)
    assert max(dirs.index(parent) for parent in parents) < dirs.index("pending")
    transaction.rollback_txn(world, state.id, "test")
    wait_watchdogs_gone(world)


def test_an_apply_and_its_rollback_each_open_the_log_once(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal's log is resolved and opened once per process that appends to it, not once per line
    (a few lines per mount: the walk to the log cost more than the write at 500 mounts)."""
    from tui_jail.paths import files

    opened: list[str] = []
    appender_init = files.Appender.__init__

    def counted(self: files.Appender, root: files.Root, path: str) -> None:
        opened.append(path)
        appender_init(self, root, path)

    monkeypatch.setattr(files.Appender, "__init__", counted)
    state = apply_plain(world)
    log = str(journal.Journal(world, state.id).dir / "log")
    assert opened == [log]
    opened.clear()
    assert transaction.rollback_txn(world, state.id, "test").status == "rolled-back"
    assert opened == [log]
    wait_watchdogs_gone(world)


def test_a_rollback_records_a_removal_only_once_its_directory_is_fsynced(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The paths a rollback removes (the jail's tree) have their parents fsynced once each, and only
    then are those undos recorded, in one fdatasync: no `undo` line reaches the disk before the
    removal it stands for. An undo of a bind mount is not fsynced on its own (a crash of the machine
    unmounts it anyway); an undo of a file write still is."""
    state = apply_plain(world)
    ops = journal.Journal(world, state.id).ops()
    events: list[tuple[str, object]] = []  # ("dir", path fsynced) or ("log", the lines it took to the disk)
    seen: list[str] = []
    fdatasync, fsync = os.fdatasync, os.fsync

    def watched_fdatasync(fd: int) -> None:
        if (lines := log_lines(fd)) is not None:
            events.append(("log", lines[len(seen) :]))
            seen[:] = lines
        fdatasync(fd)

    def watched_fsync(fd: int) -> None:
        events.append(("dir", synced_path(fd, world)))
        fsync(fd)

    with journal.Journal(world, state.id).dir.joinpath("log").open() as log:
        seen[:] = log.read().splitlines()
    monkeypatch.setattr(os, "fdatasync", watched_fdatasync)
    monkeypatch.setattr(os, "fsync", watched_fsync)
    assert transaction.rollback_txn(world, state.id, "test").status == "rolled-back"
    monkeypatch.undo()
    created = {i for i, op in enumerate(ops) if op["op"] in ("mkdir", "mknod")}
    parents = {os.path.dirname(ops[i]["path"]) for i in created}
    dirs = [what for kind, what in events if kind == "dir"]
    assert all(dirs.count(parent) <= 1 for parent in parents), dirs  # once each at most (a removed one: never)
    log_syncs = [(at, lines) for at, (kind, lines) in enumerate(events) if kind == "log"]
    undo_syncs = [(at, [int(line.split()[1]) for line in lines if line.startswith("undo ")]) for at, lines in log_syncs]  # type: ignore[union-attr]
    removals = [(at, numbers) for at, numbers in undo_syncs if set(numbers) & created]
    assert len(removals) == 1 and set(removals[0][1]) >= created, undo_syncs
    last_dir = max(at for at, (kind, what) in enumerate(events) if kind == "dir" and what in parents)
    assert last_dir < removals[0][0]
    binds = {i for i, op in enumerate(ops) if op["op"] == "bind"}
    writes = {i for i, op in enumerate(ops) if op["op"] == "write"}
    synced_for = {numbers[-1] for _, numbers in undo_syncs if numbers}  # a sync's last line is what it was for
    assert not synced_for & binds and writes <= synced_for
    wait_watchdogs_gone(world)


def test_cli_apply_rolls_back_at_the_deadline(world: Path) -> None:
    """The watchdog outlives the applying command and restores everything at the deadline."""
    before = snapshot(world)
    spec = world.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    result = cli(world, "apply", "--spec", str(spec), "--yes", "--confirm-timeout", "1")
    assert result.returncode == 0, result.stderr
    txn_id = journal.unfinished(world)[0].id
    assert txn_id in result.stdout
    assert snapshot(world) != before
    assert wait_finished(world, txn_id).status == "rolled-back"
    assert snapshot(world) == before
    status = cli(world, "status", "--json")
    assert '"rolled-back"' in status.stdout and '"pending": []' in status.stdout


def test_rollback_command_restores_and_is_idempotent(world: Path) -> None:
    before = snapshot(world)
    state = apply_plain(world)
    first = cli(world, "rollback")
    assert first.returncode == 0, first.stderr
    assert snapshot(world) == before
    again = cli(world, "rollback", state.id)
    assert again.returncode == 0 and snapshot(world) == before


def test_confirm_over_ssh_needs_a_new_session(world: Path) -> None:
    session = {"SSH_CONNECTION": "127.0.0.1 50000 127.0.0.1 22", "USER": "root"}
    state = apply_plain(world, environ=session)
    with pytest.raises(Refused, match="new SSH login"):
        transaction.confirm(world, state.id, session)
    assert journal.Journal(world, state.id).state().status == "pending"
    # another SSH_CONNECTION alone (a tmux pane's stale one) proves nothing: only a login sshd accepted
    # after the change does (tests/test_login_sshd.py, against a real sshd)
    other = {**session, "SSH_CONNECTION": "127.0.0.1 50001 127.0.0.1 22"}
    with pytest.raises(Refused, match="this session is not an SSH login"):
        transaction.confirm(world, state.id, other)


def test_confirm_same_session_when_asked(world: Path) -> None:
    session = {"SSH_CONNECTION": "127.0.0.1 50000 127.0.0.1 22", "USER": "root"}
    state = apply_plain(world, environ=session)
    assert transaction.confirm(world, state.id, session, same_session=True).status == "confirmed"


def test_extend_moves_the_deadline(world: Path) -> None:
    state = apply_plain(world, timeout=5)
    extended = transaction.extend(world, state.id, 60)
    assert extended.deadline >= state.deadline + 59
    transaction.rollback_txn(world, state.id, "test cleanup")


def test_a_file_changed_since_the_plan_is_refused_not_overwritten(world: Path) -> None:
    """The admin reviewed a plan, someone edited fstab meanwhile: applying it would drop their line."""
    system = SystemRoot(world)
    plan = make_plan(seedbox(), system)
    with (world / "etc/fstab").open("a") as fstab:
        fstab.write("/dev/sdb1 /srv ext4 defaults 0 2\n")
    before = snapshot(world)
    with pytest.raises(Refused, match="/etc/fstab was changed since the plan was made"):
        transaction.apply(plan, system, timeout=30, environ={})
    assert snapshot(world) == before
    assert journal.transactions(world) == []
    replanned = transaction.apply(make_plan(seedbox(), system), system, timeout=30, environ={})
    assert replanned.status == "pending"
    transaction.rollback_txn(world, replanned.id, "test done")
    assert "/dev/sdb1 /srv" in (world / "etc/fstab").read_text()


def test_a_second_apply_is_refused_naming_the_first(world: Path) -> None:
    """One applier stops itself mid-apply holding the lock; a second is refused naming it."""
    spec = world.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    env = {**os.environ, faults.ENV: "apply@3:stop"}
    first = subprocess.Popen(
        [sys.executable, "-m", "tui_jail", "--root", str(world), "apply", "--spec", str(spec), "--yes"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        os.waitid(os.P_PID, first.pid, os.WSTOPPED)
        second = cli(world, "apply", "--spec", str(spec), "--yes")
        txn_id = journal.unfinished(world)[0].id
        assert second.returncode == 1 and txn_id in second.stderr, second.stderr
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    third = cli(world, "apply", "--spec", str(spec), "--yes")  # pending now, not running: still refused
    assert third.returncode == 1 and txn_id in third.stderr and "pending" in third.stderr
    assert cli(world, "confirm").returncode == 0


def test_preflight_refuses_a_config_that_jails_the_admin(world: Path) -> None:
    before = snapshot(world)
    system = SystemRoot(world)
    plan = make_plan(seedbox(user="root", address="198.51.100.4"), system)
    admin = {"SSH_CONNECTION": "198.51.100.4 50000 192.0.2.1 22", "SUDO_USER": "root"}
    with pytest.raises(Refused, match="lock you out"):
        transaction.apply(plan, system, environ=admin)
    assert snapshot(world) == before and not journal.transactions(world)
    wait_exited(watchdog_pids(world))  # the watchdog started alongside the preflight is told to go


def test_preflight_refuses_a_bad_chroot_chain_and_a_symlinked_component(world: Path) -> None:
    os.chmod(world, 0o777)  # '/' of the root itself: the plan does not look at it, sshd would refuse it
    system = SystemRoot(world)
    with pytest.raises(Refused, match="jail root chain: / must be"):
        transaction.apply(make_plan(seedbox(), system), system, environ={})
    os.chmod(world, 0o755)
    assert not journal.transactions(world)


def test_recover_explains_and_rolls_back(world: Path) -> None:
    before = snapshot(world)
    state = apply_plain(world)
    os.kill(state.watchdog_pid, signal.SIGKILL)  # as after a reboot: no watchdog left
    result = cli(world, "recover", "--boot")
    assert result.returncode == 0, result.stderr
    assert "bind-mounted /tank/IncomingTV at /chroot/rclone-sftp/IncomingTV; will unmount" in result.stdout
    assert "created /etc/ssh/sshd_config.d/50-tui-jail-rclone-sftp.conf; will delete" in result.stdout
    assert "checked that 4 mounts were in place; nothing to undo" in result.stdout
    assert snapshot(world) == before
    assert "nothing to recover" in cli(world, "recover").stdout


def test_the_boot_guard_is_written_by_the_transaction_and_rolled_back_with_it(world: Path) -> None:
    """Where the root boots with systemd and tui-jail is installed, the first apply writes the guard
    (the unit and the drop-in that makes multi-user.target want it) as steps of its transaction;
    rolling that transaction back removes them with everything else."""
    install_layout(world)
    before = snapshot(world)
    state = apply_plain(world)
    unit = (world / bootguard.UNIT.lstrip("/")).read_text()
    assert "ExecStart=/usr/local/sbin/tui-jail recover --boot" in unit and "Before=ssh.service" in unit
    assert "Wants=tui-jail-recover.service" in (world / bootguard.WANTS.lstrip("/")).read_text()
    written = [op["path"] for op in journal.Journal(world, state.id).ops() if op["op"] == "write"]
    assert written[:2] == [bootguard.UNIT, bootguard.WANTS]
    assert transaction.rollback_txn(world, state.id, "test").status == "rolled-back"
    assert snapshot(world) == before
    wait_watchdogs_gone(world)


def test_the_watchdog_is_detached_before_the_first_change(world: Path) -> None:
    """Stopped just before its first step, the applier already has a watchdog in its own session,
    ignoring SIGHUP, not its child; nothing changed yet. Killed there, the watchdog restores all."""
    before = snapshot(world)
    spec = world.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    env = {**os.environ, faults.ENV: "apply@1:stop"}
    argv = [sys.executable, "-m", "tui_jail", "--root", str(world), "apply", "--spec", str(spec), "--yes"]
    applier = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        os.waitid(os.P_PID, applier.pid, os.WSTOPPED)
        state = journal.unfinished(world)[0].state()
        assert state.status == "applying" and snapshot(world) == before
        pid = state.watchdog_pid
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        session = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
        assert int(status["PPid"]) != applier.pid and session == pid
        assert int(status["SigIgn"], 16) & 1 << (signal.SIGHUP - 1)
    finally:
        applier.kill()
        applier.wait()
    assert wait_finished(world, state.id).status == "rolled-back"
    assert snapshot(world) == before


def test_the_timer_mode_rolls_back_when_the_watchdog_was_killed(world: Path) -> None:
    """The second guard (what the systemd timer runs, `python -m tui_jail.txn.watchdog ROOT TXN`) alone
    restores everything at the deadline."""
    before = snapshot(world)
    state = apply_plain(world, timeout=2)
    os.kill(state.watchdog_pid, signal.SIGKILL)
    wait_exited([state.watchdog_pid])
    assert journal.Journal(world, state.id).state().status == "pending"
    timer = [sys.executable, "-m", "tui_jail.txn.watchdog", str(world), state.id]
    assert subprocess.run(timer, timeout=30, check=False).returncode == 0
    assert journal.Journal(world, state.id).state().status == "rolled-back"
    assert snapshot(world) == before


@pytest.mark.parametrize("path", ["etc/fstab", "var/lib/tui-jail/jails/rclone-sftp.yaml"])
def test_rollback_removes_the_temporary_file_of_a_write_cut_short(world: Path, path: str) -> None:
    """kill -9 between an atomic write's temporary file and its rename leaves the temporary file:
    the rollback removes it (in a directory the transaction made, it would keep that from going)."""
    before = snapshot(world)
    state = apply_plain(world)
    stale = world / f"{Path(path).parent}/.{Path(path).name}.tui-jail-{state.applier_pid + 1}"
    stale.write_text("half of the new content")
    assert transaction.rollback_txn(world, state.id, "test").status == "rolled-back"
    assert not stale.exists()
    assert snapshot(world) == before
    wait_watchdogs_gone(world)


def test_a_deadline_that_is_not_a_number_is_one_long_past(world: Path) -> None:
    """A journal whose deadline reads NaN (it never comes due) is rolled back at once, not never."""
    before = snapshot(world)
    state = apply_plain(world, timeout=600)
    os.kill(state.watchdog_pid, signal.SIGKILL)
    wait_exited([state.watchdog_pid])
    state_file = journal.Journal(world, state.id).dir / "state.json"
    text = state_file.read_text().replace(repr(state.deadline), "NaN")
    state_file.write_text(text.replace(repr(state.boot_deadline), "NaN"))
    assert journal.Journal(world, state.id).state().boot_deadline != state.boot_deadline  # NaN equals nothing
    timer = [sys.executable, "-m", "tui_jail.txn.watchdog", str(world), state.id]
    assert subprocess.run(timer, timeout=30, check=False).returncode == 0
    assert journal.Journal(world, state.id).state().status == "rolled-back"
    assert snapshot(world) == before


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), 0.5, 86401.0])
def test_waits_that_would_never_or_hardly_come_due_are_refused(world: Path, seconds: float) -> None:
    system = SystemRoot(world)
    with pytest.raises(Refused, match="--confirm-timeout must be a number of seconds from 1 to 86400"):
        transaction.apply(make_plan(seedbox(), system), system, timeout=seconds, environ={})
    assert journal.transactions(world) == []
    state = apply_plain(world)
    with pytest.raises(Refused, match="--extend must be a number of seconds"):
        transaction.extend(world, state.id, seconds)
    assert journal.Journal(world, state.id).state().deadline == state.deadline
    transaction.rollback_txn(world, state.id, "test")
    wait_watchdogs_gone(world)


def test_a_hung_applier_is_killed_only_when_it_is_tui_jail() -> None:
    """Past the deadline and its grace, the watchdog kills the applier that holds the lock, but not a
    process that merely reused its pid."""
    hold = "import time; print('running', flush=True); time.sleep(60)"
    ours = subprocess.Popen([sys.executable, "-c", hold, "tui_jail"], stdout=subprocess.PIPE)
    theirs = subprocess.Popen([sys.executable, "-c", hold, "someone-else"], stdout=subprocess.PIPE)
    try:
        for process in (ours, theirs):  # exec'd, so /proc shows their command lines
            assert process.stdout is not None and process.stdout.readline() == b"running\n"
        watchdog._kill_hung_applier(ours.pid)
        watchdog._kill_hung_applier(theirs.pid)
        assert ours.wait(timeout=10) == -signal.SIGKILL
        assert theirs.poll() is None
    finally:
        for process in (ours, theirs):
            process.kill()
            process.communicate()


# --- faults --------------------------------------------------------------------------------------------


def test_fault_at_every_apply_boundary(world: Path) -> None:
    """Killed at each boundary: the watchdog (or recover, before the watchdog exists) restores everything."""
    before = snapshot(world)
    k = 0
    while True:
        signal_number = forked(lambda: apply_plain(world, timeout=60), f"apply@{k}")
        found = journal.transactions(world)
        txn = found[-1]
        if signal_number == 0:
            assert txn.state().status == "pending"
            transaction.rollback_txn(world, txn.id, "test: the run that completed")
            assert snapshot(world) == before
            break
        assert signal_number == signal.SIGKILL
        state = txn.state()
        if state.watchdog_pid:
            state = wait_finished(world, txn.id)
        else:
            state = transaction.rollback_txn(world, txn.id, "recover after a kill before the watchdog")
        assert state.status == "rolled-back", (k, state)
        after = snapshot(world)
        assert after == before, (k, changed_paths(before, after))
        k += 1
    assert k > 3 * 15  # every step had its boundaries


def test_fault_at_every_rollback_boundary(world: Path) -> None:
    before = snapshot(world)
    k = 0
    while True:
        state = apply_plain(world, timeout=60)
        signal_number = forked(lambda s=state: transaction.rollback_txn(world, s.id, "test"), f"rollback@{k}")
        if signal_number == 0:
            assert journal.Journal(world, state.id).state().status == "rolled-back"
            assert snapshot(world) == before
            break
        recovered = transaction.rollback_txn(world, state.id, "recover after a crash mid-rollback")
        assert recovered.status == "rolled-back", (k, recovered)
        after = snapshot(world)
        assert after == before, (k, changed_paths(before, after))
        k += 1
    assert k > 2 * 15


def test_kill_9_at_random_moments(world: Path) -> None:
    """50 runs of the real command, killed (alone or with its whole session) at a random moment."""
    before = snapshot(world)
    spec = world.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    rng = random.Random(1234)
    argv = [sys.executable, "-m", "tui_jail", "--root", str(world), "apply", "--spec", str(spec), "--yes"]
    for run in range(50):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=rng.uniform(0.2, 1.2))
        except subprocess.TimeoutExpired:
            if run % 2:
                os.killpg(proc.pid, signal.SIGKILL)  # the whole session
            else:
                proc.kill()
            proc.wait()
        for txn in journal.unfinished(world):
            state = txn.state()
            if state.status == "pending":
                state = transaction.rollback_txn(world, txn.id, "test: this run completed")
            elif state.watchdog_pid:
                state = wait_finished(world, txn.id)
            else:
                state = transaction.rollback_txn(world, txn.id, "recover")
            assert state.status == "rolled-back", (run, state)
        after = snapshot(world)
        assert after == before, (run, changed_paths(before, after))
    wait_exited(watchdog_pids(world))  # armed or not, no watchdog outlives its transaction


def test_full_disk_never_leaves_a_half_written_file(tmp_path: Path) -> None:
    """A root on a small tmpfs, filled to leave less and less room: each apply is refused or rolled
    back; every file is its old or new self, never a mix; after freeing space recover restores all."""
    from tui_jail.sandbox import make_sandbox_root

    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "nsenv", str(root)], check=True)
    try:
        make_sandbox_root(root, host_keys=False)
        (root / "etc/fstab").write_text((root / "etc/fstab").read_text() * 40)  # a big file to rewrite
        before = snapshot(root)
        outcomes = set()
        for leave in (0, 2048, 8192, 40_000, 60_000, 120_000):
            filler = root / "filler"
            free = os.statvfs(root).f_bavail * os.statvfs(root).f_frsize
            with open(filler, "wb") as f:
                f.write(b"\0" * max(0, free - leave))
            try:
                apply_plain(root)
                outcomes.add("applied")
            except Refused as exc:
                outcomes.add("refused")
                assert "rolled back" in str(exc) or "nothing changed" in str(exc)
            for path, entry in snapshot(root)["files"].items():
                if path.startswith("etc/") and path in before["files"]:
                    assert entry == before["files"][path] or entry[4] != before["files"][path][4]
                assert ".tui-jail-" not in path, path
            filler.unlink()
            for txn in journal.unfinished(root):
                assert transaction.rollback_txn(root, txn.id, "recover with space again").status == "rolled-back"
            assert snapshot(root) == before, leave
        assert "refused" in outcomes
    finally:
        wait_watchdogs_gone(root)
        subprocess.run(["umount", "-R", str(root)], check=True)


def test_killed_inside_the_journals_creation_leaves_nothing_that_blocks(world: Path, monkeypatch) -> None:
    """The applier killed (SIGKILL, by itself, at each of `Journal.create`'s file writes in turn): the
    transaction's directory holds some of its files and no state.json. Nothing ran, so nothing may be
    reported damaged or pending: status, the next apply and boot recovery go on. (Before, a directory
    killed before its ops.json and log made every command fail with 'Damaged: ops.json: No such file'.)"""
    before = snapshot(world)
    writes = 0

    def killed_at(n: int) -> None:
        real = journal.write_new

        def write_new(path: str, content: bytes) -> None:
            nonlocal writes
            writes += 1
            if writes == n:
                os.kill(os.getpid(), signal.SIGKILL)
            real(path, content)

        monkeypatch.setattr(journal, "write_new", write_new)
        apply_plain(world)

    for n in range(1, 5):  # the seedbox's backups, plan.txt, ops.json, log: state.json comes after
        assert forked(lambda n=n: killed_at(n), "") == signal.SIGKILL
        assert not journal.unfinished(world)
        status = subprocess.run(
            [sys.executable, "-m", "tui_jail", "--root", str(world), "status"], capture_output=True, text=True
        )
        assert status.returncode == 0 and "damaged" not in status.stdout + status.stderr, (n, status)
        assert snapshot(world) == before
    state = apply_plain(world)
    assert transaction.rollback_txn(world, state.id, "test").status == "rolled-back"


def test_the_journals_files_are_written_side_by_side_and_state_json_last(sample_root: Path, monkeypatch) -> None:
    """`Journal.create`'s files before state.json (backups, plan.txt, ops.json, log, reserve) are written
    at once, so their fsyncs share the file system's commits: here the first two writes must meet at a
    barrier (written one after the other, the first would wait there in vain). state.json, which makes
    the directory a transaction, comes only once every one of them has returned, fsynced."""
    import threading
    import time

    barrier = threading.Barrier(2, timeout=10)
    calls = iter(range(100))  # next() on it is atomic: each write knows whether it is one of the first two
    returned: list[str] = []
    real = journal.write_new

    def write_new(path: str, content: bytes) -> None:  # the journal's paths are text
        if next(calls) < 2:
            barrier.wait()  # raises BrokenBarrierError after 10 s alone
        real(path, content)
        returned.append(os.path.basename(path))

    def write_state(self: journal.Journal, state: journal.TxnState) -> None:
        assert sorted(returned) == ["0", "3", "log", "ops.json", "plan.txt", "reserve"]
        real_state(self, state)

    real_state = journal.Journal.write_state
    monkeypatch.setattr(journal, "write_new", write_new)
    monkeypatch.setattr(journal.Journal, "write_state", write_state)
    now = time.time()
    state = journal.TxnState(journal.new_id("t", now), "t", "apply", "preparing", now, now + 60, 60)
    txn = journal.Journal.create(sample_root, state, [{"op": "check", "mounts": []}], {0: b"a", 3: b"b"}, "plan")
    assert txn.state().status == "preparing" and txn.backup(3) == b"b" and txn.plan_text() == "plan"


def test_the_directories_paths_were_made_in_are_fsynced_side_by_side(world: Path, monkeypatch) -> None:
    """Before the change is pending, every directory a path step created something in is fsynced: all
    at once, so the fsyncs share the file system's commits. Here the first two must meet at a barrier
    (one after the other, the first would wait there in vain)."""
    import threading

    from tui_jail.paths import files

    barrier = threading.Barrier(2, timeout=10)
    calls = iter(range(100))  # next() on it is atomic: each fsync knows whether it is one of the first two
    synced: list[str] = []
    real = files.fsync_dir

    def fsync_dir(root: object, path: str) -> None:
        if str(root) != "/":  # the jail's directories, not the journal's own (given from the host's /)
            if next(calls) < 2:
                barrier.wait()  # raises BrokenBarrierError after 10 s alone
            synced.append(path)
        real(root, path)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "fsync_dir", fsync_dir)
    state = apply_plain(world)
    assert state.status == "pending" and len(synced) >= 2 and "/chroot" in synced, synced
    assert transaction.rollback_txn(world, state.id, "test").status == "rolled-back"
