"""What the whole-process benches share: timing a command against its baseline, alternating, pair by pair.

`alternate(a, b, rounds)` runs the two commands in turns (A, B, A, B, ...: a machine that others load
slows both alike) and returns the wall times of each and the ratio A/B of each round; the figure a bench
judges is the median of those ratios. `in_private_namespace()` re-runs the calling bench under
`unshare -m --propagation private`, so what it mounts vanishes with it and never reaches the host.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

VENV_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"
TUI_JAIL = str(VENV_BIN / "tui-jail")  # the real console script, as an admin runs it


@dataclass(frozen=True)
class Pairs:
    a: list[float]
    b: list[float]

    @property
    def ratios(self) -> list[float]:
        return [x / y for x, y in zip(self.a, self.b, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def line(self, what: str, baseline: str, goal: float) -> str:
        verdict = "met" if self.ratio <= goal else "MISSED"
        return (
            f"{what}: {statistics.median(self.a) * 1000:.0f} ms, {baseline}: {statistics.median(self.b) * 1000:.0f} ms "
            f"(medians of {len(self.a)}); ratio {self.ratio:.2f}x (median pair by pair), goal <= {goal:g}x: {verdict}"
        )


def wall(argv: Sequence[str], env: dict[str, str] | None = None, *, check: bool = False) -> float:
    """Seconds from spawn to exit of one process, its output discarded. `check`: a failed run is no figure,
    so it stops the bench with the command's own last words."""
    start = time.perf_counter()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    took = time.perf_counter() - start
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    return took


def alternate(a: Sequence[str], b: Sequence[str], rounds: int, env: dict[str, str] | None = None) -> Pairs:
    wall(a, env), wall(b, env)  # warm the page cache and the .pyc files for both
    pairs = [(wall(a, env), wall(b, env)) for _ in range(rounds)]
    return Pairs([x for x, _ in pairs], [y for _, y in pairs])


def in_private_namespace() -> None:
    """Re-execute this bench in a mount namespace of its own (once: the marker says it is there)."""
    if os.environ.get("TUI_JAIL_BENCH_NS") != "1":
        env = {**os.environ, "TUI_JAIL_BENCH_NS": "1"}
        argv = ["unshare", "-m", "--propagation", "private", sys.executable, sys.argv[0], *sys.argv[1:]]
        os.execvpe("unshare", argv, env)
