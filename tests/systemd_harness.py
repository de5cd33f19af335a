"""A machine booted by systemd, for the tests: systemd as PID 1 of new PID, mount, UTS, network and
cgroup namespaces, over a copy-on-write overlay of `/`.

`Machine(base)` keeps the overlay's upper and work dirs under `base` (on disk), so `poweroff()` then
`boot()` again is a reboot of the same machine. The first boot prepares it (in the overlay only):
the units enabled are reduced to journald, tmpfiles and ssh (and whatever tui-jail installs later);
every unit that would change host-wide kernel state from a root PID namespace (sysctl, binfmt,
modules, the clock, the random seed, udev) is masked; the default target is multi-user; tui-jail
is installed in DESIGN.md's layout (`/opt/tui-jail/bin/tui-jail`, linked from
`/usr/local/sbin/tui-jail`) as a wrapper around the interpreter running the tests; root gets a key
to log in to its own sshd.

The machine has its own /proc (with a boot id of its own, new at each boot: `journalctl -b` and
tui-jail's boot checks see the reboot), a read-only /sys and /proc/sys, its own cgroup2 tree (a
child of the test's cgroup, removed at the end), a /dev with only a few nodes and its own devpts,
tmpfs on /run and /tmp (the paths the tests need that live under /tmp — a checkout, a venv — are
bound in read-only: boot-time tmpfiles would otherwise clean them), `lo` up and nothing else: sshd
listens on port 22 of its own loopback. Never boot systemd on the host's root (FACTS.md): it empties /tmp
and starts the host's services.

`run()` executes a command inside (`nsenter -t PID -m -p -n -u -C -r -w`). Every process of the
machine lives in its PID namespace and ends with its PID 1: `kill()` (or a `poweroff()` that hangs)
ends them all. When the test process dies, the kernel kills the machine too (a parent-death signal).

Run as `python systemd_harness.py init BASE [BIND...]`, this file is the machine's first process:
it builds the root and `exec`s systemd.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

SYSTEMD = "/lib/systemd/systemd"
BOOT_TIMEOUT = 60.0
INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HIDDEN = ("/tmp", "/run")  # tmpfs inside the machine: what the tests need there is bound in
PREPARED = "etc/systemd-harness.prepared"

# units the machine keeps: the journal, tmpfiles (a realistic /tmp at boot), logins and ssh
KEEP = {
    "systemd-journald.service",
    "systemd-journald.socket",
    "systemd-journald-dev-log.socket",
    "systemd-journal-flush.service",
    "systemd-tmpfiles-setup.service",
    "systemd-user-sessions.service",  # removes /run/nologin: logins of users other than root
    "ssh.service",
    "sshd.service",
}
# reached otherwise than through a .wants directory, or changing host-wide state: always masked
MASKED = {
    "systemd-sysctl.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "proc-sys-fs-binfmt_misc.mount",
    "systemd-modules-load.service",
    "kmod-static-nodes.service",
    "systemd-random-seed.service",
    "systemd-timesyncd.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-hwdb-update.service",
    "systemd-journald-audit.socket",
    "systemd-remount-fs.service",
    "ldconfig.service",
    "getty.target",
    "console-getty.service",
    "systemd-logind.service",
    "dbus.service",
    "dbus.socket",
}
WANTS_DIRS = ("/lib/systemd/system", "/etc/systemd/system")


class BootError(RuntimeError):
    pass


# --- the host side ---------------------------------------------------------------------------------


class Machine:
    """A systemd machine over an overlay of `/` kept under `base`; a context manager that powers it
    off (or kills it) at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        for name in ("upper", "work", "merged"):
            (base / name).mkdir(parents=True, exist_ok=True)
        self.cgroup = _make_cgroup(base.name)
        self._proc: subprocess.Popen[bytes] | None = None
        self.pid = 0  # systemd's pid, as the host sees it
        self.boots = 0
        self.boot_seconds: list[float] = []

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        _remove_cgroup(self.cgroup)

    @property
    def console(self) -> Path:
        return self.base / f"console-{self.boots}.log"

    def boot(self, timeout: float = BOOT_TIMEOUT) -> float:
        """Boot, and wait until systemd says startup finished; returns the seconds it took."""
        if self._proc is not None:
            raise BootError("already running")
        self.boots += 1
        started = time.monotonic()
        init = [sys.executable, "-S", __file__, "init", str(self.base), *_needed_binds()]
        argv = ["setpriv", "--pdeathsig", "KILL", "unshare", "-C", "-m", "-p", "-f", "-n", "-u"]
        argv += ["--kill-child=SIGKILL", *init]
        enter_cgroup = f'echo $$ > {self.cgroup}/cgroup.procs && exec "$@"'
        with open(self.console, "wb") as console:
            self._proc = subprocess.Popen(
                ["sh", "-c", enter_cgroup, "sh", *argv],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env={"PATH": INSIDE_PATH, "LANG": "C.UTF-8"},
            )
        try:
            self.pid = self._wait_for_init(started + timeout)
            self._wait_started(started + timeout)
        except BaseException:
            self.kill()
            raise
        took = time.monotonic() - started
        self.boot_seconds.append(took)
        return took

    def _wait_for_init(self, give_up: float) -> int:
        """The pid of the machine's PID 1 once it is systemd (the init script exec'd it)."""
        assert self._proc is not None
        while time.monotonic() < give_up:
            if self._proc.poll() is not None:
                raise BootError(f"the machine exited with {self._proc.returncode} during boot: {self._tail()}")
            for pid in _children(self._proc.pid):
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                        return pid
            time.sleep(0.01)
        raise BootError(f"systemd did not start: {self._tail()}")

    def _wait_started(self, give_up: float) -> None:
        while time.monotonic() < give_up:
            if self._proc is not None and self._proc.poll() is not None:
                raise BootError(f"systemd exited with {self._proc.returncode} during boot: {self._tail()}")
            state = self.run("systemctl", "is-system-running", check=False, timeout=give_up - time.monotonic())
            status = state.stdout.strip()
            if status in ("running", "degraded"):
                if status == "degraded":
                    failed = self.run("systemctl", "--failed", "--no-legend", check=False).stdout
                    raise BootError(f"boot finished degraded: {failed.strip()}")
                return
            time.sleep(0.05)
        raise BootError(f"the boot did not finish in time: {self._tail()}")

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.console.read_text(errors="replace").strip().splitlines()[-8:])
        return ""

    def run(
        self,
        *argv: str,
        check: bool = True,
        timeout: float | None = 60,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the machine, as root, with a plain environment."""
        result = subprocess.run(
            self.command(*argv),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**self.environment(), **(env or {})},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr}{result.stdout}")
        return result

    def command(self, *argv: str) -> list[str]:
        """The argv that runs `argv` inside the machine."""
        if not self.pid:
            raise BootError("the machine is not running")
        return ["nsenter", "-t", str(self.pid), "-m", "-p", "-n", "-u", "-C", "-r", "-w", *argv]

    def spawn(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start `argv` inside the machine under a shell of its own, output read from a pipe. nsenter
        stops itself when its child stops (and continues it when continued) and only it can reap that
        child: a process the test stops or kills must not be its direct child."""
        return subprocess.Popen(
            self.command("sh", "-c", '"$@"; exit $?', "sh", *argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**self.environment(), **(env or {})},
        )

    @staticmethod
    def environment() -> dict[str, str]:
        return {"PATH": INSIDE_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}

    def path(self, inside: str) -> Path:
        """A path inside the running machine, as the host can reach it."""
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def poweroff(self, timeout: float = 30) -> None:
        """`systemctl poweroff`, and wait until every process of the machine is gone (killed if it hangs)."""
        if self._proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.run("systemctl", "poweroff", "--no-block", check=False, timeout=10)
            self._proc.wait(timeout)
        self.kill()

    def kill(self) -> None:
        """SIGKILL to the machine's PID 1: the kernel kills every process in its namespace."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            # before systemd runs, kill unshare: its child dies with it (--kill-child)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid or self._proc.pid, signal.SIGKILL)
        self._proc.wait(30)  # unshare is reaped only once every process of the PID namespace is gone
        self._proc, self.pid = None, 0
        _wait_cgroup_empty(self.cgroup)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return out + [grand for child in out for grand in _children(child)]


def _cgroup2_mount() -> Path:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        if fstype == "cgroup2":
            return Path(fields[4])
    raise BootError("no cgroup2 hierarchy is mounted")


def _make_cgroup(name: str) -> Path:
    """A cgroup2 child of this process's own, for the machine's cgroup namespace."""
    own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
    path = _cgroup2_mount() / own.lstrip("/") / f"systemd-harness-{os.getpid()}-{name}"
    path.mkdir(exist_ok=True)
    return path


def _wait_cgroup_empty(path: Path, timeout: float = 10) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        with contextlib.suppress(OSError):
            if "populated 0" in (path / "cgroup.events").read_text():
                return
        time.sleep(0.02)
    raise BootError(f"processes of the machine outlived it in {path}")


def _remove_cgroup(path: Path) -> None:
    """The machine's cgroups, deepest first (systemd made a tree under ours)."""
    for dirpath, _, _ in sorted(os.walk(path), key=lambda entry: -entry[0].count("/")):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


def _needed_binds() -> list[str]:
    """What the tests run inside the machine that the machine's tmpfs would hide: the checkout (or
    installed package) and the interpreter's prefixes."""
    import tui_jail  # not at the top: the machine's first process runs this file without site-packages

    wanted = {str(Path(tui_jail.__file__).resolve().parents[1]), sys.prefix, sys.base_prefix, sys.executable}
    return sorted(p for p in wanted if any(p == h or p.startswith(h + "/") for h in HIDDEN))


# --- the machine's first process (before systemd) -------------------------------------------------

_MS_RDONLY, _MS_REMOUNT, _MS_BIND, _MS_REC = 1, 32, 4096, 16384
_MNT_DETACH = 2
_SYS_PIVOT_ROOT = 155  # x86_64


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True)


