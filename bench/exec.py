"""Start-up cost of `tui-jail exec` against its baseline: the same interpreter's `-I -S -c pass`.

`tui-jail exec joblet-production -- true` runs `true` in the joblet-production preset, applied through
the real transaction to a tmpfs root (the host's binaries bound in read-only): launch-file checks
against the live mounts, namespaces mount/pid/ipc/uts/net, a fresh /proc, per-run /tmp, chroot,
capability drop and read-back, user switch. Every figure is a whole process, run from a throwaway
venv with a plain `pip install` of this tree after `pip install -U pip` (the README's install: pip ≥ 25
writes a `tui-jail` script that does not import `re`, which costs every job ~12 ms of CPU here),
alternating with the others in each round; medians, and the ratio taken round by round.

- The baseline, and the goal: the venv's own interpreter with `-I -S -c pass` (no site, no `.pth`
  files): exec ≤ 2× that (issue 15). A Python CLI cannot start faster than its interpreter.
- Where exec's time goes, each part as a multiple of the baseline (medians of round-by-round ratios):
  site (`python -c` from the venv: site and the venv's `.pth` files, which no console script can
  skip), exec's imports (`python -c 'import ...'` of the modules `tui-jail exec` loads: the CLI, the exec
  command, the launcher, the launch-file reader, libc through `_ctypes`), and the launch itself (the
  rest: json's C scanner, loaded on reading the launch file, its checks, unshare, mounts, fork, chroot,
  capability drop, the job's exec and the teardown of its namespaces). bwrap's whole process is the same
  sandbox's cost in C.
- Each run is followed by a pause: the kernel frees a network namespace in a worker after its last
  process has gone, holding the lock the next namespace's loopback needs; without the pause each run
  would pay for the teardown of the one before (the baseline, after bwrap's, for instance).
- The exec protections (issue 14: closing inherited descriptors, giving up the controlling tty,
  removing the chroot-breaking capabilities) cost ≤ 2 ms: the same exec through `python -c` with
  `tui_jail.jailexec.launcher.UNPROTECTED` naming all of them, against the same runner with none, alternating
  (wall and CPU time); and the added steps alone, timed in forked children (`protections_in_process`).
- For comparison, when bubblewrap is installed (`apt-get install bubblewrap`; the bench says so in one
  line when it is not): `bwrap` with a comparable sandbox (the jail as /, a fresh /proc, every namespace
  but the user's, a new session, every capability dropped; still uid 0, as bwrap sets no other uid
  without a user namespace). Reported, not judged.

Run as root: `.venv/bin/python bench/exec.py [ROUNDS]` (re-runs itself in a private mount namespace).
Exit status 1 only when a goal is missed.

Measured (Python 3.11.7 built without PGO, 2 CPUs shared with seven other sessions, load 8–10): two runs
of 30 rounds gave 1.91 and 1.81× wall (1.96, 1.91× CPU); bwrap 0.63 and 0.57× wall (0.20, 0.19× CPU), so
exec / bwrap 3.3 and 3.2×. Before this round 2.24× (2.01× CPU) in a run at load 7, 1.74–2.15× in five
earlier ones; before issue 15's work 3.17× (2.92× CPU). Where a job's CPU goes (medians of 30–40
processes, `time.process_time_ns` checkpoints in the caller and in the child, `-X importtime`,
`strace -f -tt -T` of a whole run):

    15–16 ms  the interpreter's start: the baseline
    +2–3 ms   site and the venv's .pth files (setuptools' distutils-precedence.pth alone ~1 ms)
    +5–6 ms   imports: the 12 tui_jail modules ~3.5 ms, and it is their number that counts: here the
              import machinery alone costs 0.15–0.2 ms a module (20 one-line modules, timed), and 4 of
              the 12 are the packages on the way (tui_jail, commands, core, jailexec); dlopen of _ctypes
              and libffi 0.8 ms
    +6–8 ms   the launch: dlopen of _json for the launch file 0.4 ms; the file's checks, passwd, group
              and the 4 mounts (one openat2, fstat and fstatvfs each) ~0.6 ms; in the caller unshare of 5
              namespaces and making / private 0.9 ms, fork 0.6 ms; in the child its own steps ~1.2 ms
              (lo up 0.25, the fresh /proc 0.2, capability drop and read-back 0.4), then ~2.5 ms that any
              forked Python process pays here before and at its exec (fork and _exit alone: 1.0 ms in
              the child, 0.6 in the parent) and the job's own exec; the caller then waits once, for its end
    bwrap, the same sandbox in C, whole: ~3 ms CPU but ~0.6× the baseline in wall time: unsharing
    and tearing down namespaces waits (an RCU grace period for the mount namespace at exit, the network
    namespace's worker) as much as it computes, and each of its processes waits for a CPU.

So ≤ 2× is met, by a margin the machine's load can still eat: what no Python tool can shed (interpreter,
site, the two C extensions, the sandbox's own kernel work as bwrap shows it) is ~1.5× of wall; what stands
between exec and bwrap is the interpreter and site (~1.15×), importing a dozen modules (~0.3×) and
forking a Python process rather than a small C one (~0.15×). Shed in this round: `__future__`, loaded by
`from __future__ import annotations` (0.3 ms); realpath's lstat per path component in Python for each
mount point (now one openat2 with RESOLVE_NO_SYMLINKS; realpath only on a refusal or a kernel before 5.6);
file objects for the four small files (plain reads); the ctypes Structure and array types of the ifreq
and c_char_p/argtypes (a bytes ifreq, bytes and None for mount); and the caller's wake-up at the job's
exec (it waits for the child first and reads the reason after). Earlier: the `tui-jail` script of pip < 25
imported `re` (with `enum` and `functools`, ~12 ms CPU), and so did the `json` module; `ctypes`' Python
half cost 2–5 ms.
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

from timing import in_private_namespace

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
TARGET = 2.0
PROTECTIONS_BUDGET_MS = 2.0
SETTLE = 0.05  # seconds after each run (see the docstring)
BASELINE = "python -I -S -c pass (baseline)"
SITE = "python -c 'os._exit(0)' (site and the venv's .pth files)"
IMPORTS = "python -c 'import' of what exec loads"
EXEC = "tui-jail exec joblet-production -- true"
EXEC_MODULES = "tui_jail.cli, tui_jail.commands.exec, tui_jail.jailexec.launcher"  # the rest comes with these
WITH = "exec through python -c, protections on"
WITHOUT = "exec through python -c, issue-14 protections off"
BWRAP = "bwrap, a comparable sandbox -- true"
ALL_PROTECTIONS = "descriptors,tty,chroot_breaking"  # tui_jail.jailexec.launcher.UNPROTECTED's names
# the console script's own path (cli.main reading sys.argv, so it ends with os._exit as `tui-jail` does)
TIOCSCTTY = 0x540E
RUNNER = (
    "import sys; from tui_jail import cli; from tui_jail.jailexec import launcher; "
    "launcher.UNPROTECTED = frozenset(sys.argv.pop(1).split(',')) - {''}; cli.main()"
)


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the process and what it waited for) of one run. CPU time
    is what resolves a cost of a few syscalls on a machine that others load: wall time there swings by
    tens of milliseconds from one run to the next."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, argv)
    return wall, usage.ru_utime + usage.ru_stime


def plain_install(where: Path) -> Path:
    """A throwaway venv with a non-editable install of this tree, as the README installs it; its bin
    directory."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    pip = [str(where / "bin/pip"), "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-U", "pip"], check=True, stderr=subprocess.DEVNULL)
    subprocess.run([*pip, str(TREE)], check=True, stderr=subprocess.DEVNULL)
    return where / "bin"


