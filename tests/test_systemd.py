"""tui-jail on a machine booted by systemd (tests/systemd_harness.py): the transient timer, the boot
guard across a reboot, `systemctl reload ssh` and the journal. Each test boots its own machine
(about a second and a half here); they are marked `systemd` (deselect with -m 'not systemd').

They need only /lib/systemd/systemd: a harness that cannot boot it here fails, it does not skip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from systemd_harness import SYSTEMD, Machine

pytestmark = [
    pytest.mark.systemd,
    pytest.mark.skipif(not Path(SYSTEMD).exists(), reason=f"no {SYSTEMD} on this machine"),
]

SSH = ("ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "ControlPath=none")
SPEC_PATH = "/root/box.yaml"
SPEC = """\
version: 1
name: box
kind: sftp
root: /srv/jail
mounts:
  - source: /srv/tank/movies
    target: movies
  - source: /srv/tank/tv
    target: tv
    readonly: true
devices: [null]
sftp:
  users: [media]
  addresses: [203.0.113.7]
"""
DROPIN = "/etc/ssh/sshd_config.d/50-tui-jail-box.conf"
GUARD = "/etc/systemd/system/tui-jail-recover.service"


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    with Machine(tmp_path / "machine") as booted:
        booted.boot()
        yield booted


def active_services(machine: Machine) -> set[str]:
    out = machine.run("systemctl", "list-units", "--type=service", "--state=active", "--plain", "--no-legend").stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_the_machine_boots_to_multi_user_serves_ssh_and_reboots(tmp_path: Path) -> None:
    """The harness itself: only the kept services run, root logs in over its own loopback, what was
    written survives a reboot (and never reaches the host), and nothing of the machine outlives it."""
    with Machine(tmp_path / "machine") as machine:
        machine.boot()
        assert machine.run("systemctl", "is-active", "multi-user.target").stdout.strip() == "active"
        assert active_services(machine) == {
            "ssh.service",
            "systemd-journald.service",
            "systemd-journal-flush.service",
            "systemd-tmpfiles-setup.service",
            "systemd-user-sessions.service",
        }
        login = machine.run(*SSH, "root@127.0.0.1", "echo $SSH_CONNECTION")
        assert login.stdout.startswith("127.0.0.1 ")
        machine.run("sh", "-c", "echo kept > /root/harness-kept")
        first = machine.pid
        machine.poweroff()
        assert not Path(f"/proc/{first}").exists()
        machine.boot()
        second = machine.pid
        assert second != first
        assert machine.run("cat", "/root/harness-kept").stdout == "kept\n"
        assert not os.path.exists("/root/harness-kept")
        assert len(machine.boot_seconds) == 2
    assert not Path(f"/proc/{second}").exists()
    assert not machine.cgroup.exists()


# --- helpers ---------------------------------------------------------------------------------------


def prepare_jail(machine: Machine) -> None:
    """The jail's user, its sources and its spec, in the machine (kept across reboots)."""
    machine.run("sh", "-c", "id media >/dev/null 2>&1 || useradd -m media; mkdir -p /srv/tank/movies /srv/tank/tv")
    machine.path(SPEC_PATH).write_text(SPEC)


def status(machine: Machine) -> dict[str, Any]:
    return json.loads(machine.run("tui-jail", "status", "--json").stdout)


TRANSACTIONS = "/var/lib/tui-jail/transactions"


def txn_state(machine: Machine, txn: str) -> dict[str, Any]:
    """Read from the journal itself: any tui-jail command would first roll back (or re-arm) a
    transaction whose watchdog is gone, and these tests must see what the timer alone does."""
    state: dict[str, Any] = json.loads(machine.path(f"{TRANSACTIONS}/{txn}/state.json").read_text())
    return state


def transactions(machine: Machine) -> list[str]:
    return sorted(p.name for p in machine.path(TRANSACTIONS).iterdir()) if machine.path(TRANSACTIONS).exists() else []


def apply(machine: Machine, timeout: int) -> str:
    """`tui-jail apply` of the box jail, left pending; its transaction id."""
    machine.run("tui-jail", "apply", "--spec", SPEC_PATH, "--yes", "--confirm-timeout", str(timeout))
    (txn,) = status(machine)["pending"]
    return str(txn)


