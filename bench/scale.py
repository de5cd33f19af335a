"""Benchmark: how plan, apply and rollback grow with the number of bind mounts and with the size of the
host's fstab.

In-process, with the real transaction (lock, preflight, journal, watchdog, binds, fsynced writes) on a
sample root under a temp dir, in a private mount namespace of its own (it re-executes itself under
unshare): never the host's root.

- mounts: the seedbox jail with 1, 10, 100 and 500 bind mounts. Per mount is the marginal cost,
  (t(M) - t(1)) / (M - 1). Goal: ≤ 3 ms per mount for apply and rollback, and linear: the marginal cost at
  500 at most twice that at 100.
- fstab: the seedbox jail applied over a host fstab of 10, 100, 2,000 and 10,000 lines. Goal: the 2,000-line
  apply ≤ 0.5 s over the 10-line one, and linear: 10,000 lines cost at most 10x what 2,000 do over 10 lines
  (5x is linear; judged only once the difference is above noise).

Each figure is the median of RUNS. Exit 1 only when a goal is missed or growth is worse than linear.

Run: .venv/bin/python bench/scale.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

RUNS = 3
MOUNTS = (1, 10, 100, 500)
FSTAB_LINES = (10, 100, 2000, 10000)
PER_MOUNT_GOAL = 0.003
FSTAB_GOAL = 0.5
NOISE = 0.1  # seconds: a difference below this says nothing about growth


def main() -> int:
    from txn_helpers import seedbox_text, wait_watchdogs_gone

    from tui_jail import transaction
    from tui_jail.core.plan import make_plan
    from tui_jail.core.spec import parse_spec
    from tui_jail.core.yamlio import load_yaml_text
    from tui_jail.sandbox import make_sandbox_root
    from tui_jail.system import SystemRoot

    base = Path(tempfile.mkdtemp(prefix="tui-jail-bench-scale-"))
    root = make_sandbox_root(base / "root")
    system = SystemRoot(root)
    host_fstab = (root / "etc/fstab").read_text()
    document: dict[str, Any] = load_yaml_text(seedbox_text())

    def spec_with(mounts: int) -> Any:
        for i in range(mounts):
            (root / f"tank/scale{i}").mkdir(parents=True, exist_ok=True)
        sources = [{"source": f"/tank/scale{i}", "target": f"scale{i}"} for i in range(mounts)]
        return parse_spec({**document, "mounts": sources})

    def one_run(spec: Any) -> tuple[float, float, float]:
        start = time.perf_counter()
        plan = make_plan(spec, system)
        planned = time.perf_counter()
        state = transaction.apply(plan, system, timeout=600, environ={})
        applied = time.perf_counter()
        transaction.rollback_txn(root, state.id, "bench")
        rolled = time.perf_counter()
        wait_watchdogs_gone(root)
        return planned - start, applied - planned, rolled - applied

    def medians(spec: Any) -> tuple[float, float, float]:
        runs = [one_run(spec) for _ in range(RUNS)]
        plan, apply, rollback = (statistics.median(column) for column in zip(*runs, strict=True))
        return plan, apply, rollback

    failures: list[str] = []

    print(f"bind mounts (median of {RUNS}; per mount = (t(M) - t(1)) / (M - 1), goal ≤ 3 ms, linear)")
    print(f"{'mounts':>7} {'plan':>9} {'apply':>9} {'rollback':>9} {'apply/mnt':>10} {'rollbk/mnt':>11}")
    by_mounts = {m: medians(spec_with(m)) for m in MOUNTS}
    marginal: dict[int, tuple[float, float, float]] = {}
    for m, (plan, apply, rollback) in by_mounts.items():
        if m == 1:
            print(f"{m:>7} {plan * 1000:8.0f}ms {apply * 1000:8.0f}ms {rollback * 1000:8.0f}ms")
            continue
        one = by_mounts[1]
        marginal[m] = tuple((t - t1) / (m - 1) for t, t1 in zip((plan, apply, rollback), one, strict=True))  # type: ignore[assignment]
        _, per_apply, per_rollback = marginal[m]
        print(
            f"{m:>7} {plan * 1000:8.0f}ms {apply * 1000:8.0f}ms {rollback * 1000:8.0f}ms "
            f"{per_apply * 1000:8.2f}ms {per_rollback * 1000:9.2f}ms"
        )
    top, mid = max(MOUNTS), 100
    for what, index in (("plan", 0), ("apply", 1), ("rollback", 2)):
        at_top, at_mid = marginal[top][index], marginal[mid][index]
        if index and at_top > PER_MOUNT_GOAL:
            failures.append(f"{what}: {at_top * 1000:.2f} ms per mount at {top} (goal ≤ 3 ms)")
        if at_top * (top - 1) > NOISE and at_top > 2 * max(at_mid, 0.0002):
            failures.append(
                f"{what}: worse than linear ({at_mid * 1000:.2f} ms per mount at {mid}, {at_top * 1000:.2f} at {top})"
            )

    print(f"\nhost fstab lines, seedbox apply (median of {RUNS}; goal: 2,000 lines ≤ 0.5 s over 10, linear)")
    print(f"{'lines':>7} {'plan':>9} {'apply':>9} {'rollback':>9} {'apply - 10 lines':>17}")
    by_lines: dict[int, tuple[float, float, float]] = {}
    seedbox = parse_spec(document)
    for lines in FSTAB_LINES:
        (root / "etc/fstab").write_text(
            host_fstab + "".join(f"UUID=0000-{i:05x} /srv/disk{i} ext4 defaults,nofail 0 2\n" for i in range(lines))
        )
        by_lines[lines] = medians(seedbox)
        plan, apply, rollback = by_lines[lines]
        print(
            f"{lines:>7} {plan * 1000:8.0f}ms {apply * 1000:8.0f}ms {rollback * 1000:8.0f}ms "
            f"{(apply - by_lines[10][1]) * 1000:15.0f}ms"
        )
    (root / "etc/fstab").write_text(host_fstab)
    over = {lines: by_lines[lines][1] - by_lines[10][1] for lines in FSTAB_LINES}
    if over[2000] > FSTAB_GOAL:
        failures.append(f"apply on a 2,000-line fstab: {over[2000]:.2f} s over 10 lines (goal ≤ 0.5 s)")
    for what, index in (("plan", 0), ("apply", 1), ("rollback", 2)):
        d_big = by_lines[10000][index] - by_lines[10][index]
        d_mid = by_lines[2000][index] - by_lines[10][index]
        if d_big > NOISE and d_big > 10 * max(d_mid, NOISE / 5):
            failures.append(
                f"{what}: worse than linear in fstab lines (+{d_mid:.2f} s at 2,000, +{d_big:.2f} s at 10,000)"
            )

    shutil.rmtree(base, ignore_errors=True)
    print()
    for failure in failures:
        print(f"MISSED: {failure}")
    print("all goals met" if not failures else f"{len(failures)} goal(s) missed")
    return 1 if failures else 0


def _reexec_in_private_namespace(run: Callable[[], int]) -> int:
    if os.environ.get("TUI_JAIL_BENCH_NS") != "1":
        env = {**os.environ, "TUI_JAIL_BENCH_NS": "1"}
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, __file__], env)
    return run()


if __name__ == "__main__":
    sys.exit(_reexec_in_private_namespace(main))