def protections_in_process(children: int, spec_removed: frozenset[str]) -> float:
    """The median time, in ms, of the launcher's added steps themselves, each child timing one pass as a
    job's launch does it once: closing the inherited descriptors (50 of them here) and checking the
    standard ones, giving up the controlling tty, and dropping, lowering and reading back the
    chroot-breaking capabilities on top of the spec's (against the spec's alone)."""
    from tui_jail.jailexec import capdrop, launcher
    from tui_jail.jailexec.libc import libc

    top = capdrop.last_cap()
    spec_bits = capdrop.bits_of(spec_removed, top)
    all_bits = capdrop.bits_of(spec_removed | capdrop.CHROOT_BREAKING, top)

    def drop(bits: list[int]) -> None:
        capdrop.drop_bounding(bits)
        capdrop.lower(bits)
        capdrop.require_removed(bits)

    costs = []
    for _ in range(children):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            # a session with a terminal of its own, like the admin's shell: the job below has a tty to drop
            os.setsid()
            _, terminal = os.openpty()
            libc.ioctl(terminal, TIOCSCTTY, 0)
            if os.fork() == 0:
                os.dup2(write_end, 1)  # the result's way out: every descriptor from 3 up is about to close
                capdrop.set_no_new_privs()
                for _ in range(50):
                    os.dup(0)
                start = time.perf_counter_ns()
                launcher._close_inherited_descriptors()
                launcher._replace_unsafe_standard_descriptors()
                launcher._drop_controlling_tty()
                middle = time.perf_counter_ns()
                drop(spec_bits)  # what every launch already did: the added cost is the rest
                alone = time.perf_counter_ns()
                drop(all_bits)
                end = time.perf_counter_ns()
                os.write(1, str((middle - start) + (end - alone) - (alone - middle)).encode())
                os._exit(0)
            os._exit(os.waitstatus_to_exitcode(os.wait()[1]))
        os.close(write_end)
        with os.fdopen(read_end) as result:
            costs.append(int(result.read()) / 1e6)
        os.waitpid(pid, 0)
    return statistics.median(costs)


