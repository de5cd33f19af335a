"""sshd, asked directly: `sshd -t` and `sshd -T -C` on a candidate config, and a gentle reload.

OpenSSH is the authority on what its config means, so preflight and verification ask it instead
of re-implementing Match evaluation. Under `--root DIR` the config is tested as a temporary copy
whose Include patterns point into an overlay of DIR's included files (inlining the includes
would change Match scoping), with the plan's pending changes laid over it.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from pathlib import Path

from tui_jail.backends import systemd
from tui_jail.backends.scratch import scratch_dir
from tui_jail.backends.sshd_pid import pidfile_process
from tui_jail.core.sshd_config import SSHD_CONFIG, SSHD_DIR, parse_lines
from tui_jail.paths import faults
from tui_jail.paths.records import record
from tui_jail.paths.system import SystemRoot

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
_INCLUDE_LINE = re.compile(r"^(\s*Include\s+)(.*)$", re.I | re.M)


class SshdError(RuntimeError):
    pass


@record  # not a dataclass: verify makes these before it starts sshd, and dataclasses cost more than that
class Connection:
    """The five attributes `sshd -T -C` needs; leaving one out makes its criterion silently false."""

    user: str
    addr: str
    host: str = "localhost"
    laddr: str = "127.0.0.1"
    lport: int = 22

    def spec(self) -> str:
        return f"user={self.user},addr={self.addr},host={self.host},laddr={self.laddr},lport={self.lport}"


def _rewrite_includes(text: str, prefix: str) -> str:
    def repl(match: re.Match[str]) -> str:
        args = [arg if arg.startswith("/") else posixpath.join(SSHD_DIR, arg) for arg in match.group(2).split()]
        return match.group(1) + " ".join(prefix + arg for arg in args)

    return _INCLUDE_LINE.sub(repl, text)


@contextlib.contextmanager
def candidate_config(system: SystemRoot, overrides: Mapping[str, str | None] | None = None) -> Iterator[Path]:
    """A temporary sshd_config equal to DIR's, with `overrides` (in-root path → content, None to
    delete) applied to the main file and the included files. Yields the main file's path."""
    overrides = dict(overrides or {})
    with tempfile.TemporaryDirectory(prefix="tui-jail-sshd-", dir=scratch_dir()) as tmp:
        overlay = Path(tmp) / "root"
        main_text = overrides.get(SSHD_CONFIG, system.read_text(SSHD_CONFIG))
        if main_text is None:
            raise SshdError(f"no {SSHD_CONFIG} under {system.root}")
        included: dict[str, str | None] = {}
        for pattern in _all_include_patterns(system, main_text, overrides):
            for path in system.glob(pattern):
                included[path] = system.read_text(path)
        for path, content in overrides.items():
            if path != SSHD_CONFIG:
                included[path] = content
        for path, content in included.items():
            if content is None:
                continue
            target = overlay / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_rewrite_includes(content, str(overlay)), encoding="utf-8")
        main = overlay / SSHD_CONFIG.lstrip("/")
        main.parent.mkdir(parents=True, exist_ok=True)
        main.write_text(
            _rewrite_includes(main_text, str(overlay)) + _host_key_lines(system, main_text, Path(tmp)), encoding="utf-8"
        )
        yield main


def _all_include_patterns(system: SystemRoot, main_text: str, overrides: Mapping[str, str | None]) -> list[str]:
    patterns: list[str] = []
    queue = [main_text]
    seen: set[str] = set()
    while queue:
        for line in parse_lines(queue.pop(), SSHD_CONFIG):
            if line.keyword != "include":
                continue
            for arg in line.args:
                pattern = arg if arg.startswith("/") else posixpath.join(SSHD_DIR, arg)
                if pattern in seen:
                    continue
                seen.add(pattern)
                patterns.append(pattern)
                for path in system.glob(pattern):
                    text = overrides.get(path, system.read_text(path))
                    if text:
                        queue.append(text)
    return patterns


def _host_key_lines(system: SystemRoot, main_text: str, tmp: Path) -> str:
    """sshd -t refuses to run without host keys. Use DIR's own keys when the config names none (the
    defaults would be the real host's); make a throwaway one when DIR has none at all."""
    if any(line.keyword == "hostkey" for line in parse_lines(main_text, SSHD_CONFIG)):
        return ""
    keys = [str(system.host(p)) for p in system.glob(f"{SSHD_DIR}/ssh_host_*_key")]
    if not keys:
        import subprocess

        key = tmp / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, capture_output=True)
        keys = [str(key)]
    # appended after everything: a HostKey inside a trailing Match block is an error, so reset first
    return "\nMatch all\n" + "".join(f"HostKey {k}\n" for k in keys)