def _init(base: Path, binds: list[str]) -> None:
    """PID 1 of the new namespaces: build the machine's root over the overlay and exec systemd."""
    root = base / "merged"
    _sh("mount", "--make-rprivate", "/")
    _sh("mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/,upperdir={base}/upper,workdir={base}/work", str(root))
    if not (root / PREPARED).exists():
        _prepare(root)
    _sh("mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc", f"{root}/proc")
    _sh("mount", "--bind", f"{root}/proc/sys", f"{root}/proc/sys")
    _sh("mount", "-o", "remount,bind,ro", f"{root}/proc/sys")
    boot_id = base / "boot_id"  # a new one each boot, as after a real reboot (the kernel's stays the same)
    boot_id.write_text(f"{uuid.uuid4()}\n")
    _sh("mount", "--bind", str(boot_id), f"{root}/proc/sys/kernel/random/boot_id")
    _sh("mount", "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", f"{root}/sys")
    _sh("mount", "-t", "cgroup2", "-o", "nosuid,nodev,noexec", "cgroup2", f"{root}/sys/fs/cgroup")
    _make_dev(root / "dev")
    _sh("mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", "tmpfs", f"{root}/run")
    _sh("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", f"{root}/tmp")
    for path in binds:
        target = root / path.lstrip("/")
        if os.path.isdir(path):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        _sh("mount", "--bind", path, str(target))
        _sh("mount", "-o", "remount,bind,ro", str(target))
    _sh("ip", "link", "set", "lo", "up")
    libc = ctypes.CDLL(None, use_errno=True)
    os.chdir(root)
    if libc.syscall(_SYS_PIVOT_ROOT, b".", b".") != 0 or libc.umount2(b".", _MNT_DETACH) != 0:
        raise OSError(ctypes.get_errno(), "pivot_root")
    os.chdir("/")
    env = {"container": "other", "PATH": INSIDE_PATH, "LANG": "C.UTF-8"}
    os.execve(SYSTEMD, [SYSTEMD, "--system", "--log-color=no"], env)


