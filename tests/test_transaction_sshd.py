"""The transaction against a real OpenSSH sshd on loopback, inside the suite's private namespace.

The admin (a uid-0 account with a key) applies over ssh from 127.0.0.1, so SSH_CONNECTION is real and
the watchdog must outlive that session. The jail catches `tjmedia` from 127.0.0.2 (its chroot does not
exist on this host, so such a login is refused): a login that works before apply, fails while the
change is live and works again after the rollback shows the whole loop. The sample root's /etc/ssh is
bound over the scratch /etc/ssh for the test, so the daemon reads exactly what tui-jail writes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nsenv
import pytest
from txn_helpers import seedbox_text, wait_finished, wait_watchdogs_gone

from tui_jail.txn import journal

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]


def until(check: Callable[[], bool], timeout: float = 8.0) -> bool:
    """sshd re-execs on SIGHUP: a login right after a reload may hit the gap; retry briefly."""
    give_up = time.monotonic() + timeout
    while not check():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def site(sample_root: Path, tmp_path: Path) -> Iterator[tuple[Path, nsenv.SshServer, nsenv.TestUser, nsenv.TestUser]]:
    nsenv.private_world(tmp_path / "world")
    nsenv.tmpfs_over("/mnt")
    if subprocess.run(["id", "tjadmin"], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "-o", "-u", "0", "-g", "0", "-m", "-d", "/mnt/tjadmin", "-s", "/bin/bash", "tjadmin"],
            check=True,
        )
    admin = nsenv.add_user("tjadmin", Path("/mnt"))
    media = nsenv.add_user("tjmedia", Path("/mnt"))
    subprocess.run(["mount", "--bind", str(sample_root / "etc/ssh"), "/etc/ssh"], check=True)
    (sample_root / "run").mkdir(exist_ok=True)
    server = nsenv.SshServer(Path("/etc/ssh/sshd_config"), nsenv.free_port())
    server.pid_file = sample_root / "run/sshd.pid"  # where tui-jail looks: the config's default PidFile
    try:
        with server:
            yield sample_root, server, admin, media
            wait_watchdogs_gone(sample_root)
    finally:
        subprocess.run(["umount", "/etc/ssh"], check=True)
        for point in sorted(journal_mounts(sample_root), key=lambda p: -p.count("/")):
            subprocess.run(["umount", point], check=False)


def journal_mounts(root: Path) -> list[str]:
    from tui_jail.paths.system import SystemRoot

    system = SystemRoot(root)
    return [str(system.host(p)) for p in system.mounts() if p != "/"]


def tui_jail(root: Path, *args: str) -> str:
    return " ".join([sys.executable, "-m", "tui_jail", "--root", str(root), *args])


def test_confirm_needs_a_new_login_and_an_unconfirmed_apply_rolls_back(site: tuple) -> None:  # type: ignore[type-arg]
    root, server, admin, media = site
    spec = root.parent / "seed.yaml"
    spec.write_text(seedbox_text(user="tjmedia", address="127.0.0.2"))

    def media_shell_works() -> bool:
        return nsenv.ssh_run(media, server.port, "echo ok", bind="127.0.0.2").stdout == "ok\n"

    assert media_shell_works()

    # 1. applied over ssh, never confirmed: the session ends, the watchdog rolls back at the deadline
    applied = nsenv.ssh_run(
        admin, server.port, tui_jail(root, "apply", "--spec", str(spec), "--yes", "--confirm-timeout", "4")
    )
    assert applied.returncode == 0, applied.stderr
    txn = journal.transactions(root)[-1]
    assert txn.state().ssh_connection.startswith("127.0.0.1 ")
    assert until(lambda: not media_shell_works())  # the jail is live: tjmedia from 127.0.0.2 is caught
    assert wait_finished(root, txn.id).status == "rolled-back"
    assert until(media_shell_works)  # a new login works again
    assert not (root / "etc/ssh/sshd_config.d/50-tui-jail-rclone-sftp.conf").exists()

    # 2. confirm from the applying session is refused; from a new login it is accepted
    same = nsenv.ssh_run(
        admin, server.port, tui_jail(root, "apply", "--spec", str(spec), "--yes") + " && " + tui_jail(root, "confirm")
    )
    assert same.returncode == 1 and "new SSH login" in same.stderr, same.stderr
    txn = journal.transactions(root)[-1]
    assert txn.state().status == "pending"
    other = nsenv.ssh_run(admin, server.port, tui_jail(root, "confirm", txn.id))
    assert other.returncode == 0, other.stderr
    assert txn.state().status == "confirmed"
    assert until(lambda: not media_shell_works())
    assert (root / "etc/ssh/sshd_config.d/50-tui-jail-rclone-sftp.conf").exists()


@pytest.mark.parametrize(("line", "asked"), [("#PidFile /run/sshd.pid", False), ("PidFile /run/elsewhere.pid", True)])
def test_only_a_pidfile_line_not_a_comment_costs_an_sshd_T_run(
    sample_root: Path, monkeypatch: pytest.MonkeyPatch, line: str, asked: bool
) -> None:
    """Debian's stock sshd_config has `#PidFile /run/sshd.pid`: a comment sets nothing, so the reload
    finds the daemon at /run/sshd.pid without asking `sshd -T` (a whole run before every reload). A
    PidFile line is asked for (control)."""
    from tui_jail.backends import sshd
    from tui_jail.paths.system import SystemRoot
    from tui_jail.txn import steps

    config = sample_root / "etc/ssh/sshd_config"
    config.write_text(config.read_text() + f"{line}\n")
    asks: list[object] = []
    monkeypatch.setattr(sshd, "configured_pidfile", lambda system: asks.append(system) or "/run/sshd.pid")
    assert steps.reload_sshd(SystemRoot(sample_root)) == steps.SSHD_NOT_RUNNING  # no sshd runs here
    assert bool(asks) is asked
