"""Who the admin is and whether a login is new, against a real OpenSSH sshd and real logins.

Inside the suite's private namespace: the sample root's /etc/ssh is bound over the scratch /etc/ssh and
an sshd reads it (its PidFile is in the root, where tui-jail finds it to reload); users log in with ssh
from 127.0.0.x source addresses. `alice` is an ordinary user; `tjroot` is a second uid-0 account (the
host's own root has no key this test may install) standing for root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nsenv
import pytest
from txn_helpers import seedbox_text, wait_watchdogs_gone

from tui_jail.txn import journal, session

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
    nsenv.tmpfs_over("/mnt")  # fresh each test: the users are made anew, and deleted after
    subprocess.run(["useradd", "-o", "-u", "0", "-g", "0", "-m", "-d", "/mnt/tjroot", "-s", "/bin/bash", "tjroot"])
    admin = nsenv.add_user("tjroot", Path("/mnt"))
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
        for user in ("tjroot", "alice"):  # -f: tjroot's uid 0 runs every process here
            subprocess.run(["userdel", "-f", user], capture_output=True)
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


class Master:
    """A ControlMaster connection of `user` from `bind`: every command run through it is a new shell
    over the same connection."""

    def __init__(self, site: Site, user: nsenv.TestUser, bind: str, socket_dir: Path) -> None:
        self.site, self.user, self.bind = site, user, bind
        self.options = [
            "-o",
            f"ControlPath={socket_dir}/{bind}",
            "-o",
            "ControlMaster=auto",
            "-o",
            "ControlPersist=300",
        ]
        opened = self.run("true")
        assert opened.returncode == 0, opened.stderr

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        return self.site.ssh(self.user, command, self.bind, *self.options)

    def close(self) -> None:
        self.site.ssh(self.user, "", self.bind, *self.options, "-O", "exit")


@pytest.fixture
def masters(site: Site) -> Iterator[Callable[[nsenv.TestUser, str], Master]]:
    # a short directory: a control socket's path must fit in sockaddr_un
    socket_dir = Path(tempfile.mkdtemp(prefix="cm", dir="/tmp"))
    opened: list[Master] = []

    def open_master(user: nsenv.TestUser, bind: str) -> Master:
        opened.append(Master(site, user, bind, socket_dir))
        return opened[-1]

    yield open_master
    for master in opened:
        master.close()
    shutil.rmtree(socket_dir, ignore_errors=True)


def test_confirm_needs_a_connection_made_after_the_change(site: Site, masters: Callable[..., Master]) -> None:
    """A ControlMaster connection opened before the apply stays open: a new shell over it is no new
    login, and its confirm is refused; a connection opened after the change is accepted."""
    spec = site.spec("media", "127.0.0.2")
    before = masters(site.admin, "127.0.0.3")
    applied = site.ssh(site.admin, site.tui_jail("apply", "--spec", str(spec), "--yes"), "127.0.0.1")
    assert applied.returncode == 0, applied.stderr
    txn = journal.transactions(site.root)[-1]

    old = before.run(site.tui_jail("confirm", txn.id))
    assert old.returncode == 1, old.stdout
    assert "confirm from a new SSH login: this connection (tjroot from 127.0.0.3" in old.stderr, old.stderr
    assert f"ssh -o ControlPath=none tjroot@127.0.0.1 -p {site.server.port}" in old.stderr
    assert txn.state().status == "pending"

    after = masters(site.admin, "127.0.0.4")
    new = after.run(site.tui_jail("confirm", txn.id))
    assert new.returncode == 0, new.stderr
    assert txn.state().status == "confirmed"


def test_a_change_sshd_never_saw_is_confirmed_from_any_session(site: Site, masters: Callable[..., Master]) -> None:
    """A re-apply that only adds a mount leaves sshd's config as it was: nothing new for a login to
    prove, so the connection that was open all along may confirm it."""
    spec = site.spec("media", "127.0.0.2")
    admin = masters(site.admin, "127.0.0.3")
    first = site.ssh(site.admin, site.tui_jail("apply", "--spec", str(spec), "--yes"), "127.0.0.1")
    assert first.returncode == 0, first.stderr
    assert masters(site.admin, "127.0.0.4").run(site.tui_jail("confirm")).returncode == 0
    (site.root / "tank/extra").mkdir(parents=True)
    spec.write_text(spec.read_text().replace("mounts:\n", "mounts:\n  - source: /tank/extra\n    target: extra\n"))
    mounts_only = admin.run(site.tui_jail("apply", "--spec", str(spec), "--yes"))
    assert mounts_only.returncode == 0, mounts_only.stderr
    assert "from any session" in mounts_only.stdout
    kept = admin.run(site.tui_jail("confirm"))
    assert kept.returncode == 0, kept.stderr
    assert journal.transactions(site.root)[-1].state().status == "confirmed"


@contextlib.contextmanager
def logged_in(site: Site, user: nsenv.TestUser, bind: str, *, terminal: bool) -> Iterator[session.Login]:
    """An SSH login held open (a shell with a terminal, or a command without one) while the body runs."""
    tty = ["-tt"] if terminal else ["-T"]
    argv = ["ssh", *nsenv.ssh_base_opts(user, bind), *tty, "-p", str(site.server.port), "127.0.0.1", "sleep 600"]
    client = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield wait_for_login(user.name, bind, client)
    finally:
        client.kill()  # our own ssh client, by its pid: sshd ends the login
        client.wait()


def wait_for_login(user: str, bind: str, client: subprocess.Popen[bytes], timeout: float = 30) -> session.Login:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up and client.poll() is None:
        for login in session.active_logins():
            if login.user == user and login.address == bind:
                return login
        time.sleep(0.05)
    raise AssertionError(f"no login of {user} from {bind} appeared (ssh exit {client.poll()})")


@pytest.fixture
def tmux(site: Site) -> Iterator[Callable[[str], tuple[int, str]]]:
    """A tmux server started before any SSH login (no SSH_CONNECTION in it, none above it); runs a
    command in a new pane and returns its exit status and output."""
    socket = Path(tempfile.mkdtemp(prefix="tm", dir="/tmp")) / "tmux"
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")} | {"TERM": "xterm"}
    tmux = ["tmux", "-f", "/dev/null", "-S", str(socket)]
    subprocess.run([*tmux, "new-session", "-d", "-s", "admin"], env=server_env, check=True)
    runs = iter(range(1000))

    def in_pane(command: str) -> tuple[int, str]:
        out = socket.parent / f"out{next(runs)}"
        subprocess.run([*tmux, "new-window", "-d", f"{command} >{out} 2>&1; echo $? >{out}.tmp; mv {out}.tmp {out}.rc"])
        give_up = time.monotonic() + 120
        while not Path(f"{out}.rc").exists():
            assert time.monotonic() < give_up, "the pane's command did not finish"
            time.sleep(0.05)
        return int(Path(f"{out}.rc").read_text()), out.read_text()

    yield in_pane
    subprocess.run([*tmux, "kill-server"], check=False)  # our own server, by its socket
    shutil.rmtree(socket.parent, ignore_errors=True)


def test_from_tmux_every_login_with_a_terminal_is_the_admins(
    site: Site, tmux: Callable[[str], tuple[int, str]]
) -> None:
    """The admin is logged in over SSH as root from 127.0.0.3 and applies from a pane of a tmux server
    started earlier (nothing of SSH above it): a spec jailing root from 127.0.0.3 is refused, naming that login."""
    spec = site.spec("tjroot", "127.0.0.3")
    with logged_in(site, site.admin, "127.0.0.3", terminal=True) as login:
        assert login.has_terminal
        status, output = tmux(site.tui_jail("apply", "--spec", str(spec), "--yes"))
    assert status == 1, output
    assert f"the active SSH login tjroot from 127.0.0.3 ({login.terminals}, sshd pid {login.monitor})" in output
    assert "would get chrootdirectory" in output and "tmux or screen" in output
    assert journal.transactions(site.root) == []


def test_from_tmux_sessions_without_a_terminal_are_noted_and_a_new_login_confirms(
    site: Site, tmux: Callable[[str], tuple[int, str]]
) -> None:
    """Applied from tmux with SSH logins about: the sftp-like session (no terminal) is only listed, and
    the change counts as made over SSH: the pane cannot confirm it, a new login can."""
    spec = site.spec("media", "127.0.0.2")
    with (
        logged_in(site, site.admin, "127.0.0.3", terminal=True),
        logged_in(site, site.alice, "127.0.0.2", terminal=False) as quiet,
    ):
        status, output = tmux(site.tui_jail("apply", "--spec", str(spec), "--yes"))
        assert status == 0, output
        state = journal.transactions(site.root)[-1].state()
        assert f"preflight: SSH sessions without a terminal, not checked: {quiet.describe()}" in state.notes
        assert any(note.startswith("preflight: the SSH login tjroot from 127.0.0.3 (pts/") for note in state.notes)
        assert "from a NEW ssh login" in output
        status, output = tmux(site.tui_jail("confirm", state.id))
        assert status == 1 and "this session is not an SSH login" in output, output
    confirmed = site.ssh(site.admin, site.tui_jail("confirm", state.id), "127.0.0.4")
    assert confirmed.returncode == 0, confirmed.stderr


@contextlib.contextmanager
def stand_in_daemon(on_hup: str) -> Iterator[subprocess.Popen[str]]:
    """A real process holding one listening socket that runs `on_hup` (Python, with `listen()` and the
    socket in `held[0]`) on SIGHUP, as sshd swaps its sockets when it re-executes."""
    script = (
        "import signal, socket, sys, time\n"
        "def listen():\n"
        "    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); return s\n"
        "held = [listen()]\n"
        f"def swap(*_):\n    {on_hup}\n"
        "signal.signal(signal.SIGHUP, swap)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(1)\n"
    )
    daemon = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert daemon.stdout is not None and daemon.stdout.readline() == "ready\n"
        yield daemon
    finally:
        daemon.kill()
        daemon.wait()


def test_the_line_between_old_and_new_logins_is_drawn_when_the_old_sockets_close() -> None:
    """sshd closes its listening sockets just before it re-executes, and listens again only once the new
    daemon has read its config: the reload's moment is taken as soon as the old sockets are gone (no
    connection is accepted between the two), and the wait for the new ones is left to the applier's
    end (`Relistening`). A stand-in daemon closes at once on HUP and listens again 0.5 s later."""
    from tui_jail.backends import sshd

    swap = "held[0].close(); print('closed', flush=True); time.sleep(0.5); held[0] = listen()"
    with stand_in_daemon(swap) as daemon:
        assert daemon.stdout is not None
        before = sshd._listening(daemon.pid)
        assert len(before) == 1
        os.kill(daemon.pid, signal.SIGHUP)
        sshd._wait_closed(daemon.pid, before)
        assert not sshd._listening(daemon.pid)  # returned in the gap: the old socket gone, no new one yet
        assert daemon.stdout.readline() == "closed\n"
        sshd.Relistening(daemon.pid, frozenset(before)).wait()
        after = sshd._listening(daemon.pid)
        assert after and not after & before


def test_a_reload_waits_for_the_daemons_new_sockets() -> None:
    """sshd re-executes on SIGHUP and listens anew: the moment recorded as 'serving the change' comes
    after the new sockets exist. A stand-in daemon (a real process) swaps its listening socket on HUP."""
    from tui_jail.backends import sshd

    with stand_in_daemon("time.sleep(0.3); held[0].close(); held[0] = listen()") as daemon:
        before = sshd._listening(daemon.pid)
        assert len(before) == 1
        os.kill(daemon.pid, signal.SIGHUP)
        sshd._wait_listening_anew(daemon.pid, before)
        after = sshd._listening(daemon.pid)
        assert after and not after & before


def test_listening_sockets_are_asked_of_the_kernel_not_read_from_the_connection_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reload polls the daemon's listening sockets while it re-executes: they come from the kernel's
    socket diagnostics (what `ss -l` asks), which walk only listening sockets, not from /proc/PID/net/tcp,
    which walks the whole connection table (tens of milliseconds a read on a loaded machine). Both say
    the same; a daemon in another network namespace is still read from /proc (control: it then reads
    the tables this test forbids)."""
    from tui_jail.backends import sshd

    with stand_in_daemon("pass") as daemon:
        with monkeypatch.context() as patched:
            patched.setattr(sshd, "_same_network", lambda pid: False)
            by_table = sshd._listening(daemon.pid)
        assert len(by_table) == 1
        read_text = Path.read_text

        def no_tables(path: Path, *args: object, **kwargs: object) -> str:
            assert "/net/tcp" not in str(path), f"{path} read"
            return read_text(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "read_text", no_tables)
        assert sshd._listening(daemon.pid) == by_table
        monkeypatch.setattr(sshd, "_same_network", lambda pid: False)
        with pytest.raises(AssertionError, match="/net/tcp"):
            sshd._listening(daemon.pid)
