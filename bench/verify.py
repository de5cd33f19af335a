"""Benchmark: `verify` for the seedbox preset, its checks run one after another vs concurrently.

The seedbox preset (user media, a /24 of seedbox addresses, so both ends are probed) on a sandbox root
with the plan's files written and its tree created (no mounts: those need a private namespace, and a
mount check is two stats either way). Most of the time is `sshd -T -C`, one process per connection
asked about, which is what running the checks concurrently overlaps. Prints the medians, the ratio
sequential/concurrent, and the whole `tui-jail verify` command's wall time (target: under 1 s).

Run: .venv/bin/python bench/verify.py
"""

from __future__ import annotations

import os
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_jail.checks import run_checks
from tui_jail.plan import make_plan
from tui_jail.presets import preset_document
from tui_jail.sandbox import make_sandbox_root
from tui_jail.spec import Spec, parse_spec
from tui_jail.system import SystemRoot
from tui_jail.verify import checks_for
from tui_jail.yamlio import dump_yaml

RUNS = 7


def seedbox_spec() -> Spec:
    document = preset_document("seedbox-sftp")
    document["sftp"]["users"] = ["media"]
    document["sftp"]["addresses"] = ["203.0.113.0/24"]
    return parse_spec(document)


def lay_out(spec: Spec, system: SystemRoot) -> None:
    """The plan's files and tree, so the checks look at an applied jail (minus the mounts)."""
    plan = make_plan(spec, system)
    for change in plan.files:
        host = system.host(change.path)
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(change.after or "")
    for step in plan.paths:
        host = system.host(step.path)
        if step.kind == "dir":
            host.mkdir(exist_ok=True)
        elif step.device is not None and os.geteuid() == 0:
            os.mknod(host, stat.S_IFCHR | step.mode, os.makedev(*step.device))
        else:
            host.touch()


def median_seconds(fn: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        root = make_sandbox_root(Path(tmp) / "root")
        spec, system = seedbox_spec(), SystemRoot(root)
        lay_out(spec, system)
        spec_file = Path(tmp) / "seedbox.yaml"
        spec_file.write_text(dump_yaml(spec.model_dump(mode="json")))
        count = len(checks_for(spec, system, admin=None))

        # checks_for builds fresh checks (and a fresh sshd -T cache) each time, as every verify run does
        sequential = median_seconds(lambda: run_checks(checks_for(spec, system, admin=None), concurrent=False))
        concurrent = median_seconds(lambda: run_checks(checks_for(spec, system, admin=None), concurrent=True))
        command = [sys.executable, "-m", "tui_jail", "verify", "--spec", str(spec_file), "--root", str(root), "--json"]
        whole = median_seconds(lambda: subprocess.run(command, capture_output=True, check=False), runs=3)

    print(f"seedbox verify, {count} checks (median of {RUNS}):")
    print(f"  one after another : {sequential * 1000:7.1f} ms")
    print(f"  concurrently      : {concurrent * 1000:7.1f} ms")
    print(f"  ratio             : {sequential / concurrent:7.2f}x faster concurrently")
    print(f"  whole command     : {whole * 1000:7.1f} ms  (tui-jail verify --json, target < 1000 ms)")


if __name__ == "__main__":
    main()
