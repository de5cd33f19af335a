"""Time from spawn to the wizard's first screen on a real terminal, against a bare Textual app.

Each run is a whole process on its own pseudo-terminal (80x24, TERM=xterm-256color), timed from the
fork until a known text of the first screen has been drawn on the terminal, then quit with ctrl+q
(and killed, reported as a failure, if it does not end). The wizard runs through the real console
script (`tui-jail --root SAMPLE`, next to this interpreter); the baseline is a bare Textual app
(Header + Static + Footer) run by the same interpreter the same way. The two alternate in every
round so machine load hits both alike; the figure is the median of the per-round ratios.

Two scenarios, each on a sample root (`tui_jail.sandbox`):
- no jail: the wizard opens on the preset screen;
- three applied jails (seedbox-sftp, joblet-production, joblet-builder applied and confirmed through
  the real CLI, the host's binaries bound in): the wizard opens on the home screen, whose list must
  paint first while the drift check (a quick verify of each jail) runs in its worker. That the drift
  did fill in is checked in every run, and its time reported beside the figure (not judged).

Memory: the peak resident set (VmHWM) of each process when its first screen is drawn, and the whole
run's peak (ru_maxrss) for information. Goals (issue 15): time ratio <= 1.3, RSS ratio <= 1.2.
Exit status 1 when a goal is missed.

Run as root: `.venv/bin/python bench/startup.py [--runs N]` (re-runs itself in a private mount
namespace: the applied jails' bind mounts never reach the host and vanish with it).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from timing import TUI_JAIL, Pairs, compile_package

TIME_GOAL = 1.3
RSS_GOAL = 1.2
ROWS, COLUMNS = 24, 80
SCENARIOS = ("empty", "jails")
IN_NAMESPACE = "TUI_JAIL_BENCH_NS"
QUIT = b"\x11"  # ctrl+q: both apps bind it to quit
# CSI and OSC sequences, and the two-byte escapes: what is left is the text drawn on the screen
ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

BARE_APP = """\
from textual.app import App
from textual.widgets import Footer, Header, Static


class Bare(App[None]):
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self):
        yield Header()
        yield Static("A bare Textual app, for comparison.")
        yield Footer()


Bare().run()
"""
BARE_TEXT = b"A bare Textual app"
PRESET_TEXT = b"Start from a preset"  # the preset screen's intro line
HOME_TEXT = b"joblet-builder"  # the home screen's first row (the jails are listed by name)
DRIFT_TEXT = re.compile(rb"in sync|drifted|unknown:")  # the highlighted jail's drift, once checked


@dataclass
class Run:
    seconds: float  # spawn to first screen
    cpu_seconds: float  # CPU time (user + system, every thread) spent by then
    rss_mib: float  # peak resident set when the first screen was drawn
    maxrss_mib: float  # peak resident set of the whole run (first screen, any worker, quitting)
    drift_seconds: float | None = None  # spawn to the drift check's first verdict


def run_once(argv: list[str], first_text: bytes, env: dict[str, str], *, drift: bool = False) -> Run:
    start = time.perf_counter()
    pid, master = pty.fork()
    if pid == 0:  # the child: its terminal's size, then the program
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        os.execve(argv[0], argv, env)
    terminal = Terminal(master, start)
    try:
        seconds = terminal.wait_for(lambda text: first_text in text)
        cpu, rss = _cpu_seconds(pid), _vm_hwm_mib(pid)
        drift_seconds = terminal.wait_for(DRIFT_TEXT.search) if drift else None
        maxrss = _quit(pid, master)
    except BaseException:
        _kill(pid)
        raise
    finally:
        os.close(master)
    return Run(seconds, cpu, rss, maxrss, drift_seconds)


class Terminal:
    """What a program drew on its terminal so far, read from the pty's master side."""

    def __init__(self, master: int, start: float) -> None:
        self.master, self.start, self.raw = master, start, b""

    def wait_for(self, found: Callable[[bytes], object], timeout: float = 60.0) -> float:
        """Read until `found(the text drawn so far)`; the time since the spawn when it was."""
        while time.perf_counter() - self.start < timeout:
            if found(ESCAPES.sub(b"", self.raw)):
                return time.perf_counter() - self.start
            ready, _, _ = select.select([self.master], [], [], 1.0)
            if not ready:
                continue
            try:
                self.raw += os.read(self.master, 65536)
            except OSError:  # EIO: the program ended without drawing it
                break
        raise RuntimeError(f"the text never appeared; the terminal showed: {ESCAPES.sub(b'', self.raw)[-400:]!r}")


def _cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (/proc/PID/stat fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def _quit(pid: int, master: int, timeout: float = 20.0) -> float:
    """ctrl+q (again every second, should an early key be lost), drain the terminal, reap: ru_maxrss."""
    deadline = time.monotonic() + timeout
    next_key = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_key:
            with contextlib.suppress(OSError):  # the terminal is gone: it is quitting anyway
                os.write(master, QUIT)
            next_key = time.monotonic() + 1.0
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            with contextlib.suppress(OSError):
                os.read(master, 65536)
        reaped, status, usage = os.wait4(pid, os.WNOHANG)
        if reaped:
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"pid {pid} exited with {os.waitstatus_to_exitcode(status)}")
            return usage.ru_maxrss / 1024
    raise RuntimeError(f"pid {pid} did not quit on ctrl+q within {timeout:.0f} s")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def terminal_env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "USER", "LOGNAME"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    return {**env, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}


