"""The exec launcher: runs one command inside an applied exec jail, or refuses and runs nothing.

`prepare` reads the jail's launch file (`tui_jail.core.launchfile`, compiled by the plan) and refuses when
the jail is not as it says (a mount source missing, a mount point not showing its source or not
read-only/read-write as it should, a missing user, a capability the kernel does not know). `run` then:

    caller: close every descriptor but 0-2 · a standard one that is a directory or O_PATH → /dev/null
            · per-run /tmp · unshare(mount, pid, + ipc/uts/net) · make every mount private
       └─fork──► child = PID 1 of the new PID namespace:
                 drop the controlling tty (--pty: setsid on a new pty) · fresh procfs · /tmp
                 · masks · chroot · chdir · bounding set · ambient · user switch · inh/prm/eff · no_new_privs
                 · read the sets back · exec

What a hostile job could otherwise reach: a descriptor of the caller's that names a host directory
walks straight out of any chroot (`/proc/self/fd/3/etc/...`), so none but 0, 1 and 2 survives, and a
standard one that is a directory or an `O_PATH` descriptor becomes /dev/null; the caller's terminal
as controlling tty would let the job push input into the admin's shell (TIOCSTI), so the job gives it
up (`TIOCNOTTY`) and has none — or, with `--pty`, leads a session on a new pty of its own, relayed by
`tui_jail.jailexec.ptyrelay`; and the capabilities that break a chroot
(`capdrop.CHROOT_BREAKING`: open_by_handle_at, mount, ptrace…) are removed from every set of every
job on top of the spec's — that matters to a jail allowed to run as root (`allow_root`), the only way uid 0
gets in.

Every step is a direct syscall (`tui_jail.jailexec.libc` for unshare and mount, `tui_jail.jailexec.capdrop` for the
capability sets). A step of the caller that fails refuses before anything is forked; a step of the
child that fails writes its reason into a close-on-exec pipe and the child exits without exec'ing:
the caller sees a reason (refused) or, when the pipe closes empty, that the command really runs,
and then passes its exit status through (128+N for a signal). There is no fallback to weaker
isolation. The per-run tmp (`/tmp/job-<id>` under the system root) is removed after the command.

`run` moves the calling process itself into the new namespaces (all but the PID namespace, which
only its child enters as PID 1): one fork fewer on every job's start-up than a namespace-holding
middle process. So `run` is the last thing a single-threaded process does: `tui-jail exec` calls
it and exits.

This module is on every job's start-up path, which pays for every import: it reads the system root
with `os` and strings rather than `SystemRoot` (pathlib, dataclasses, the mountinfo parser), and
imports no spec, planner or UI module.
"""

import _signal  # the C module `signal` wraps: the wrapper's enum classes would cost every job ~1 ms
import os
import stat
import sys

from tui_jail.core import launchfile
from tui_jail.core.errors import Refused
from tui_jail.jailexec import capdrop
from tui_jail.jailexec.libc import StepFailed, c_uint, c_ulong, check, libc

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import NoReturn

    from tui_jail.core.launchfile import LaunchMount, LaunchProc

CLONE_FLAGS = {"mount": 0x00020000, "uts": 0x04000000, "ipc": 0x08000000, "pid": 0x20000000, "net": 0x40000000}
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 32, 4096, 16384, 1 << 18
PROC_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSED_ENV = ("TERM", "LANG", "LC_ALL")
PR_SET_PDEATHSIG = 1
AF_INET, SOCK_DGRAM, SOCK_CLOEXEC, SIOCSIFFLAGS, IFF_UP = 2, 2, 0o2000000, 0x8914, 0x1
# struct ifreq for SIOCSIFFLAGS: the name, then the flags (a short) in a 24-byte union. Only IFF_UP: the
# kernel keeps lo's own IFF_LOOPBACK (a volatile flag) and a new namespace's lo has no other flag set.
LO_UP = b"lo".ljust(16, b"\0") + IFF_UP.to_bytes(2, sys.byteorder) + bytes(22)
TIOCNOTTY, TIOCSCTTY, ENXIO = 0x5422, 0x540E, 6
SYS_CLOSE_RANGE, SYS_OPENAT2 = 436, 437  # the same on every architecture (added after the syscall tables were unified)
AT_FDCWD, RESOLVE_NO_SYMLINKS = -100, 0x04
# struct open_how {flags, mode, resolve}, each a __u64: an O_PATH descriptor, refused if any component is a symlink
EXACT_PATH = b"".join(n.to_bytes(8, sys.byteorder) for n in (os.O_PATH | os.O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS))
F_GETFL = 3
PIPE_BUF = 4096  # the least a pipe holds on Linux, even one shrunk by pipe-user-pages-soft
# Test-only: protections a test switches off in its own process to show the escape each one closes
# (and bench/exec.py, to time them): "descriptors", "tty", "chroot_breaking". Nothing sets it otherwise.
UNPROTECTED: frozenset[str] = frozenset()