def wait_status(machine: Machine, txn: str, wanted: str, timeout: float) -> dict[str, Any]:
    give_up = time.monotonic() + timeout
    while True:
        state = txn_state(machine, txn)
        if state["status"] == wanted or time.monotonic() > give_up:
            return state
        time.sleep(0.2)


def transient_units(machine: Machine) -> list[str]:
    """Every loaded unit a transaction made (the boot guard is not one)."""
    out = machine.run("systemctl", "list-units", "--all", "--plain", "--no-legend", "tui-jail-*").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip() and "tui-jail-recover" not in line]


def timers(machine: Machine) -> str:
    return machine.run("systemctl", "list-timers", "--all", "--no-legend").stdout


def jail_mounts(machine: Machine) -> list[str]:
    targets = machine.run("findmnt", "-rn", "-o", "TARGET").stdout.split()
    return [t for t in targets if t.startswith("/srv/jail")]


def unit_log(machine: Machine, unit: str) -> str:
    return machine.run("journalctl", "-b", "-u", unit, "-o", "cat", "--no-pager").stdout


def stopped(machine: Machine, pid: int, timeout: float = 120) -> bool:
    """Until process `pid` of the machine is stopped (SIGSTOP by the fault hook)."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        text = machine.path(f"/proc/{pid}/status").read_text() if machine.path(f"/proc/{pid}").exists() else ""
        if "\nState:\tT" in text:
            return True
        time.sleep(0.05)
    return False


def stopped_applier(machine: Machine, fault: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """An apply started with the fault hook, once it has stopped there; and its transaction's state."""
    argv = ("tui-jail", "apply", "--spec", SPEC_PATH, "--yes", "--confirm-timeout", "20")
    applier = machine.spawn(*argv, env={"TUI_JAIL_FAULT": fault})
    known = transactions(machine)
    give_up = time.monotonic() + 120
    while not (new := [t for t in transactions(machine) if t not in known]) and time.monotonic() < give_up:
        time.sleep(0.1)
    (txn,) = new
    give_up = time.monotonic() + 120
    while not (machine.path(f"{TRANSACTIONS}/{txn}/state.json").exists() and txn_state(machine, txn)["watchdog_pid"]):
        assert time.monotonic() < give_up, "the watchdog was never armed"
        time.sleep(0.1)
    state = txn_state(machine, txn)
    assert stopped(machine, state["applier_pid"]), "the applier never reached the fault"
    return applier, txn_state(machine, txn)


# --- 1. the transient timer ------------------------------------------------------------------------


def test_the_timer_alone_rolls_back_once_the_applier_and_the_watchdog_are_killed(machine: Machine) -> None:
    """apply arms a transient timer named after the transaction (besides the detached watchdog);
    with the applier stopped half-way (mounts, fstab and sshd drop-in written, not reloaded yet) and
    then killed with its watchdog, the timer alone rolls everything back at the deadline, says so in
    the journal, and leaves no unit behind."""
    prepare_jail(machine)
    fstab = machine.path("/etc/fstab").read_text()
    applier, state = stopped_applier(machine, "reload@0:stop")
    txn = state["id"]
    assert f"tui-jail-{txn}.timer" in timers(machine)
    assert (
        jail_mounts(machine)
        and machine.path(DROPIN).exists()
        and "tui-jail box" in machine.path("/etc/fstab").read_text()
    )
    machine.run("kill", "-9", str(state["applier_pid"]), str(state["watchdog_pid"]))
    applier.wait(30)
    assert txn_state(machine, txn)["status"] == "applying"  # nobody else rolls back: the timer has not fired
    ended = wait_status(machine, txn, "rolled-back", timeout=60)
    assert ended["status"] == "rolled-back", ended
    assert machine.path("/etc/fstab").read_text() == fstab
    assert not machine.path(DROPIN).exists() and not machine.path(GUARD).exists()
    assert not jail_mounts(machine) and not machine.path("/srv/jail").exists()
    log = unit_log(machine, f"tui-jail-{txn}.service")
    assert f"apply of jail box ({txn}) rolled-back: the applying process died" in log
    give_up = time.monotonic() + 10
    while transient_units(machine) and time.monotonic() < give_up:
        time.sleep(0.1)
    assert transient_units(machine) == []
    assert "systemd still uses the old version" not in machine.run("findmnt", "--verify", check=False).stdout


