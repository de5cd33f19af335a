"""verify.sftp without a running daemon: the addresses probed, the verdicts on sshd's answers, real
`sshd -T -C` on a sample root with the plan's files written, the account, the log socket, config mtimes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tui_jail.backends.sshd import Connection
from tui_jail.core.checks import run_checks
from tui_jail.core.plan import Plan, make_plan
from tui_jail.core.spec import Spec, parse_spec
from tui_jail.paths.system import SystemRoot
from tui_jail.txn.admin import admin_connection
from tui_jail.verify import sftp, sshd_answers

SPEC = {
    "version": 1,
    "name": "box",
    "kind": "sftp",
    "root": "/chroot/box",
    "mounts": [
        {"source": "/tank/IncomingTV", "target": "tv"},
        {"source": "/tank/incomingmovies", "target": "movies", "readonly": True},
    ],
    "sftp": {"users": ["media"], "addresses": ["203.0.113.0/24", "2001:db8:5::/64"]},
}
JAILED = {
    "chrootdirectory": "/chroot/box",
    "forcecommand": "internal-sftp",
    "allowtcpforwarding": "no",
    "x11forwarding": "no",
    "usepam": "yes",
}
FREE = {"chrootdirectory": "none", "forcecommand": "none", "usepam": "yes"}


@pytest.mark.parametrize(
    ("address", "probes"),
    [
        ("203.0.113.7", ["203.0.113.7"]),
        ("203.0.113.0/24", ["203.0.113.1", "203.0.113.254"]),
        ("203.0.113.6/31", ["203.0.113.6", "203.0.113.7"]),
        ("2001:db8::/64", ["2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff"]),
        ("2001:db8::5/128", ["2001:db8::5"]),
    ],
)
def test_probe_addresses_are_both_ends(address: str, probes: list[str]) -> None:
    assert sshd_answers.probe_addresses(address) == probes


def test_outside_address_avoids_the_jails_networks() -> None:
    assert sshd_answers.outside_address(("203.0.113.7",)) == "192.0.2.1"
    assert sshd_answers.outside_address(("192.0.2.0/24", "198.51.100.0/24")) == "203.0.113.1"


def fixed(answers: dict[str, dict[str, str]]) -> sftp.Effective:
    return lambda conn: answers[conn.addr]


def test_verdicts_on_sshds_answers() -> None:
    spec = parse_spec(SPEC)
    conn = Connection("media", "203.0.113.1")
    assert sftp.jailed_result(spec, fixed({"203.0.113.1": JAILED}), conn).status == "pass"
    shadowed = {**JAILED, "chrootdirectory": "/srv/other", "forcecommand": "internal-sftp -l INFO"}
    result = sftp.jailed_result(spec, fixed({"203.0.113.1": shadowed}), conn)
    assert (result.status, result.detail) == ("fail", "chrootdirectory /srv/other (want /chroot/box)")
    assert sftp.free_result(fixed({"203.0.113.1": FREE}), conn).status == "pass"
    result = sftp.free_result(fixed({"203.0.113.1": JAILED}), conn)
    assert result.status == "fail" and "chrootdirectory /chroot/box, forcecommand internal-sftp" in result.detail


def test_admin_verdicts() -> None:
    assert sftp.admin_result(fixed({}), None).status == "skip"
    admin = Connection("alice", "10.0.0.5")
    assert sftp.admin_result(fixed({"10.0.0.5": FREE}), admin).status == "pass"
    result = sftp.admin_result(fixed({"10.0.0.5": JAILED}), admin)
    assert result.status == "fail" and result.detail.startswith("alice from 10.0.0.5 gets chrootdirectory")


def write_plan_files(spec: Spec, system: SystemRoot) -> Plan:
    plan = make_plan(spec, system)
    for change in plan.files:
        host = system.host(change.path)
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(change.after or "")
    return plan


def test_real_sshd_verdicts_on_the_written_config(sample_root: Path) -> None:
    """sshd -T -C itself, on the config the plan writes: both ends of each network jailed, others free."""
    spec, system = parse_spec(SPEC), SystemRoot(sample_root)
    plan = write_plan_files(spec, system)
    inside = Connection("media", "203.0.113.9", host="203.0.113.9")
    checks = [c for c in sftp.sftp_checks(spec, system, plan, inside) if c.name.startswith("sshd: ")]
    results = {r.name: r.status for r in run_checks(checks)}
    assert results == {
        "sshd: media from 203.0.113.1 is jailed": "pass",
        "sshd: media from 203.0.113.254 is jailed": "pass",
        "sshd: media from 2001:db8:5::1 is jailed": "pass",
        "sshd: media from 2001:db8:5:0:ffff:ffff:ffff:ffff is jailed": "pass",
        "sshd: media from 192.0.2.1 is not jailed": "pass",
        # the admin logged in as the jailed user from a jailed address: the next login would be jailed
        "sshd: your own connection is not jailed": "fail",
        "sshd: running daemon has loaded the config": "warn",  # no sshd runs for a sample root
    }


def test_real_sshd_sees_an_unapplied_jail(sample_root: Path) -> None:
    spec, system = parse_spec(SPEC), SystemRoot(sample_root)
    plan = make_plan(spec, system)
    check = next(c for c in sftp.sftp_checks(spec, system, plan, None) if c.name.endswith(" is jailed"))
    result = check.run()
    assert result.status == "fail" and "chrootdirectory none (want /chroot/box)" in result.detail


def user_result(root: Path, answers: dict[str, str], user: str = "media") -> tuple[str, str]:
    spec, system = parse_spec(SPEC), SystemRoot(root)
    first = Connection("media", "203.0.113.1", host="203.0.113.1")
    result = sftp.user_result(spec, system, make_plan(spec, system), user, lambda _: answers, first)
    return result.status, result.detail


def test_usable_account_passes(sample_root: Path) -> None:
    """The sandbox's media, as on a real host: a nologin shell, not locked, a key, its staging dirs."""
    assert user_result(sample_root, JAILED)[0] == "pass"


