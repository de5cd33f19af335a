"""End to end: the seedbox jail on a real OpenSSH sshd, driven by the real ssh and sftp clients.

Inside the private mount namespace (tests/nsenv.py): a scratch /etc, private /run and /var/log, tmpfs over
/srv (jail root and staging sources), /var/lib (tui-jail's state) and /home (a test user with a key). The
seedbox preset, with the test user and the address 127.0.0.2, is applied with `--root /`. `tui-jail apply`
is not built yet, so `apply_by_hand` (tests/test_verify_mounts.py) writes the plan's files, creates its
paths and mounts its binds, and sshd is reloaded by SIGHUP. Then the source guide's tests, for real, and
`tui-jail verify`: green on that setup, red with the right check named for each of three breakages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nsenv
import pytest
from test_verify_mounts import apply_by_hand, unmount_under

from tui_jail.core.plan import make_plan
from tui_jail.core.spec import parse_spec
from tui_jail.core.sshd_config import dropin_path
from tui_jail.core.yamlio import dump_yaml
from tui_jail.paths.system import SystemRoot
from tui_jail.presets import preset_document

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount namespace"
)

JAIL = "/srv/chroot/rclone-sftp"
STAGING = ("incomingmovies", "IncomingMovies_staging", "IncomingTV", "IncomingTV_staging")
DROPIN = Path(dropin_path("rclone-sftp"))


@dataclass
class Seedbox:
    user: nsenv.TestUser
    server: nsenv.SshServer
    spec_file: Path

    def sftp(self, *commands: str) -> subprocess.CompletedProcess[str]:
        return nsenv.sftp_batch(self.user, self.server.port, list(commands), bind="127.0.0.2")

    def verify(self) -> tuple[int, dict[str, str], str]:
        """The real command, as the admin would run it from their own (unjailed) SSH session."""
        env = {
            **os.environ,
            "SSH_CONNECTION": f"127.0.0.1 40000 127.0.0.1 {self.server.port}",
            "SUDO_USER": self.user.name,
        }
        done = subprocess.run(
            [sys.executable, "-m", "tui_jail", "verify", "--spec", str(self.spec_file), "--root", "/", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        document = json.loads(done.stdout)
        return done.returncode, {r["name"]: r["status"] for r in document["results"]}, done.stderr


@pytest.fixture(scope="module")
def seedbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seedbox]:
    work = tmp_path_factory.mktemp("e2e-sftp")
    nsenv.private_world(work)
    for path in ("/srv", "/var/lib", "/home"):
        nsenv.tmpfs_over(path)
    user = nsenv.add_user("seedy", Path("/home"))
    for name in STAGING:
        staging = Path("/srv/tank") / name
        staging.mkdir(parents=True)
        os.chown(staging, user.uid, user.gid)
    (Path("/srv/tank/incomingmovies") / "already-there.mkv").write_text("movie\n")

    document = preset_document("seedbox-sftp")
    document["root"] = JAIL
    for mount in document["mounts"]:
        mount["source"] = mount["source"].replace("/tank/", "/srv/tank/")
    document["sftp"]["users"] = [user.name]
    document["sftp"]["addresses"] = ["127.0.0.2"]
    spec_file = work / "seedbox.yaml"
    spec_file.write_text(dump_yaml(document))

    server = nsenv.SshServer(Path("/etc/ssh/sshd_config"), nsenv.free_port())
    server.start()
    try:
        system = SystemRoot("/")
        apply_by_hand(make_plan(parse_spec(document), system), system)
        server.reload()
        yield Seedbox(user, server, spec_file)
    finally:
        server.cleanup()
        unmount_under(Path(JAIL))
        for path in ("/srv", "/var/lib"):
            subprocess.run(["umount", path], check=False)


def test_jailed_sftp_sees_only_the_staging_dirs(seedbox: Seedbox) -> None:
    done = seedbox.sftp("ls -1 /")
    assert done.returncode == 0, done.stderr
    listed = {line.strip().lstrip("/") for line in done.stdout.splitlines() if not line.startswith("sftp>")}
    assert listed == {*STAGING, "dev"}


def test_jailed_sftp_reads_and_writes_inside(seedbox: Seedbox, tmp_path: Path) -> None:
    upload = tmp_path / "episode.mkv"
    upload.write_text("fresh episode\n")
    done = seedbox.sftp(
        f"put {upload} /IncomingTV/episode.mkv",
        f"get /incomingmovies/already-there.mkv {tmp_path / 'got.mkv'}",
    )
    assert done.returncode == 0, done.stderr
    assert Path("/srv/tank/IncomingTV/episode.mkv").read_text() == "fresh episode\n"
    assert (tmp_path / "got.mkv").read_text() == "movie\n"


def test_jailed_sftp_cannot_leave_the_root(seedbox: Seedbox) -> None:
    done = seedbox.sftp("cd ..", "cd ..", "pwd", "ls -1")
    assert done.returncode == 0, done.stderr
    assert "Remote working directory: /\n" in done.stdout
    assert "IncomingTV_staging" in done.stdout and "etc" not in done.stdout.split()
    assert seedbox.sftp("ls /etc").returncode != 0
    assert seedbox.sftp("get /etc/passwd /dev/null").returncode != 0


def test_jailed_address_gets_no_shell(seedbox: Seedbox) -> None:
    done = nsenv.ssh_run(seedbox.user, seedbox.server.port, "echo shell-ran", bind="127.0.0.2")
    assert "shell-ran" not in done.stdout


def test_jailed_address_gets_no_port_forwarding(seedbox: Seedbox) -> None:
    for kind in ("local", "remote"):
        result = nsenv.try_forward(seedbox.user, seedbox.server.port, kind=kind, bind="127.0.0.2")
        assert not result.allowed, (kind, result.stderr)
    # the probe can see forwarding at all: the same user from elsewhere may forward (Debian's default)
    assert nsenv.try_forward(seedbox.user, seedbox.server.port, kind="local", bind="127.0.0.1").allowed


def test_same_user_from_elsewhere_gets_a_normal_shell(seedbox: Seedbox) -> None:
    done = nsenv.ssh_run(seedbox.user, seedbox.server.port, "echo $((6*7)); pwd; ls /etc/ssh/sshd_config")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"42\n{seedbox.user.home}\n/etc/ssh/sshd_config\n"


def test_verify_passes_on_the_applied_jail(seedbox: Seedbox) -> None:
    code, results, stderr = seedbox.verify()
    assert code == 0, stderr
    assert "fail" not in results.values()
    assert results["sshd: seedy from 127.0.0.2 is jailed"] == "pass"
    assert results["sshd: your own connection is not jailed"] == "pass"
    assert results["sshd: running daemon has loaded the config"] == "pass"
    assert results["sftp: log socket in the jail"] == "warn"  # the preset has none; verify says how


def test_verify_names_an_unmounted_staging_dir(seedbox: Seedbox) -> None:
    target = f"{JAIL}/IncomingTV"
    subprocess.run(["umount", target], check=True)
    try:
        code, results, stderr = seedbox.verify()
    finally:
        subprocess.run(["mount", "--bind", "/srv/tank/IncomingTV", target], check=True)
    assert code == 1
    assert [name for name, status in results.items() if status == "fail"] == [f"mount: {target}"]
    assert f"mount: {target}" in stderr


def test_verify_names_a_group_writable_chroot_component(seedbox: Seedbox) -> None:
    os.chmod("/srv/chroot", 0o775)
    try:
        code, results, _ = seedbox.verify()
        refused = seedbox.sftp("ls /")  # sshd agrees: bad ownership or modes for chroot directory component
    finally:
        os.chmod("/srv/chroot", 0o755)
    assert code == 1
    assert [name for name, status in results.items() if status == "fail"] == ["tree: chroot chain"]
    assert refused.returncode != 0
    assert 'bad ownership or modes for chroot directory component "/srv/chroot/"' in seedbox.server.log()


def test_verify_names_sshd_reloaded_without_the_dropin(seedbox: Seedbox) -> None:
    aside = DROPIN.parent.parent / f"{DROPIN.name}.aside"  # same filesystem: a rename keeps the mtime
    DROPIN.rename(aside)
    seedbox.server.reload()
    try:
        code, results, _ = seedbox.verify()  # the drop-in is gone from disk, and sshd runs without it
        assert code == 1
        assert results["sshd: seedy from 127.0.0.2 is jailed"] == "fail"
        aside.rename(DROPIN)  # back on disk (with its old mtime), but the running sshd never read it
        code, results, _ = seedbox.verify()
        assert code == 1
        assert [name for name, status in results.items() if status == "fail"] == [
            "sshd: running daemon has loaded the config"
        ]
        unjailed = nsenv.ssh_run(seedbox.user, seedbox.server.port, "echo shell-ran", bind="127.0.0.2")
        assert unjailed.stdout == "shell-ran\n"  # what that check warns about is real
    finally:
        if aside.exists():
            aside.rename(DROPIN)
        seedbox.server.reload()
    assert seedbox.verify()[0] == 0
