"""Reboot is a rejection: a systemd unit that runs `tui-jail recover --boot` before sshd starts, so an
unconfirmed transaction found at boot is rolled back before anyone can log in with it.

`install` puts the unit into DIR's /etc/systemd/system (and enables it) when DIR boots with
systemd. It is the guard, not part of any transaction, so no rollback removes it; with nothing
pending it does nothing.
"""

from __future__ import annotations

import sys

from tui_jail.fsops import atomic_write, make_dirs
from tui_jail.system import SystemRoot

UNIT_NAME = "tui-jail-recover.service"
UNIT_DIR = "/etc/systemd/system"
WANTED_BY = ("multi-user.target", "ssh.service")


def unit_text(python: str = sys.executable) -> str:
    return f"""\
# Installed by tui-jail: rolls back any tui-jail transaction left unconfirmed, before sshd starts.
[Unit]
Description=Roll back unconfirmed tui-jail transactions
DefaultDependencies=no
After=local-fs.target
Before=ssh.service sshd.service multi-user.target

[Service]
Type=oneshot
ExecStart={python} -m tui_jail recover --boot

[Install]
WantedBy={" ".join(WANTED_BY)}
"""


def install(system: SystemRoot) -> str:
    """Install and enable the unit where DIR boots with systemd; '' where it does not."""
    if not system.is_dir(UNIT_DIR):
        return ""
    text = unit_text().encode()
    unit = system.host(f"{UNIT_DIR}/{UNIT_NAME}")
    if not unit.exists() or unit.read_bytes() != text:
        atomic_write(unit, text, 0o644, 0, 0)
    for target in WANTED_BY:
        wants = system.host(f"{UNIT_DIR}/{target}.wants")
        make_dirs(wants, 0o755)
        link = wants / UNIT_NAME
        if not link.is_symlink():
            link.symlink_to(f"{UNIT_DIR}/{UNIT_NAME}")
    return f"boot guard {UNIT_NAME} installed"
