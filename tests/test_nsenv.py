"""The root-test harness (tests/nsenv.py) really gives us a private world.

Run as: unshare -m --propagation private python3 -m pytest tests/test_nsenv.py
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nsenv
import pytest

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, useradd, sshd)"),
    pytest.mark.skipif(
        not nsenv.in_private_mount_ns(),
        reason="needs a private mount namespace: run under `unshare -m --propagation private`",
    ),
]


def _mountinfo_targets() -> dict[str, str]:
    """mount point -> fs type of the top-most mount at each point in our namespace."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            out[left.split()[4]] = right.split()[0]
    return out


def sshd_effective(srv: nsenv.SshServer) -> str:
    """`sshd -T` of a server's config and options, lower-cased."""
    argv = [a for a in srv.argv() if a not in ("-D", "-e")] + ["-T"]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.lower()


def _write_sshd_config(dirpath: Path) -> Path:
    """Copy /etc/ssh/sshd_config to dirpath, its Include pointed at dirpath/sshd_config.d."""
    dropins = dirpath / "sshd_config.d"
    dropins.mkdir(parents=True, exist_ok=True)
    text = Path("/etc/ssh/sshd_config").read_text()
    new, n = re.subn(
        r"^Include\s+/etc/ssh/sshd_config\.d/\*\.conf\s*$",
        f"Include {dropins}/*.conf",
        text,
        flags=re.M,
    )
    assert n == 1, "Debian's sshd_config should have exactly one drop-in Include line"
    cfg = dirpath / "sshd_config"
    cfg.write_text(new)
    return cfg


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> nsenv.PrivateWorld:
    w = nsenv.private_world(tmp_path_factory.mktemp("world"))
    nsenv.tmpfs_over("/home")  # homes must be traversable by their users (StrictModes)
    return w


@pytest.fixture(scope="module")
def alice(world: nsenv.PrivateWorld) -> nsenv.TestUser:
    return nsenv.add_user("nsenv-alice", Path("/home"))


@pytest.fixture(scope="module")
def locked_bob(world: nsenv.PrivateWorld) -> nsenv.TestUser:
    return nsenv.add_user("nsenv-bob", Path("/home"), locked=True)


