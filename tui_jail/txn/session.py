"""Who is logged in over SSH, read from the process tree: the login this process runs in, and the
logins active on the host. Preflight protects them; confirm asks whether a login is new.

An OpenSSH connection is a privileged monitor `sshd: USER [priv]`, forked by the listener when
the connection was accepted, and below it a session process `sshd: USER@pts/N` (or `USER@notty`)
whose children are the login's shells, started with `SSH_CONNECTION`. Every session multiplexed
over one ControlMaster connection shares that monitor: its start (field 22 of `/proc/PID/stat`,
clock ticks since boot) is when the connection was made.

sudo's `env_reset` and `su -` replace `USER`/`LOGNAME` and drop `SSH_CONNECTION`, and tmux or
screen servers keep whatever environment they were started with, so the environment of this
process says little: the login is found by walking up to sshd's own processes. Only where no
OpenSSH process is above (another server, a test's shell) does `SSH_CONNECTION` come from the
nearest ancestor that was started with it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, MutableMapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from tui_jail.paths.files import Root

VARIABLE = "SSH_CONNECTION"
# the user the login authenticated as, set by `adopt_login` for `admin.admin_connection`
LOGIN_USER = "TUI_JAIL_SSH_USER"
# OpenSSH up to 9.7 titles its per-connection processes `sshd: …`, from 9.8 `sshd-session: …`
_MONITOR = re.compile(r"^sshd(?:-session)?: (\S+) \[priv\]$")
_SESSION = re.compile(r"^sshd(?:-session)?: (\S+)@(\S+)$")
DEFAULT_CONFIG = "/etc/ssh/sshd_config"
_NO_LOGIN_UID = 4294967295
TICKS = os.sysconf("SC_CLK_TCK")


class Login:
    """One SSH connection, as sshd's processes show it. A plain class, not a dataclass: every command
    reads the login it runs in (`adopt_login`), and `dataclasses` brings `inspect` into the start-up of
    `status`, `confirm` and `rollback` (tests/test_cli_imports.py)."""

    __slots__ = ("accepted", "config", "connection", "daemon", "monitor", "terminals", "user")

    def __init__(
        self, *, user: str, connection: str, terminals: str, monitor: int, accepted: int, daemon: int, config: str
    ) -> None:
        self.user = user  # the user sshd authenticated
        # SSH_CONNECTION of its shells; '' when none runs (internal-sftp works in sshd itself)
        self.connection = connection
        self.terminals = terminals  # `pts/3`, `pts/3,pts/4` or `notty`
        self.monitor = monitor  # pid of the connection's `sshd: USER [priv]`
        self.accepted = accepted  # the monitor's start, clock ticks since boot: when the connection was accepted
        self.daemon = daemon  # pid of the listening sshd that accepted it
        self.config = config  # its config file, as a path in its own mount namespace

    def __repr__(self) -> str:
        return f"Login({', '.join(f'{name}={getattr(self, name)!r}' for name in Login.__slots__)})"

    @property
    def has_terminal(self) -> bool:
        return self.terminals != "notty"

    @property
    def address(self) -> str:
        return self.connection.split(" ", 1)[0]

    def describe(self) -> str:
        where = f" from {self.address}" if self.connection else ""
        return f"{self.user}{where} ({self.terminals}, sshd pid {self.monitor})"


# --- one process ------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[bytes]:
    """Fields 3 on of /proc/PID/stat (the command name, in parentheses, may hold anything: cut after it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            return file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return []


def parent(pid: int) -> int:
    """The parent's pid; 0 when `pid` is gone."""
    fields = _stat_fields(pid)
    return int(fields[1]) if len(fields) > 1 else 0


def started(pid: int) -> int:
    """When `pid` started, in clock ticks since boot (field 22); 0 when it is gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if len(fields) > 19 else 0


def title(pid: int) -> str:
    """The command line as `ps` shows it: sshd overwrites its own with a title such as `sshd: alice [priv]`."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            raw = file.read()
    except OSError:
        return ""
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


def variable(pid: int, name: str) -> str:
    """`name` in the environment `pid` was started with; '' when it has none."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            entries = file.read().split(b"\0")
    except OSError:
        return ""
    prefix = f"{name}=".encode()
    for entry in entries:
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace").strip()
    return ""


def ancestors(pid: int) -> Iterator[int]:
    """The parent of `pid`, its parent, and so on, up to (not including) PID 1."""
    seen = {pid}
    pid = parent(pid)
    while pid > 1 and pid not in seen:
        seen.add(pid)
        yield pid
        pid = parent(pid)


def children(pid: int) -> list[int]:
    """The live children of `pid` (all its threads' children)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as file:
                found += [int(c) for c in file.read().split()]
        except OSError:
            continue
    return found


def boot_ticks() -> int:
    """Now, in the clock of `started`: ticks since boot, suspend included."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * TICKS)


def wall_time(ticks: int) -> float:
    """A moment in boot ticks as seconds since the epoch, for display."""
    return time.time() - (boot_ticks() - ticks) / TICKS


# --- logins ------------------------------------------------------------------------------------------


def own_login(pid: int | None = None) -> Login | None:
    """The OpenSSH login `pid` (default: this process) runs in; None when no sshd session process is
    among its ancestors (a console, cron, a tmux server started earlier, another SSH server)."""
    below = os.getpid() if pid is None else pid
    for ancestor in ancestors(below):
        if match := _SESSION.match(title(ancestor)):
            # `below` is the process sshd started for this login: it carries SSH_CONNECTION
            return _login(ancestor, match, variable(below, VARIABLE))
        below = ancestor
    return None


def active_logins() -> list[Login]:
    """Every OpenSSH login on the host (its session process), oldest connection first."""
    logins = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (match := _SESSION.match(title(int(entry)))):
            shells = (variable(child, VARIABLE) for child in children(int(entry)))
            logins.append(_login(int(entry), match, next((c for c in shells if c), "")))
    return sorted(logins, key=lambda login: login.accepted)


def _login(session: int, match: re.Match[str], connection: str) -> Login:
    # `match` is of the title read when the session was found: a second read could find the process
    # gone or its pid reused (logins end while the table is walked)
    monitor = parent(session)
    if not _MONITOR.match(title(monitor)):
        monitor = session  # no separate monitor: the session process is the connection's first
    listener = parent(monitor)
    return Login(
        user=match.group(1),
        connection=connection,
        terminals=match.group(2),
        monitor=monitor,
        accepted=started(monitor),
        daemon=listener,
        config=_config_file(listener),
    )


def _config_file(listener: int) -> str:
    """The `-f CONFIG` on the listener's command line (sshd keeps it in its title)."""
    words = title(listener).split()
    config = next((words[i + 1] for i, word in enumerate(words[:-1]) if word == "-f"), DEFAULT_CONFIG)
    if config.startswith("/"):
        return config
    try:
        return os.path.join(os.readlink(f"/proc/{listener}/cwd"), config)
    except OSError:
        return config


def serves_root(login: Login, root: Root) -> bool:
    """Whether `login` came through the sshd of the system root `root`: on `/`, every one; under
    another root (tests, CI and simulated hosts share one process table) only an sshd whose config,
    seen in the daemon's own mount namespace, is a file inside the root: the root's
    `etc/ssh/sshd_config` (perhaps bound over another path), or a path below it."""
    top = os.fspath(root)
    if top == "/":
        return True
    config = os.path.join(f"/proc/{login.daemon}/root", login.config.lstrip("/"))
    inside = login.config if login.config.startswith(f"{top}/") else os.path.join(top, DEFAULT_CONFIG.lstrip("/"))
    try:
        return os.path.samefile(config, inside)
    except OSError:
        return False


def logins_to_protect(root: Root) -> list[Login]:
    """The SSH logins an apply on `root` must not lock out besides the admin's own: none when this
    process runs in an SSH login (that one is the admin's); else — a tmux or screen server started
    earlier, a console — every active login of the root's sshd, as any of them may be the admin."""
    if own_login() is not None:
        return []
    return [login for login in active_logins() if serves_root(login, root)]


# --- this process's environment -------------------------------------------------------------------


def inherited_ssh_connection(pid: int | None = None) -> str:
    """SSH_CONNECTION from the nearest ancestor of `pid` (default: this process) that was started
    with it; '' when none was."""
    return next((v for v in (variable(a, VARIABLE) for a in ancestors(pid or os.getpid())) if v), "")


def adopt_login(environ: MutableMapping[str, str] = os.environ) -> Login | None:
    """Put the login this process runs in into `environ`: its SSH_CONNECTION and its user (LOGIN_USER),
    whatever su, sudo or tmux left there. Returns the login (None when no sshd is above us)."""
    environ.pop(LOGIN_USER, None)
    login = own_login()
    if login is not None:
        environ[VARIABLE] = login.connection
        environ[LOGIN_USER] = login.user
    elif not environ.get(VARIABLE):
        found = inherited_ssh_connection()
        if found:
            environ[VARIABLE] = found
            user = _login_uid_user()
            if user:
                environ[LOGIN_USER] = user
    return login


def _login_uid_user() -> str:
    """The user pam_loginuid recorded at login (kept across su and sudo); '' when unset."""
    import pwd

    try:
        with open("/proc/self/loginuid", "rb") as file:
            uid = int(file.read())
        return "" if uid == _NO_LOGIN_UID else pwd.getpwuid(uid).pw_name
    except (OSError, ValueError, KeyError):
        return ""
