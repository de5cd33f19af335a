"""What the whole-process benches share: timing a command against its baseline, alternating, pair by pair.

`alternate(a, b, rounds)` runs the two commands in turns (A, B, A, B, ...: a machine that others load
slows both alike) and returns the wall and CPU times of each; the figure a bench judges is the median of
the rounds' wall-time ratios A/B (the CPU ratio is printed beside it). `in_private_namespace()` re-runs
the calling bench under `unshare -m --propagation private`, so what it mounts vanishes with it and
never reaches the host.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]
VENV_BIN = TREE / ".venv" / "bin"
TUI_JAIL = str(VENV_BIN / "tui-jail")  # the real console script, as an admin runs it


@dataclass(frozen=True)
class Pairs:
    """Wall and CPU seconds (user + system, the process and the children it waited for) of each round."""

    a: list[float]
    b: list[float]
    cpu_a: list[float]
    cpu_b: list[float]

    @property
    def ratio(self) -> float:
        """What a bench judges: the median of the rounds' wall-time ratios A/B."""
        return statistics.median(x / y for x, y in zip(self.a, self.b, strict=True))

    @property
    def cpu_ratio(self) -> float:
        """The same of CPU time: steadier than wall time where others load the machine, but blind to what
        runs side by side."""
        return statistics.median(x / y for x, y in zip(self.cpu_a, self.cpu_b, strict=True))

    def line(self, what: str, baseline: str, goal: float) -> str:
        verdict = "met" if self.ratio <= goal else "MISSED"
        ms = {name: statistics.median(values) * 1000 for name, values in vars(self).items()}
        return (
            f"{what}: {ms['a']:.0f} ms (CPU {ms['cpu_a']:.0f}), {baseline}: {ms['b']:.0f} ms (CPU {ms['cpu_b']:.0f}), "
            f"medians of {len(self.a)}\n  ratio {self.ratio:.2f}x wall (median pair by pair), goal <= {goal:g}x: "
            f"{verdict}; {self.cpu_ratio:.2f}x CPU"
        )


def timed(argv: Sequence[str], env: dict[str, str] | None = None, *, check: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds of one process from spawn to exit, its output discarded. `check`: a failed run
    is no figure, so it stops the bench with the command's own last words."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        took = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if check and process.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()
            raise SystemExit(f"{' '.join(argv)}: exit {process.returncode}: {message}")
    return took, usage.ru_utime + usage.ru_stime


def wall(argv: Sequence[str], env: dict[str, str] | None = None, *, check: bool = False) -> float:
    return timed(argv, env, check=check)[0]


def alternate(a: Sequence[str], b: Sequence[str], rounds: int, env: dict[str, str] | None = None) -> Pairs:
    compile_package()
    timed(a, env), timed(b, env)  # warm the page cache for both
    pairs = [(timed(a, env), timed(b, env)) for _ in range(rounds)]
    return Pairs([x[0] for x, _ in pairs], [y[0] for _, y in pairs], [x[1] for x, _ in pairs], [y[1] for _, y in pairs])


def compile_package() -> None:
    """Write the package's .pyc files, as pip does on install. With PYTHONDONTWRITEBYTECODE set (it is on
    this machine) a module edited since its .pyc was written is compiled again by every process: a
    checkout just rebased paid ~0.2 s of compile per tui-jail command, which an installed one never does."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(TREE / "tui_jail")], check=True)


def in_private_namespace() -> None:
    """Re-execute this bench in a mount namespace of its own (once: the marker says it is there)."""
    if os.environ.get("TUI_JAIL_BENCH_NS") != "1":
        env = {**os.environ, "TUI_JAIL_BENCH_NS": "1"}
        argv = ["unshare", "-m", "--propagation", "private", sys.executable, sys.argv[0], *sys.argv[1:]]
        os.execvpe("unshare", argv, env)
