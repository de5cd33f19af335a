"""Exec-jail verification from the inside: probes run through `tui-jail exec` and become checks.

Two probe runs per verification, each one `/bin/sh` script inside the applied jail: one as the
spec's user (what a job really gets: capability sets, no_new_privs, PID 1, its work dir and /tmp,
masks) and one as root inside the jail, with the capabilities still dropped (root is the strongest
writer left, so EROFS for root means read-only for everyone, and an absent path is absent, not
merely unreadable). The script uses sh built-ins plus coreutils' `stat` and `readlink`, which every
jail that runs commands has. `exec_checks(spec, system)` returns the checks; the probes run once,
on the first check that needs them.

Before any probe, `tui_jail.verify.loader` reads the ELF loader and libraries those programs need,
as the jail sees them: when they are missing, nothing can run there, and the check (and every probe
that then fails) names what is missing and the mount that would bring it.
"""

from __future__ import annotations

import functools
import os
import posixpath
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable

from tui_jail.backends import caps
from tui_jail.core.capabilities import decode_mask
from tui_jail.core.checks import Check, CheckResult
from tui_jail.core.plan import make_plan
from tui_jail.core.spec import Spec
from tui_jail.jailexec import capdrop
from tui_jail.paths.mountinfo import parse_mountinfo
from tui_jail.paths.system import SystemRoot
from tui_jail.verify import loader

PROBE = r"""
LC_ALL=C; export LC_ALL
out() { printf '%s\t%s\t%s\n' "$1" "$2" "$3"; }
for what in "$@"; do
  case $what in
    procs) for p in /proc/[0-9]*; do out proc "${p#/proc/}" ""; done ;;
    status) while IFS= read -r l; do case $l in Cap*|NoNewPrivs*) out status "${l%%:*}" "${l#*:}";; esac
            done < /proc/self/status ;;
    pid) out pid "$$" "$TUI_JAIL_JOB_ID" ;;
    mounts) while IFS= read -r l; do out mount "" "$l"; done < /proc/self/mountinfo ;;
    ns:*) n=${what#ns:}; out ns "$n" "$(readlink "/proc/1/ns/$n" 2>&1)" ;;
    write:*) p=${what#write:}
       if [ -d "$p" ]; then f="$p/.tui-jail-probe-$$"; m=$( { : > "$f"; } 2>&1 ) && rm -f "$f"
       else m=$( { : >> "$p"; } 2>&1 ); fi
       out write "$p" "${m:-ok}" ;;
    exists:*) p=${what#exists:}; if [ -e "$p" ] || [ -L "$p" ]; then out exists "$p" yes; else out exists "$p" no; fi ;;
    dev:*) p=${what#dev:}; out dev "$p" "$(stat -c %F:%t:%T "$p" 2>&1)" ;;
  esac
done
"""
HIDEPID = {0: ("hidepid=0", "hidepid=off"), 1: ("hidepid=1", "hidepid=noaccess"), 2: ("hidepid=2", "hidepid=invisible")}
LOADS = "exec: loader and libraries"
NS_LINK = {"mount": "mnt", "pid": "pid", "ipc": "ipc", "uts": "uts", "net": "net"}


class ProbeFailed(Exception):
    """The probe could not run inside the jail (exec refused, or the script failed)."""