class Launch:
    """Everything `run` needs, checked by `prepare`. A plain class: a dataclass would cost every job the
    import of `dataclasses` and `inspect`."""

    def __init__(
        self,
        *,
        name: str,
        root: str,  # the jail root on the host
        argv: tuple[str, ...],
        env: dict[str, str],
        uid: int,
        gid: int,
        groups: tuple[int, ...],
        cwd: str,  # inside the jail
        namespaces: tuple[str, ...],
        proc: "LaunchProc | None",
        tmp: str | None,  # host path of the per-run tmp, created by run() and removed afterwards
        masks: tuple[str, ...],  # host paths of the mount points /dev/null is bound over
        bits: list[int],  # the capabilities to remove, as bits the running kernel knows
        pty: bool = False,  # a terminal of its own (`tui_jail.jailexec.ptyrelay`) instead of no controlling one
    ) -> None:
        self.name, self.root, self.argv, self.env = name, root, argv, env
        self.uid, self.gid, self.groups, self.cwd = uid, gid, groups, cwd
        self.namespaces, self.proc, self.tmp, self.masks, self.bits = namespaces, proc, tmp, masks, bits
        self.pty = pty


def prepare(
    name: str, root: str, argv: list[str], *, user: str | None = None, root_probe: bool = False, pty: bool = False
) -> Launch:
    """Everything `run` needs, from the jail's launch file and the system root `root`; refuses on any
    mismatch. uid 0 only if the spec allows root, or for `root_probe`: verify's own probe, which runs
    as root in the jail (with the chroot-breaking capabilities removed like any job's)."""
    # Resolved once, so that every path below is exact and a symlink inside the jail stands out.
    root = os.path.realpath(root)
    jail = launchfile.read_launch(_host(root, launchfile.jail_launch_path(name)), name)
    username = "root" if root_probe else user or jail["user"]
    account = _account(root, username)
    if account[0] == 0 and not (jail["allow_root"] or root_probe):
        raise Refused(
            f"{username} is uid 0: a job runs as root in the jail only if the spec says exec.allow_root: true"
        )
    for mount in jail["mounts"]:
        _require_mounted(root, mount)
    try:
        breaking = frozenset() if "chroot_breaking" in UNPROTECTED else capdrop.CHROOT_BREAKING
        bits = capdrop.bits_of(frozenset(jail["remove_capabilities"]) | breaking, capdrop.last_cap())
    except StepFailed as exc:
        raise Refused(str(exc)) from None
    uid, gid, home = account
    tmp = _host(root, f"/tmp/job-{os.urandom(6).hex()}") if jail["per_run_tmp"] else None
    env = {"PATH": PATH, "HOME": home, "USER": username, "LOGNAME": username}
    env |= {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    if tmp is not None:
        env["TUI_JAIL_JOB_ID"] = os.path.basename(tmp).removeprefix("job-")
    return Launch(
        name=name,
        root=_host(root, jail["root"]),
        argv=tuple(argv),
        env=env,
        uid=uid,
        gid=gid,
        groups=_groups(root, username, gid),
        cwd=jail["workdir"],
        namespaces=tuple(jail["namespaces"]),
        proc=jail["proc"],
        tmp=tmp,
        masks=tuple(_host(root, mask) for mask in jail["masks"]),
        bits=bits,
        pty=pty,
    )


def _host(root: str, path: str) -> str:
    """An absolute, normalised path inside the system root → the host path (`SystemRoot.host`, as a str)."""
    if root == "/":
        return path
    return root if path == "/" else root + path


def _read_text(path: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return ""
    try:
        return launchfile.read_all(fd).decode(errors="surrogateescape")
    finally:
        os.close(fd)


def _account(root: str, username: str) -> tuple[int, int, str]:
    """uid, gid and home of `username` in the root's /etc/passwd."""
    passwd = _host(root, "/etc/passwd")
    for line in _read_text(passwd).splitlines():
        fields = line.split(":")
        if len(fields) >= 7 and fields[0] == username and fields[2].isdigit() and fields[3].isdigit():
            return int(fields[2]), int(fields[3]), fields[5]
    raise Refused(f"no user {username!r} in {passwd}")


def _groups(root: str, user: str, gid: int) -> tuple[int, ...]:
    groups = {gid}
    for line in _read_text(_host(root, "/etc/group")).splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[2].isdigit() and user in fields[3].split(","):
            groups.add(int(fields[2]))
    return tuple(sorted(groups))


def _require_mounted(root: str, mount: "LaunchMount") -> None:
    """The bind is live: its exact target path shows its source's inode, read-only or read-write as the
    launch file says. Checked on what a path lookup at the target sees (stat and statvfs), which is what
    the command will see — and, unlike scanning /proc/self/mountinfo, costs the same on a host with
    thousands of mounts."""
    source, target = _host(root, mount["source"]), _host(root, mount["target"])
    try:
        source_stat = os.stat(source)
    except (FileNotFoundError, NotADirectoryError):
        raise Refused(f"mount source {mount['source']} of {mount['target']} is missing") from None
    try:
        fd = _open_exact(target)
    except (FileNotFoundError, NotADirectoryError):
        fd = None
    shown, readonly = None, False
    if fd is not None:
        try:
            shown, readonly = os.fstat(fd), bool(os.fstatvfs(fd).f_flag & os.ST_RDONLY)
        finally:
            os.close(fd)
    if (
        shown is None
        or (shown.st_dev, shown.st_ino) != (source_stat.st_dev, source_stat.st_ino)
        or readonly != mount["readonly"]
    ):
        mode = "read-only" if mount["readonly"] else "read-write"
        raise Refused(f"{mount['target']} is not mounted {mode} from {mount['source']}: apply the jail first")


def _open_exact(path: str) -> int | None:
    """An O_PATH descriptor of the absolute, normalised `path`, or None when a component of it is a
    symlink: what `os.path.realpath(path) == path` says, in one openat2 call rather than an lstat per
    component in Python (the launcher checks a path this way for every mount, and before every mount
    of its own). A missing path raises FileNotFoundError or NotADirectoryError, as `os.open` does."""
    fd = libc.syscall(SYS_OPENAT2, AT_FDCWD, os.fsencode(path), EXACT_PATH, len(EXACT_PATH))
    if fd >= 0:
        return int(fd)
    # Refused (a symlink on the way, a missing component) or no openat2 (a kernel before 5.6, a seccomp
    # filter that does not know it): the same by realpath, which only a refusal or such a kernel pays.
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    if os.path.realpath(path) == path:
        return fd
    os.close(fd)
    return None


def run(launch: Launch) -> int:
    """Run the command in the jail; its exit status, or `Refused` (the command did not run). Closes
    every descriptor of the calling process but 0, 1 and 2."""
    if not launch.argv:
        raise Refused("no command given")
    if "descriptors" not in UNPROTECTED:
        _close_inherited_descriptors()
        _replace_unsafe_standard_descriptors()
    if launch.tmp is not None:
        _make_tmp(launch)
    try:
        return _fork_and_wait(launch)
    finally:
        if launch.tmp is not None:
            _remove_tmp(launch.tmp)


def _close_inherited_descriptors() -> None:
    """Every descriptor from 3 up goes: one naming a host directory is a way out of the chroot. Done in
    the caller, before anything of the launcher's own is opened (those are close-on-exec: Python's
    default, and SOCK_CLOEXEC for the one socket)."""
    if libc.syscall(SYS_CLOSE_RANGE, 3, c_uint(0xFFFFFFFF), 0) == 0:
        return
    # a kernel before 5.9: up to the highest descriptor listed in /proc (closerange ignores closed ones)
    os.closerange(3, max(int(entry) for entry in os.listdir("/proc/self/fd")) + 1)


def _replace_unsafe_standard_descriptors() -> None:
    """A standard descriptor that is a directory or an `O_PATH` one (`0</`) is a path into the host
    through /proc/self/fd/N: it becomes /dev/null. A closed one stays closed."""
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode) or libc.fcntl(fd, F_GETFL) & os.O_PATH:
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, fd)
            os.close(null)


