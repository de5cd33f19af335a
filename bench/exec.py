"""Start-up overhead of `tui-jail exec` against util-linux's `unshare -m -p -f --mount-proc chroot DIR true`.

Both run `true` in a chroot with new mount and PID namespaces and a fresh /proc, in the same run,
interleaved, on the joblet-production preset applied to a tmpfs root (the host's binaries bound in
read-only). tui-jail does more (namespaces ipc/uts/net, per-run /tmp, capability drop and read-back,
user switch, the launch file's checks against the live mounts); its figure includes the CLI's
whole Python start-up.

It is measured twice: from the development venv (an editable install, whose `.pth` import hook
alone costs interpreter start-up time) and from a throwaway venv with a plain `pip install` of this
tree, which is what an admin gets. For each venv two floors are measured too, so the ratio can be
read against what any Python CLI can reach:
- the interpreter floor: `python -c pass`, the bare interpreter with the flags the console script
  runs it with (none), site and the venv's `.pth` files included;
- the console-script floor: the venv's own `tui-jail` wrapper, as pip wrote it, with `main` replaced
  by one that returns at once. pip's wrapper imports `re` (to strip `-script.pyw` from argv[0]
  on Windows) before a line of tui-jail runs.
"exec beyond the console-script floor" is then what tui-jail itself costs.

Run as root: `.venv/bin/python bench/exec.py [ROUNDS]` (re-runs itself in a private mount namespace).
Prints the medians and the ratios; the target is a ratio ≤ 3 for the plain install (exit 1 otherwise).
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
TREE = HERE.parent
DEV_BIN = Path(sys.executable).parent
TARGET = 3.0
BASELINE = "unshare -m -p -f --mount-proc chroot DIR true"
VENVS = ("dev venv (editable)", "plain install")
INTERPRETER = "python -c pass (interpreter floor)"
CONSOLE = "tui-jail wrapper, empty main (console-script floor)"
EXEC = "tui-jail exec joblet-production -- true"


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def plain_install(where: Path) -> Path:
    """A throwaway venv with a non-editable install of this tree; its bin directory."""
    subprocess.run(["python3", "-m", "venv", str(where)], check=True)
    pip = [str(where / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(TREE)]
    subprocess.run(pip, check=True, stderr=subprocess.DEVNULL)
    return where / "bin"


def empty_wrapper(bin_dir: Path, where: Path) -> Path:
    """A copy of the venv's `tui-jail` console script whose `main` returns at once."""
    script = (bin_dir / "tui-jail").read_text()
    entry = "from tui_jail.cli import main\n"
    assert entry in script, f"unexpected console script {bin_dir / 'tui-jail'}"
    where.write_text(script.replace(entry, "def main():\n    return 0\n"))
    where.chmod(0o755)
    return where


def main(rounds: int) -> int:
    sys.path.insert(0, str(TREE / "tests"))
    # applied through the real transaction and confirmed, as the exec tests do
    from test_exec_jails import preset_spec
    from txn_helpers import wait_watchdogs_gone

    from tui_jail import transaction
    from tui_jail.plan import make_plan
    from tui_jail.sandbox import bind_host_binaries, make_sandbox_root
    from tui_jail.system import SystemRoot

    scratch = Path(tempfile.mkdtemp(prefix="tui-jail-bench-"))
    world = scratch / "root"
    world.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "bench", str(world)], check=True)
    try:
        clean_bin = plain_install(scratch / "venv")
        make_sandbox_root(world, host_keys=False)
        bind_host_binaries(world)
        spec = preset_spec("joblet-production")
        txn = transaction.apply(make_plan(spec, SystemRoot(world)), SystemRoot(world), timeout=600, environ={})
        transaction.confirm(world, txn.id, {})
        wait_watchdogs_gone(world)
        jail = str(world / spec.root.lstrip("/"))
        exec_args = ["exec", spec.name, "--root", str(world), "--", "true"]
        runs = {BASELINE: ["unshare", "-m", "-p", "-f", "--mount-proc", "chroot", jail, "true"]}
        for index, (venv, bin_dir) in enumerate(zip(VENVS, (DEV_BIN, clean_bin), strict=True)):
            runs[f"{venv}: {INTERPRETER}"] = [str(bin_dir / "python"), "-c", "pass"]
            runs[f"{venv}: {CONSOLE}"] = [str(empty_wrapper(bin_dir, scratch / f"empty-wrapper-{index}"))]
            runs[f"{venv}: {EXEC}"] = [str(bin_dir / "tui-jail"), *exec_args]
        times: dict[str, list[float]] = {label: [] for label in runs}
        for argv in runs.values():
            timed(argv)  # warm the page cache (and write the plain install's bytecode)
        for _ in range(rounds):
            for label, argv in runs.items():
                times[label].append(timed(argv))
    finally:
        subprocess.run(["umount", "-R", str(world)], check=True)
        subprocess.run(["rm", "-rf", str(scratch)], check=True)
    ms = {label: statistics.median(values) * 1000 for label, values in times.items()}
    print(f"medians of {rounds} interleaved rounds, {os.cpu_count()} CPUs")
    for label, value in ms.items():
        print(f"{value:8.1f} ms  {label}")
    baseline = ms[BASELINE]
    print(f"ratios against {BASELINE} (target ≤ {TARGET:g}):")
    for venv in VENVS:
        ours, interpreter, console = (ms[f"{venv}: {label}"] / baseline for label in (EXEC, INTERPRETER, CONSOLE))
        print(
            f"  {venv}: exec {ours:.1f}; floors: interpreter {interpreter:.1f}, console script {console:.1f}; "
            f"exec beyond the console-script floor {ours - console:.1f}"
        )
    # judged on the plain install: that is what an admin runs
    return 0 if ms[f"plain install: {EXEC}"] / baseline <= TARGET else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("bench/exec.py needs root (it mounts in a private namespace)")
    if os.environ.get("TUI_JAIL_BENCH_NS") != "1":
        os.environ["TUI_JAIL_BENCH_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv])
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