@pytest.fixture(scope="module")
def sshd(
    world: nsenv.PrivateWorld,
    alice: nsenv.TestUser,
    locked_bob: nsenv.TestUser,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[nsenv.SshServer]:
    cfg = _write_sshd_config(tmp_path_factory.mktemp("sshd"))
    srv = nsenv.SshServer(cfg, nsenv.free_port())
    with srv:
        yield srv
    srv.cleanup()


# --- namespace and scratch /etc ---------------------------------------------------------------


def test_scratch_etc_is_a_bind_over_etc(world: nsenv.PrivateWorld) -> None:
    assert "/etc" in _mountinfo_targets()
    assert os.path.samestat(os.stat("/etc"), os.stat(world.etc))
    assert nsenv.scratch_etc(Path("/nonexistent")) == world.etc  # idempotent
    marker = Path("/etc/nsenv-marker")
    marker.write_text("private\n")
    assert not nsenv.host_path("/etc/nsenv-marker").exists()


def test_user_is_added_to_scratch_etc_only(alice: nsenv.TestUser, locked_bob: nsenv.TestUser) -> None:
    host_passwd = nsenv.host_path("/etc/passwd").read_text()
    assert host_passwd.startswith("root:")  # really reading the host's file
    for user in (alice, locked_bob):
        assert re.search(rf"^{user.name}:", Path("/etc/passwd").read_text(), re.M)
        assert not re.search(rf"^{user.name}:", host_passwd, re.M)
    shadow = {ln.split(":")[0]: ln.split(":")[1] for ln in Path("/etc/shadow").read_text().splitlines()}
    assert shadow[alice.name] == "*"
    assert shadow[locked_bob.name] == "!"
    # idempotent, and authorized_keys is set up the way StrictModes wants
    again = nsenv.add_user(alice.name, Path("/home"))
    assert (again.uid, again.home, again.pubkey) == (alice.uid, alice.home, alice.pubkey)
    ak = alice.home / ".ssh" / "authorized_keys"
    st = ak.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (alice.uid, 0o600)
    assert ak.read_text().strip() == alice.pubkey


def test_tmpfs_over_hides_host_dir(world: nsenv.PrivateWorld) -> None:
    nsenv.tmpfs_over("/srv")
    assert _mountinfo_targets()["/srv"] == "tmpfs"
    assert os.listdir("/srv") == []
    Path("/srv/nsenv-probe").write_text("x")
    assert not nsenv.host_path("/srv/nsenv-probe").exists()
    nsenv.tmpfs_over("/srv")  # a fresh one again, not the old content
    assert os.listdir("/srv") == []


def test_run_sshd_is_private(world: nsenv.PrivateWorld) -> None:
    assert _mountinfo_targets()["/run"] == "tmpfs"
    assert world.run_sshd.is_dir()
    host_run = nsenv.host_path("/run")
    # every host entry of /run is still visible in ours
    assert set(os.listdir(host_run)) <= set(os.listdir("/run"))


# --- a real sshd --------------------------------------------------------------------------------


def test_key_login_from_127_0_0_1(sshd: nsenv.SshServer, alice: nsenv.TestUser) -> None:
    r = nsenv.ssh_run(alice, sshd.port, "echo ok; id -un")
    assert r.returncode == 0, r.stderr + sshd.log()
    assert r.stdout == f"ok\n{alice.name}\n"
    assert f"Accepted publickey for {alice.name} from 127.0.0.1" in sshd.log()


def test_key_login_from_127_0_0_2(sshd: nsenv.SshServer, alice: nsenv.TestUser) -> None:
    r = nsenv.ssh_run(alice, sshd.port, "echo $SSH_CLIENT", bind="127.0.0.2")
    assert r.returncode == 0, r.stderr + sshd.log()
    assert r.stdout.split()[0] == "127.0.0.2"


def test_sftp_batch(sshd: nsenv.SshServer, alice: nsenv.TestUser) -> None:
    r = nsenv.sftp_batch(alice, sshd.port, ["pwd", "put /etc/hostname up.txt", "ls -1"])
    assert r.returncode == 0, r.stderr + sshd.log()
    assert (alice.home / "up.txt").read_text() == Path("/etc/hostname").read_text()
    bad = nsenv.sftp_batch(alice, sshd.port, ["cd /nonexistent-dir"])
    assert bad.returncode != 0


def test_locked_user_key_login_fails_without_pam(
    world: nsenv.PrivateWorld, locked_bob: nsenv.TestUser, tmp_path: Path
) -> None:
    with nsenv.SshServer(_write_sshd_config(tmp_path), nsenv.free_port(), extra_opts={"UsePAM": "no"}) as srv:
        r = nsenv.ssh_run(locked_bob, srv.port, "echo ok")
        assert r.returncode == 255
        assert "ok" not in r.stdout
        assert f"User {locked_bob.name} not allowed because account is locked" in srv.log()
    srv.cleanup()


def test_locked_user_key_login_succeeds_with_debian_default_pam(
    sshd: nsenv.SshServer, locked_bob: nsenv.TestUser
) -> None:
    """Pins a surprise: with Debian's `UsePAM yes`, a `!` shadow field does NOT stop key logins
    (sshd skips its locked-account check under PAM; pam_unix's account stage ignores `!`)."""
    assert "usepam yes" in sshd_effective(sshd)
    r = nsenv.ssh_run(locked_bob, sshd.port, "echo ok")
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr + sshd.log()


def test_expired_user_key_login_fails_with_pam(sshd: nsenv.SshServer, tmp_path: Path) -> None:
    carol = nsenv.add_user("nsenv-carol", Path("/home"))
    subprocess.run(["usermod", "-e", "1", carol.name], check=True)
    r = nsenv.ssh_run(carol, sshd.port, "echo ok")
    assert r.returncode == 255 and "ok" not in r.stdout
    assert f"Access denied for user {carol.name} by PAM account configuration" in sshd.log()


def test_reload_keeps_pid_and_forwarding_can_be_refused(
    world: nsenv.PrivateWorld, alice: nsenv.TestUser, tmp_path: Path
) -> None:
    cfg = _write_sshd_config(tmp_path)
    with nsenv.SshServer(cfg, nsenv.free_port()) as srv:
        pid = srv.pid
        assert nsenv.try_forward(alice, srv.port, kind="local").allowed
        (tmp_path / "sshd_config.d" / "50-noforward.conf").write_text("AllowTcpForwarding no\n")
        srv.reload()
        assert srv.pid == pid and srv.running()
        assert "Received SIGHUP; restarting." in srv.log()
        local = nsenv.try_forward(alice, srv.port, kind="local")
        assert not local.allowed and local.returncode == 255
        assert "administratively prohibited" in local.stderr
        remote = nsenv.try_forward(alice, srv.port, kind="remote")
        assert not remote.allowed and remote.returncode == 255
        assert "remote port forwarding failed" in remote.stderr
        assert nsenv.ssh_run(alice, srv.port, "echo ok").stdout == "ok\n"  # logins still work
    srv.cleanup()


def test_reload_with_bad_config_raises_and_leaves_no_listener(
    world: nsenv.PrivateWorld, alice: nsenv.TestUser, tmp_path: Path
) -> None:
    cfg = _write_sshd_config(tmp_path)
    srv = nsenv.SshServer(cfg, nsenv.free_port())
    with srv:
        (tmp_path / "sshd_config.d" / "50-bad.conf").write_text("Match Address 203.0.113.7/24\n")
        with pytest.raises(nsenv.SshServerError):
            srv.reload()
        assert not srv.running()
        assert nsenv.ssh_run(alice, srv.port, "echo ok").returncode == 255
    srv.cleanup()


def test_stop_leaves_no_process(world: nsenv.PrivateWorld, alice: nsenv.TestUser, tmp_path: Path) -> None:
    srv = nsenv.SshServer(_write_sshd_config(tmp_path), nsenv.free_port())
    srv.start()
    pid = srv.pid
    assert Path(f"/proc/{pid}").exists()
    srv.stop()
    assert not Path(f"/proc/{pid}").exists()
    assert nsenv.ssh_run(alice, srv.port, "echo ok").returncode == 255
    srv.cleanup()
