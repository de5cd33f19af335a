"""The SSH session this process runs in, also under sudo or su.

sudo's default `env_reset` (Debian's sudoers has it) and `su -` drop `SSH_CONNECTION`, so `sudo
tui-jail apply` over SSH would look like a local console: no check that the admin's own connection
stays unjailed, and a confirmation from the very session that applied would be taken as proof that
new logins work. The variable is still in the environment the ancestors were started with
(`/proc/PID/environ`: sudo's own, the login shell's), so it is taken from the nearest ancestor
that has it.
"""

from __future__ import annotations

import os

VARIABLE = "SSH_CONNECTION"


def inherited_ssh_connection(pid: int | None = None) -> str:
    """SSH_CONNECTION from the nearest ancestor of `pid` (default: this process) that was started
    with it; '' when none was (a local console, cron, a service)."""
    pid = os.getpid() if pid is None else pid
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        pid = _parent(pid)
        value = _variable(pid)
        if value:
            return value
    return ""


def adopt_ssh_connection() -> None:
    """Give this process's environment the SSH_CONNECTION its session had, when it was dropped."""
    if not os.environ.get(VARIABLE):
        found = inherited_ssh_connection()
        if found:
            os.environ[VARIABLE] = found


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            # the command name, in parentheses, may hold spaces and parentheses itself
            return int(file.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _variable(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            entries = file.read().split(b"\0")
    except OSError:
        return ""
    prefix = f"{VARIABLE}=".encode()
    for entry in entries:
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace").strip()
    return ""
