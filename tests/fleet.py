"""fleet: a fleet of simulated hosts on this machine, driven by a real `ansible-playbook` over SSH.

Used by tests/test_fleet.py and bench/fleet.py; needs root in the suite's private mount namespace.

Each host is one OpenSSH `sshd -D` started by `unshare -m --propagation private`, so it (and every SSH
session into it, and every watchdog tui-jail starts there) lives in a mount namespace of its own, where
scratch directories of the host are bound over:

    /etc            a copy of the suite's /etc (sshd's config and host keys, the fleet's users), own fstab
    /root           root's home (Ansible's remote temp files)
    /srv            the jail root (/srv/chroot/...) and the staging sources (/srv/tank/...)
    /var/lib        tui-jail's journal, lock and applied specs (/var/lib/tui-jail)
    /run, /tmp, /var/log   fresh tmpfs: the sshd pid file, no systemd (so tui-jail reloads sshd by SIGHUP)
    /opt, /usr/local/sbin  shared by the fleet's hosts: the venv /opt/tui-jail that the collection's install
                    role put there (once, through the first host) and its /usr/local/sbin/tui-jail link

So hosts share no journal, lock, mount or tree. Host N listens on its own loopback address 127.0.1.N.
From the suite's namespace a host's files are read under `host.dir` (its etc/, srv/, var/lib/ as above);
its mounts through `nsenter` into its sshd's namespace.

Root logs in with the fleet's key. Keys come from `AuthorizedKeysCommand /etc/ssh/fleet-keys %u`,
which prints /etc/ssh/fleet-keys.d/USER, except for root on a host told to refuse root while the jail is
live (`host.refuse_root_while_jailed()`): the simulation of a change that breaks new logins.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nsenv

from tui_jail.core.yamlio import dump_yaml
from tui_jail.presets import preset_document
from tui_jail.txn import journal

REPO = Path(__file__).resolve().parent.parent
COLLECTION = REPO / "ansible_collections" / "tui_jail" / "fleet"
ROLLOUT = "tui_jail.fleet.rollout"
SEEDBOX = "127.0.0.2"  # the seedbox's address: the only one the jail catches
JAIL_NAME = "rclone-sftp"
JAIL_ROOT = "/srv/chroot/rclone-sftp"
DROPIN = f"etc/ssh/sshd_config.d/50-tui-jail-{JAIL_NAME}.conf"
STAGING = ("incomingmovies", "IncomingMovies_staging", "IncomingTV", "IncomingTV_staging")
REFUSE_MARKER = "etc/ssh/fleet-refuse-root-while-jailed"

# binds first (their sources may sit under /tmp), then the fresh tmpfs mounts; then sshd
LAUNCH = r"""
set -e
dir=$1 opt=$2 sbin=$3
shift 3
for path in etc root srv var/lib; do mount --bind "$dir/$path" "/$path"; done
mount --bind "$opt" /opt
mount --bind "$sbin" /usr/local/sbin
mount -t tmpfs -o mode=0755 fleet /run
mkdir -m 0755 /run/sshd
mount -t tmpfs -o mode=1777 fleet /tmp
mount -t tmpfs -o mode=0755 fleet /var/log
exec "$@"
"""

KEYS_COMMAND = f"""#!/bin/sh
# the fleet tests' keys: /etc/ssh/fleet-keys.d/USER; none for root while the jail is live on a host
# that has the marker (a change that breaks new logins)
if [ "$1" = root ] && [ -e /{REFUSE_MARKER} ] && [ -e /{DROPIN} ]; then exit 0; fi
exec cat "/etc/ssh/fleet-keys.d/$1"
"""

_addresses = itertools.count(1)  # fleets that run side by side never share an address


def seedbox_spec(user: str) -> str:
    """The seedbox preset on the fleet's paths: jail root and staging dirs under /srv, the fleet's media
    user, caught only from the seedbox address."""
    document = preset_document("seedbox-sftp")
    document["root"] = JAIL_ROOT
    for mount in document["mounts"]:
        mount["source"] = mount["source"].replace("/tank/", "/srv/tank/")
    document["sftp"]["users"] = [user]
    document["sftp"]["addresses"] = [SEEDBOX]
    return str(dump_yaml(document))


def _source_digest() -> str:
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes())
    for path in sorted((REPO / "tui_jail").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build_wheels() -> Path:
    """tui-jail's wheel and its dependencies' (`pip wheel`), as an admin builds them on the controller.
    Kept under .venv by a digest of the sources: rebuilt only when the package changed."""
    cache = REPO / ".venv" / "fleet-wheels"
    out = cache / _source_digest()
    if not any(out.glob("tui_jail-*.whl")):
        shutil.rmtree(cache, ignore_errors=True)
        partial = cache / "partial"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", str(REPO), "-w", str(partial)],
            check=True,
            capture_output=True,
        )
        partial.rename(out)
    return out


def install_collection(work: Path) -> Path:
    """The collection installed offline from its folder, as an admin would; returns the collections path."""
    path = work / "collections"
    subprocess.run(
        [_ansible("ansible-galaxy"), "collection", "install", "--offline", str(COLLECTION), "-p", str(path)],
        check=True,
        capture_output=True,
        env={**os.environ, "HOME": str(work), "ANSIBLE_NOCOLOR": "1"},
    )
    return path


def _ansible(program: str) -> str:
    return str(Path(sys.executable).parent / program)


@dataclass(frozen=True)
class Shared:
    """What every fleet of a test session shares: the controller's side and the installed tui-jail."""

    work: Path
    key: Path  # root's private key on the controller
    media: nsenv.TestUser  # the seedbox's account on every host
    opt: Path  # bound over /opt on every host
    sbin: Path  # bound over /usr/local/sbin on every host
    wheels: Path
    collections: Path


