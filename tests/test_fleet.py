"""The fleet: the seedbox spec rolled out by a real `ansible-playbook` to five hosts on this machine, each
an sshd in its own mount namespace on its own loopback address (tests/fleet.py), through the collection
in ansible_collections/tui_jail/fleet installed offline, and tui-jail installed on the hosts by its role.

Per host the rollout keeps tui-jail's own safety: the preflight refuses there alone, and a host where
the new login fails after the change is rolled back by its own watchdog; the playbook stops before the
next batch when any host failed or went unreachable. Serial batches here: [1, 2, 2] (h1 the canary).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import fleet as fleetlib
import nsenv
import pytest
from txn_helpers import wait_finished

pytestmark = [
    pytest.mark.ns,
    pytest.mark.fleet,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]

SERIAL = [1, 2, 2]
TIMEOUT = 30  # the hosts' confirm timeout: long enough for a loaded machine between apply and confirm


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> fleetlib.Shared:
    return fleetlib.shared_world(tmp_path_factory.mktemp("fleet-shared"))


@pytest.fixture(scope="module")
def spec(shared: fleetlib.Shared) -> Path:
    path = shared.work / "rclone-sftp.yaml"
    path.write_text(fleetlib.seedbox_spec(shared.media.name))
    return path


@pytest.fixture(scope="module")
def installed(shared: fleetlib.Shared, tmp_path_factory: pytest.TempPathFactory) -> fleetlib.Shared:
    """tui-jail installed by the collection's role through one host; the others share /opt and the link."""
    with fleetlib.running(shared, tmp_path_factory.mktemp("fleet-install"), count=1) as fleet:
        run = fleet.install()
        assert run.returncode == 0, run
        assert run.recap()["h1"]["failed"] == 0
    return shared


@pytest.fixture(scope="module")
def fleet(installed: fleetlib.Shared, tmp_path_factory: pytest.TempPathFactory) -> Iterator[fleetlib.Fleet]:
    """One fleet for the check, the rollout and the removal, in that order."""
    with fleetlib.running(installed, tmp_path_factory.mktemp("fleet")) as fleet:
        yield fleet


@pytest.fixture
def fresh_fleet(installed: fleetlib.Shared, tmp_path: Path) -> Iterator[fleetlib.Fleet]:
    with fleetlib.running(installed, tmp_path) as fleet:
        yield fleet


def test_install_role_lays_out_the_venv_and_the_link(installed: fleetlib.Shared) -> None:
    link = installed.sbin / "tui-jail"
    assert os.readlink(link) == "/opt/tui-jail/bin/tui-jail"
    assert (installed.opt / "tui-jail/bin/python").exists()
    assert (installed.opt / "tui-jail-wheels").is_dir()
    assert list((installed.opt / "tui-jail/lib").glob("python3*/site-packages/tui_jail/cli.py"))


def test_check_diff_changes_nothing_and_shows_each_hosts_diff(fleet: fleetlib.Fleet, spec: Path) -> None:
    before = {h.name: h.tree() for h in fleet.hosts}
    run = fleet.rollout(spec, "--check", "--diff", rollout_serial=SERIAL, jail_confirm_timeout=TIMEOUT)
    assert run.returncode == 0, run
    recap = run.recap()
    assert sorted(recap) == [h.name for h in fleet.hosts]
    for host in fleet.hosts:
        assert recap[host.name]["changed"] == 1 and recap[host.name]["failed"] == 0, run
        # the context of each host's fstab diff is that host's own last line
        assert f" # fleet host {host.name}\n+# BEGIN tui-jail {fleetlib.JAIL_NAME}\n" in run.stdout, run
    assert run.stdout.count(f"+++ b/{fleetlib.DROPIN}") == len(fleet.hosts)
    assert {h.name: h.tree() for h in fleet.hosts} == before
    assert not any(h.transactions() for h in fleet.hosts)


def test_rollout_applies_and_confirms_everywhere_and_converges(fleet: fleetlib.Fleet, spec: Path) -> None:
    run = fleet.rollout(spec, rollout_serial=SERIAL, jail_confirm_timeout=TIMEOUT)
    assert run.returncode == 0, run
    recap = run.recap()
    staging = sorted(f"{fleetlib.JAIL_ROOT}/{name}" for name in fleetlib.STAGING)
    for host in fleet.hosts:
        assert recap[host.name]["failed"] == recap[host.name]["unreachable"] == 0, run
        assert [(s.action, s.status) for s in host.transactions()] == [("apply", "confirmed")], host.name
        assert host.jailed() and sorted(host.mounts()) == staging, host.name
        # the boot guard runs the installed tui-jail, never a checkout or a test venv (DESIGN "Install"):
        # the /usr/local/sbin link, which the install role points into the /opt/tui-jail venv
        guard = (host.dir / "etc/systemd/system/tui-jail-recover.service").read_text()
        assert "ExecStart=/usr/local/sbin/tui-jail recover --boot" in guard, guard
    assert os.readlink(fleet.shared.sbin / "tui-jail") == "/opt/tui-jail/bin/tui-jail"
    # batch by batch, the canary first: every transaction of a batch began after the one before it
    started = {h.name: h.transactions()[0].created for h in fleet.hosts}
    assert started["h1"] < min(started["h2"], started["h3"])
    assert max(started["h2"], started["h3"]) < min(started["h4"], started["h5"])

    # the seedbox, from its address, sees the jail: its staging dirs, with each host's own files
    for name in ("h2", "h5"):
        host = fleet.host(name)
        listing = host.sftp(fleet.shared.media, "ls -1 /", "ls -1 /incomingmovies")
        assert listing.returncode == 0, listing.stderr
        seen = {line.strip().rsplit("/", 1)[-1] for line in listing.stdout.splitlines() if not line.startswith("sftp>")}
        assert seen == {*fleetlib.STAGING, "dev", f"from-{name}.mkv"}, listing.stdout

    again = fleet.rollout(spec, rollout_serial=SERIAL, jail_confirm_timeout=TIMEOUT)
    assert again.returncode == 0, again
    assert {name: counts["changed"] for name, counts in again.recap().items()} == {h.name: 0 for h in fleet.hosts}
    assert all(len(h.transactions()) == 1 for h in fleet.hosts)