def _make_dev(dev: Path) -> None:
    _sh("mount", "-t", "tmpfs", "-o", "mode=0755,nosuid", "tmpfs", str(dev))
    for name, major, minor in [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9)]:
        os.mknod(dev / name, 0o20666, os.makedev(major, minor))
        os.chmod(dev / name, 0o666)
    os.mknod(dev / "tty", 0o20666, os.makedev(5, 0))
    os.chmod(dev / "tty", 0o666)
    for sub in ("pts", "shm"):
        (dev / sub).mkdir()
    _sh("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620,gid=5", "devpts", str(dev / "pts"))
    os.symlink("pts/ptmx", dev / "ptmx")
    (dev / "console").touch()  # systemd's messages: into the console log the harness gave this process
    _sh("mount", "--bind", "/proc/self/fd/1", str(dev / "console"))
    _sh("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", str(dev / "shm"))


def _prepare(root: Path) -> None:
    """Once, in the overlay: trim the enabled units, mask the dangerous ones, multi-user as the
    default target, tui-jail in the install layout, a root key for its own sshd."""
    units = root / "etc/systemd/system"
    for wants in units.glob("*.wants"):
        for link in wants.iterdir():
            if link.name not in KEEP:
                link.unlink()
    masked = set(MASKED)
    for directory in WANTS_DIRS:
        for wants in (root / directory.lstrip("/")).glob("*.wants"):
            masked |= {unit.name for unit in wants.iterdir() if unit.name not in KEEP}
    for name in sorted(masked):
        with contextlib.suppress(FileNotFoundError):
            (units / name).unlink()
        (units / name).symlink_to("/dev/null")
    with contextlib.suppress(FileNotFoundError):
        (units / "default.target").unlink()
    (units / "default.target").symlink_to("/lib/systemd/system/multi-user.target")
    shutil.rmtree(root / "var/lib/tui-jail", ignore_errors=True)
    shutil.rmtree(root / "var/log/journal", ignore_errors=True)
    (root / "var/log/journal").mkdir(parents=True)
    _install_tui_jail(root)
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    for name in ("id_ed25519", "id_ed25519.pub", "authorized_keys", "known_hosts"):
        with contextlib.suppress(FileNotFoundError):
            (ssh / name).unlink()
    _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "harness", "-f", str(ssh / "id_ed25519"))
    shutil.copy(ssh / "id_ed25519.pub", ssh / "authorized_keys")
    (root / PREPARED).write_text("prepared by tests/systemd_harness.py\n")


def _install_tui_jail(root: Path) -> None:
    """DESIGN.md's layout, `/opt/tui-jail` and `/usr/local/sbin/tui-jail`, running the tests' code."""
    venv_bin = root / "opt/tui-jail/bin"
    venv_bin.mkdir(parents=True, exist_ok=True)
    entry = venv_bin / "tui-jail"
    entry.write_text(f'#!/bin/sh\nexec {sys.executable} -m tui_jail "$@"\n')
    entry.chmod(0o755)
    link = root / "usr/local/sbin/tui-jail"
    link.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to("/opt/tui-jail/bin/tui-jail")


if __name__ == "__main__":
    if sys.argv[1:2] == ["init"]:
        _init(Path(sys.argv[2]), sys.argv[3:])