def bwrap(jail: str) -> list[str]:
    return [
        "bwrap",
        *("--bind", jail, "/", "--proc", "/proc", "--dev-bind", "/dev/null", "/dev/null"),
        *("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--new-session"),
        *("--die-with-parent", "--cap-drop", "ALL", "true"),  # as root, no capabilities: --uid needs a user ns
    ]


def main(rounds: int) -> int:
    sys.path.insert(0, str(TREE / "tests"))
    # applied through the real transaction and confirmed, as the exec tests do
    from test_exec_jails import preset_spec
    from txn_helpers import wait_watchdogs_gone

    from tui_jail.core.plan import make_plan
    from tui_jail.paths.system import SystemRoot
    from tui_jail.sandbox import bind_host_binaries, make_sandbox_root
    from tui_jail.txn import transaction

    scratch = Path(tempfile.mkdtemp(prefix="tui-jail-bench-"))
    world = scratch / "root"
    world.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "bench", str(world)], check=True)
    try:
        bin_dir = plain_install(scratch / "venv")
        make_sandbox_root(world, host_keys=False)
        bind_host_binaries(world)
        spec = preset_spec("joblet-production")
        txn = transaction.apply(make_plan(spec, SystemRoot(world)), SystemRoot(world), timeout=600, environ={})
        transaction.confirm(world, txn.id, {})
        wait_watchdogs_gone(world)
        exec_args = ["exec", spec.name, "--root", str(world), "--", "true"]
        python = str(bin_dir / "python")
        runs = {
            BASELINE: [python, "-I", "-S", "-c", "pass"],
            # -P (here and below): not the working directory's tui_jail (a checkout) but the plain install's
            # both end as exec does, without the interpreter's teardown
            SITE: [python, "-P", "-c", "import os; os._exit(0)"],
            IMPORTS: [python, "-P", "-c", f"import os, {EXEC_MODULES}; os._exit(0)"],
            EXEC: [str(bin_dir / "tui-jail"), *exec_args],
            WITH: [python, "-P", "-c", RUNNER, "", *exec_args],
            WITHOUT: [python, "-P", "-c", RUNNER, ALL_PROTECTIONS, *exec_args],
        }
        in_process = protections_in_process(rounds * 5, spec.exec.capabilities.removed if spec.exec else frozenset())
        if shutil.which("bwrap"):
            runs[BWRAP] = bwrap(str(world / spec.root.lstrip("/")))
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
        for argv in runs.values():
            timed(argv)  # warm the page cache (and write the plain install's bytecode)
        for _ in range(rounds):
            for label, argv in runs.items():
                times[label].append(timed(argv))
                time.sleep(SETTLE)
    finally:
        subprocess.run(["umount", "-R", str(world)], check=True)
        subprocess.run(["rm", "-rf", str(scratch)], check=True)
    return report(rounds, times, in_process)


