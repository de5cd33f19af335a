"""tui-jail on a machine booted by systemd (tests/systemd_harness.py): the transient timer, the boot
guard across a reboot, `systemctl reload ssh` and the journal. Each test boots its own machine
(about a second and a half here); they are marked `systemd` (deselect with -m 'not systemd').

They need only /lib/systemd/systemd: a harness that cannot boot it here fails, it does not skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from systemd_harness import SYSTEMD, Machine

pytestmark = [
    pytest.mark.systemd,
    pytest.mark.skipif(not Path(SYSTEMD).exists(), reason=f"no {SYSTEMD} on this machine"),
]

SSH = ("ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "ControlPath=none")


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
