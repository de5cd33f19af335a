"""Verification of an sftp jail through sshd itself: who gets jailed, who doesn't, and whether it can work.

OpenSSH is the authority on its config, so each access check asks `sshd -T -C` (all five attributes) about
one hypothetical connection to the config on disk: every jailed user from the first and last usable
address of each listed network must get the jail's `ChrootDirectory`, `ForceCommand internal-sftp` and
the forwarding settings; the same users from an address outside the list, and the admin's own connection,
must get neither (the source guide's test 1: local access is unaffected). Then what sshd checks only at
login: the account exists, its shell exists, it is not locked for key logins, it has keys, it can use
the staging dirs. Then whether the sshd that is running has loaded that config at all, and whether
internal-sftp has a log socket inside the jail.
"""

from __future__ import annotations

import functools
import os
import posixpath
import stat
from collections.abc import Callable
from pathlib import Path

from tui_jail.backends import sshd
from tui_jail.backends.sshd import Connection
from tui_jail.core import sshd_config
from tui_jail.core.checks import Check, CheckResult
from tui_jail.core.plan import Plan
from tui_jail.core.spec import Spec
from tui_jail.paths.system import Account, SystemRoot
from tui_jail.verify.sshd_answers import Effective, SshdAnswers, asked_connections

LOADED = "sshd: running daemon has loaded the config"
LOG_SOCKET = "sftp: log socket in the jail"


def sftp_checks(
    spec: Spec, system: SystemRoot, plan: Plan, admin: Connection | None, answers: SshdAnswers | None = None
) -> list[Check]:
    """The checks of an sftp jail. `answers`: sshd's, when the caller started asking already (see
    `tui_jail.verify.sshd_answers`); used only when asked about exactly these connections."""
    assert spec.sftp is not None
    users = spec.sftp.users
    asked = asked_connections(users, spec.sftp.addresses, admin)
    if answers is None or answers.expected != asked.everyone:
        answers = SshdAnswers(system, asked.everyone)
    effective: Effective = answers
    first = asked.jailed[0]  # users[0] from the first address: whose settings the account and daemon checks read
    checks = [
        Check(f"sshd: {c.user} from {c.addr} is jailed", _bind(jailed_result, spec, effective, c)) for c in asked.jailed
    ]
    if asked.outside is None:
        checks += [Check(f"sshd: {u} from elsewhere is not jailed", _bind(_every_address_jailed, u)) for u in users]
    checks += [
        Check(f"sshd: {c.user} from {c.addr} is not jailed", _bind(free_result, effective, c)) for c in asked.free
    ]
    checks.append(Check("sshd: your own connection is not jailed", lambda: admin_result(effective, admin)))
    for user in users:
        checks.append(Check(f"sftp: user {user}", _bind(user_result, spec, system, plan, user, effective, first)))
    checks.append(Check(LOADED, lambda: loaded_result(system, effective, first)))
    checks.append(Check(LOG_SOCKET, lambda: log_socket_result(spec, system)))
    return checks


def _every_address_jailed(user: str) -> CheckResult:
    return CheckResult(
        f"sshd: {user} from elsewhere is not jailed",
        "skip",
        "the jail's addresses cover every IPv4 and IPv6 address: there is no address outside the Match to try",
    )


def _bind(fn: Callable[..., CheckResult], *args: object) -> Callable[[], CheckResult]:
    return functools.partial(fn, *args)


def jailed_result(spec: Spec, effective: Effective, conn: Connection) -> CheckResult:
    assert spec.sftp is not None
    name = f"sshd: {conn.user} from {conn.addr} is jailed"
    got = effective(conn)
    yes_no = {True: "yes", False: "no"}
    want = {
        "chrootdirectory": spec.root,
        "forcecommand": "internal-sftp",
        "allowtcpforwarding": yes_no[spec.sftp.allow_tcp_forwarding],
        "x11forwarding": yes_no[spec.sftp.x11_forwarding],
    }
    wrong = [
        f"{key} {got.get(key, 'unset')} (want {value})" for key, value in want.items() if not _same(key, got, value)
    ]
    if wrong:
        return CheckResult(
            name,
            "fail",
            "; ".join(wrong),
            "apply the jail, and look for an earlier Match or setting that wins (sshd takes the first value)",
        )
    return CheckResult(name, "pass", f"chroot {spec.root}, internal-sftp only, no forwarding")


def _same(key: str, got: dict[str, str], want: str) -> bool:
    value = got.get(key, "")
    if key == "forcecommand":
        return value.split()[:1] == [want]  # internal-sftp may carry options (-l INFO)
    if key == "allowtcpforwarding" and want == "yes":
        return value in ("yes", "all")
    return value == want


def _unjailed(got: dict[str, str]) -> list[str]:
    problems = []
    if got.get("chrootdirectory", "none") != "none":
        problems.append(f"chrootdirectory {got['chrootdirectory']}")
    if got.get("forcecommand", "none") != "none":
        problems.append(f"forcecommand {got['forcecommand']}")
    return problems


