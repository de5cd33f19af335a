"""The exec launcher: runs one command inside an applied exec jail, or refuses and runs nothing.

`prepare` reads the jail's launch file (`tui_jail.launchfile`, compiled by the plan) and refuses when
the jail is not live as it says (a mount not live, from elsewhere or not read-only, a missing mount
source, a missing user). `run` then:

    caller ──fork──► A: unshare(mount, pid, + ipc/uts/net), make every mount private
                        └─fork──► B = PID 1 of the new PID namespace:
                              fresh procfs · per-run /tmp · masks · chroot · chdir
                              · bounding set · ambient · user switch · inh/prm/eff · no_new_privs
                              · read the sets back · exec

Every step is a direct syscall (ctypes for unshare and mount; see `backends.caps` for why not
capsh/setpriv). A step that fails writes its reason into a close-on-exec pipe and B exits without
exec'ing: the caller sees a reason (refused, exit 1) or, when the pipe closes empty, that the
command really runs, and then passes its exit status through (128+N for a signal). There is no
fallback to weaker isolation. The caller itself never changes namespace (A does it), so `run` is
safe to call from a long-lived process. The per-run tmp (`/tmp/job-<id>` under the system root)
is created before the fork and removed after the command ends.

This module is on every job's start-up path: it imports no spec, planner or UI module, and only the
standard modules the steps need.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from tui_jail import launchfile
from tui_jail.backends import caps
from tui_jail.errors import Refused
from tui_jail.system import SystemRoot

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import NoReturn

    from tui_jail.launchfile import LaunchMount, LaunchProc
    from tui_jail.mountinfo import MountEntry

CLONE_FLAGS = {"mount": 0x00020000, "uts": 0x04000000, "ipc": 0x08000000, "pid": 0x20000000, "net": 0x40000000}
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 32, 4096, 16384, 1 << 18
PROC_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSED_ENV = ("TERM", "LANG", "LC_ALL")
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


class StepFailed(Exception):
    """One launch step failed; the message is the step and the kernel's reason."""


@dataclass(frozen=True)
class Launch:
    name: str
    root: str  # the jail root on the host
    argv: tuple[str, ...]
    env: dict[str, str]
    uid: int
    gid: int
    groups: tuple[int, ...]
    cwd: str  # inside the jail
    namespaces: tuple[str, ...]
    proc: LaunchProc | None
    tmp: str | None  # host path of the per-run tmp, created by run() and removed afterwards
    masks: tuple[str, ...]  # host paths of the mount points /dev/null is bound over
    removed: frozenset[str]


