"""Reboot is a rejection: a systemd unit that runs `tui-jail recover --boot` before sshd starts, so an
unconfirmed transaction found at boot is rolled back before anyone can log in with it.

`install` puts the unit into DIR's /etc/systemd/system (and enables it) when DIR boots with
systemd. It is the guard, not part of any transaction, so no rollback removes it; with nothing
pending it does nothing.
"""

from __future__ import annotations

import sys

from tui_jail.paths import files
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
    unit = f"{UNIT_DIR}/{UNIT_NAME}"
    if files.read_bytes(system.root, unit) != text:
        files.atomic_write(system.root, unit, text, 0o644, 0, 0)
    for target in WANTED_BY:
        wants = f"{UNIT_DIR}/{target}.wants"
        files.make_dirs(system.root, wants, 0o755)
        files.make_link(system.root, f"{wants}/{UNIT_NAME}", unit)
    return f"boot guard {UNIT_NAME} installed"
