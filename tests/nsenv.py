"""nsenv: the harness that gives root tests a private world.

Tests that need root, real mounts and a real OpenSSH server use this module to
build everything they touch *inside a private mount namespace*, so that nothing
they do reaches the host: not its ``/etc``, not its mount table, not its disk,
not its sshd.  When the namespace dies (the pytest process exits), every mount
made here vanishes with it.

The whole pytest session is expected to run as::

    unshare -m --propagation private python3 -m pytest ...

Every function here that mounts something first checks
:func:`in_private_mount_ns` and raises :class:`RuntimeError` when it is false,
and (once per process) makes the whole mount tree recursively private, so even a
namespace created with shared propagation cannot leak a mount back to the host.

A typical module::

    world = nsenv.private_world(tmp_path)        # scratch /etc, /run, /var/log
    nsenv.tmpfs_over("/home")                    # somewhere traversable for homes
    alice = nsenv.add_user("alice", Path("/home"))
    with nsenv.SshServer(cfg, nsenv.free_port()) as srv:
        assert nsenv.ssh_run(alice, srv.port, "echo ok").stdout == "ok\\n"

Things worth knowing (all checked on Debian 12 / OpenSSH 9.2p1):

* ``/proc/1/ns/mnt`` may be unreadable even for root (e.g. in a microVM whose
  PID 1 holds capabilities we lack, so ptrace access checks fail).  We then
  compare with the ancestor process closest to PID 1 whose namespace link we
  can read; if none is readable we answer "not private" (the safe answer).
  :func:`host_path` reads a host file through that same reference process.
* sshd refuses to start without its privilege-separation directory
  ``/run/sshd`` (root-owned, not group/world writable).  If it is missing we
  mount a tmpfs over ``/run`` in the namespace, bind every host entry of
  ``/run`` back into it, and create ``/run/sshd`` there: the host's ``/run``
  is never written.
* sshd records logins in ``/var/log/wtmp`` and ``/var/log/lastlog``:
  :func:`private_world` puts a tmpfs over ``/var/log`` so those stay private.
* ``useradd`` leaves ``!`` in the shadow password field.  sshd refuses key
  logins for such an account ("User X not allowed because account is locked")
  **only with ``UsePAM no``**: its locked-account check is skipped when
  ``UsePAM yes`` (Debian's default), and pam_unix's account stage does not look
  at ``!``, so the key login succeeds.  An *expired* account
  (``usermod -e 1``) is refused either way.  ``*`` allows key logins.
* StrictModes: sshd reads ``authorized_keys`` *as the user*, so every
  directory above the home must be traversable by that user.  pytest's
  ``tmp_path`` lives under ``/tmp/pytest-of-root`` (mode 0700), which is not:
  put homes under a tmpfs at a top-level path (``tmpfs_over("/home")``).
  :func:`add_user` checks this and raises with a clear message.
* With ``-D`` a SIGHUP makes sshd re-exec itself under the same pid; we wait
  for a new "Server listening" line in its log (not just a TCP connect, which
  could still hit the old listener) before saying the reload is done.
* ``ps`` may briefly show ``[sshd] <defunct>`` with PPID 1 after a login:
  sshd's own short-lived helpers orphaned mid-session, which a slow-reaping
  PID 1 (like this VM's) collects within seconds.  They are dead already; our
  daemon and its live children are always stopped by :meth:`SshServer.stop`.
* Local forwarding is probed with ``ssh -W`` (a direct-tcpip channel opened at
  once), remote forwarding with ``ssh -N -R 0:...`` and
  ``ExitOnForwardFailure=yes``; a plain ``ssh -N -L`` would only be refused
  when something connects through it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pwd
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "ForwardResult",
    "PrivateWorld",
    "SshServer",
    "SshServerError",
    "TestUser",
    "add_user",
    "free_port",
    "host_path",
    "host_reference_pid",
    "in_private_mount_ns",
    "needs_private_ns",
    "private_run",
    "private_world",
    "scratch_etc",
    "sftp_batch",
    "ssh_base_opts",
    "ssh_run",
    "tmpfs_over",
    "try_forward",
]

SSHD = "/usr/sbin/sshd"
TMPFS_SOURCE = "nsenv"  # the "device" name of every tmpfs we mount: easy to grep in mountinfo

# ---------------------------------------------------------------------------
# namespace detection
# ---------------------------------------------------------------------------


def _mnt_ns_ino(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/mnt").st_ino
    except OSError:
        return None


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # the comm field may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1])


def host_reference_pid() -> int | None:
    """The process whose mount namespace counts as "the host's".

    PID 1 when its ``/proc/1/ns/mnt`` is readable; otherwise the ancestor of
    this process closest to PID 1 whose namespace link is readable; ``None``
    when there is none.
    """
    if _mnt_ns_ino(1) is not None:
        return 1
    ref = None
    pid = _ppid(os.getpid())
    while pid and pid > 1:
        if _mnt_ns_ino(pid) is not None:
            ref = pid
        pid = _ppid(pid)
    return ref


def in_private_mount_ns() -> bool:
    """True when this process's mount namespace differs from the host's.

    Compares the inode of ``/proc/self/ns/mnt`` with that of the reference
    process (see :func:`host_reference_pid`).  Unreadable → False.
    """
    ref = host_reference_pid()
    if ref is None:
        return False
    mine, theirs = _mnt_ns_ino("self"), _mnt_ns_ino(ref)
    return mine is not None and theirs is not None and mine != theirs


needs_private_ns = pytest.mark.skipif(
    os.geteuid() != 0 or not in_private_mount_ns(), reason="needs root in a private mount namespace"
)


def host_path(path: str | os.PathLike[str]) -> Path:
    """A path that reaches ``path`` as the host sees it (bypassing our mounts).

    ``/proc/PID/root`` of a process in the host namespace resolves in that
    process's mount namespace.  Raises RuntimeError when no reference process
    is readable.
    """
    ref = host_reference_pid()
    if ref is None:
        raise RuntimeError("no readable host process to look through")
    return Path(f"/proc/{ref}/root") / str(path).lstrip("/")


# ---------------------------------------------------------------------------
# mounting (mount(2) through ctypes: no path canonicalisation by mount(8))
# ---------------------------------------------------------------------------

_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _b(s: str | os.PathLike[str] | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


_PathArg = str | os.PathLike[str] | None


def _mount(
    source: _PathArg, target: _PathArg, fstype: str | None = None, flags: int = 0, data: str | None = None
) -> None:
    if _libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount({source!r} -> {target!r}, {fstype}): {os.strerror(err)}")


def _umount(target: _PathArg) -> None:
    if _libc.umount2(_b(target), 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount({target!r}): {os.strerror(err)}")


class _State:
    """What this process has already set up (everything here is per process)."""

    private_done = False  # / made recursively private
    etc: Path | None = None  # scratch /etc copy
    tmpfs: set[str] = set()  # noqa: RUF012 - paths we put a tmpfs over
    run = False  # private /run with /run/sshd


_state = _State()


def _require_private_ns(what: str) -> None:
    """Refuse to go on outside a private mount namespace; make our tree private once."""
    if os.geteuid() != 0:
        raise RuntimeError(f"{what}: needs root")
    if not in_private_mount_ns():
        raise RuntimeError(
            f"{what}: refusing to mount outside a private mount namespace "
            "(run under `unshare -m --propagation private`)"
        )
    if not _state.private_done:
        # Only affects *our* namespace: guarantees no mount made here propagates out.
        _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
        _state.private_done = True


def scratch_etc(workdir: Path) -> Path:
    """Copy ``/etc`` to ``workdir/etc`` and bind-mount the copy over ``/etc``.

    The whole directory is bound (never single files: ``rename()`` onto a
    bind-mounted file fails with EBUSY, and useradd/sshd-config writers rename).
    Idempotent within a process: later calls return the first copy's path,
    whatever ``workdir`` they pass.  Returns the copy's path (which, from now
    on, shows the same files as ``/etc``).
    """
    if _state.etc is not None:
        return _state.etc
    _require_private_ns("scratch_etc")
    copy = Path(workdir) / "etc"
    if copy.exists():
        raise RuntimeError(f"scratch_etc: {copy} already exists")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "/etc", str(copy)], check=True)
    _mount(copy, "/etc", None, _MS_BIND, None)
    _state.etc = copy
    return copy


def tmpfs_over(path: str) -> None:
    """Mount a fresh, empty tmpfs (mode 0755, source name ``nsenv``) over ``path``.

    ``path`` must be an existing directory.  Calling it again for the same path
    unmounts our previous tmpfs first (so you get a fresh one, not a stack);
    if that one is busy the new tmpfs is stacked on top.  Private ns only.
    """
    _require_private_ns(f"tmpfs_over({path})")
    if not os.path.isdir(path):
        raise RuntimeError(f"tmpfs_over: {path} is not an existing directory")
    ours = _state.tmpfs
    if path in ours:
        with contextlib.suppress(OSError):  # busy: stack on top instead
            _umount(path)
    _mount(TMPFS_SOURCE, path, "tmpfs", 0, "mode=0755")
    ours.add(path)


def private_run() -> Path:
    """Make ``/run`` private and give it a ``/run/sshd``; returns ``Path('/run/sshd')``.

    A tmpfs goes over ``/run``; every host entry of ``/run`` is bound back
    (symlinks are recreated) so the rest of the system sees what it saw, and
    ``/run/sshd`` (0755 root) is created on the tmpfs.  Idempotent.
    """
    sshd_dir = Path("/run/sshd")
    if _state.run:
        return sshd_dir
    _require_private_ns("private_run")
    old = os.open("/run", os.O_PATH | os.O_DIRECTORY)
    try:
        entries = os.listdir(f"/proc/self/fd/{old}")
        _mount(TMPFS_SOURCE, "/run", "tmpfs", 0, "mode=0755")
        for name in entries:
            src = f"/proc/self/fd/{old}/{name}"
            dst = f"/run/{name}"
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
                continue
            if os.path.isdir(src):
                os.mkdir(dst)
            else:
                open(dst, "w").close()
            _mount(src, dst, None, _MS_BIND, None)
    finally:
        os.close(old)
    if not sshd_dir.exists():
        sshd_dir.mkdir(mode=0o755)
    os.chmod(sshd_dir, 0o755)
    _state.run = True
    return sshd_dir


@dataclass(frozen=True)
class PrivateWorld:
    etc: Path  # the scratch copy bound over /etc
    run_sshd: Path  # /run/sshd on the private /run


def private_world(workdir: Path) -> PrivateWorld:
    """Everything an sshd test needs: scratch /etc, private /run with /run/sshd,
    and a tmpfs over /var/log (wtmp, lastlog, btmp).  Idempotent."""
    etc = scratch_etc(workdir)
    run_sshd = private_run()
    if "/var/log" not in _state.tmpfs:
        tmpfs_over("/var/log")
    return PrivateWorld(etc=etc, run_sshd=run_sshd)


# ---------------------------------------------------------------------------
# users
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a pytest test class

    name: str
    uid: int
    gid: int
    home: Path
    key: Path  # private key (root-owned, 0600, outside the home)
    pubkey: str  # the public key line installed in authorized_keys


def _check_traversable(path: Path) -> None:
    for p in [path, *path.parents]:
        if p.exists() and not os.stat(p).st_mode & 0o001:
            raise RuntimeError(
                f"add_user: {p} is not world-traversable; sshd reads authorized_keys as the "
                f"user and would refuse the key.  Put homes under e.g. tmpfs_over('/home')."
            )


def _shadow_field(name: str) -> str | None:
    with open("/etc/shadow") as f:
        for line in f:
            parts = line.rstrip("\n").split(":")
            if parts[0] == name:
                return parts[1]
    return None


def add_user(name: str, home_base: Path, *, locked: bool = False) -> TestUser:
    """Create (or reuse) user ``name`` in the scratch ``/etc`` with a key login.

    Home ``home_base/name``, shell ``/bin/bash``, shadow field ``*`` (key logins
    allowed) or ``!`` when ``locked`` (which blocks key logins only under
    ``UsePAM no``; see the module docstring).  An ed25519 key (no passphrase) is made
    under ``home_base/.nsenv-keys/`` and its public half installed as
    ``~/.ssh/authorized_keys`` (dir 0700, file 0600, owned by the user).
    Idempotent: an existing user keeps its uid/home (made again when a fresh tmpfs
    replaced it); the lock state and keys are brought to what was asked.  Requires :func:`scratch_etc` first.
    """
    if _state.etc is None:
        raise RuntimeError("add_user: call scratch_etc() first; never add users to the host /etc")
    home_base = Path(home_base)
    home_base.mkdir(parents=True, exist_ok=True)
    _check_traversable(home_base)
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "-m", "-d", str(home_base / name), "-s", "/bin/bash", "-U", name],
            check=True,
            capture_output=True,
            text=True,
        )
        pw = pwd.getpwnam(name)
    want = "!" if locked else "*"
    if _shadow_field(name) != want:
        subprocess.run(["usermod", "-p", want, name], check=True, capture_output=True, text=True)
    home = Path(pw.pw_dir)
    if not home.is_dir():  # a reused user whose home lived on a tmpfs an earlier test replaced
        home.mkdir(mode=0o755, parents=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)

    keydir = home_base / ".nsenv-keys"
    keydir.mkdir(mode=0o700, exist_ok=True)
    key = keydir / name
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"nsenv-{name}", "-f", str(key)],
            check=True,
            capture_output=True,
        )
    pubkey = key.with_suffix(".pub").read_text().strip()

    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    ak = ssh_dir / "authorized_keys"
    ak.write_text(pubkey + "\n")
    for p, mode in ((ssh_dir, 0o700), (ak, 0o600)):
        os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(p, mode)
    return TestUser(name=name, uid=pw.pw_uid, gid=pw.pw_gid, home=home, key=key, pubkey=pubkey)


# ---------------------------------------------------------------------------
# sshd
# ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on loopback right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _descendants(pid: int) -> list[int]:
    """Pids of all descendants of ``pid`` (children before grandchildren)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            pp = _ppid(int(entry))
            if pp is not None:
                children.setdefault(pp, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return True  # gone already: nothing to signal
    return stat[stat.rindex(")") + 2 :].split()[0] == "Z"


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


class SshServerError(RuntimeError):
    pass


class SshServer:
    """A real ``sshd -D`` on 127.0.0.1 and 127.0.0.2, owned by the test.

    ``SshServer(config, port, extra_opts={"LogLevel": "DEBUG1"})``; use as a
    context manager or call :meth:`start` / :meth:`stop`.  The daemon's stderr
    (``-e``) goes to a log file, see :meth:`log`.  Nothing is ever signalled
    except this daemon's own pid and its descendants, found by pid.
    """

    LISTEN = ("127.0.0.1", "127.0.0.2")

    def __init__(
        self, config: Path, port: int, *, extra_opts: dict[str, str] | None = None, start_timeout: float = 5.0
    ) -> None:
        self.config = Path(config)
        self.port = port
        self.extra_opts = dict(extra_opts or {})
        self.start_timeout = start_timeout
        self._dir = Path(tempfile.mkdtemp(prefix="nsenv-sshd-"))
        self.log_path = self._dir / "sshd.log"
        self.pid_file = self._dir / "sshd.pid"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def argv(self) -> list[str]:
        argv = [SSHD, "-D", "-e", "-f", str(self.config), "-o", f"Port={self.port}"]
        for addr in self.LISTEN:
            argv += ["-o", f"ListenAddress={addr}"]
        argv += ["-o", f"PidFile={self.pid_file}"]
        for k, v in self.extra_opts.items():
            argv += ["-o", f"{k}={v}"]
        return argv

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _listening_count(self) -> int:
        return self.log().count("Server listening on ")

    def _wait_ready(self, min_listen_lines: int, what: str, keep: frozenset[int] = frozenset()) -> None:
        """Wait for the listen lines in the log and for both addresses to accept.

        Our probe connections each make sshd fork a child; wait (briefly) until
        those are reaped, so none is orphaned if the daemon dies next (a HUP
        with a bad config).  ``keep``: descendants that existed before (sessions).
        """
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise SshServerError(
                    f"sshd {what} failed (exit {self.proc.returncode if self.proc else '?'}):\n{self.log()}"
                )
            if self._listening_count() >= min_listen_lines and all(_port_open(a, self.port) for a in self.LISTEN):
                settle = time.monotonic() + 2.0
                while self.proc and set(_descendants(self.proc.pid)) - keep and time.monotonic() < settle:
                    time.sleep(0.01)
                return
            time.sleep(0.02)
        raise SshServerError(f"sshd {what}: not accepting on port {self.port} in time:\n{self.log()}")

    def start(self) -> SshServer:
        if self.running():
            return self
        if not Path("/run/sshd").is_dir():
            private_run()  # raises outside a private namespace
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        # one "Server listening on" line per ListenAddress
        self._wait_ready(len(self.LISTEN), "start")
        return self

    def reload(self) -> None:
        """SIGHUP our sshd and wait until it listens again (same pid with -D).

        Raises SshServerError if it died (e.g. the new config is bad: a raw
        HUP has no ``sshd -t`` guard, and leaves no listener).
        """
        if self.proc is None or not self.running():
            raise SshServerError("reload: sshd is not running")
        before = self._listening_count()
        sessions = frozenset(_descendants(self.proc.pid))
        os.kill(self.proc.pid, signal.SIGHUP)
        self._wait_ready(before + len(self.LISTEN), "reload", keep=sessions)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop our sshd and its per-connection children, all by pid.

        Children go first, leaves before parents, while the listener is still
        alive to reap them (orphans would be reparented to PID 1, which on
        some hosts leaves them as zombies for a while); then the listener.
        """
        if self.proc is None:
            return
        if self.proc.poll() is None:
            deadline = time.monotonic() + timeout
            harsh_after = time.monotonic() + timeout / 2
            signalled: set[int] = set()
            while time.monotonic() < deadline:
                kids = _descendants(self.proc.pid)
                if not kids:
                    break
                parents = {_ppid(k) for k in kids}
                harsh = time.monotonic() > harsh_after
                for pid in kids:
                    if pid in parents or _is_zombie(pid):
                        continue
                    if harsh:
                        _signal(pid, signal.SIGKILL)
                    elif pid not in signalled:
                        _signal(pid, signal.SIGTERM)
                        signalled.add(pid)
                time.sleep(0.01)
            _signal(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(max(0.5, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SshServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------


def ssh_base_opts(user: TestUser, bind: str, *, log_level: str | None = "ERROR") -> list[str]:
    """Client options shared by ssh and sftp: hermetic (``-F /dev/null``), key only, no prompts."""
    options = [
        f"BindAddress={bind}",
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "BatchMode=yes",
        "IdentitiesOnly=yes",
        "ConnectTimeout=5",
        f"User={user.name}",
    ]
    if log_level:
        options.append(f"LogLevel={log_level}")
    opts = ["-F", "/dev/null", "-i", str(user.key)]
    for option in options:
        opts += ["-o", option]
    return opts


def ssh_run(
    user: TestUser,
    port: int,
    command: str,
    *,
    bind: str = "127.0.0.1",
    extra: list[str] | tuple[str, ...] = (),
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` over a real ssh key login; returns the completed process (text)."""
    argv = ["ssh", *ssh_base_opts(user, bind), "-p", str(port), *extra, "127.0.0.1", command]
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def sftp_batch(
    user: TestUser,
    port: int,
    commands: list[str],
    *,
    bind: str = "127.0.0.2",
    host: str = "127.0.0.1",
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run sftp batch ``commands`` (``sftp -b -``) against ``host``; a failing command makes it exit non-zero."""
    argv = ["sftp", "-b", "-", "-P", str(port), *ssh_base_opts(user, bind), host]
    stdin = "".join(c + "\n" for c in commands)
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class ForwardResult:
    allowed: bool  # the forward demonstrably worked
    returncode: int | None  # None: still running at the deadline (we killed it)
    stdout: str
    stderr: str


def try_forward(
    user: TestUser, port: int, *, kind: str = "local", bind: str = "127.0.0.1", timeout: float = 8.0
) -> ForwardResult:
    """Try TCP forwarding through the sshd on ``port``; never hangs past ``timeout``.

    ``kind="local"``: ``ssh -W 127.0.0.1:PORT`` opens a direct-tcpip channel to
    the sshd itself; allowed when its ``SSH-2.0`` banner comes back.  Refused:
    ``open failed: administratively prohibited`` and exit 255.
    ``kind="remote"``: ``ssh -N -R 0:127.0.0.1:PORT -o ExitOnForwardFailure=yes``;
    allowed when the server allocates a port.  Refused: "remote port forwarding
    failed" and exit 255.
    """
    base = [*ssh_base_opts(user, bind, log_level="INFO"), "-o", "ExitOnForwardFailure=yes", "-p", str(port)]
    if kind == "local":
        argv = ["ssh", *base, "-W", f"127.0.0.1:{port}", "127.0.0.1"]
        success = ("stdout", "SSH-2.0-")
    elif kind == "remote":
        argv = ["ssh", *base, "-N", "-R", f"0:127.0.0.1:{port}", "127.0.0.1"]
        success = ("stderr", "Allocated port")
    else:
        raise ValueError(f"kind must be 'local' or 'remote', not {kind!r}")

    # stdin stays open (and silent) so `-W` keeps its channel up until we have seen the banner
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    streams = {"stdout": proc.stdout, "stderr": proc.stderr}
    bufs = {"stdout": b"", "stderr": b""}
    sel = selectors.DefaultSelector()
    for name, stream in streams.items():
        sel.register(stream.fileno(), selectors.EVENT_READ, name)
    deadline = time.monotonic() + timeout
    allowed = False
    try:
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                bufs[key.data] += chunk
            if success[1].encode() in bufs[success[0]]:
                allowed = True
                break
    finally:
        sel.close()
        if proc.poll() is None:
            proc.kill()  # our own client, by its pid
        proc.wait()
        for name, stream in streams.items():
            bufs[name] += stream.read() or b""
            stream.close()
        proc.stdin.close()
    rc = proc.returncode if proc.returncode >= 0 else None
    return ForwardResult(allowed, rc, bufs["stdout"].decode(errors="replace"), bufs["stderr"].decode(errors="replace"))
