"""Benchmark: how plan, apply and rollback grow with the number of bind mounts and with the size of the
host's fstab, whole processes of the real console script.

`.venv/bin/tui-jail plan`, `apply --yes` and `rollback`, each a process of its own, on a sample root under
a temp dir, in a private mount namespace of this bench's own (it re-executes itself under unshare; /run
there is a fresh tmpfs holding /run/sshd, as on a host whose sshd runs): never the host's root. The
baseline of each row is the smallest case of its own series, in the same round: every round runs every
size once, one after another, so a machine that others load slows all sizes alike.

- mounts: the seedbox jail with 1, 10, 100 and 500 bind mounts. Per mount is the marginal cost,
  (t(M) - t(1)) / (M - 1). Goal: ≤ 3 ms per mount for apply and rollback, and linear: the marginal cost at
  500 at most twice that at 100 (judged once the 100-mount difference is above noise).
- fstab: the seedbox jail applied over a host fstab of 10, 100, 2,000 and 10,000 lines. Goal: the 2,000-line
  apply ≤ 0.5 s over the 10-line one, and linear: 10,000 lines cost at most 10x what 2,000 do over 10 lines
  (5x is linear; judged only once the difference is above noise).

Each figure is the median of ROUNDS. Exit 1 only when a goal is missed or growth is worse than linear.

Run as root: `.venv/bin/python bench/scale.py [ROUNDS]`
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import TUI_JAIL, compile_package, in_private_namespace, wall

ROUNDS = 3
MOUNTS = (1, 10, 100, 500)
FSTAB_LINES = (10, 100, 2000, 10000)
PER_MOUNT_GOAL = 0.003
FSTAB_GOAL = 0.5
NOISE = 0.5  # seconds: between whole processes on a loaded machine, a difference below this says nothing about growth

Times = tuple[float, float, float]  # plan, apply, rollback


def main(rounds: int) -> int:
    from txn_helpers import seedbox_text, wait_watchdogs_gone

    from tui_jail.core.yamlio import dump_yaml, load_yaml_text
    from tui_jail.sandbox import make_sandbox_root

    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", "/run"], check=True)
    os.mkdir("/run/sshd", 0o755)
    base = Path(tempfile.mkdtemp(prefix="tui-jail-bench-scale-"))
    root = make_sandbox_root(base / "root")
    host_fstab = (root / "etc/fstab").read_text()
    document: dict[str, Any] = load_yaml_text(seedbox_text())

    def spec_file(mounts: int | None) -> Path:
        """The seedbox spec, with `mounts` bind mounts of its own (None: the preset's)."""
        path = base / f"seedbox-{mounts}.yaml"
        spec = dict(document)  # the preset's own stays for the fstab series
        if mounts is not None:
            for i in range(mounts):
                (root / f"tank/scale{i}").mkdir(parents=True, exist_ok=True)
            spec["mounts"] = [{"source": f"/tank/scale{i}", "target": f"scale{i}"} for i in range(mounts)]
        path.write_text(dump_yaml(spec))
        return path

    def one_run(spec: Path) -> Times:
        where = ["--spec", str(spec), "--root", str(root)]
        times = (
            wall([TUI_JAIL, "plan", *where], check=True),
            wall([TUI_JAIL, "apply", "--yes", "--confirm-timeout", "600", *where], check=True),
            wall([TUI_JAIL, "rollback", "--root", str(root)], check=True),
        )
        wait_watchdogs_gone(root)
        return times

    def medians(runs: list[Times]) -> Times:
        plan, apply, rollback = (statistics.median(column) for column in zip(*runs, strict=True))
        return plan, apply, rollback

    compile_package()
    failures: list[str] = []

    print(f"bind mounts (median of {rounds}; per mount = (t(M) - t(1)) / (M - 1), goal ≤ 3 ms, linear)")
    print(f"{'mounts':>7} {'plan':>9} {'apply':>9} {'rollback':>9} {'apply/mnt':>10} {'rollbk/mnt':>11}")
    specs = {m: spec_file(m) for m in MOUNTS}
    mount_runs: dict[int, list[Times]] = {m: [] for m in MOUNTS}
    for _ in range(rounds):
        for m in MOUNTS:
            mount_runs[m].append(one_run(specs[m]))
    by_mounts = {m: medians(runs) for m, runs in mount_runs.items()}
    marginal: dict[int, Times] = {}
    for m, (plan, apply, rollback) in by_mounts.items():
        if m == 1:
            print(f"{m:>7} {plan * 1000:8.0f}ms {apply * 1000:8.0f}ms {rollback * 1000:8.0f}ms")
            continue
        one = by_mounts[1]
        per = [(t - t1) / (m - 1) for t, t1 in zip((plan, apply, rollback), one, strict=True)]
        marginal[m] = (per[0], per[1], per[2])
        print(
            f"{m:>7} {plan * 1000:8.0f}ms {apply * 1000:8.0f}ms {rollback * 1000:8.0f}ms "
            f"{per[1] * 1000:8.2f}ms {per[2] * 1000:9.2f}ms"
        )
    top, mid = max(MOUNTS), 100
    for what, index in (("plan", 0), ("apply", 1), ("rollback", 2)):
        at_top, at_mid = marginal[top][index], marginal[mid][index]
        if index and at_top > PER_MOUNT_GOAL:
            failures.append(f"{what}: {at_top * 1000:.2f} ms per mount at {top} (goal ≤ 3 ms)")
        # as for fstab lines: the 100-mount difference is judged only above noise (a run whose 100-mount
        # apply happened to take as long as its 1-mount one read as "worse than linear" at 2 rounds)
        if at_top * (top - 1) > NOISE and at_top > 2 * max(at_mid, NOISE / 5 / (mid - 1)):
            failures.append(
                f"{what}: worse than linear ({at_mid * 1000:.2f} ms per mount at {mid}, {at_top * 1000:.2f} at {top})"
            )

    print(f"\nhost fstab lines, seedbox apply (median of {rounds}; goal: 2,000 lines ≤ 0.5 s over 10, linear)")
    print(f"{'lines':>7} {'plan':>9} {'apply':>9} {'rollback':>9} {'apply - 10 lines':>17}")
    seedbox = spec_file(None)
    fstabs = {
        lines: host_fstab + "".join(f"UUID=0000-{i:05x} /srv/disk{i} ext4 defaults,nofail 0 2\n" for i in range(lines))
        for lines in FSTAB_LINES
    }
    line_runs: dict[int, list[Times]] = {lines: [] for lines in FSTAB_LINES}
    for _ in range(rounds):
        for lines in FSTAB_LINES:
            (root / "etc/fstab").write_text(fstabs[lines])
            line_runs[lines].append(one_run(seedbox))
    by_lines = {lines: medians(runs) for lines, runs in line_runs.items()}
    for lines, (plan, apply, rollback) in by_lines.items():
        print(
            f"{lines:>7} {plan * 1000:8.0f}ms {apply * 1000:8.0f}ms {rollback * 1000:8.0f}ms "
            f"{(apply - by_lines[10][1]) * 1000:15.0f}ms"
        )
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


if __name__ == "__main__":
    in_private_namespace()
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS))