class _Probe:
    """One probe run, started by the first check that needs it; later checks reuse its output."""

    def __init__(self, spec: Spec, system: SystemRoot, as_root: bool, asks: list[str]) -> None:
        self._argv = [sys.executable, "-m", "tui_jail", "exec", spec.name, "--root", str(system.root)]
        self._argv += ["--root-probe"] if as_root else []
        self._argv += ["--", "/bin/sh", "-c", PROBE, "probe", *asks]
        self._lock = threading.Lock()
        self._result: dict[str, dict[str, str]] | ProbeFailed | None = None

    def get(self, kind: str) -> dict[str, str]:
        with self._lock:
            if self._result is None:
                self._result = self._run()
        if isinstance(self._result, ProbeFailed):
            raise self._result
        return self._result[kind]

    def _run(self) -> dict[str, dict[str, str]] | ProbeFailed:
        done = subprocess.run(self._argv, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            return ProbeFailed(f"the probe did not run in the jail: {reason}")
        found: dict[str, dict[str, str]] = defaultdict(dict)
        for line in done.stdout.splitlines():
            kind, key, value = [*line.split("\t", 2), "", ""][:3]
            found[kind][key] = found[kind].get(key, "") + value + "\n" if kind == "mount" else value.strip()
        return found


def run_exec_proof(name: str, system: SystemRoot) -> str:
    """`tui-jail exec NAME -- true`, as the admin would type it to prove the jail runs a job: one line."""
    argv = [sys.executable, "-m", "tui_jail", "exec", name, "--root", str(system.root), "--", "true"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        return "the jail ran `true`: exit status 0"
    reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    return f"it did not run: {reason}"


def exec_checks(spec: Spec, system: SystemRoot) -> list[Check]:
    """The inside-the-jail checks of an applied exec jail."""
    settings = spec.exec
    if settings is None:
        return []
    plan = make_plan(spec, system)
    inside = {step.target: "/" + posixpath.relpath(step.target, spec.root) for step in plan.mounts}
    readonly = [inside[s.target] for s in plan.mounts if s.readonly]
    writable = [inside[s.target] for s in plan.mounts if not s.readonly]
    hidden = _hidden_paths(spec, system, set(inside.values()))
    masks = ["/" + mask for mask in settings.masks]
    user_asks = ["pid", "status", *(f"dev:{m}" for m in masks)]
    user_asks += [f"write:{p}" for p in ([f"/{settings.workdir}"] if settings.workdir else [])]
    user_asks += ["write:/tmp"] if settings.per_run_tmp else []
    root_asks = ["procs", "mounts", *(f"ns:{NS_LINK[n]}" for n in settings.namespaces)]
    root_asks += [f"write:{p}" for p in readonly + writable] + [f"exists:{p}" for p in hidden]
    as_user, as_root = _Probe(spec, system, False, user_asks), _Probe(spec, system, True, root_asks)
    programs = functools.cache(lambda: loader.jail_program_needs(spec, system))

    def check(name: str, body: Callable[[], CheckResult]) -> Check:
        def run() -> CheckResult:
            if os.geteuid() != 0:
                return CheckResult(name, "skip", "exec probes need root")
            try:
                return body()
            except ProbeFailed as exc:
                broken = [needs for needs in programs() if needs.missing]
                if broken:  # the probe's shell could not start: say what it lacks and which mount brings it
                    detail = f"{exc}; {'; '.join(needs.describe() for needs in broken)}"
                    return CheckResult(name, "fail", detail, loader.host_fix(system, broken))
                fix = "apply the jail, then run `tui-jail exec` by hand to see why"
                return CheckResult(name, "fail", str(exc), fix)

        return Check(name, run)

    checks = [
        Check(LOADS, lambda: _programs_load(system, programs())),
        check("exec: capability sets", lambda: _capabilities(spec, system, as_user.get("status"))),
        check("exec: no_new_privs", lambda: _no_new_privs(as_user.get("status"))),
        check("exec: PID 1 of a new PID namespace", lambda: _pid_one(as_user.get("pid"))),
        check("exec: namespaces", lambda: _namespaces(settings.namespaces, as_root.get("ns"))),
        check(
            "exec: system dirs read-only",
            lambda: _writes("exec: system dirs read-only", readonly, as_root.get("write"), want_ok=False),
        ),
    ]
    if writable:
        checks.append(
            check(
                "exec: writable mounts",
                lambda: _writes("exec: writable mounts", writable, as_root.get("write"), want_ok=True),
            )
        )
    if settings.workdir or settings.per_run_tmp:
        checks.append(
            check(
                "exec: work dir and /tmp writable by the job",
                lambda: _job_writes(spec, system, as_user.get("write"), as_user.get("pid")),
            )
        )
    if hidden:
        checks.append(check("exec: excluded paths hidden", lambda: _hidden(hidden, as_root.get("exists"))))
    if masks:
        checks.append(check("exec: masked paths are the null device", lambda: _masks(as_user.get("dev"))))
    if settings.proc is not None:
        checks.append(check("exec: fresh /proc", lambda: _proc(spec, as_root.get("mount"), as_root.get("proc"))))
    return checks


def _programs_load(system: SystemRoot, programs: list[loader.Needs]) -> CheckResult:
    broken = [needs for needs in programs if needs.missing]
    if broken:
        return CheckResult(LOADS, "fail", "; ".join(n.describe() for n in broken), loader.host_fix(system, broken))
    found = ", ".join(
        needs.program if needs.path == needs.program else f"{needs.program} ({needs.path})" for needs in programs
    )
    return CheckResult(LOADS, "pass", f"ELF loader and libraries present for {found}")


def _hidden_paths(spec: Spec, system: SystemRoot, mounted: set[str]) -> list[str]:
    """Paths inside the jail that `exclude` keeps out: each host entry below an excluded name, unless the
    spec mounts something there itself (the builder's /opt/joblet/runtimes)."""
    hidden = []
    for mount in spec.mounts:
        for name in mount.exclude:
            target = f"/{mount.target}/{name}"
            entries = system.listdir(posixpath.join(mount.source, name))
            if entries is None or not any(m.startswith(target + "/") for m in mounted):
                hidden.append(target)
                continue
            hidden += [
                f"{target}/{e}"
                for e in entries
                if not any(m == f"{target}/{e}" or m.startswith(f"{target}/{e}/") for m in mounted)
            ]
    return hidden


def _capabilities(spec: Spec, system: SystemRoot, status: dict[str, str]) -> CheckResult:
    name = "exec: capability sets"
    assert spec.exec is not None
    removed = spec.exec.capabilities.removed | capdrop.CHROOT_BREAKING
    jail = caps.parse_status("\n".join(f"{k}: {v}" for k, v in status.items()))
    mine = caps.read_status()
    problems = [f"{which} holds {', '.join(sorted(held))}" for which, held in jail.holding(removed).items()]
    expected_bnd = mine.names("CapBnd") - removed
    if jail.names("CapBnd") != expected_bnd:
        extra, missing = jail.names("CapBnd") - expected_bnd, expected_bnd - jail.names("CapBnd")
        problems.append(f"CapBnd differs from the host's minus the spec's: +{sorted(extra)} -{sorted(missing)}")
    account = system.accounts.get(spec.exec.user)
    expected_eff = frozenset() if account is None or account.uid != 0 else mine.names("CapEff") - removed
    if jail.names("CapEff") != expected_eff:
        got = sorted(jail.names("CapEff")) or "empty"
        problems.append(f"CapEff is {got}, expected {sorted(expected_eff) or 'empty'}")
    if problems:
        return CheckResult(name, "fail", "; ".join(problems), "the launcher must drop every removed capability")
    kept = len(decode_mask(jail.masks["CapBnd"]))
    return CheckResult(
        name,
        "pass",
        f"CapEff {sorted(jail.names('CapEff')) or 'empty'}; CapBnd keeps {kept}, "
        f"without {', '.join(sorted(removed)) or 'nothing removed'}; none in Inh/Prm/Eff/Amb",
    )


def _no_new_privs(status: dict[str, str]) -> CheckResult:
    value = status.get("NoNewPrivs", "missing")
    if value == "1":
        return CheckResult("exec: no_new_privs", "pass", "NoNewPrivs 1: setuid binaries cannot regain privileges")
    return CheckResult("exec: no_new_privs", "fail", f"NoNewPrivs is {value}", "the launcher must set no_new_privs")


def _pid_one(pid: dict[str, str]) -> CheckResult:
    name = "exec: PID 1 of a new PID namespace"
    if list(pid) == ["1"]:
        return CheckResult(name, "pass", "the command runs as PID 1")
    return CheckResult(name, "fail", f"the command runs as PID {', '.join(pid) or '?'}", "exec needs a PID namespace")


def _namespaces(wanted: tuple[str, ...], links: dict[str, str]) -> CheckResult:
    name = "exec: namespaces"
    same = [ns for ns in wanted if links.get(NS_LINK[ns]) == os.readlink(f"/proc/self/ns/{NS_LINK[ns]}")]
    if same:
        return CheckResult(name, "fail", f"shares the host's {', '.join(same)} namespace", "exec must unshare them")
    return CheckResult(name, "pass", f"own {', '.join(wanted)} namespaces")


def _writes(name: str, paths: list[str], results: dict[str, str], *, want_ok: bool) -> CheckResult:
    if want_ok:
        bad = [f"{p}: {results.get(p, 'not probed')}" for p in paths if results.get(p) != "ok"]
        fix = "the mount must be a read-write bind"
    else:
        erofs = "Read-only file system"
        bad = [f"{p}: {results.get(p, 'not probed')}" for p in paths if erofs not in results.get(p, "")]
        fix = "mount it with bind,ro (and the read-only remount)"
    if bad:
        return CheckResult(name, "fail", "; ".join(bad), fix)
    verdict = "root can write" if want_ok else "writing fails with EROFS, even for root"
    return CheckResult(name, "pass", f"{verdict}: {', '.join(paths)}")


def _job_writes(spec: Spec, system: SystemRoot, results: dict[str, str], pid: dict[str, str]) -> CheckResult:
    name = "exec: work dir and /tmp writable by the job"
    bad = [f"{p}: {r}" for p, r in results.items() if r != "ok"]
    job = next(iter(pid.values()), "")
    if job and system.lstat(f"/tmp/job-{job}") is not None:
        bad.append(f"the per-run /tmp/job-{job} was left behind on the host")
    if bad:
        return CheckResult(name, "fail", "; ".join(bad), "the plan owns the work dir by exec.user; exec makes /tmp")
    extra = f"; /tmp/job-{job} removed afterwards" if job else ""
    return CheckResult(name, "pass", f"{spec.exec.user if spec.exec else '?'} can write {', '.join(results)}{extra}")


def _hidden(paths: list[str], exists: dict[str, str]) -> CheckResult:
    seen = [p for p in paths if exists.get(p) != "no"]
    if seen:
        return CheckResult(
            "exec: excluded paths hidden",
            "fail",
            f"visible: {', '.join(seen)}",
            "leave excluded entries out of the binds",
        )
    return CheckResult("exec: excluded paths hidden", "pass", f"absent: {', '.join(paths)}")


def _masks(devices: dict[str, str]) -> CheckResult:
    bad = [f"{p}: {d}" for p, d in devices.items() if d != "character special file:1:3"]
    if bad:
        return CheckResult(
            "exec: masked paths are the null device", "fail", "; ".join(bad), "exec binds /dev/null over every mask"
        )
    return CheckResult("exec: masked paths are the null device", "pass", f"char 1:3: {', '.join(devices)}")


def _proc(spec: Spec, mounts: dict[str, str], procs: dict[str, str]) -> CheckResult:
    name = "exec: fresh /proc"
    assert spec.exec is not None and spec.exec.proc is not None
    proc = spec.exec.proc
    entry = next((e for e in parse_mountinfo(mounts.get("", "")) if e.mount_point == "/proc"), None)
    problems = []
    if entry is None or entry.fstype != "proc":
        problems.append("no procfs at /proc")
    else:
        problems += [f"/proc lacks {o}" for o in proc.options if o not in entry.options]
        if not entry.super_options & set(HIDEPID[proc.hidepid]):
            problems.append(f"/proc is not hidepid={proc.hidepid} ({','.join(sorted(entry.super_options))})")
    if sorted(procs) != ["1"]:
        problems.append(f"/proc shows processes {', '.join(sorted(procs, key=int)[:8])}…, not only the jail's")
    if problems:
        return CheckResult(name, "fail", "; ".join(problems), "exec mounts a fresh procfs in the jail's PID namespace")
    options = ",".join([*proc.options, f"hidepid={proc.hidepid}"])
    return CheckResult(name, "pass", f"procfs {options}, showing only the jail's PID 1")
