"""The process an sshd PidFile names, read with nothing heavier than `os`: a rollback on a system
where no sshd runs (a restored config with nothing to reload) learns so without loading the sshd
backend (`backends.sshd`: subprocess, sockets, the config parser), which checks the process is
really that root's sshd once one runs."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from tui_jail.paths.system import SystemRoot


def pidfile_process(system: SystemRoot, pidfile: str) -> int | None:
    """The pid the root's `pidfile` holds when such a process exists (of whatever kind); else None."""
    text = system.read_text(pidfile)
    if not text or not text.strip().isdigit():
        return None
    pid = int(text.strip())
    return pid if os.path.exists(f"/proc/{pid}") else None