def shared_world(work: Path) -> Shared:
    """Scratch /etc (the fleet's /etc copies start from it) with the media user, root's key, the wheels."""
    nsenv.private_world(work)
    nsenv.tmpfs_over("/home")
    # a user of its own: tmpfs_over gives a fresh /home, where an earlier module's user has no home left
    media = nsenv.add_user("fleetmedia", Path("/home"))
    key = work / "root-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    opt, sbin = work / "opt", work / "sbin"
    for path in (opt, sbin):
        path.mkdir(mode=0o755)
    return Shared(work, key, media, opt, sbin, build_wheels(), install_collection(work))


class HostSshd(nsenv.SshServer):
    """nsenv's sshd, started through the launcher into the host's own namespace, on the host's address."""

    def __init__(self, host: Host, shared: Shared) -> None:
        super().__init__(host.dir / "etc/ssh/sshd_config", nsenv.free_port(), start_timeout=20)
        self.LISTEN = (host.address,)
        self.host_dir = host.dir
        self.shared = shared

    def argv(self) -> list[str]:
        sshd = [
            nsenv.SSHD,
            "-D",
            "-e",
            "-o",
            f"ListenAddress={self.LISTEN[0]}",
            "-o",
            f"Port={self.port}",
            "-o",
            "AuthorizedKeysFile=none",
            "-o",
            "AuthorizedKeysCommand=/etc/ssh/fleet-keys %u",
            "-o",
            "AuthorizedKeysCommandUser=nobody",
            "-o",
            "PermitRootLogin=prohibit-password",
        ]
        return [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            LAUNCH,
            "launch",
            str(self.host_dir),
            str(self.shared.opt),
            str(self.shared.sbin),
            *sshd,
        ]