def free_result(effective: Effective, conn: Connection) -> CheckResult:
    name = f"sshd: {conn.user} from {conn.addr} is not jailed"
    problems = _unjailed(effective(conn))
    if problems:
        return CheckResult(
            name,
            "fail",
            f"an address outside the jail's list gets {', '.join(problems)}",
            "narrow the Match: only the seedbox's addresses may be jailed",
        )
    return CheckResult(name, "pass", "no chroot, no forced command: access from elsewhere is unaffected")


def admin_result(effective: Effective, admin: Connection | None) -> CheckResult:
    name = "sshd: your own connection is not jailed"
    if admin is None:
        return CheckResult(name, "skip", "not logged in over SSH (no SSH_CONNECTION)")
    problems = _unjailed(effective(admin))
    who = f"{admin.user} from {admin.addr}"
    if problems:
        return CheckResult(
            name,
            "fail",
            f"{who} gets {', '.join(problems)}: your next login would be jailed",
            "roll back, and take your address or user out of the jail's Match",
        )
    return CheckResult(name, "pass", f"{who}: no chroot, no forced command")


# --- the account -----------------------------------------------------------------------------------


def user_result(
    spec: Spec, system: SystemRoot, plan: Plan, user: str, effective: Effective, first: Connection
) -> CheckResult:
    name = f"sftp: user {user}"
    account = system.accounts.get(user)
    if account is None:
        return CheckResult(name, "fail", f"no user {user} in /etc/passwd", f"create it: useradd {user}")
    problems: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    shell = account.shell or "/bin/sh"
    shell_st = system.stat(shell)
    if shell_st is None or not stat.S_ISREG(shell_st.st_mode) or not shell_st.st_mode & 0o111:
        # sshd's allowed_user() refuses a login whose shell is missing or not executable
        problems.append((f"shell {shell} does not exist or is not executable", f"usermod -s /usr/sbin/nologin {user}"))
    password = system.shadow_password(user) or ""
    if password.startswith("!"):
        locked = ("locked with '!' in /etc/shadow", f"usermod -p '*' {user} (unlocks key logins, no password)")
        usepam = effective(Connection(user, first.addr, host=first.addr)).get("usepam", "no")
        # sshd skips its locked-account test under UsePAM yes, so key logins work there
        (warnings if usepam == "yes" else problems).append(
            (locked[0] + ("; key logins pass only because UsePAM is yes" if usepam == "yes" else ""), locked[1])
        )
    keys = _authorized_keys(system, account, effective(Connection(user, first.addr, host=first.addr)))
    if not keys:
        warnings.append((f"no authorized_keys for {user}", f"put the seedbox's public key in {account.home}/.ssh/"))
    for step in plan.mounts:
        if not _can_use(system, account, step.source, write=not step.readonly):
            need = "read" if step.readonly else "write"
            problems.append((f"cannot {need} {step.source}", f"chown {user} {step.source} (or grant group access)"))
    if problems:
        return CheckResult(name, "fail", "; ".join(p for p, _ in problems + warnings), problems[0][1])
    if warnings:
        return CheckResult(name, "warn", "; ".join(p for p, _ in warnings), warnings[0][1])
    return CheckResult(name, "pass", f"uid {account.uid}, key login possible, can use every staging dir")


def _authorized_keys(system: SystemRoot, account: Account, settings: dict[str, str]) -> list[str]:
    files = settings.get("authorizedkeysfile", ".ssh/authorized_keys .ssh/authorized_keys2").split()
    found = []
    for pattern in files:
        path = pattern.replace("%h", account.home).replace("%u", account.name).replace("%%", "%")
        path = path if path.startswith("/") else posixpath.join(account.home, path)
        text = system.read_text(path)
        if text and any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
            found.append(path)
    if settings.get("authorizedkeyscommand", "none") != "none":
        found.append(settings["authorizedkeyscommand"])
    return found