def _make_tmp(launch: Launch) -> None:
    assert launch.tmp is not None
    # Not through the path layer: this runs on the exec hot path, and the name is random (nobody can
    # plant it first). mkdir never follows a link; the owner is given through a descriptor of the very
    # directory made, so one swapped in where the tmp dir is writable by others is never chowned through.
    try:
        os.mkdir(launch.tmp, 0o700)
        fd = os.open(launch.tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchown(fd, launch.uid, launch.gid)
        finally:
            os.close(fd)
    except OSError as exc:
        raise Refused(f"cannot create the per-run tmp {launch.tmp}: {exc.strerror}") from None


def _remove_tmp(path: str) -> None:
    # Not through the path layer (the exec hot path): rmdir never follows a link, and rmtree works
    # from descriptors (shutil.rmtree.avoids_symlink_attacks), so what the job left is never followed.
    try:
        os.rmdir(path)
    except OSError:
        # Only a job that left files behind pays for importing shutil (it pulls in the compressors).
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def _fork_and_wait(launch: Launch) -> int:
    flags = 0
    for namespace in launch.namespaces:
        flags |= CLONE_FLAGS[namespace]
    try:
        check(f"unshare({', '.join(launch.namespaces)})", libc.unshare(flags))
        # Nothing mounted from here on may propagate back to the host's mount table.
        _mount("making every mount private", None, "/", None, MS_REC | MS_PRIVATE)
    except StepFailed as exc:
        raise Refused(str(exc)) from None
    terminal = os.openpty() if launch.pty else None  # (the caller's side, the job's side), close-on-exec
    read_end, write_end = os.pipe()  # both close-on-exec: the pipe closes empty when the command starts
    try:
        pid = os.fork()
    except OSError as exc:
        for fd in (read_end, write_end, *(terminal or ())):
            os.close(fd)
        raise Refused(f"fork: {exc.strerror}") from None
    if pid == 0:
        os.close(read_end)
        _enter(launch, write_end, terminal)
    os.close(write_end)
    if terminal is not None:
        os.close(terminal[1])  # the job holds it now: its last close ends the relay
    previous = {sig: _signal.signal(sig, _killer(pid)) for sig in (_signal.SIGTERM, _signal.SIGHUP)}
    try:
        if terminal is None:
            # The child's end first, then its reason, which the pipe keeps (`_fail` writes no more than
            # the pipe holds): this process wakes once, not at the command's start and again at its end.
            _, status = os.waitpid(pid, 0)
            reason = _read_reason(read_end)
        else:
            reason = _read_reason(read_end)  # the relay starts only once the command runs
            if not reason:
                from tui_jail.jailexec import ptyrelay

                ptyrelay.relay(terminal[0])
            os.close(terminal[0])
            _, status = os.waitpid(pid, 0)
    except KeyboardInterrupt:
        os.kill(pid, _signal.SIGKILL)  # PID 1 of its namespace, which ignores a plain SIGINT; all of it dies
        os.waitpid(pid, 0)
        raise
    finally:
        for sig, handler in previous.items():
            _signal.signal(sig, handler)
    if reason:
        raise Refused(reason)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _read_reason(read_end: int) -> str:
    """Why the child did not run the command, or "" when it did (the pipe closed empty at its exec)."""
    try:
        return launchfile.read_all(read_end).decode(errors="replace").strip()
    finally:
        os.close(read_end)


def _killer(pid: int) -> "Callable[[int, FrameType | None], None]":
    def kill(signum: int, frame: "FrameType | None") -> None:
        os.kill(pid, _signal.SIGKILL)

    return kill


def _enter(launch: Launch, errors: int, terminal: tuple[int, int] | None) -> "NoReturn":
    """The child: PID 1 of the new PID namespace; sets the jail up around itself, then execs the command.
    With `terminal` (--pty) it leads a session of its own on the job's side of that pty."""
    try:
        if terminal is not None:
            _take_terminal(*terminal)
        elif "tty" not in UNPROTECTED:
            _drop_controlling_tty()
        _set_parent_death_signal()
        if os.getpid() != 1:
            raise StepFailed(f"not PID 1 of a new PID namespace (pid {os.getpid()}); refusing to chroot")
        if "net" in launch.namespaces:
            _loopback_up()
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
        # After chroot nothing may need a file of the host or an import.
        _os_step(f"chroot {launch.root}", os.chroot, launch.root)
        _os_step(f"chdir {launch.cwd} in the jail", os.chdir, launch.cwd)
        capdrop.drop_bounding(launch.bits)
        capdrop.clear_ambient()
        _os_step("setgroups", os.setgroups, list(launch.groups))
        _os_step(f"setgid {launch.gid}", os.setresgid, launch.gid, launch.gid, launch.gid)
        _os_step(f"setuid {launch.uid}", os.setresuid, launch.uid, launch.uid, launch.uid)
        _set_parent_death_signal()  # a change of user clears it
        capdrop.lower(launch.bits)
        capdrop.set_no_new_privs()
        capdrop.require_removed(launch.bits)
        _execute(launch.argv, launch.env)
    except BaseException as exc:  # noqa: BLE001 — any failure becomes a reason, never a run
        _fail(errors, exc)


def _execute(argv: tuple[str, ...], env: dict[str, str]) -> "NoReturn":
    """execvpe's search of PATH, without `os.execvpe`: it imports `warnings` (os.get_exec_path), and after
    chroot no module can be imported. Reports the first error other than "not there", as execvpe does."""
    name = argv[0]
    paths = [name] if "/" in name else [f"{directory}/{name}" for directory in env["PATH"].split(":")]
    errors = []
    for path in paths:
        try:
            os.execve(path, argv, env)
        except OSError as exc:
            errors.append(exc)
    found = [exc for exc in errors if not isinstance(exc, (FileNotFoundError, NotADirectoryError))]
    raise StepFailed(f"running {name} in the jail: {(found or errors)[0].strerror}")


def _drop_controlling_tty() -> None:
    """No controlling terminal for the job: with the caller's, it could push input into the admin's shell
    (TIOCSTI; Debian 12's kernel has no switch against it). The child is no session leader, so TIOCNOTTY
    just detaches it, and it cannot take a terminal again (only a session leader can, and not one that
    is another session's). Not setsid(): here that costs 2-10 ms (the kernel makes the new session a
    scheduler autogroup), this a few microseconds; setsid only when TIOCNOTTY fails. It stays in the
    caller's process group, so Ctrl-C still reaches it."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == ENXIO:
            return  # no controlling terminal to give up
        tty = -1
    if tty >= 0:
        try:
            if libc.ioctl(tty, TIOCNOTTY) == 0:
                return
        finally:
            os.close(tty)
    _os_step("leaving the caller's terminal (setsid)", os.setsid)


def _take_terminal(caller_side: int, job_side: int) -> None:
    """A new session whose controlling tty is the job's own pty, on its standard streams."""
    os.close(caller_side)
    _os_step("starting a session for the job's terminal (setsid)", os.setsid)
    for fd in (0, 1, 2):
        os.dup2(job_side, fd)
    os.close(job_side)
    check("making the new pty the job's terminal", libc.ioctl(0, TIOCSCTTY, 0))


def _is_null_device(path: str) -> bool:
    st = os.stat(path)
    return stat.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)


