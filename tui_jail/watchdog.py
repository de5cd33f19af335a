"""The rollback watchdog: a detached process that rolls a transaction back at its deadline unless
it was confirmed, and at once if the applying process died half-way.

`spawn` starts it before the first change: `python -m tui_jail.watchdog` forks, the child starts
its own session, ignores SIGHUP and reports "ready PID" on a pipe; the parent exits, so the
watchdog is not a child of the TUI or of the applying process, and closing the terminal, dropping
the SSH connection or `kill -9` of the applier's whole session leaves it running. Where systemd
is PID 1, a transient timer (`systemd-run --on-active`) runs the same loop at the deadline, in case
the watchdog itself is killed. The loop re-reads the journal, so a confirm or an extension is seen.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tui_jail import faults
from tui_jail.journal import Busy, Journal, TxnState, locked
from tui_jail.rollback import rollback

POLL = 0.1  # seconds between looks at the journal (the applier's death is noticed this fast)
HUNG_GRACE = 10.0  # past the deadline, an applier still holding the lock this long is killed


class WatchdogError(RuntimeError):
    pass


def spawn(root: Path, txn_id: str, *, timeout: float = 10.0) -> int:
    """Start the detached watchdog and wait until it runs; returns its pid."""
    read_end, write_end = os.pipe()
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    journal = Journal(root, txn_id)
    with open(journal.dir / "watchdog.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui_jail.watchdog", "--ready-fd", str(write_end), str(root), txn_id],
            pass_fds=(write_end,),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=env,
            cwd="/",
        )
    os.close(write_end)
    data = b""
    give_up = time.monotonic() + timeout
    try:
        while b"\n" not in data and time.monotonic() < give_up:
            ready, _, _ = select.select([read_end], [], [], max(0.0, give_up - time.monotonic()))
            chunk = os.read(read_end, 64) if ready else b""
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_end)
        proc.wait(timeout)
    word, _, pid = data.decode().strip().partition(" ")
    if word != "ready" or not pid.isdigit():
        raise WatchdogError(f"the rollback watchdog did not start (see {journal.dir / 'watchdog.log'})")
    return int(pid)


def arm_systemd_timer(root: Path, txn_id: str, seconds: float) -> str:
    """The second guard where systemd is PID 1; '' where it is not."""
    if not Path("/run/systemd/system").is_dir():
        return ""
    import sh

    sh.Command("systemd-run")(
        f"--unit=tui-jail-{txn_id}",
        f"--on-active={max(1, int(seconds))}",
        "--timer-property=AccuracySec=1s",
        sys.executable,
        "-m",
        "tui_jail.watchdog",
        str(root),
        txn_id,
    )
    return f"systemd timer tui-jail-{txn_id}.timer armed"


def _detach(ready_fd: int) -> None:
    if os.fork():
        os._exit(0)
    os.setsid()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.write(ready_fd, f"ready {os.getpid()}\n".encode())
    os.close(ready_fd)


def watch(journal: Journal) -> int:
    """Wait for the deadline (or the applier's death) and roll back; return when nothing is left."""
    while True:
        state = journal.state()
        if not state.unfinished or state.status == "failed":
            return 0  # confirmed, rolled back, or left for `recover` after a failed rollback
        due = time.time() >= state.deadline
        if due or state.status != "pending":
            try:
                with locked(journal.root):
                    reason = _reason(journal.state())
                    if reason:
                        rollback(journal, reason)
                        return 0
            except Busy:
                if due and state.status == "applying" and time.time() >= state.deadline + HUNG_GRACE:
                    _kill_hung_applier(state)
        remaining = state.deadline - time.time()
        time.sleep(min(POLL, remaining) if remaining > 0 else POLL)


def _reason(state: TxnState) -> str:
    """Why to roll back now, holding the lock ('' for not yet)."""
    if not state.unfinished or state.status == "failed":
        return ""
    if state.status in ("preparing", "applying"):
        return "the applying process died before it finished (the lock was free)"
    if state.status == "rolling-back":
        return "a rollback was interrupted; finishing it"
    if time.time() >= state.deadline:
        return "watchdog: the confirm deadline passed without a confirmation"
    return ""


def _kill_hung_applier(state: TxnState) -> None:
    """Only a tui-jail process with the recorded pid: a reused pid is left alone."""
    try:
        cmdline = Path(f"/proc/{state.applier_pid}/cmdline").read_bytes()
        if b"tui_jail" in cmdline or b"tui-jail" in cmdline:
            os.kill(state.applier_pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tui_jail.watchdog")
    parser.add_argument("--ready-fd", type=int)
    parser.add_argument("root", type=Path)
    parser.add_argument("txn")
    args = parser.parse_args(argv)
    if args.ready_fd is not None:
        _detach(args.ready_fd)
    return watch(Journal(args.root, args.txn))


if __name__ == "__main__":
    sys.exit(main())