def _groups(system: SystemRoot, account: Account) -> set[int]:
    gids = {account.gid}
    for line in (system.read_text("/etc/group") or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[2].isdigit() and account.name in fields[3].split(","):
            gids.add(int(fields[2]))
    return gids


def _can_use(system: SystemRoot, account: Account, path: str, *, write: bool) -> bool:
    """Classic permission bits (no ACLs): read+search, and write when asked, for the account."""
    st = system.stat(path)
    if st is None:
        return False
    if st.st_uid == account.uid:
        bits = (st.st_mode >> 6) & 7
    elif st.st_gid in _groups(system, account):
        bits = (st.st_mode >> 3) & 7
    else:
        bits = st.st_mode & 7
    need = 0o7 if write else 0o5
    return bits & need == need


# --- the running daemon ----------------------------------------------------------------------------


def loaded_result(system: SystemRoot, effective: Effective, first: Connection) -> CheckResult:
    pidfile = effective(first).get("pidfile", "/run/sshd.pid")
    daemon = find_listener(system, pidfile)
    if daemon is None:
        return CheckResult(
            LOADED,
            "warn",
            "sshd is not running: the jail takes effect when it starts",
            "start sshd (systemctl start ssh)",
        )
    pid, loaded = daemon
    newest, path = newest_config(system)
    if newest > loaded:
        return CheckResult(
            LOADED,
            "fail",
            f"{path} changed {newest - loaded:.0f}s after sshd pid {pid} loaded its config",
            "reload sshd (systemctl reload ssh, or kill -HUP the listener after sshd -t passes)",
        )
    return CheckResult(LOADED, "pass", f"sshd pid {pid} loaded its config after the last change")


def newest_config(system: SystemRoot) -> tuple[float, str]:
    """The newest mtime among the main config, its included files and their directories (a removed
    drop-in shows only as its directory's change)."""
    main = system.read_text(sshd_config.SSHD_CONFIG) or ""
    paths = [sshd_config.SSHD_CONFIG]
    for pattern in sshd_config.include_patterns(main):
        paths.append(posixpath.dirname(pattern))
        paths += system.glob(pattern)
    stamps = [(st.st_mtime, path) for path in paths if (st := system.stat(path)) is not None]
    return max(stamps, default=(0.0, sshd_config.SSHD_CONFIG))


def find_listener(system: SystemRoot, pidfile: str) -> tuple[int, float] | None:
    """(pid, when it last loaded its config) of the sshd listening with DIR's config, or None.

    sshd rewrites its pid file on every start and every SIGHUP re-exec (same pid), so the pid file's
    mtime is the load time. Found through the configured PidFile, else by looking for a listener
    started with this config (tests and hand-started daemons pass `-o PidFile=`)."""
    daemon = sshd.running_sshd(system, pidfile)
    if daemon is not None:
        st = system.stat(pidfile)
        return daemon.pid, st.st_mtime if st else daemon.started
    config = os.path.realpath(system.host(sshd_config.SSHD_CONFIG))
    for pid, args in _sshd_processes():
        if _option(args, "-f", sshd_config.SSHD_CONFIG if str(system.root) == "/" else "") != config:
            continue
        own_pidfile = next((a.split("=", 1)[1] for a in args if a.lower().startswith("pidfile=")), None)
        path = Path(own_pidfile) if own_pidfile else system.host(pidfile)
        try:
            if path.read_text().strip() == str(pid):
                return pid, path.stat().st_mtime
        except OSError:
            pass
        return pid, _start_time(pid)
    return None


def _option(args: list[str], flag: str, default: str) -> str:
    for index, arg in enumerate(args[:-1]):
        if arg == flag:
            return os.path.realpath(args[index + 1])
    return os.path.realpath(default) if default else ""


def _sshd_processes() -> list[tuple[int, list[str]]]:
    """Listening sshd daemons that see this process's files: their argv (a listener rewrites it as one
    title line, `[listener]` at the end). A daemon in another mount namespace (a container, a test's
    simulated host) reads another /etc/ssh/sshd_config under the same name: it is not this root's."""
    found = []
    ours = _mount_namespace("self")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if _comm(entry) != b"sshd" or _mount_namespace(entry) != ours:
                continue
            args = Path(f"/proc/{entry}/cmdline").read_text(errors="replace").replace("\0", " ").split()
        except OSError:
            continue
        # per-connection children are titled "sshd: user [priv]" and never carry -f/-D
        if "[listener]" in args or (args and not args[0].endswith(":")):
            found.append((int(entry), [a[2:] if a.startswith("-o") and len(a) > 2 else a for a in args]))
    return found


def _comm(pid: str) -> bytes:
    """A process's command name, read the cheap way: this runs for every process on the host."""
    fd = os.open(f"/proc/{pid}/comm", os.O_RDONLY)
    try:
        return os.read(fd, 64).rstrip(b"\n")
    finally:
        os.close(fd)


def _mount_namespace(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return ""


def _start_time(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[19])  # starttime, field 22 of stat(5)
    btime = next(
        int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
    )
    return btime + ticks / os.sysconf("SC_CLK_TCK")


# --- logging ---------------------------------------------------------------------------------------


def log_socket_result(spec: Spec, system: SystemRoot) -> CheckResult:
    path = spec.jail_path("dev/log")
    st = system.lstat(path)
    if st is not None and stat.S_ISSOCK(st.st_mode):
        return CheckResult(LOG_SOCKET, "pass", f"{path} is a socket: internal-sftp activity is logged")
    return CheckResult(
        LOG_SOCKET,
        "warn",
        f"no log socket at {path}: sftp sessions in the jail are not logged",
        f"have rsyslog listen there: $AddUnixListenSocket {path} (then restart rsyslog)",
    )
