"""Who the admin is and whether a login is new, against a real OpenSSH sshd and real logins.

Inside the suite's private namespace: the sample root's /etc/ssh is bound over the scratch /etc/ssh and
an sshd reads it (its PidFile is in the root, where tui-jail finds it to reload); users log in with ssh
from 127.0.0.x source addresses. `alice` is an ordinary user; `tjadmin` is a second uid-0 account (the
host's own root has no key this test may install) standing for root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nsenv
import pytest
from txn_helpers import seedbox_text, wait_watchdogs_gone

from tui_jail import journal

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]

SU_L = Path("/etc/pam.d/su-l")  # the scratch /etc's: `su -` asks it


@dataclass
class Site:
    root: Path
    server: nsenv.SshServer
    alice: nsenv.TestUser
    admin: nsenv.TestUser

    def tui_jail(self, *args: str) -> str:
        return " ".join([sys.executable, "-m", "tui_jail", "--root", str(self.root), *args])

    def ssh(self, user: nsenv.TestUser, command: str, bind: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return nsenv.ssh_run(user, self.server.port, command, bind=bind, extra=extra)

    def spec(self, users: str, addresses: str) -> Path:
        spec = self.root.parent / "jail.yaml"
        spec.write_text(seedbox_text(user=users, address=addresses))
        return spec


@pytest.fixture
def site(sample_root: Path, tmp_path: Path) -> Iterator[Site]:
    nsenv.private_world(tmp_path / "world")
    nsenv.tmpfs_over("/mnt")
    if subprocess.run(["id", "tjadmin"], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "-o", "-u", "0", "-g", "0", "-m", "-d", "/mnt/tjadmin", "-s", "/bin/bash", "tjadmin"],
            check=True,
        )
    admin = nsenv.add_user("tjadmin", Path("/mnt"))
    alice = nsenv.add_user("alice", Path("/mnt"))
    su_l = SU_L.read_bytes()
    # `su -` without a password prompt (the login proves who alice is here): pam_permit
    SU_L.write_text("auth sufficient pam_permit.so\n" + su_l.decode())
    subprocess.run(["mount", "--bind", str(sample_root / "etc/ssh"), "/etc/ssh"], check=True)
    (sample_root / "run").mkdir(exist_ok=True)
    server = nsenv.SshServer(Path("/etc/ssh/sshd_config"), nsenv.free_port())
    server.pid_file = sample_root / "run/sshd.pid"  # where tui-jail looks: the config's default PidFile
    try:
        with server:
            yield Site(sample_root, server, alice, admin)
            for txn in journal.unfinished(sample_root):
                subprocess.run([sys.executable, "-m", "tui_jail", "--root", str(sample_root), "rollback", txn.id])
            wait_watchdogs_gone(sample_root)
    finally:
        SU_L.write_bytes(su_l)
        subprocess.run(["umount", "/etc/ssh"], check=True)


def test_su_keeps_the_login_user(site: Site) -> None:
    """Alice logs in from 127.0.0.2, becomes root with `su -` (USER and LOGNAME are root's, no
    SSH_CONNECTION), and applies a spec that jails alice from 127.0.0.0/24: refused, naming her."""
    spec = site.spec("alice, media", "127.0.0.0/24")
    whoami = site.ssh(site.alice, "su - -c 'echo $USER ${SSH_CONNECTION:-none}'", "127.0.0.2")
    assert whoami.stdout == "root none\n", whoami.stderr  # what su - leaves: the attack's premise
    applied = site.ssh(site.alice, f"su - -c '{site.tui_jail('apply', '--spec', str(spec), '--yes')}'", "127.0.0.2")
    assert applied.returncode == 1, applied.stdout
    assert "your own connection (alice from 127.0.0.2) would get chrootdirectory" in applied.stderr, applied.stderr
    assert journal.transactions(site.root) == []