@dataclass
class Host:
    name: str
    address: str
    dir: Path  # the host's scratch tree, laid out as its root (etc/, root/, srv/, var/lib/)
    sshd: HostSshd | None = None

    @property
    def port(self) -> int:
        assert self.sshd is not None
        return self.sshd.port

    def prepare(self, shared: Shared) -> None:
        for path in ("root", "srv", "var/lib"):
            (self.dir / path).mkdir(parents=True, mode=0o700 if path == "root" else 0o755)
        subprocess.run(["cp", "-a", "/etc", str(self.dir / "etc")], check=True)
        # a host without tui-jail's work: an earlier module of the suite may have left some in the scratch /etc
        for stale in (self.dir / "etc/ssh/sshd_config.d").glob("50-tui-jail-*"):
            stale.unlink()
        fstab = self.dir / "etc/fstab"
        kept = re.sub(r"(?ms)^# BEGIN tui-jail .*?^# END tui-jail [^\n]*\n", "", fstab.read_text())
        fstab.write_text(f"{kept}# fleet host {self.name}\n")  # each host's diff shows its own context
        ssh = self.dir / "etc/ssh"
        (ssh / "fleet-keys").write_text(KEYS_COMMAND)
        (ssh / "fleet-keys").chmod(0o755)
        keys = ssh / "fleet-keys.d"
        keys.mkdir(mode=0o755)
        (keys / "root").write_text(shared.key.with_suffix(".pub").read_text())
        (keys / shared.media.name).write_text(shared.media.pubkey + "\n")
        for name in STAGING:
            staging = self.dir / "srv/tank" / name
            staging.mkdir(parents=True)
            os.chown(staging, shared.media.uid, shared.media.gid)
        (self.dir / "srv/tank/incomingmovies" / f"from-{self.name}.mkv").write_text(f"{self.name}\n")

    def start(self, shared: Shared) -> None:
        self.sshd = HostSshd(self, shared)
        self.sshd.start()

    def refuse_root_while_jailed(self) -> None:
        (self.dir / REFUSE_MARKER).touch()

    def jailed(self) -> bool:
        """The jail's sshd drop-in and fstab block are there (as tui-jail wrote them in the host)."""
        return (self.dir / DROPIN).exists() and f"# BEGIN tui-jail {JAIL_NAME}" in self.fstab()

    def fstab(self) -> str:
        return (self.dir / "etc/fstab").read_text()

    def transactions(self) -> list[journal.TxnState]:
        return [txn.state() for txn in journal.transactions(self.dir)]

    def mounts(self) -> list[str]:
        """Mount points under the jail root, as the host's own namespace has them."""
        assert self.sshd is not None and self.sshd.pid is not None
        done = subprocess.run(
            ["nsenter", "-t", str(self.sshd.pid), "-m", "findmnt", "-rn", "-o", "TARGET"],
            capture_output=True,
            text=True,
            check=True,
        )
        return [line for line in done.stdout.splitlines() if line.startswith(JAIL_ROOT + "/")]

    def tree(self) -> dict[str, str]:
        """What a rollout may change on the host: every file and dir under etc, srv and var/lib (content
        digest or type and mode), and its mounts under the jail root."""
        out: dict[str, str] = {}
        for top in ("etc", "srv", "var/lib"):
            for path in sorted((self.dir / top).rglob("*")):
                st = path.lstat()
                content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
                out[str(path.relative_to(self.dir))] = f"{st.st_mode:o} {st.st_uid} {content}"
        out["mounts"] = " ".join(self.mounts())
        return out

    def sftp(self, user: nsenv.TestUser, *commands: str) -> subprocess.CompletedProcess[str]:
        """A real sftp from the seedbox address."""
        return nsenv.sftp_batch(user, self.port, list(commands), bind=SEEDBOX, host=self.address, timeout=60)

    def stop(self) -> None:
        """sshd and its sessions by pid; then any watchdog tui-jail left running here, by its journal's pid."""
        if self.sshd is not None:
            self.sshd.cleanup()
        for state in self.transactions() if (self.dir / "var/lib").exists() else []:
            pid = state.watchdog_pid
            with contextlib.suppress(OSError):
                if pid and b"tui_jail.txn.watchdog" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)


