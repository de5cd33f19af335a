"""Arming the rollback watchdog, from the applying process: its interpreter starts while the
preflight runs, and is handed the transaction once the journal exists.

`Watchdog(root)` launches `python -m tui_jail.txn.watchdog --control-fd N ROOT` in a new session; it
imports what it needs, forks away from its parent (so it is not a child of the applier), starts
its own session, ignores SIGHUP and waits on a socket for a transaction id. `arm` sends the id and
returns only once the watchdog has read that journal and answered "ready PID START" (its start
time tells it apart from a later process with its pid), and its first process has been reaped. The
same way re-arms a pending transaction whose watchdog is gone. Closed unarmed (the preflight
refused) or orphaned (the applier died), the socket reads end-of-file and the watchdog exits. Where
systemd runs the root, `arm_systemd_timer` adds a transient timer, in case the watchdog itself is killed.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import TracebackType

import tui_jail
from tui_jail.paths import faults
from tui_jail.paths.files import Root

READY_TIMEOUT = 10.0


class WatchdogError(RuntimeError):
    pass


class Watchdog:
    """A watchdog process started ahead of its transaction; use it as a context manager."""

    def __init__(self, root: Root) -> None:
        self._control, theirs = socket.socketpair()
        # -S: without site and the .pth hooks it runs, the interpreter starts in a fraction of the time
        # (it gets this process's module path instead, see _environment); -P: nor its working directory
        argv = ["-P", "-S", "-m", "tui_jail.txn.watchdog", "--control-fd", str(theirs.fileno()), os.fspath(root)]
        try:
            self._proc = subprocess.Popen(
                [sys.executable, *argv],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,  # only read when it fails to start; armed, it logs to the journal
                start_new_session=True,
                env=_environment(),
                cwd="/",
            )
        except OSError:
            self._control.close()
            raise
        finally:
            theirs.close()

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def arm(self, txn_id: str, timeout: float = READY_TIMEOUT) -> tuple[int, int]:
        """Hand the watchdog its transaction; returns its pid and start time once it is detached and
        watching."""
        try:
            self._control.settimeout(timeout)
            self._control.sendall(f"{txn_id}\n".encode(), socket.MSG_NOSIGNAL)
            with self._control.makefile("rb") as answers:
                words = answers.readline(64).decode(errors="replace").split()
        except OSError:
            words = []
        if len(words) != 3 or words[0] != "ready" or not (words[1].isdigit() and words[2].isdigit()):
            raise WatchdogError(f"the rollback watchdog did not start{self._why()}")
        self._proc.wait(timeout)  # its first process exits as soon as it has forked the watchdog
        return int(words[1]), int(words[2])

    def close(self) -> None:
        self._control.close()
        if self._proc.poll() is None:
            self._proc.kill()  # still starting and never armed: no watchdog needed (the pid is ours, unreaped)
        self._proc.wait()
        if self._proc.stderr is not None:
            self._proc.stderr.close()

    def _why(self) -> str:
        assert self._proc.stderr is not None
        os.set_blocking(self._proc.stderr.fileno(), False)
        try:
            text = (self._proc.stderr.read() or b"").decode(errors="replace")
        except OSError:
            text = ""
        lines = text.strip().splitlines()
        return f": {lines[-1]}" if lines else ""


def _environment() -> dict[str, str]:
    """This environment without the fault switch, and with this process's module path, so the
    watchdog imports the very same code: where tui_jail is, then sys.path minus its first entry
    when that is the script's directory or the working directory (what -P leaves out)."""
    package_parent = str(Path(tui_jail.__file__).resolve().parents[1])
    path = [package_parent, *(p for p in sys.path[0 if sys.flags.safe_path else 1 :] if p)]
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    return env


def arm_systemd_timer(root: Root, txn_id: str, seconds: float) -> str:
    """The second guard where systemd runs the root; '' where it does not (under --root DIR, the
    running systemd is the host's). At the deadline the timer runs the watchdog's loop (`ROOT TXN`)
    with this process's module path, so it rolls back even after the watchdog was killed."""
    from tui_jail.backends import systemd  # loaded only where a timer is armed

    if not systemd.manages(root):
        return ""
    argv = [sys.executable, "-P", "-m", "tui_jail.txn.watchdog", os.fspath(root), txn_id]
    module_path = {"PYTHONPATH": _environment()["PYTHONPATH"]}
    return systemd.start_timer(txn_id, max(1, math.ceil(seconds)), argv, module_path)
