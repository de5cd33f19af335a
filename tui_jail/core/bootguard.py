"""The boot guard: a systemd unit that runs `tui-jail recover --boot` before sshd starts, so a
transaction left unconfirmed by a reboot is rolled back before anyone can log in with it.

It is a write like any other. Where DIR boots with systemd, a plan that changes anything and finds
the guard missing or different carries its files — the unit, and a drop-in that makes
multi-user.target want it (regular files: systemd ignores a `.wants` entry that is not a symlink) —
so the review shows them and the transaction writes them; a rollback of the transaction that
installed them removes them again. Its ExecStart is the install layout's entry point (DESIGN.md
"Install"); where that is missing or leads into a temporary directory, no guard is planned and the
plan says why: a guard pointing into a throwaway venv would fail at the very boot it is for.

Pure: what the guard is and whether DIR can have one; `boot_recovery` does its work at boot.
"""

from __future__ import annotations

import os
import posixpath
import stat

from tui_jail.paths.system import SystemRoot

UNIT_DIR = "/etc/systemd/system"
UNIT_NAME = "tui-jail-recover.service"
UNIT = f"{UNIT_DIR}/{UNIT_NAME}"
WANTS = f"{UNIT_DIR}/multi-user.target.d/50-tui-jail-recover.conf"
ENTRY_POINT = "/usr/local/sbin/tui-jail"
TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm", "/run")
SSH_UNITS = "ssh.service sshd.service ssh.socket sshd.socket"


def unit_text() -> str:
    # After local-fs.target: its journal and entry point are on local file systems. The fstab's
    # nofail jail mounts are not ordered before local-fs.target: they may be mounted, or still
    # queued, when it starts; `recover --boot` stops their units before rolling back.
    # A timeout, and `Wants` (not `Requires`) from the target: a guard that hangs or fails must not
    # keep sshd from starting.
    return f"""\
# Installed by tui-jail: at boot, rolls back any tui-jail transaction left unconfirmed, before sshd starts.
[Unit]
Description=Roll back unconfirmed tui-jail transactions before sshd starts
DefaultDependencies=no
After=local-fs.target
Before={SSH_UNITS} multi-user.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
ExecStart={ENTRY_POINT} recover --boot
Environment=PYTHONUNBUFFERED=1
TimeoutStartSec=120
"""


def wants_text() -> str:
    return f"""\
# Installed by tui-jail: every boot to multi-user runs its boot guard ({UNIT}).
[Unit]
Wants={UNIT_NAME}
"""


def files() -> dict[str, str]:
    """The guard's files (in-root path → content), in the order to write them."""
    return {UNIT: unit_text(), WANTS: wants_text()}


def boots_with_systemd(system: SystemRoot) -> bool:
    return system.is_dir(UNIT_DIR)


def missing_entry_point(system: SystemRoot) -> str:
    """Why the guard's ExecStart would not run at the next boot ('' when it would)."""
    path = ENTRY_POINT
    for _ in range(40):  # the kernel's limit on links followed
        st = system.lstat(path)
        if st is None:
            return f"{path} does not exist: install tui-jail as the README says (a venv in /opt/tui-jail)"
        if not stat.S_ISLNK(st.st_mode):
            break
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), os.readlink(system.host(path))))
    else:
        return f"{ENTRY_POINT} is a loop of symlinks"
    if any(path == t or path.startswith(f"{t}/") for t in TEMPORARY):
        return f"{ENTRY_POINT} leads to {path}, in a temporary directory that does not survive a reboot"
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o111:
        return f"{ENTRY_POINT} ({path}) is not an executable file"
    return ""
