"""Verification of a jail's bind mounts against the live mount table and the fstab block.

For every mount the plan wants (sftp and exec jails alike): is it live in `/proc/self/mountinfo`, does it
show the planned source (the target and the source are the same inode on the same device), is it
read-only where asked (the kernel ignores `ro` on a first bind, so this is where a half-done read-only
bind shows), and is it mounted once (re-applying binds stacks them)? Then: does the jail's managed fstab
block list exactly the persistent mounts, so the next boot rebuilds what is live now?
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from tui_jail.core import fstab, managed_block
from tui_jail.core.checks import Check, CheckResult
from tui_jail.core.plan import MountStep, Plan
from tui_jail.core.spec import Spec
from tui_jail.paths.mountinfo import MountEntry, read_mountinfo
from tui_jail.paths.system import SystemRoot

FSTAB_CHECK = "mounts: fstab block"


def mount_check_name(target: str) -> str:
    return f"mount: {target}"


def mount_checks(spec: Spec, system: SystemRoot, plan: Plan) -> list[Check]:
    """One check per planned mount, and one for the fstab block. The mount table is read once."""
    table: Callable[[], list[MountEntry]] = functools.cache(read_mountinfo)
    checks = [Check(mount_check_name(step.target), _bound(step, system, table)) for step in plan.mounts]
    checks.append(Check(FSTAB_CHECK, lambda: fstab_result(spec, system, plan)))
    return checks


def _bound(step: MountStep, system: SystemRoot, table: Callable[[], list[MountEntry]]) -> Callable[[], CheckResult]:
    return lambda: mount_result(step, system, table())


def mount_result(step: MountStep, system: SystemRoot, table: list[MountEntry]) -> CheckResult:
    name = mount_check_name(step.target)
    stacked = [entry for entry in table if system.inside(entry.mount_point) == step.target]
    mode = "ro" if step.readonly else "rw"
    mount_cmd = f"mount --bind{' -o ro' if step.readonly else ''} {step.source} {step.target}"
    if not stacked:
        return CheckResult(name, "fail", f"not mounted (want {step.source}, {mode})", f"mount it: {mount_cmd}")
    live = stacked[-1]  # the topmost is what the jail sees
    if not same_object(system, step.source, step.target):
        return CheckResult(
            name,
            "fail",
            f"mounted from {live.source}:{live.fs_root}, not {step.source}",
            f"umount {step.target} && {mount_cmd}",
        )
    if live.readonly != step.readonly:
        have = "read-only" if live.readonly else "writable"
        return CheckResult(
            name,
            "fail",
            f"{have}, the spec wants {mode}",
            f"mount -o remount,bind,{mode} {step.target}",
        )
    if len(stacked) > 1:
        return CheckResult(
            name,
            "warn",
            f"{step.source} ({mode}) is mounted {len(stacked)} times here (stacked binds)",
            f"umount {step.target} until one remains",
        )
    return CheckResult(name, "pass", f"{step.source} ({mode})")


def same_object(system: SystemRoot, source: str, target: str) -> bool:
    """A bind's target is the source's inode on the source's device: true only when really bound."""
    a, b = system.stat(source), system.stat(target)
    return a is not None and b is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def fstab_result(spec: Spec, system: SystemRoot, plan: Plan) -> CheckResult:
    want = {(m.source, m.target, m.readonly) for m in plan.mounts if m.persist}
    body = managed_block.block_body(system.read_text(fstab.FSTAB) or "", spec.name)
    if body is None:
        if not want:
            return CheckResult(FSTAB_CHECK, "pass", "no persistent mounts, and no fstab block")
        return CheckResult(
            FSTAB_CHECK,
            "fail",
            f"{fstab.FSTAB} has no block for {spec.name}: the mounts will be gone after a reboot",
            "re-apply the jail to write its fstab block",
        )
    have = {(source, target, "ro" in options) for source, target, _, options in fstab.parse_entries(body)}
    problems = [f"missing {_describe(entry)}" for entry in sorted(want - have)]
    problems += [f"not planned {_describe(entry)}" for entry in sorted(have - want)]
    if problems:
        return CheckResult(
            FSTAB_CHECK, "fail", f"the block differs from the live mounts: {'; '.join(problems)}", "re-apply the jail"
        )
    return CheckResult(FSTAB_CHECK, "pass", f"{len(have)} entr{'y' if len(have) == 1 else 'ies'} match the mounts")


def _describe(entry: tuple[str, str, bool]) -> str:
    source, target, readonly = entry
    return f"{source} → {target} ({'ro' if readonly else 'rw'})"
