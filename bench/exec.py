"""Start-up overhead of `tui-jail exec` against util-linux's `unshare -m -p -f --mount-proc chroot DIR true`.

Both run `true` in a chroot with new mount and PID namespaces and a fresh /proc, in the same run,
interleaved, on the joblet-production preset applied to a tmpfs root (the host's binaries bound in
read-only). tui-jail does more (namespaces ipc/uts/net, per-run /tmp, capability drop and read-back,
user switch, the jail's live-mount check); its figure includes the CLI's whole Python start-up.
Also printed: `tui-jail --help` (interpreter + CLI imports, no work), to show where the time goes.

Run as root: `.venv/bin/python bench/exec.py [ROUNDS]` (re-runs itself in a private mount namespace).
Prints the medians and the ratio; the target is ratio ≤ 3.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
TARGET = 3.0


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(rounds: int) -> int:
    sys.path.insert(0, str(HERE.parent / "tests"))
    # Until the transaction (issue 3) lands, the test stand-in applies the plan.
    from test_exec_jails import HOST_DIRS, apply_plan, preset_spec

    from tui_jail.plan import make_plan
    from tui_jail.sandbox import make_sandbox_root
    from tui_jail.system import SystemRoot

    world = Path(tempfile.mkdtemp(prefix="tui-jail-bench-"))
    subprocess.run(["mount", "-t", "tmpfs", "bench", str(world)], check=True)
    try:
        make_sandbox_root(world, host_keys=False)
        for name in HOST_DIRS:
            if os.path.isdir(f"/{name}"):
                subprocess.run(["mount", "-o", "bind,ro", os.path.realpath(f"/{name}"), str(world / name)], check=True)
        spec = preset_spec("joblet-production")
        apply_plan(make_plan(spec, SystemRoot(world)), SystemRoot(world))
        jail = str(world / spec.root.lstrip("/"))
        runs = {
            "unshare -m -p -f --mount-proc chroot DIR true": [
                "unshare",
                "-m",
                "-p",
                "-f",
                "--mount-proc",
                "chroot",
                jail,
                "true",
            ],
            "tui-jail exec joblet-production -- true": [
                str(VENV_BIN / "tui-jail"),
                "exec",
                spec.name,
                "--root",
                str(world),
                "--",
                "true",
            ],
            "tui-jail --help (start-up only)": [str(VENV_BIN / "tui-jail"), "--help"],
        }
        times: dict[str, list[float]] = {label: [] for label in runs}
        for argv in runs.values():
            timed(argv)  # warm the page cache
        for _ in range(rounds):
            for label, argv in runs.items():
                times[label].append(timed(argv))
    finally:
        subprocess.run(["umount", "-R", str(world)], check=True)
        os.rmdir(world)
    medians = {label: statistics.median(values) * 1000 for label, values in times.items()}
    for label, ms in medians.items():
        print(f"{ms:8.1f} ms  {label}")
    baseline, ours, startup = medians.values()
    ratio = ours / baseline
    print(f"ratio {ratio:.1f} (target ≤ {TARGET:g}); without the CLI's start-up: {(ours - startup) / baseline:.1f}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("bench/exec.py needs root (it mounts in a private namespace)")
    if os.environ.get("TUI_JAIL_BENCH_NS") != "1":
        os.environ["TUI_JAIL_BENCH_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv])
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
