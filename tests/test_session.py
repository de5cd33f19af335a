"""Reading the process tree (session.py) with real processes; and, where no sshd is above (another SSH
server, a shell given the variable), SSH_CONNECTION from the environment an ancestor was started with,
as `sudo` (env_reset) and `su -` drop it. Those tests put an `env -i` (what sudo's env_reset does)
between a shell that has the variable and tui-jail."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from txn_helpers import seedbox_text

from tui_jail.txn import journal, session
from tui_jail.txn.session import inherited_ssh_connection

APPLYING = "198.51.100.4 50022 192.0.2.1 22"
LATER = "198.51.100.4 50123 192.0.2.1 22"
# the environment sudo leaves: its own variables, no SSH_CONNECTION
SUDO_ENV = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SUDO_USER=admin", "USER=root", "LOGNAME=root"]


def under_sudo(ssh_connection: str | None, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run argv below a shell that has `ssh_connection` (none when None) and an `env -i`."""
    outer = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"} | ({"SSH_CONNECTION": ssh_connection} if ssh_connection else {})
    # `; exit` keeps the shell alive as the parent (a lone command would be exec'd in its place)
    script = '"$@"; exit $?'
    command = ["sh", "-c", script, "sh", *SUDO_ENV, *argv]
    return subprocess.run(command, env=outer, capture_output=True, text=True, timeout=60, check=False)


def test_the_nearest_ancestor_that_has_it_gives_it() -> None:
    probe = [sys.executable, "-c", "from tui_jail.txn.session import inherited_ssh_connection as f; print(f())"]
    inner = ["env", f"SSH_CONNECTION={LATER}", "sh", "-c", '"$@"; exit $?', "sh", *SUDO_ENV, *probe]
    assert under_sudo(APPLYING, *probe).stdout == f"{APPLYING}\n"
    assert under_sudo(APPLYING, *inner).stdout == f"{LATER}\n"  # the nearer one
    assert under_sudo(None, *probe).stdout == "\n"


def test_a_process_whose_ancestors_have_none_gets_none() -> None:
    assert inherited_ssh_connection(1) == ""
    assert inherited_ssh_connection(2**22 + 7) == ""  # no such process


def test_apply_and_confirm_under_sudo_know_their_session(wizard_root: Path) -> None:
    spec = wizard_root.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    tui_jail = [sys.executable, "-m", "tui_jail", "--root", str(wizard_root)]
    applied = under_sudo(APPLYING, *tui_jail, "apply", "--spec", str(spec), "--yes")
    assert applied.returncode == 0, applied.stderr
    state = journal.unfinished(wizard_root)[0].state()
    assert state.ssh_connection == APPLYING and state.user == "admin"
    assert "preflight: your connection (admin from 198.51.100.4) is not jailed by the candidate config" in state.notes

    assert state.needs_new_login
    # no sshd above these shells: whatever their SSH_CONNECTION says, neither is a login sshd accepted
    # after the change (a real new login confirms in test_login_sshd.py)
    for ssh_connection in (APPLYING, LATER):
        refused = under_sudo(ssh_connection, *tui_jail, "confirm")
        assert refused.returncode == 1 and "this session is not an SSH login" in refused.stderr, refused.stderr
    assert journal.Journal(wizard_root, state.id).state().status == "pending"


def test_process_facts_of_a_real_child() -> None:
    """Parent, start time, environment and ancestry, read from /proc for a process we started."""
    before = session.boot_ticks()
    child = subprocess.Popen(["sleep", "60"], env={"SSH_CONNECTION": LATER, "PATH": "/usr/bin:/bin"})
    try:
        # Popen returns once the child's execve has switched memory, a moment before the kernel records
        # where its arguments and environment lie (/proc shows them empty until then)
        while session.title(child.pid) != "sleep 60":
            time.sleep(0.001)
        assert session.parent(child.pid) == os.getpid()
        assert child.pid in session.children(os.getpid())
        assert before - 1 <= session.started(child.pid) <= session.boot_ticks()
        assert abs(session.wall_time(session.started(child.pid)) - time.time()) < 5
        assert session.variable(child.pid, "SSH_CONNECTION") == LATER
        assert session.variable(child.pid, "HOME") == ""
        assert next(session.ancestors(child.pid)) == os.getpid()
    finally:
        child.kill()
        child.wait()
    assert session.parent(child.pid) == session.started(child.pid) == 0  # gone
    assert session.title(child.pid) == ""


def test_no_login_above_a_process_outside_ssh() -> None:
    assert session.own_login(1) is None
    assert list(session.ancestors(1)) == []


def test_a_login_that_ends_while_the_process_table_is_walked_is_no_crash(monkeypatch) -> None:
    """A login ending between the walk's reads of /proc: the session's title matched once, then the
    process is gone (its cmdline reads empty). The walk must take what it read, not read again and
    assert. /proc cannot be made to lose a process at that instant on demand, so `title` is replaced
    by one that answers for a single fake session pid and then forgets it (a pid above pid_max, so
    it is no real process)."""
    fake = 1 << 23
    reads = 0

    def title(pid: int) -> str:
        nonlocal reads
        if pid != fake:
            return ""
        reads += 1
        return "sshd: alice@pts/7" if reads == 1 else ""

    monkeypatch.setattr(session, "title", title)
    monkeypatch.setattr(session.os, "listdir", lambda path: [str(fake)] if path == "/proc" else [])
    logins = session.active_logins()
    assert [(login.user, login.terminals) for login in logins] == [("alice", "pts/7")]
