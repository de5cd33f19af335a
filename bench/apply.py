"""Benchmark: `apply` of the seedbox preset against the floor of doing the same work directly, and the
lag between a confirm deadline and the restored state.

Apply (in-process, what `tui-jail apply` runs after parsing): lock, preflight (sshd -t and
findmnt --verify; no sshd -T here, as the environment names no SSH connection), journal with
backups, detached watchdog, paths, bind mounts, fsynced file writes. Floor, measured in the same
run: the same `sshd -t` on the candidate config, the same directories and bind mounts and the same
files written with fsync + rename, nothing else. Target ratio ≤ 1.5. Besides the journal and the
watchdog, the issue asks of every apply work the floor leaves out: findmnt --verify on the
candidate fstab (beside sshd -t), a check of the mounts made (statx and statvfs of each), the device nodes.
Lag: apply with a 1 s timeout, then poll the journal until the watchdog reports the rollback done;
target ≤ 1 s. Runs in its own private mount namespace (it re-executes itself under unshare).

Run: .venv/bin/python bench/apply.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

RUNS = 7


def main() -> None:
    from txn_helpers import seedbox, wait_exited, wait_watchdogs_gone

    from tui_jail.backends.sshd import candidate_config, check_config
    from tui_jail.core.plan import make_plan
    from tui_jail.paths.fsops import atomic_write
    from tui_jail.paths.system import SystemRoot
    from tui_jail.sandbox import make_sandbox_root
    from tui_jail.txn import journal, transaction

    base = Path(tempfile.mkdtemp(prefix="tui-jail-bench-"))
    root = make_sandbox_root(base / "root")
    system = SystemRoot(root)
    spec = seedbox()

    def floor() -> float:
        plan = make_plan(spec, system)
        start = time.perf_counter()
        overrides = {f.path: f.after for f in plan.changed_files if f.path.startswith("/etc/ssh/")}
        with candidate_config(system, overrides) as config:
            assert check_config(config)[0]
        for step in plan.path_changes:
            if step.kind == "dir":
                os.mkdir(system.host(step.path), step.mode)
        for mount in plan.mount_changes:
            subprocess.run(
                ["mount", "--bind", str(system.host(mount.source)), str(system.host(mount.target))], check=True
            )
        for change in plan.changed_files:
            path = system.host(change.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, (change.after or "").encode(), change.mode, 0, 0)
        elapsed = time.perf_counter() - start
        for mount in reversed(plan.mount_changes):
            subprocess.run(["umount", str(system.host(mount.target))], check=True)
        for change in plan.changed_files:
            if change.before is None:
                system.host(change.path).unlink()
            else:
                system.host(change.path).write_text(change.before)
        shutil.rmtree(system.host(spec.root))
        shutil.rmtree(system.host("/chroot"))
        return elapsed

    def applied() -> float:
        plan = make_plan(spec, system)
        start = time.perf_counter()
        state = transaction.apply(plan, system, timeout=60, environ={})
        elapsed = time.perf_counter() - start
        transaction.rollback_txn(root, state.id, "bench")
        return elapsed

    def lag() -> float:
        state = transaction.apply(make_plan(spec, system), system, timeout=1, environ={})
        txn = journal.Journal(root, state.id)
        while txn.state().status != "rolled-back":
            time.sleep(0.002)
        restored = time.time() - txn.state().deadline
        wait_exited([state.watchdog_pid])  # it holds the lock until it exits: the next apply needs it
        return restored

    floors, applies, lags = [], [], []
    for _ in range(RUNS):
        floors.append(floor())
        applies.append(applied())
    for _ in range(3):
        lags.append(lag())
    f, a = statistics.median(floors), statistics.median(applies)
    print(f"floor (sshd -t, binds, fsynced writes): {f * 1000:7.1f} ms median of {RUNS}")
    print(f"apply (transaction, watchdog armed):    {a * 1000:7.1f} ms median of {RUNS}")
    print(f"ratio apply/floor: {a / f:.2f} (target ≤ 1.5)")
    print(f"deadline → restored lag: {max(lags) * 1000:.0f} ms worst of {len(lags)} (target ≤ 1000 ms)")
    wait_watchdogs_gone(root)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    if os.environ.get("TUI_JAIL_BENCH_NS") != "1":
        env = {**os.environ, "TUI_JAIL_BENCH_NS": "1"}
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, __file__], env)
    main()