# sshd refuses even -t/-T without its privilege-separation dir, which only exists while the
# service runs (systemd's RuntimeDirectory). Rather than create it on the host, run sshd in a
# private mount namespace with a scratch /run. The script is constant; arguments pass as "$@".
_WITH_PRIVSEP_DIR = 'mount -t tmpfs -o size=64k,mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd && exec "$@"'


@record
class _Started:
    """An sshd run started by `_start_sshd`: its pid, and the memory files its stdout and stderr go to."""

    pid: int
    out: int
    err: int


def _start_sshd(*args: str) -> _Started:
    """sshd started with posix_spawn, its output into memory files read once it exits: `verify` starts its
    runs first thing, and subprocess (with the signal, selectors and threading it loads) cost more to import
    than starting them; a file, unlike a pipe, never fills while sshd writes and nothing reads."""
    argv = [SSHD, *args]
    if not Path("/run/sshd").is_dir():
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", _WITH_PRIVSEP_DIR, "sh", *argv]
    out, err = os.memfd_create("sshd-stdout"), os.memfd_create("sshd-stderr")  # close-on-exec: only as 1 and 2
    try:
        nothing = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            redirect = [(os.POSIX_SPAWN_DUP2, nothing, 0), (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)]
            pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=redirect)
        finally:
            os.close(nothing)
    except BaseException:
        os.close(out)
        os.close(err)
        raise
    return _Started(pid, out, err)


def _finish(started: _Started) -> str:
    """sshd's output once it exits; SshdError with its own message when it fails."""
    _, status = os.waitpid(started.pid, 0)
    out, err = _read_text(started.out), _read_text(started.err)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        text = err.strip() or out.strip()
        raise SshdError(" ".join(text.splitlines()[-3:]) or f"sshd exited with {code}")
    return out


def _read_text(fd: int) -> str:
    """A memory file's text from its start (closing it), decoded as subprocess's text mode decodes."""
    os.lseek(fd, 0, os.SEEK_SET)
    with open(fd, errors="replace") as file:
        return file.read()


def check_config(config: Path) -> tuple[bool, str]:
    """`sshd -t -f config`: (passed, sshd's own message)."""
    try:
        _finish(_start_sshd("-t", "-f", str(config)))
    except SshdError as exc:
        return False, str(exc)
    return True, ""


def effective_config(config: Path, connection: Connection) -> dict[str, str]:
    """`sshd -T -C …`: the settings a hypothetical connection would get (keyword → value)."""
    answer = effective_configs(config, [connection])[connection]
    if isinstance(answer, SshdError):
        raise answer
    return answer


Answers = dict[Connection, dict[str, str] | SshdError]


def effective_configs(config: Path, connections: Sequence[Connection]) -> Answers:
    """`effective_config` for several connections, their sshd runs side by side (each an answer or the
    error sshd gave for it)."""
    return ask_effective_configs(config, connections)()


def ask_effective_configs(config: Path, connections: Sequence[Connection]) -> Callable[[], Answers]:
    """`effective_configs` in two halves: the sshd runs start now, and the function returned waits for
    them and reads their answers, so that the caller can do other work while sshd does its own. `config`
    must stay in place until then."""
    running = {c: _start_sshd("-T", "-f", str(config), "-C", c.spec()) for c in dict.fromkeys(connections)}

    def answers() -> Answers:
        read: Answers = {}
        for connection, process in running.items():
            try:
                read[connection] = _settings(_finish(process))
            except SshdError as exc:
                read[connection] = exc
        return read

    return answers