def prepare(name: str, system: SystemRoot, argv: list[str], *, user: str | None = None) -> Launch:
    """Everything `run` needs, from the jail's launch file and the system root; refuses on any mismatch."""
    jail = launchfile.read_launch(str(system.host(launchfile.jail_launch_path(name))), name)
    username = user or jail["user"]
    account = system.accounts.get(username)
    if account is None:
        raise Refused(f"no user {username!r} in {system.host('/etc/passwd')}")
    live = system.mounts()
    for mount in jail["mounts"]:
        _require_mounted(system, mount, live)
    tmp = None
    if jail["per_run_tmp"]:
        tmp = str(system.host(f"/tmp/job-{os.urandom(6).hex()}"))
    env = {"PATH": PATH, "HOME": account.home, "USER": username, "LOGNAME": username}
    env |= {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    if tmp is not None:
        env["TUI_JAIL_JOB_ID"] = os.path.basename(tmp).removeprefix("job-")
    return Launch(
        name=name,
        root=str(system.host(jail["root"])),
        argv=tuple(argv),
        env=env,
        uid=account.uid,
        gid=account.gid,
        groups=_groups(system, username, account.gid),
        cwd=jail["workdir"],
        namespaces=tuple(jail["namespaces"]),
        proc=jail["proc"],
        tmp=tmp,
        masks=tuple(str(system.host(mask)) for mask in jail["masks"]),
        removed=frozenset(jail["remove_capabilities"]),
    )


def _require_mounted(system: SystemRoot, mount: LaunchMount, live: dict[str, MountEntry]) -> None:
    """The bind is live at its target, of its source (same inode), with the launch file's ro/rw."""
    source, target = mount["source"], mount["target"]
    source_stat, target_stat = system.stat(source), system.stat(target)
    if source_stat is None:
        raise Refused(f"mount source {source} of {target} is missing")
    entry = live.get(target)
    same = target_stat is not None and (source_stat.st_dev, source_stat.st_ino) == (
        target_stat.st_dev,
        target_stat.st_ino,
    )
    if entry is None or not same or entry.readonly != mount["readonly"]:
        mode = "read-only" if mount["readonly"] else "read-write"
        raise Refused(f"{target} is not mounted {mode} from {source}: apply the jail first")


def _groups(system: SystemRoot, user: str, gid: int) -> tuple[int, ...]:
    groups = {gid}
    for line in (system.read_text("/etc/group") or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[2].isdigit() and user in fields[3].split(","):
            groups.add(int(fields[2]))
    return tuple(sorted(groups))


def run(launch: Launch) -> int:
    """Run the command in the jail; its exit status, or `Refused` (the command did not run)."""
    if not launch.argv:
        raise Refused("no command given")
    if launch.tmp is not None:
        _make_tmp(launch)
    try:
        return _fork_and_wait(launch)
    finally:
        if launch.tmp is not None:
            _remove_tmp(launch.tmp)


def _make_tmp(launch: Launch) -> None:
    assert launch.tmp is not None
    try:
        os.mkdir(launch.tmp, 0o700)
        os.chown(launch.tmp, launch.uid, launch.gid)
    except OSError as exc:
        raise Refused(f"cannot create the per-run tmp {launch.tmp}: {exc.strerror}") from None


def _remove_tmp(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        # Only a job that left files behind pays for importing shutil (it pulls in the compressors).
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def _fork_and_wait(launch: Launch) -> int:
    read_end, write_end = os.pipe()  # both close-on-exec: the pipe closes empty when the command starts
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _namespace_holder(launch, write_end)
    os.close(write_end)
    previous = {sig: signal.signal(sig, _killer(pid)) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with os.fdopen(read_end, "rb") as errors:
            reason = errors.read().decode(errors="replace").strip()
        _, status = os.waitpid(pid, 0)
    except KeyboardInterrupt:
        os.kill(pid, signal.SIGKILL)  # B dies with it (PDEATHSIG): a PID 1 ignores a plain SIGINT
        os.waitpid(pid, 0)
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if reason:
        raise Refused(f"exec {launch.name}: {reason}; the command did not run")
    return _exit_code(status)


def _exit_code(status: int) -> int:
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _killer(pid: int) -> Callable[[int, FrameType | None], None]:
    def kill(signum: int, frame: FrameType | None) -> None:
        os.kill(pid, signal.SIGKILL)

    return kill


def _namespace_holder(launch: Launch, errors: int) -> NoReturn:
    """A: enters the new namespaces, forks B (PID 1 there) and exits with B's status."""
    try:
        _set_parent_death_signal()
        flags = 0
        for namespace in launch.namespaces:
            flags |= CLONE_FLAGS[namespace]
        _check(f"unshare({', '.join(launch.namespaces)})", _libc.unshare(flags))
        # Nothing mounted from here on may propagate back to the host's mount table.
        _mount("making every mount private", None, "/", None, MS_REC | MS_PRIVATE)
        child = os.fork()
    except BaseException as exc:  # noqa: BLE001 — any failure becomes a reason, never a run
        _fail(errors, exc)
    if child == 0:
        _enter(launch, errors)
    os.close(errors)
    _, status = os.waitpid(child, 0)
    os._exit(_exit_code(status))


def _enter(launch: Launch, errors: int) -> NoReturn:
    """B: PID 1 of the new PID namespace; sets the jail up around itself, then execs the command."""
    try:
        _set_parent_death_signal()
        if os.getpid() != 1:
            raise StepFailed(f"not PID 1 of a new PID namespace (pid {os.getpid()}); refusing to chroot")
        # Read while the host's /proc is still there; after chroot nothing may need a file or an import.
        top = caps.last_cap()
        bits = caps.bits_of(launch.removed, top)
        if "net" in launch.namespaces:
            _os_step("bringing up lo in the new network namespace", _loopback_up)
        if launch.proc is not None:
            flags = sum(PROC_FLAGS[option] for option in launch.proc["options"])
            _mount(
                "mounting a fresh /proc",
                "proc",
                _inside(launch, "/proc"),
                "proc",
                flags,
                f"hidepid={launch.proc['hidepid']}",
            )
        if launch.tmp is not None:
            target = _inside(launch, "/tmp")
            _mount(f"binding {launch.tmp} at /tmp", launch.tmp, target, None, MS_BIND)
            _mount("remounting /tmp nosuid,nodev", None, target, None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV)
        if launch.masks and not _is_null_device("/dev/null"):
            raise StepFailed("/dev/null is not the null device (char 1:3); cannot mask anything with it")
        for mask in launch.masks:
            _mount(f"masking {mask} with /dev/null", "/dev/null", _contained(launch, mask), None, MS_BIND)
        _os_step(f"chroot {launch.root}", os.chroot, launch.root)
        _os_step(f"chdir {launch.cwd} in the jail", os.chdir, launch.cwd)
        caps.drop_bounding(bits)
        caps.clear_ambient()
        _os_step("setgroups", os.setgroups, list(launch.groups))
        _os_step(f"setgid {launch.gid}", os.setresgid, launch.gid, launch.gid, launch.gid)
        _os_step(f"setuid {launch.uid}", os.setresuid, launch.uid, launch.uid, launch.uid)
        _set_parent_death_signal()  # a change of user clears it
        caps.lower(bits)
        caps.set_no_new_privs()
        caps.require_removed(launch.removed, top)
        try:
            os.execvpe(launch.argv[0], list(launch.argv), launch.env)
        except OSError as exc:
            raise StepFailed(f"running {launch.argv[0]} in the jail: {exc.strerror}") from None
    except BaseException as exc:  # noqa: BLE001 — any failure becomes a reason, never a run
        _fail(errors, exc)


def _is_null_device(path: str) -> bool:
    st = os.stat(path)
    return stat.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)


def _inside(launch: Launch, path: str) -> str:
    return _contained(launch, launch.root + path)


def _contained(launch: Launch, target: str) -> str:
    """A mount target must be exactly itself: a symlink on the way could point the mount at the host."""
    real = os.path.realpath(target)
    if real != target or not real.startswith(launch.root + "/"):
        raise StepFailed(f"refusing to mount over {target}: it resolves to {real}")
    return target


def _mount(what: str, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    _check(what, _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)))


def _check(what: str, result: int) -> None:
    if result != 0:
        raise StepFailed(f"{what}: {os.strerror(ctypes.get_errno())}")


def _os_step(what: str, function: Callable[..., object], *args: object) -> None:
    try:
        function(*args)
    except OSError as exc:
        raise StepFailed(f"{what}: {exc.strerror}") from None


def _set_parent_death_signal() -> None:
    _check("setting the parent-death signal", _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0))


def _loopback_up() -> None:
    """A new network namespace has only `lo`, and down: bring it up so localhost works. The socket comes
    from libc directly: the socket module would be one more import on every job's start-up."""
    af_inet, sock_dgram, siocgifflags, siocsifflags, iff_up = 2, 2, 0x8913, 0x8914, 0x1
    sock = _libc.socket(af_inet, sock_dgram, 0)
    if sock < 0:
        _check("opening a socket", sock)
    try:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))
    finally:
        os.close(sock)


def _fail(errors: int, exc: BaseException) -> NoReturn:
    reason = str(exc) if isinstance(exc, (StepFailed, caps.CapabilityError)) else f"{type(exc).__name__}: {exc}"
    try:
        os.write(errors, (reason or type(exc).__name__).encode())
    finally:
        os._exit(1)
