"""Verification of the jail tree on disk: the chroot chain sshd will accept, and nothing more than planned.

sshd checks ChrootDirectory only at login (`session.c safely_chroot`): from `/` down, every component a
directory (stat follows symlinks), owned by uid 0, `mode & 022 == 0`; the client then sees only
"Connection closed". These checks catch that before anyone logs in, and check that the jail root holds
exactly what the plan put there (a stray file in a jail is something its inhabitant can read).
"""

from __future__ import annotations

import posixpath
import stat

from tui_jail.core.checks import Check, CheckResult
from tui_jail.core.plan import Plan, chain_problem
from tui_jail.core.spec import Spec
from tui_jail.paths.system import SystemRoot

CHAIN = "tree: chroot chain"
CONTENTS = "tree: jail contents"
# things that may sit in a jail without being planned: internal-sftp's log socket (see verify.sftp)
TOLERATED = ("dev/log",)


def tree_checks(spec: Spec, system: SystemRoot, plan: Plan) -> list[Check]:
    return [
        Check(CHAIN, lambda: chain_result(spec.root, system, spec.kind)),
        Check(CONTENTS, lambda: contents_result(spec, system, plan)),
    ]


def chroot_components(root: str) -> list[str]:
    """The paths safely_chroot stats, in its order: `/`, then each prefix of the jail root."""
    parts = root.strip("/").split("/")
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts)) if parts[i]]


def chain_result(root: str, system: SystemRoot, kind: str = "sftp") -> CheckResult:
    """sftp: sshd's rule for every component. exec: the planner's rule (no component another user
    could swap: a sticky 1777 /tmp on the way is fine there)."""
    for path in chroot_components(root):
        st = system.stat(path)  # follows symlinks, as sshd's stat() does
        if st is None:
            return CheckResult(CHAIN, "fail", f"{path} does not exist", f"apply the jail: it creates {root}")
        if not stat.S_ISDIR(st.st_mode):
            return CheckResult(CHAIN, "fail", f"{path} is not a directory", f"make {path} a directory owned by root")
        if kind == "exec":
            if problem := chain_problem(st, kind, is_root=path == root):
                return CheckResult(CHAIN, "fail", f"{path} is {problem}", "move the jail under a root-only directory")
            continue
        problems = []
        if st.st_uid != 0:
            problems.append(f"owned by uid {st.st_uid}")
        if st.st_mode & 0o022:
            problems.append(f"mode {stat.S_IMODE(st.st_mode):04o} is group/world writable")
        if problems:
            return CheckResult(
                CHAIN,
                "fail",
                f"{path}: {', '.join(problems)}; sshd refuses the chroot with 'bad ownership or modes'",
                f"chown root {path} && chmod go-w {path}",
            )
    if kind == "exec":
        return CheckResult(CHAIN, "pass", f"no other user can change a component of {root}")
    return CheckResult(CHAIN, "pass", f"every component of {root} is a root-owned directory, not group/world writable")


def planned_paths(spec: Spec, plan: Plan) -> tuple[set[str], set[str]]:
    """(every path the plan puts inside the jail, the mount targets among them) — in-root host paths."""
    mounts = {step.target for step in plan.mounts}
    inside = {step.path for step in plan.paths} | mounts
    inside |= {change.path for change in plan.files if change.path.startswith(spec.root + "/")}
    for path in list(inside):
        parent = posixpath.dirname(path)
        while parent.startswith(spec.root + "/"):
            inside.add(parent)
            parent = posixpath.dirname(parent)
    inside |= {spec.jail_path(rel) for rel in TOLERATED}
    return inside, mounts


def contents_result(spec: Spec, system: SystemRoot, plan: Plan) -> CheckResult:
    """Walk the planned directories (not into mounts, whose contents are the source's) and compare."""
    if not system.is_dir(spec.root):
        return CheckResult(CONTENTS, "fail", f"there is no jail root at {spec.root}", "apply the jail")
    expected, mounts = planned_paths(spec, plan)
    missing = sorted(p for p in expected - mounts if system.lstat(p) is None and not _tolerated(spec, p))
    missing += sorted(p for p in mounts if system.lstat(p) is None)
    unexpected: list[str] = []
    todo = [spec.root]
    while todo:
        directory = todo.pop()
        for name in system.listdir(directory) or []:
            path = posixpath.join(directory, name)
            if path not in expected:
                unexpected.append(path)
            elif path not in mounts and system.is_dir(path) and not _is_link(system, path):
                todo.append(path)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing: " + ", ".join(missing))
        if unexpected:
            parts.append("not planned: " + ", ".join(sorted(unexpected)))
        fix = "re-apply the jail" if missing else "move what was not planned out of the jail (its user can read it)"
        return CheckResult(CONTENTS, "fail", "; ".join(parts), fix)
    return CheckResult(CONTENTS, "pass", f"{spec.root} holds exactly what the plan put there")


def _tolerated(spec: Spec, path: str) -> bool:
    return any(path == spec.jail_path(rel) for rel in TOLERATED)


def _is_link(system: SystemRoot, path: str) -> bool:
    st = system.lstat(path)
    return st is not None and stat.S_ISLNK(st.st_mode)