def _settings(out: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in out.splitlines():
        keyword, _, value = line.partition(" ")
        settings.setdefault(keyword.lower(), value)
    return settings


# --- the running daemon ----------------------------------------------------------------------------


@record
class RunningSshd:
    pid: int
    started: float  # seconds since the epoch


def running_sshd(system: SystemRoot, pidfile: str = "/run/sshd.pid") -> RunningSshd | None:
    """The listening sshd of DIR, found through its PidFile (checked to really be an sshd)."""
    pid = pidfile_process(system, pidfile)
    if pid is None:
        return None
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        started = os.stat(f"/proc/{pid}").st_mtime
        ours = _serves(system, pid)
    except OSError:
        return None
    return RunningSshd(pid, started) if comm == "sshd" and ours else None


_ARGUMENT_FLAGS = set("CEbcfghkopu")  # sshd's getopt letters that take a value


def config_argument(argv: list[str]) -> str:
    """The config file an sshd command line names (`-f`), or sshd's default."""
    config = SSHD_CONFIG
    rest = iter(argv[1:])
    for arg in rest:
        if not arg.startswith("-") or arg == "--":
            break
        for position, flag in enumerate(arg[1:], start=2):
            if flag in _ARGUMENT_FLAGS:
                value = arg[position:] or next(rest, "")
                config = value if flag == "f" else config
                break
    return config


def _serves(system: SystemRoot, pid: int) -> bool:
    """Under a root other than /, a pid file inside DIR proves nothing: only the sshd whose config
    file is DIR's own (the same file, as that process sees its path) is DIR's sshd."""
    if str(system.root) == "/":
        return True
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="surrogateescape").split("\0")
    if argv[0].startswith("sshd: "):  # the listener retitles itself "sshd: /usr/sbin/sshd -D -f ... [listener]"
        argv = argv[0].removeprefix("sshd: ").split()
    config = config_argument(argv)
    theirs = os.stat(f"/proc/{pid}/root{config}" if config.startswith("/") else f"/proc/{pid}/cwd/{config}")
    mine = system.stat(SSHD_CONFIG)
    return mine is not None and (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


@record
class Relistening:
    """A reloaded daemon that accepts nothing more with its old config, and may not listen again yet."""

    pid: int
    before: frozenset[int]  # its listening sockets before the reload

    def wait(self, timeout: float = 10.0) -> None:
        """Until it listens on sockets of its own again (a new login is refused until then)."""
        _wait_listening_anew(self.pid, self.before, timeout)


def reload_sshd(
    system: SystemRoot, pidfile: str = "/run/sshd.pid", *, relistening: list[Relistening] | None = None
) -> str:
    """Reload only after `sshd -t` passes on the config as installed; never restart (a failed restart
    leaves no listener). Where systemd runs the root and the daemon is a service's, through
    `systemctl reload` (systemd keeps the unit's state right, and Debian's ExecReload tests the
    config once more); otherwise SIGHUP to the daemon of DIR's PidFile. Returns what was done, for
    the journal, once the old daemon has closed its listening sockets: every connection accepted
    from then on gets the new config. Then it waits until the daemon listens again, unless the
    caller passes `relistening`: the daemon is appended to it, for the caller to wait for once it has
    done what it can meanwhile."""
    config = system.host(SSHD_CONFIG)
    with candidate_config(system) as candidate:
        ok, message = check_config(candidate)
    if not ok:
        raise SshdError(f"sshd -t rejects {config}, not reloading: {message}")
    daemon = running_sshd(system, pidfile)
    if daemon is None:
        return "sshd is not running: nothing to reload"
    faults.point("reload")  # tests break the config here: after the check above, before the reload
    listening = _listening(daemon.pid)
    unit = systemd.service_of(daemon.pid) if systemd.manages(system.root) else ""
    if unit:
        # the unit's ExecReload runs sshd -t again, closing the gap since the check above
        try:
            systemd.systemctl("reload", unit)
        except systemd.SystemdError as exc:
            raise SshdError(f"{exc}; the running sshd keeps its old config") from None
        done = f"systemctl reload {unit}"
    else:
        import signal  # only to reload: its enums cost every verify's start of sshd's runs

        os.kill(daemon.pid, signal.SIGHUP)
        done = f"SIGHUP to sshd pid {daemon.pid}"
    _wait_closed(daemon.pid, listening)
    if relistening is None:
        _wait_listening_anew(daemon.pid, listening)
    else:
        relistening.append(Relistening(daemon.pid, frozenset(listening)))
    return done


def _wait_closed(pid: int, before: Set[int], timeout: float = 10.0) -> None:
    """Until the daemon has closed the sockets it listened on before the reload. sshd closes them just
    before it re-executes itself, and the re-executed daemon reads the new config before it listens:
    a connection accepted after this returns is served with the new config, one accepted before may
    not be (the old daemon forked its process with the old one). The wait for the new sockets adds
    nothing to that line: no connection is accepted between the two."""
    give_up = time.monotonic() + timeout
    while before and time.monotonic() < give_up and os.path.exists(f"/proc/{pid}"):
        if not _listening(pid) & before:
            return
        time.sleep(0.002)  # a look costs a fraction of a millisecond (see _tcp_listeners)


def _wait_listening_anew(pid: int, before: Set[int], timeout: float = 10.0) -> None:
    """Until the daemon re-executed by the reload listens on sockets of its own: a connection the old
    one accepted meanwhile still got the old config. A daemon handed its sockets (socket activation:
    nothing of its own) is not waited for; one that never comes back, only until `timeout`."""
    give_up = time.monotonic() + timeout
    while before and time.monotonic() < give_up and os.path.exists(f"/proc/{pid}"):
        now = _listening(pid)
        if now and not now & before:
            return
        time.sleep(0.002)


def _listening(pid: int) -> set[int]:
    """Inodes of the TCP sockets `pid` listens on."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return set()
    sockets = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                sockets.add(int(link[8:-1]))
    return sockets & _tcp_listeners(pid) if sockets else set()


def _tcp_listeners(pid: int) -> set[int]:
    """Inodes of every listening TCP socket in the network namespace of `pid`. Asked of the kernel's
    socket diagnostics (what `ss -l` asks), which walk only the listening sockets, where that namespace
    is this process's own: /proc/PID/net/tcp walks the whole connection table, empty or not, and took
    8 ms a read on a loaded machine (a reload polls it while sshd re-executes). Elsewhere, or where
    the diagnostics are not there (a kernel without inet_diag), /proc/PID/net/tcp and tcp6."""
    with contextlib.suppress(OSError):
        if _same_network(pid):
            return _diagnosed_listeners()
    listening = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    listening.add(int(fields[9]))
    return listening


def _same_network(pid: int) -> bool:
    mine, theirs = os.stat("/proc/self/ns/net"), os.stat(f"/proc/{pid}/ns/net")
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


_NETLINK_SOCK_DIAG, _SOCK_DIAG_BY_FAMILY = 4, 20
_NLM_F_REQUEST, _NLM_F_DUMP, _NLMSG_ERROR, _NLMSG_DONE = 0x1, 0x300, 2, 3
_TCP_LISTEN = 10
_HEADER = struct.Struct("=IHHII")  # struct nlmsghdr: length, type, flags, sequence, port
_REQUEST = struct.Struct("=BBBBI48x")  # struct inet_diag_req_v2: family, protocol, ext, pad, states, sockid
_INODE_AT = 68  # in struct inet_diag_msg: 4 bytes, the 48 of its sockid, expires, rqueue, wqueue, uid


def _diagnosed_listeners() -> set[int]:
    """Inodes of this namespace's listening TCP sockets (IPv4 and IPv6), by a NETLINK_SOCK_DIAG dump;
    OSError when the kernel cannot answer."""
    import socket  # only a reload asks: verify, which imports this module for sshd -T, never pays for it

    inodes: set[int] = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
        for sequence, family in enumerate((socket.AF_INET, socket.AF_INET6), start=1):
            request = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << _TCP_LISTEN)
            flags = _NLM_F_REQUEST | _NLM_F_DUMP
            diag.send(_HEADER.pack(_HEADER.size + len(request), _SOCK_DIAG_BY_FAMILY, flags, sequence, 0) + request)
            while not _read_dump(diag.recv(65536), sequence, inodes):
                pass
    return inodes


def _read_dump(data: bytes, sequence: int, inodes: set[int]) -> bool:
    """Add the inodes of one netlink datagram's messages; True once the dump is done."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _, answering, _ = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            raise OSError("netlink: a message shorter than its header")
        if answering == sequence:
            if kind == _NLMSG_DONE:
                return True
            if kind == _NLMSG_ERROR:
                raise OSError(-struct.unpack_from("=i", data, offset + _HEADER.size)[0], "netlink sock_diag")
            if kind == _SOCK_DIAG_BY_FAMILY:
                inodes.add(struct.unpack_from("=I", data, offset + _HEADER.size + _INODE_AT)[0])
        offset += (length + 3) & ~3
    return False


def configured_pidfile(system: SystemRoot) -> str:
    """The PidFile DIR's sshd config names (as sshd -T reads it), as an in-root path."""
    with candidate_config(system) as config:
        try:
            out = _finish(_start_sshd("-T", "-f", str(config)))
        except SshdError:
            return "/run/sshd.pid"
    for line in out.splitlines():
        keyword, _, value = line.partition(" ")
        if keyword == "pidfile" and value.startswith("/"):
            return value
    return "/run/sshd.pid"