# --- 2. confirm, rollback and remove ---------------------------------------------------------------


def test_confirm_stops_the_timer_and_rollback_and_remove_leave_no_unit_behind(machine: Machine) -> None:
    prepare_jail(machine)
    txn = apply(machine, 300)
    assert f"tui-jail-{txn}.timer" in timers(machine)
    machine.run(*SSH, "root@127.0.0.1", f"tui-jail confirm {txn}")
    assert txn_state(machine, txn)["status"] == "confirmed"
    assert transient_units(machine) == []
    machine.run("tui-jail", "remove", "box", "--yes", "--confirm-timeout", "300")
    (removal,) = status(machine)["pending"]
    assert f"tui-jail-{removal}.timer" in timers(machine)
    machine.run(*SSH, "root@127.0.0.1", f"tui-jail confirm {removal}")
    assert transient_units(machine) == [] and not jail_mounts(machine)
    again = apply(machine, 300)
    assert f"tui-jail-{again}.timer" in timers(machine)
    machine.run("tui-jail", "rollback", again)
    assert txn_state(machine, again)["status"] == "rolled-back"
    assert transient_units(machine) == [] and not jail_mounts(machine)


# --- 3. a reboot during the trial ------------------------------------------------------------------


def boot_entries(machine: Machine, *filters: str) -> list[dict[str, Any]]:
    out = machine.run("journalctl", "-b", "-o", "json", "--no-pager", *filters).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_reboot_during_the_trial_is_rolled_back_by_the_boot_guard_before_sshd_starts(machine: Machine) -> None:
    """apply, power off before the deadline, boot again: the guard, installed by that very apply,
    rolls it back before ssh.service starts (the journal's timestamps); the mounts systemd made from
    the unconfirmed fstab are stopped first, so once the boot has finished nothing of the jail is
    mounted and its fstab lines are gone; systemd was reloaded, so the next apply is not refused."""
    prepare_jail(machine)
    fstab = machine.path("/etc/fstab").read_text()
    txn = apply(machine, 600)
    assert machine.path(GUARD).exists() and jail_mounts(machine)
    machine.poweroff()
    machine.boot()
    state = txn_state(machine, txn)
    assert state["status"] == "rolled-back", state
    assert any("boot guard: the system restarted before" in note for note in state["notes"])
    assert machine.path("/etc/fstab").read_text() == fstab
    assert not jail_mounts(machine) and not machine.path("/srv/jail").exists() and not machine.path(DROPIN).exists()
    lines = unit_log(machine, "tui-jail-recover.service")
    assert f"rolling back: boot guard: the system restarted before {txn} was confirmed" in lines
    assert "stopped srv-jail-movies.mount, srv-jail-tv.mount" in lines  # systemd had mounted them from fstab
    # the order, in the journal's own timestamps: the guard stops the mount units, rolls back, and ends
    # its rollback with a daemon-reload (which unloads the guard's own ordering, as its unit file went
    # with the transaction that wrote it); only then does systemd start ssh.service
    entries = [(int(e["__MONOTONIC_TIMESTAMP"]), str(e.get("MESSAGE"))) for e in boot_entries(machine)]
    unmounted = next(t for t, message in entries if "stopped srv-jail" in message)
    rolling_back = next(t for t, message in entries if "rolling back: boot guard" in message)
    reloaded = next(t for t, message in entries if t > rolling_back and message == "Reloading.")
    ssh_starting = next(t for t, message in entries if message.startswith("Starting ssh.service"))
    assert unmounted <= rolling_back < reloaded < ssh_starting
    assert "systemd still uses the old version" not in machine.run("findmnt", "--verify", check=False).stdout
    again = apply(machine, 300)
    machine.run("tui-jail", "rollback", again)