def three_applied_jails(root: Path) -> None:
    """seedbox-sftp, joblet-production and joblet-builder applied and confirmed through the CLI."""
    from tui_jail.presets import preset_text
    from tui_jail.sandbox import bind_host_binaries

    bind_host_binaries(root)  # the exec jails bind the host's programs
    seedbox = root.parent / "seedbox.yaml"
    seedbox.write_text(
        preset_text("seedbox-sftp").replace("<media-user>", "media").replace("<seedbox-ip>", "203.0.113.7")
    )
    for source in (["--spec", str(seedbox)], ["--preset", "joblet-production"], ["--preset", "joblet-builder"]):
        cli = [str(TUI_JAIL), "--root", str(root)]
        subprocess.run([*cli, "apply", *source, "--yes"], check=True, capture_output=True)
        done = subprocess.run([*cli, "confirm"], check=True, capture_output=True, text=True)
        if "confirmed" not in done.stdout:
            raise RuntimeError(f"confirm did not confirm: {done.stdout}{done.stderr}")


def scenario(name: str, root: Path, first_text: bytes, bare: Path, runs: int, *, drift: bool) -> bool:
    env = terminal_env()
    wizard_argv = [str(TUI_JAIL), "--root", str(root)]
    bare_argv = [sys.executable, str(bare)]
    run_once(bare_argv, BARE_TEXT, env), run_once(wizard_argv, first_text, env, drift=drift)  # warm caches
    pairs: list[tuple[Run, Run]] = []
    for index in range(runs):
        if index % 2:  # alternate which goes first, so neither always runs on the other's heels
            wizard = run_once(wizard_argv, first_text, env, drift=drift)
            base = run_once(bare_argv, BARE_TEXT, env)
        else:
            base = run_once(bare_argv, BARE_TEXT, env)
            wizard = run_once(wizard_argv, first_text, env, drift=drift)
        pairs.append((base, wizard))

    def column(field: str) -> tuple[list[float], list[float]]:
        return [getattr(w, field) for _, w in pairs], [getattr(b, field) for b, _ in pairs]

    times = Pairs(*column("seconds"), *column("cpu_seconds"))
    (rss_wizard, rss_bare), (whole_wizard, whole_bare) = column("rss_mib"), column("maxrss_mib")
    rss_ratio = statistics.median(w / b for w, b in zip(rss_wizard, rss_bare, strict=True))
    print(f"\n{name}:")
    print(
        "  " + times.line("tui-jail --root SAMPLE, first screen", "bare Textual app (Header+Static+Footer)", TIME_GOAL)
    )
    rss_met = rss_ratio <= RSS_GOAL
    print(
        f"  RSS at the first screen: {statistics.median(rss_wizard):.1f} MiB vs {statistics.median(rss_bare):.1f} MiB; "
        f"ratio {rss_ratio:.2f}x, goal <= {RSS_GOAL:g}x: {'met' if rss_met else 'MISSED'} "
        f"(whole run {statistics.median(whole_wizard):.1f} vs {statistics.median(whole_bare):.1f} MiB, not judged)"
    )
    if drift:
        drifts = [w.drift_seconds for _, w in pairs if w.drift_seconds is not None]
        after = statistics.median(drifts) * 1000
        print(f"  drift check filled in (in its worker, after the list): {after:.0f} ms after spawn, not judged")
    return times.ratio <= TIME_GOAL and rss_met


def in_namespace(base: Path, runs: int, only: str | None) -> int:
    from tui_jail.sandbox import make_sandbox_root

    bare = base / "bare_app.py"
    bare.write_text(BARE_APP)
    compile_package()
    print(f"interpreter {sys.executable}; wizard {TUI_JAIL}; terminal {COLUMNS}x{ROWS} xterm-256color")
    met = True
    if only in (None, "empty"):
        empty = make_sandbox_root(base / "empty" / "root", host_keys=False)
        met &= scenario("no jail: the preset screen", empty, PRESET_TEXT, bare, runs, drift=False)
    if only in (None, "jails"):
        jailed = make_sandbox_root(base / "jails" / "root", host_keys=False)
        three_applied_jails(jailed)
        met &= scenario("three applied jails: the home screen", jailed, HOME_TEXT, bare, runs, drift=True)
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="rounds per scenario (default 11)")
    parser.add_argument("--only", choices=SCENARIOS, help="run one scenario (default: both)")
    args = parser.parse_args()
    if os.environ.get(IN_NAMESPACE):
        return in_namespace(Path(os.environ[IN_NAMESPACE]), args.runs, args.only)
    if os.geteuid() != 0:
        print("bench/startup.py: run as root (it applies three jails under a sample root)", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="tui-jail-startup-"))
    # not timing.in_private_namespace (an exec): the tree is deleted from here, once the namespace and its
    # mounts (the host's /usr among them, bound read-only) are gone
    try:
        argv = ["unshare", "-m", "--propagation", "private", sys.executable, __file__, *sys.argv[1:]]
        return subprocess.run(argv, env={**os.environ, IN_NAMESPACE: str(base)}, check=False).returncode
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