@dataclass
class Fleet:
    shared: Shared
    work: Path
    hosts: list[Host] = field(default_factory=list)

    @classmethod
    def start(cls, shared: Shared, work: Path, count: int = 5) -> Fleet:
        fleet = cls(shared, work)
        block = next(_addresses)
        for n in range(1, count + 1):
            host = Host(f"h{n}", f"127.0.{block}.{n}", work / f"h{n}")
            fleet.hosts.append(host)
            host.prepare(shared)
        try:
            for host in fleet.hosts:
                host.start(shared)
            fleet.write_inventory()
        except BaseException:
            fleet.stop()
            raise
        return fleet

    def stop(self) -> None:
        for host in self.hosts:
            host.stop()

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    @property
    def inventory(self) -> Path:
        return self.work / "hosts.ini"

    def write_inventory(self, host_vars: dict[str, dict[str, str]] | None = None) -> None:
        """The hosts; `host_vars` gives one host its own variables (an extra var would override them)."""
        lines = ["[fleet]"]
        for h in self.hosts:
            own = "".join(f" {k}={v}" for k, v in (host_vars or {}).get(h.name, {}).items())
            lines.append(f"{h.name} ansible_host={h.address} ansible_port={h.port}{own}")
        lines += [
            "",
            "[fleet:vars]",
            "ansible_user=root",
            f"ansible_ssh_private_key_file={self.shared.key}",
            "ansible_python_interpreter=/usr/bin/python3",
            "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            "-o IdentitiesOnly=yes'",
        ]
        self.inventory.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        home = self.shared.work / "controller"
        home.mkdir(exist_ok=True)
        control = self.shared.work / "cp"  # ControlPersist sockets: hashed names, the path stays short
        control.mkdir(mode=0o700, exist_ok=True)
        return {
            **os.environ,
            "HOME": str(home),
            "ANSIBLE_COLLECTIONS_PATH": str(self.shared.collections),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_FORKS": "10",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
        }

    def playbook(self, playbook: str | Path, *args: str, **extra_vars: object) -> Run:
        argv = [_ansible("ansible-playbook"), "-i", str(self.inventory), str(playbook), *args]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        done = subprocess.run(argv, capture_output=True, text=True, env=self.env(), timeout=600, cwd=self.work)
        return Run(done.returncode, done.stdout, done.stderr)

    def install(self) -> Run:
        """The collection's install role, run through the first host (/opt and /usr/local/sbin are shared)."""
        return self.playbook(
            "tui_jail.fleet.install", "--limit", self.hosts[0].name, tui_jail_wheels=str(self.shared.wheels)
        )

    def rollout(
        self, spec: Path, *args: str, host_vars: dict[str, dict[str, str]] | None = None, **extra_vars: object
    ) -> Run:
        """The collection's rollout playbook; `spec` for every host, unless `host_vars` names another."""
        own = {h.name: {"jail_spec_file": str(spec), **(host_vars or {}).get(h.name, {})} for h in self.hosts}
        self.write_inventory(own)
        return self.playbook(ROLLOUT, *args, **extra_vars)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP: host -> {ok, changed, unreachable, failed, skipped, rescued, ignored}."""
        out: dict[str, dict[str, int]] = {}
        for line in self.stdout[self.stdout.rfind("PLAY RECAP") :].splitlines()[1:]:
            name, _, counts = line.partition(" : ")
            if counts:
                out[name.strip()] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
        return out

    def __str__(self) -> str:
        return f"exit {self.returncode}\n{self.stdout}\n{self.stderr}"


@contextlib.contextmanager
def running(shared: Shared, work: Path, count: int = 5) -> Iterator[Fleet]:
    fleet = Fleet.start(shared, work, count)
    try:
        yield fleet
    finally:
        fleet.stop()