def test_a_confirmed_change_survives_a_reboot_mounted_by_systemd_even_with_a_source_gone(machine: Machine) -> None:
    """A confirmed jail comes back after a reboot: systemd mounts its fstab entries (nofail,
    x-systemd.requires-mounts-for) itself, the guard finds nothing to undo, and a bind whose source
    was deleted meanwhile does not stop the boot from reaching multi-user (boot() fails on a
    degraded boot)."""
    prepare_jail(machine)
    txn = apply(machine, 300)
    machine.run(*SSH, "root@127.0.0.1", f"tui-jail confirm {txn}")
    machine.run("rm", "-rf", "/srv/tank/tv")
    machine.poweroff()
    machine.boot()
    assert txn_state(machine, txn)["status"] == "confirmed"
    assert "nothing to recover" in unit_log(machine, "tui-jail-recover.service")
    assert "tui-jail box" in machine.path("/etc/fstab").read_text()
    assert set(jail_mounts(machine)) >= {"/srv/jail/movies", "/srv/jail/tv"}
    for unit in ("srv-jail-movies.mount", "srv-jail-tv.mount"):
        show = machine.run("systemctl", "show", unit, "-p", "ActiveState", "-p", "FragmentPath").stdout
        assert "ActiveState=active" in show and "FragmentPath=/run/systemd/generator/" in show, show
    tv = machine.run("findmnt", "-n", "-o", "OPTIONS", "/srv/jail/tv").stdout
    assert tv.startswith("ro,")


def test_fstab_changed_behind_systemds_back_does_not_refuse_an_apply(machine: Machine) -> None:
    """fstab edited without a daemon-reload (as after an admin's edit, or a rollback before tui-jail
    reloaded systemd): findmnt --verify warns that systemd still uses the old version on every
    table it checks, the candidate included; that is about the running systemd, not the candidate,
    and no reason to refuse. The apply then reloads systemd itself."""
    prepare_jail(machine)
    machine.run("sh", "-c", "echo '# edited by hand' >> /etc/fstab")
    machine.path("/root/candidate").write_text(machine.path("/etc/fstab").read_text() + "/srv/a /srv/b none bind 0 0\n")
    verify = machine.run("findmnt", "--verify", "--tab-file", "/root/candidate", check=False).stdout
    assert "systemd still uses the old version" in verify
    txn = apply(machine, 300)
    assert "systemd still uses the old version" not in machine.run("findmnt", "--verify", check=False).stdout
    machine.run("tui-jail", "rollback", txn)


# --- 4. the sshd reload ----------------------------------------------------------------------------


def ssh_main_pid(machine: Machine) -> int:
    return int(machine.run("systemctl", "show", "ssh.service", "-p", "MainPID", "--value").stdout)


def test_sshd_is_reloaded_through_systemctl_and_a_config_broken_meanwhile_never_reaches_it(machine: Machine) -> None:
    """The apply reloads sshd with `systemctl reload ssh.service` (the journal shows systemd's reload
    job). A drop-in broken after every check of tui-jail's own (stopped by the fault hook just before
    the reload) is refused by the unit's ExecReload: the running daemon keeps its config and serves a
    new login, and the transaction is rolled back. The positive control: the same broken config sent
    to sshd with a raw SIGHUP leaves no listener at all."""
    prepare_jail(machine)
    daemon = ssh_main_pid(machine)
    txn = apply(machine, 300)
    assert "systemctl reload ssh.service" in txn_state(machine, txn)["notes"]
    assert "Reloaded ssh.service" in machine.run("journalctl", "-b", "-u", "ssh.service", "--no-pager").stdout
    machine.run("tui-jail", "rollback", txn)

    applier, state = stopped_applier(machine, "reload@0:stop")
    broken = machine.path(DROPIN).read_text() + "NoSuchKeyword yes\n"
    machine.path(DROPIN).write_text(broken)
    machine.run("kill", "-CONT", str(state["applier_pid"]))
    out, _ = applier.communicate(timeout=120)
    assert applier.returncode == 1
    assert "systemctl reload ssh.service" in out and "the running sshd keeps its old config; rolled back" in out
    assert txn_state(machine, state["id"])["status"] == "rolled-back"
    assert ssh_main_pid(machine) == daemon and machine.run("systemctl", "is-active", "ssh.service").stdout == "active\n"
    assert machine.run(*SSH, "root@127.0.0.1", "echo still serving").stdout == "still serving\n"

    machine.path("/etc/ssh/sshd_config.d/99-broken.conf").write_text("NoSuchKeyword yes\n")
    machine.run("kill", "-HUP", str(daemon))
    give_up = time.monotonic() + 30
    while machine.run("systemctl", "is-active", "ssh.service", check=False).returncode == 0:
        assert time.monotonic() < give_up, "sshd survived a SIGHUP with a broken config"
        time.sleep(0.1)
    assert machine.run(*SSH, "root@127.0.0.1", "true", check=False).returncode == 255


