"""Benchmark: `tui-jail plan` on a large system against reading the files and diffing them, whole processes.

The sample root with a 10,000-line fstab and an sshd_config of 200 Match blocks (1,802 lines, no
Include, so the jail's block is appended to that big file and the whole of it is read and checked for
earlier Matches that would shadow the jail's settings).

- A: the real console script, `.venv/bin/tui-jail plan --spec FILE --root DIR` (its text to a pipe).
- B, the baseline: the same interpreter (`sys.executable`) reading both files and printing
  `difflib.unified_diff` of each against itself plus a three-line managed block.

A and B alternate; the figure is the median of the per-round ratios A/B. Goal (issue 15): ≤ 3x.
Exit 1 only when the goal is missed.

Run: `.venv/bin/python bench/plan.py [ROUNDS]` (as root: the sample root has files owned by its users)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import TUI_JAIL, alternate

GOAL = 3.0
ROUNDS = 15
FSTAB_LINES = 10_000
MATCH_BLOCKS = 200

SPEC = """\
name: bench
kind: sftp
root: /chroot/bench
mounts:
  - source: /tank/incomingmovies
    target: in
sftp:
  users: [media]
  addresses: [203.0.113.7]
"""

BASELINE = """\
import difflib, sys
block = ["# BEGIN tui-jail bench\\n", "x\\n", "# END tui-jail bench\\n"]
for path in sys.argv[1:]:
    with open(path) as file:
        lines = file.read().splitlines(keepends=True)
    sys.stdout.writelines(difflib.unified_diff(lines, lines + block, "a", "b"))
"""


def build_root(base: Path) -> Path:
    from tui_jail.sandbox import make_sandbox_root

    root = make_sandbox_root(base / "root", host_keys=False)
    fstab = ["# a big fstab"] + [f"/dev/disk{i} /srv/data{i} ext4 defaults,nofail 0 2" for i in range(FSTAB_LINES - 1)]
    (root / "etc/fstab").write_text("\n".join(fstab) + "\n")
    sshd = ["Port 22", "UsePAM yes"]
    for i in range(MATCH_BLOCKS):
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
    (root / "etc/ssh/sshd_config").write_text("\n".join(sshd) + "\n")
    return root


def main(rounds: int) -> int:
    base = Path(tempfile.mkdtemp(prefix="tui-jail-bench-plan-"))
    try:
        root = build_root(base)
        spec_file = base / "bench.yaml"
        spec_file.write_text(SPEC)
        plan = [TUI_JAIL, "plan", "--spec", str(spec_file), "--root", str(root)]
        baseline = [sys.executable, "-c", BASELINE, str(root / "etc/fstab"), str(root / "etc/ssh/sshd_config")]
        pairs = alternate(plan, baseline, rounds)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{FSTAB_LINES:,}-line fstab, sshd_config of {MATCH_BLOCKS} Match blocks")
    print(pairs.line("tui-jail plan", "read + difflib (same interpreter)", GOAL))
    return 0 if pairs.ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS))
