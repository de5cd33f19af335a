"""Start-up of the short commands an admin types with a rollback's clock running — `status`, `confirm`,
`rollback` — against their baseline: the same interpreter's `-c pass`.

Every figure is a whole process of the `tui-jail` console script, as an admin gets it: a throwaway venv
with a plain install of this tree as the README makes it (pip compiles its bytecode; bench/exec.py's
`plain_install`), or `--venv DIR` for one already made (its interpreter is then the baseline's). Each
command runs on a sample root in this bench's private mount namespace, each run right after a run of
the baseline:

- `status`: a journal of three transactions (two rolled back, one pending with its watchdog armed).
- `confirm` and `rollback` of a real pending transaction: the seedbox applied in-process through the
  real transaction (preflight, journal, watchdog, binds, fstab, the sshd drop-in) on a fresh copy of the
  sample root before each run; the rollback unmounts, restores every file and reloads nothing (no sshd
  runs in the sample root). Not made over SSH, so `confirm` needs no new login.
- `confirm` and `rollback` with nothing pending (exit 1, "no pending transaction"): the same start-up,
  less the work.

The baseline is the venv's own interpreter with `-c pass` (site included, as the console script has
it). Per command: the median over rounds of its CPU time (user + system) divided by that of the
baseline run just before it (pair by pair, so machine load hits both alike), and the same for wall
time. Goal (issue 15): ≤ 3x, judged on CPU time: on a shared machine a run's wall time swings with
the neighbours' load by more than the whole baseline, and a rollback's wall time also holds the
fsyncs of its journal records and restored files (one per step: the journal's durability, never
skipped), which are the disk's latency, not start-up. Exit 1 when a command misses the goal.

Run as root: .venv/bin/python bench/commands.py [ROUNDS] [--venv DIR]   (re-runs itself under unshare -m)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import in_private_namespace

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
GOAL = 3.0
BASELINE = "python -c pass (baseline)"


def timed(argv: list[str], code: int) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run, which must exit with `code`."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != code:
        raise SystemExit(f"{' '.join(argv)}: exit {os.waitstatus_to_exitcode(status)}, not {code}: {errors.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def main(rounds: int, venv: Path | None) -> int:
    sys.path[:0] = [str(TREE), str(TREE / "tests")]
    from exec import plain_install  # bench/exec.py's (this directory is on the path)
    from txn_helpers import apply_plain, wait_watchdogs_gone

    from tui_jail.sandbox import make_sandbox_root
    from tui_jail.txn import journal, transaction

    # the children load their bytecode as an installed copy does (pip compiled it); a development
    # shell's PYTHONDONTWRITEBYTECODE would make an editable --venv compile every module on every run
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    scratch = Path(tempfile.mkdtemp(prefix="tui-jail-bench-commands-"))
    # a mount of its own, so that one `umount -R` takes every bind the applies left with it
    subprocess.run(["mount", "--bind", str(scratch), str(scratch)], check=True)
    roots: list[Path] = []
    try:
        bin_dir = venv / "bin" if venv else plain_install(scratch / "venv")
        template = make_sandbox_root(scratch / "template")
        made = iter(range(1_000_000))

        def fresh_root() -> Path:
            root = scratch / f"root-{next(made)}"
            subprocess.run(["cp", "-a", str(template), str(root)], check=True)
            roots.append(root)
            return root

        def pending(root: Path) -> str:
            return apply_plain(root, timeout=600).id

        def pending_root() -> Path:
            root = fresh_root()
            pending(root)
            return root

        status_root = fresh_root()
        for _ in range(2):
            transaction.rollback_txn(status_root, pending(status_root), "bench")
        pending(status_root)
        idle_root = fresh_root()
        tui_jail, python = str(bin_dir / "tui-jail"), str(bin_dir / "python")
        baseline = [python, "-c", "pass"]

        def command(root: Path, *words: str) -> list[str]:
            return [tui_jail, "--root", str(root), *words]

        # label: (make the root for one run, the words, the expected exit status); the status root's
        # pending transaction stays pending, its watchdog armed, for every run
        runs = {
            "status (3 transactions, 1 pending)": (lambda: status_root, ("status",), 0),
            "confirm (a pending apply)": (pending_root, ("confirm",), 0),
            "rollback (a pending apply)": (pending_root, ("rollback",), 0),
            "confirm (nothing pending)": (lambda: idle_root, ("confirm",), 1),
            "rollback (nothing pending)": (lambda: idle_root, ("rollback",), 1),
        }
        timed(baseline, 0)  # warm the page cache
        for make, words, code in runs.values():
            root = make()
            timed(command(root, *words), code)
            _settle(root, status_root)
        ratios: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in [BASELINE, *runs]}
        for _ in range(rounds):
            for label, (make, words, code) in runs.items():
                root = make()
                base = timed(baseline, 0)
                used = timed(command(root, *words), code)
                _settle(root, status_root)
                times[BASELINE].append(base)
                times[label].append(used)
                ratios[label].append((used[0] / base[0], used[1] / base[1]))
    finally:  # nothing left pending: every watchdog exits, and nothing holds the scratch mount
        for root in roots:
            for txn in journal.unfinished(root):
                transaction.rollback_txn(root, txn.id, "bench done")
            wait_watchdogs_gone(root)
        subprocess.run(["umount", "-R", str(scratch)], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", str(scratch)], check=True)
    print(f"medians of {rounds} alternating rounds, {os.cpu_count()} CPUs, {sys.version.split()[0]}, {bin_dir}")
    print("    wall      CPU  ms")
    for label, values in times.items():
        wall, cpu = (statistics.median(v[i] for v in values) * 1000 for i in (0, 1))
        print(f"{wall:8.1f} {cpu:8.1f}     {label}")
    print(f"ratio to the baseline, pair by pair (goal ≤ {GOAL:g}x CPU):")
    missed = []
    for label, pairs in ratios.items():
        wall, cpu = (statistics.median(p[i] for p in pairs) for i in (0, 1))
        verdict = "met" if cpu <= GOAL else "MISSED"
        print(f"  {cpu:5.2f}x CPU (goal ≤ {GOAL:g}x: {verdict}), {wall:5.2f}x wall  {label}")
        if cpu > GOAL:
            missed.append(label)
    return 1 if missed else 0


def _settle(root: Path, status_root: Path) -> None:
    """The watchdog of a transaction just confirmed or rolled back exits now: not during the next run."""
    from txn_helpers import wait_watchdogs_gone

    if root != status_root:
        wait_watchdogs_gone(root)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", type=int, nargs="?", default=12)
    parser.add_argument("--venv", type=Path, help="time this venv's tui-jail instead of a fresh plain install")
    options = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/commands.py needs root (it applies with bind mounts in a private namespace)")
    in_private_namespace()
    sys.exit(main(options.rounds, options.venv.absolute() if options.venv else None))