def test_under_another_root_no_systemctl_call_reaches_the_running_systemd(machine: Machine) -> None:
    """`--root DIR` on a host where systemd runs: the running systemd is the host's, not DIR's, so
    apply, rollback and remove arm no timer, reload no unit and never daemon-reload. Every call to
    systemctl and systemd-run is recorded by a wrapper first on PATH; the positive control is the
    same apply to `/`, which makes those calls."""
    prepare_jail(machine)
    record = "/root/systemd-calls"
    wrappers = machine.path("/root/wrappers")
    wrappers.mkdir()
    for tool in ("systemctl", "systemd-run"):
        (wrappers / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {record}\nexec /usr/bin/{tool} "$@"\n')
        (wrappers / tool).chmod(0o755)
    env = {"PATH": f"/root/wrappers:{machine.environment()['PATH']}"}
    sample = "/root/sample"
    make_root = f"import pathlib, tui_jail.sandbox as s; s.make_sandbox_root(pathlib.Path({sample!r}))"
    machine.run(sys.executable, "-c", make_root)
    machine.run("mkdir", "-p", f"{sample}/etc/systemd/system", f"{sample}/srv/tank/movies", f"{sample}/srv/tank/tv")
    root = ("--root", sample)
    machine.run("tui-jail", *root, "apply", "--spec", SPEC_PATH, "--yes", "--confirm-timeout", "300", env=env)
    (txn,) = json.loads(machine.run("tui-jail", *root, "status", "--json").stdout)["pending"]
    machine.run("tui-jail", *root, "rollback", txn, env=env)
    machine.run("tui-jail", *root, "apply", "--spec", SPEC_PATH, "--yes", "--confirm-timeout", "300", env=env)
    (txn,) = json.loads(machine.run("tui-jail", *root, "status", "--json").stdout)["pending"]
    machine.run("tui-jail", *root, "confirm", txn, env=env)
    machine.run("tui-jail", *root, "remove", "box", "--yes", "--confirm-timeout", "300", env=env)
    assert not machine.path(record).exists(), machine.path(record).read_text()
    assert "tui-jail-" not in timers(machine)

    machine.run("tui-jail", "apply", "--spec", SPEC_PATH, "--yes", "--confirm-timeout", "300", env=env)
    calls = machine.path(record).read_text()
    assert "systemd-run" in calls and "systemctl daemon-reload" in calls and "systemctl reload ssh.service" in calls


# --- 5. the journal --------------------------------------------------------------------------------


def test_a_rollback_at_the_deadline_is_told_in_the_journal(machine: Machine) -> None:
    """Left unconfirmed, the change is rolled back at the deadline (by the detached watchdog or the
    timer's, whichever takes the lock first) and `journalctl -u tui-jail-TXN.service` says what was
    rolled back and why; the boot guard's account of a rollback is in test 3."""
    prepare_jail(machine)
    txn = apply(machine, 8)
    assert wait_status(machine, txn, "rolled-back", timeout=60)["status"] == "rolled-back"
    give_up = time.monotonic() + 30
    while transient_units(machine) and time.monotonic() < give_up:
        time.sleep(0.1)
    log = unit_log(machine, f"tui-jail-{txn}.service")
    assert f"apply of jail box ({txn}) " in log and "rolled-back: watchdog: the confirm deadline passed" in log, log