def report(rounds: int, times: dict[str, list[tuple[float, float]]], in_process: float) -> int:
    """Print the figures, each goal beside its own; 1 when a goal is missed."""

    def median(label: str, which: int) -> float:
        return statistics.median(run[which] for run in times[label]) * 1000

    def ratio(label: str, over: str, which: int) -> float:
        """The median of the round-by-round ratios: each pair ran back to back, under the same load."""
        return statistics.median(a[which] / b[which] for a, b in zip(times[label], times[over], strict=True))

    print(f"medians of {rounds} alternating rounds, {os.cpu_count()} CPUs, plain install, {sys.version.split()[0]}")
    print("    wall       CPU")
    for label in times:
        print(f"{median(label, 0):8.1f} {median(label, 1):8.1f} ms  {label}")
    figure = ratio(EXEC, BASELINE, 0)
    verdict = "met" if figure <= TARGET else "MISSED"
    print(f"exec / baseline: {figure:.2f}× wall (goal ≤ {TARGET:g}×: {verdict}), {ratio(EXEC, BASELINE, 1):.2f}× CPU")
    # each part as the step from one row to the next; CPU is the steadier column on a loaded machine
    steps = ((BASELINE, None), (SITE, BASELINE), (IMPORTS, SITE), (EXEC, IMPORTS))
    parts = [
        [ratio(label, BASELINE, which) - (ratio(before, BASELINE, which) if before else 0) for which in (0, 1)]
        for label, before in steps
    ]
    what = [
        "the interpreter's own start (the baseline)",
        "site and the venv's .pth files: every console script pays them",
        f"exec's imports ({EXEC_MODULES} and what they import)",
        "the launch: checks, namespaces, mounts, fork, the job's exec, their teardown",
    ]
    print("where it goes, in baselines:   wall    CPU")
    for (wall, used), text in zip(parts, what, strict=True):
        print(f"{'':29}{wall:+7.2f} {used:+6.2f}  {text}")
    if BWRAP in times:
        wall, used = ratio(BWRAP, BASELINE, 0), ratio(BWRAP, BASELINE, 1)
        print(f"{'':29}{wall:7.2f} {used:6.2f}  bwrap, whole: the same sandbox in C")
    cost, cpu_cost = median(WITH, 0) - median(WITHOUT, 0), median(WITH, 1) - median(WITHOUT, 1)
    print(
        f"issue-14 protections, whole process: {cost:+.2f} ms wall, {cpu_cost:+.2f} ms CPU; the added steps "
        f"alone: {in_process:.3f} ms (budget ≤ {PROTECTIONS_BUDGET_MS:g} ms, judged on the steps alone and on "
        "CPU: a loaded machine's wall times swing by more than the budget)"
    )
    if BWRAP in times:
        print(f"exec / bwrap: {ratio(EXEC, BWRAP, 0):.2f}× wall (reported only)")
    else:
        print("bwrap: not installed, no comparison (apt-get install bubblewrap)")
    return 0 if figure <= TARGET and max(cpu_cost, in_process) <= PROTECTIONS_BUDGET_MS else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("bench/exec.py needs root (it mounts in a private namespace)")
    in_private_namespace()
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