def test_state_absent_removes_the_jail_everywhere_through_the_transaction(fleet: fleetlib.Fleet, spec: Path) -> None:
    if not any(h.transactions() for h in fleet.hosts):
        # selected without the rollout test (-k), whose jails this removes: made here the same way
        assert fleet.rollout(spec, rollout_serial=SERIAL, jail_confirm_timeout=TIMEOUT).returncode == 0
    assert all(h.jailed() for h in fleet.hosts)
    run = fleet.rollout(spec, rollout_serial=SERIAL, jail_confirm_timeout=TIMEOUT, jail_state="absent")
    assert run.returncode == 0, run
    for host in fleet.hosts:
        assert run.recap()[host.name]["changed"] == 2, run  # the removal and its confirmation
        assert [(s.action, s.status) for s in host.transactions()][-1] == ("remove", "confirmed"), host.name
        assert not host.jailed() and host.mounts() == [], host.name
        assert f"tui-jail {fleetlib.JAIL_NAME}" not in host.fstab()


def test_a_host_whose_preflight_refuses_fails_alone_and_stops_the_rollout(
    fresh_fleet: fleetlib.Fleet, spec: Path
) -> None:
    # h3's spec would jail the admin's own connection (root, from 127.0.0.1): its preflight must refuse
    locking = spec.with_name("locks-the-admin-out.yaml")
    locking.write_text(
        spec.read_text()
        .replace(f"- {fresh_fleet.shared.media.name}", "- root")
        .replace(f"- {fleetlib.SEEDBOX}", "- 127.0.0.1")
    )
    assert "- root" in locking.read_text() and "- 127.0.0.1" in locking.read_text()
    before = {h.name: h.tree() for h in fresh_fleet.hosts}
    run = fresh_fleet.rollout(
        spec,
        rollout_serial=SERIAL,
        jail_confirm_timeout=TIMEOUT,
        host_vars={"h3": {"jail_spec_file": str(locking)}},
    )
    assert run.returncode != 0, run
    recap = run.recap()
    assert recap["h3"]["failed"] == 1, run
    assert "would lock you out" in run.stdout, run
    # nothing changed there: no transaction, only tui-jail's lock file
    assert outside_journal(fresh_fleet.host("h3").tree()) == outside_journal(before["h3"])
    assert not fresh_fleet.host("h3").transactions()
    for name in ("h1", "h2"):  # the canary and h3's batch-mate went on and kept their change
        host = fresh_fleet.host(name)
        assert recap[name]["failed"] == 0 and host.jailed(), run
        assert [s.status for s in host.transactions()] == ["confirmed"]
    for name in ("h4", "h5"):  # the rollout stopped before the next batch
        assert recap.get(name, {}).get("changed", 0) == 0, run
        assert fresh_fleet.host(name).tree() == before[name] and not fresh_fleet.host(name).transactions()


def test_a_host_whose_new_login_fails_is_rolled_back_by_its_own_watchdog(
    fresh_fleet: fleetlib.Fleet, spec: Path
) -> None:
    bad = fresh_fleet.host("h3")
    bad.refuse_root_while_jailed()  # root's new logins there fail once the jail is live
    before = {h.name: h.tree() for h in fresh_fleet.hosts}
    run = fresh_fleet.rollout(spec, rollout_serial=SERIAL, jail_confirm_timeout=TIMEOUT)
    assert run.returncode != 0, run
    recap = run.recap()
    assert recap["h3"]["unreachable"] == 1, run  # the confirmation's new login was refused
    [txn] = bad.transactions()
    assert wait_finished(bad.dir, txn.id, timeout=TIMEOUT + 30).status == "rolled-back"
    assert not bad.jailed() and bad.mounts() == []
    assert outside_journal(bad.tree()) == outside_journal(before["h3"])
    for name in ("h1", "h2"):
        host = fresh_fleet.host(name)
        assert recap[name]["failed"] == recap[name]["unreachable"] == 0 and host.jailed(), run
        assert [s.status for s in host.transactions()] == ["confirmed"]
    for name in ("h4", "h5"):
        assert fresh_fleet.host(name).tree() == before[name] and not fresh_fleet.host(name).transactions()


def outside_journal(tree: dict[str, str]) -> dict[str, str]:
    """A host's tree but tui-jail's own state, which stays by design: the journal (and its lock) that
    records the refusal or the rollback, and the boot guard unit, which is no part of any transaction."""
    return {
        path: entry
        for path, entry in tree.items()
        if not path.startswith("var/lib/tui-jail")
        and not path.endswith("tui-jail-recover.service")
        and path != "etc/systemd/system/ssh.service.wants"
    }
