"""Benchmark: the planner on a large system, against the floor of reading the files and diffing them.

A 10,000-line fstab and a 2,000-line sshd_config holding 200 Match blocks (no Include, so the
jail's block is appended to that big file and the whole of it is diffed). Baseline ("floor"),
measured in the same run: reading both files and `difflib.unified_diff` of each against itself
plus the same managed block. Prints medians and the ratio plan/floor (target ≤ 2).

Run: .venv/bin/python bench/plan.py
"""

from __future__ import annotations

import difflib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_jail.plan import make_plan
from tui_jail.sandbox import make_sandbox_root
from tui_jail.spec import parse_spec
from tui_jail.system import SystemRoot

RUNS = 21


def build_root(base: Path) -> Path:
    root = make_sandbox_root(base / "root", host_keys=False)
    fstab = ["# a big fstab"] + [f"/dev/disk{i} /srv/data{i} ext4 defaults,nofail 0 2" for i in range(9_999)]
    (root / "etc/fstab").write_text("\n".join(fstab) + "\n")
    sshd = ["Port 22", "UsePAM yes"]
    for i in range(200):
        sshd += [
            f"Match User user{i} Address 10.{i}.0.0/16",
            f"\tChrootDirectory /srv/c{i}",
            "\tForceCommand internal-sftp",
            "\tAllowTcpForwarding no",
            "\tX11Forwarding no",
            "\tPermitTTY no",
            "\tMaxSessions 2",
            "\tPasswordAuthentication no",
            "\tPermitTunnel no",
        ]
    (root / "etc/ssh/sshd_config").write_text("\n".join(sshd[:2000]) + "\n")
    return root


def median_seconds(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    spec = parse_spec(
        {
            "name": "bench",
            "kind": "sftp",
            "root": "/chroot/bench",
            "mounts": [{"source": "/tank/incomingmovies", "target": "in"}],
            "sftp": {"users": ["media"], "addresses": ["203.0.113.7"]},
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = build_root(Path(tmp))
        files = [root / "etc/fstab", root / "etc/ssh/sshd_config"]
        block = ["# BEGIN tui-jail bench\n", "x\n", "# END tui-jail bench\n"]

        def floor() -> None:
            for path in files:
                lines = path.read_text().splitlines(keepends=True)
                "".join(difflib.unified_diff(lines, lines + block, "a", "b"))

        def plan() -> None:
            result = make_plan(spec, SystemRoot(root))
            for change in result.files:
                change.diff()

        plan()  # warm imports and caches for both
        floor()
        t_floor, t_plan = median_seconds(floor), median_seconds(plan)
    print(f"floor (read + unified_diff): {t_floor * 1000:8.2f} ms median of {RUNS}")
    print(f"plan (make_plan + diffs)   : {t_plan * 1000:8.2f} ms median of {RUNS}")
    print(f"ratio plan/floor           : {t_plan / t_floor:8.2f}  (target ≤ 2)")


if __name__ == "__main__":
    main()