def test_locked_account(sample_root: Path) -> None:
    shadow = sample_root / "etc/shadow"
    shadow.write_text(shadow.read_text().replace("media:*:", "media:!:"))
    status, detail = user_result(sample_root, {**JAILED, "usepam": "no"})
    assert status == "fail" and detail == "locked with '!' in /etc/shadow"
    status, detail = user_result(sample_root, JAILED)  # UsePAM yes lets key logins through
    assert status == "warn" and "UsePAM is yes" in detail


def test_account_problems_are_named(sample_root: Path) -> None:
    (sample_root / "home/media/.ssh/authorized_keys").unlink()
    assert user_result(sample_root, JAILED) == ("warn", "no authorized_keys for media")
    os.chmod(sample_root / "tank/IncomingTV", 0o555)
    assert user_result(sample_root, JAILED) == ("fail", "cannot write /tank/IncomingTV; no authorized_keys for media")
    os.chmod(sample_root / "usr/sbin/nologin", 0o644)
    assert user_result(sample_root, JAILED)[1].startswith("shell /usr/sbin/nologin does not exist or is not executable")
    assert user_result(sample_root, JAILED, user="ghost") == ("fail", "no user ghost in /etc/passwd")


def test_group_write_is_enough(sample_root: Path) -> None:
    tv = sample_root / "tank/IncomingTV"
    os.chown(tv, 0, 1001)
    os.chmod(tv, 0o775)
    assert user_result(sample_root, JAILED)[0] == "pass"
    os.chmod(tv, 0o755)
    assert user_result(sample_root, JAILED)[0] == "fail"


def test_log_socket(sample_root: Path) -> None:
    spec, system = parse_spec(SPEC), SystemRoot(sample_root)
    assert sftp.log_socket_result(spec, system).status == "warn"
    dev = sample_root / "chroot/box/dev"
    dev.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(dev / "log"))
        assert sftp.log_socket_result(spec, system).status == "pass"


def test_a_removed_dropin_shows_as_its_directorys_change(sample_root: Path) -> None:
    system = SystemRoot(sample_root)
    dropins = sample_root / "etc/ssh/sshd_config.d"
    os.utime(sample_root / "etc/ssh/sshd_config", (1000, 1000))
    os.utime(dropins, (1000, 1000))
    assert sftp.newest_config(system)[0] == 1000
    (dropins / "50-x.conf").write_text("X11Forwarding no\n")
    os.utime(dropins / "50-x.conf", (1000, 1000))  # a file moved back keeps its old mtime
    newest, path = sftp.newest_config(system)
    assert newest > 1000 and path == "/etc/ssh/sshd_config.d"


def test_admin_connection_from_the_environment() -> None:
    env = {"SSH_CONNECTION": "198.51.100.4 51000 192.0.2.10 2222", "SUDO_USER": "alice", "USER": "root"}
    assert admin_connection(env) == Connection("alice", "198.51.100.4", "198.51.100.4", "192.0.2.10", 2222)
    assert admin_connection({**env, "SUDO_USER": ""}) == Connection(
        "root", "198.51.100.4", "198.51.100.4", "192.0.2.10", 2222
    )
    mapped = {**env, "SSH_CONNECTION": "::ffff:198.51.100.4 51000 ::ffff:192.0.2.10 22"}
    assert admin_connection(mapped) == Connection("alice", "198.51.100.4", "198.51.100.4", "192.0.2.10", 22)
    assert admin_connection({"USER": "root"}) is None
    assert admin_connection({**env, "SSH_CONNECTION": "garbage 1 2"}) is None
    assert admin_connection({**env, "SSH_CONNECTION": "not-an-ip 1 192.0.2.10 22"}) is None