def _inside(launch: Launch, path: str) -> str:
    return _contained(launch, launch.root + path)


def _contained(launch: Launch, target: str) -> str:
    """A mount target must be exactly itself: a symlink on the way could point the mount at the host.
    A missing one is left to the mount, which names it."""
    try:
        fd = _open_exact(target)
    except (FileNotFoundError, NotADirectoryError):
        fd = -1
    if fd is None or not target.startswith(launch.root + "/"):
        raise StepFailed(f"refusing to mount over {target}: it resolves to {os.path.realpath(target)}")
    if fd >= 0:
        os.close(fd)
    return target


def _mount(what: str, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)  # bytes and None: what ctypes passes as char *

    check(what, libc.mount(enc(source), enc(target), enc(fstype), c_ulong(flags), enc(data)))


def _os_step(what: str, function: "Callable[..., object]", *args: object) -> None:
    try:
        function(*args)
    except OSError as exc:
        raise StepFailed(f"{what}: {exc.strerror}") from None


def _set_parent_death_signal() -> None:
    check("setting the parent-death signal", libc.prctl(PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0))


def _loopback_up() -> None:
    """A new network namespace has only `lo`, and down: bring it up so localhost works. Through libc,
    like the other steps: the socket and fcntl modules would be more imports on every job's start-up."""
    sock = check("opening a socket to bring up lo", libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0))
    try:
        check("bringing up lo in the new network namespace", libc.ioctl(sock, SIOCSIFFLAGS, LO_UP))
    finally:
        os.close(sock)


def _fail(errors: int, exc: BaseException) -> "NoReturn":
    reason = str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}"
    try:
        # At most PIPE_BUF: a pipe holds that much without a reader (the caller reads once the child is gone)
        os.write(errors, (reason or type(exc).__name__).encode()[:PIPE_BUF])
    finally:
        os._exit(1)
