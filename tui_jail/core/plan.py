"""The plan: spec + the current system → every change, as data. Reads, never writes.

One function (`make_plan`, and `plan_removal` for taking a jail down) serves the CLI and the
wizard alike. The plan holds the desired content of every file it touches (with unified diffs),
the directories, device nodes and mounts to create, the mount tree as seen from inside the jail,
and warnings. The plan of an already-applied spec has no changes.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from tui_jail.core import bootguard, fstab, managed_block, sshd_config
from tui_jail.core.difftext import unified_text_diff
from tui_jail.core.launchfile import JAILS_DIR, jail_launch_path, render_launch
from tui_jail.core.launchfile import STATE_DIR as STATE_DIR  # re-exported: the state layout lives with the launch file
from tui_jail.core.spec import DEVICES, Mount, Spec, SpecError, parse_mount, parse_spec, spec_data, unreadable_text
from tui_jail.core.yamlio import YamlError, dump_plain_yaml, load_yaml_data
from tui_jail.paths.applied import read_applied_mounts, read_made_chain
from tui_jail.paths.mountinfo import MountEntry
from tui_jail.paths.records import record
from tui_jail.paths.resolve import writable_by_others
from tui_jail.paths.system import SystemRoot

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from typing import Any, Literal


def jail_state_path(name: str) -> str:
    """Where an applied jail's spec is kept (read by `verify`, `remove`; `exec` reads the launch file)."""
    return f"{JAILS_DIR}/{name}.yaml"


def applied_spec(system: SystemRoot, name: str) -> Spec | None:
    """The spec the jail was last applied with (None: never applied, or its record cannot be read)."""
    text = system.read_text(jail_state_path(name))
    if text is None:
        return None
    try:
        return parse_spec(load_yaml_data(text, source=jail_state_path(name)))
    except (SpecError, YamlError):
        return None  # the fstab and sshd blocks and the mounts record still name the jail


class PlanError(ValueError):
    """The spec cannot be planned against this system (a symlinked jail root, a missing user…)."""


@record  # records, not dataclasses: `dataclasses` (and the inspect it brings) cost a plan more than its work
class FileChange:
    """One file's content before and after."""

    path: str  # as seen inside the root
    before: str | None  # None: the file does not exist
    after: str | None  # None: the file is deleted
    mode: int = 0o644  # for a new file; an existing file keeps its mode and owner, unless `owner` is set
    owner: tuple[int, int, int] | None = None  # (mode, uid, gid) the file gets even over an existing one
    secret: bool = False  # its source is not world-readable: plans show its size and hash, never its content

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        if not self.changed:
            return ""
        if self.secret:
            return "".join(
                f"{label} {path}: content not shown (not world-readable on the host); {_fingerprint(text)}\n"
                for label, path, text in (("-", f"a{self.path}", self.before), ("+", f"b{self.path}", self.after))
                if text is not None
            )
        lines = unified_text_diff(
            self.before or "",
            self.after or "",
            fromfile="/dev/null" if self.before is None else f"a{self.path}",
            tofile="/dev/null" if self.after is None else f"b{self.path}",
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _fingerprint(text: str) -> str:
    import hashlib  # only for a secret file's diff: OpenSSL's start-up is not every plan's

    data = text.encode("utf-8", errors="surrogateescape")
    return f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"


CHAIN = "jail root chain"  # the reason of a step on the way to (or at) the jail root
SOURCE = "mount source"  # the reason of a step that makes a missing bind source (mounts[].create)


@record
class PathStep:
    """A directory, empty file (a mount point for a file bind) or device node under the jail."""

    path: str
    kind: Literal["dir", "file", "device"]
    mode: int
    uid: int = 0
    gid: int = 0
    device: tuple[int, int] | None = None  # (major, minor) for kind == "device"
    action: Literal["create", "fix", "remove", "none"] = "create"  # fix: chown/chmod an existing one
    # remove: the jail made it and the spec no longer wants it (mode, owner, device: as it was made)
    reason: str = ""


@record
class MountStep:
    """A bind mount the plan makes, remounts or finds in place."""

    source: str  # host path, as seen inside the root
    target: str  # host path of the mount point, as seen inside the root
    readonly: bool
    persist: bool
    action: Literal["mount", "remount", "none"]

    @property
    def jail_path(self) -> str:
        return self.target


class Plan:
    """Every change a spec makes to a system, as data."""

    FIELDS = ("name", "kind", "root", "removal", "files", "paths", "mounts", "unmounts", "skipped", "warnings", "tree")

    def __init__(self, name: str, kind: str, root: str, removal: bool = False) -> None:
        self.name, self.kind = name, kind
        self.root = root  # the jail root
        self.removal = removal
        self.files: list[FileChange] = []
        self.paths: list[PathStep] = []
        self.mounts: list[MountStep] = []
        self.unmounts: list[str] = []  # targets to unmount, in order (removal)
        self.skipped: list[str] = []  # optional mounts whose source is absent
        self.warnings: list[str] = []
        self.tree = ""

    @property
    def changed_files(self) -> list[FileChange]:
        return [f for f in self.files if f.changed]

    @property
    def path_changes(self) -> list[PathStep]:
        return [p for p in self.paths if p.action != "none"]

    @property
    def mount_changes(self) -> list[MountStep]:
        return [m for m in self.mounts if m.action != "none"]

    @property
    def has_changes(self) -> bool:
        return bool(self.changed_files or self.path_changes or self.mount_changes or self.unmounts)

    def summary(self) -> str:
        files = len(self.changed_files)
        mounts = len(self.mount_changes)
        paths = len(self.path_changes)
        if not self.has_changes and self.removal:
            return "nothing to remove: no state file, fstab block or sshd block names this jail"
        if not self.has_changes:
            return "no changes: the system already matches the spec"
        parts = [f"{files} file{'s' * (files != 1)}", f"{mounts} mount{'s' * (mounts != 1)}"]
        parts.append(f"{paths} path{'s' * (paths != 1)}")
        if self.unmounts:
            parts.append(f"{len(self.unmounts)} unmount{'s' * (len(self.unmounts) != 1)}")
        return "changes: " + ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """Every field (as `dataclasses.asdict` gave them, in the same order), then the summary."""
        data: dict[str, Any] = {name: getattr(self, name) for name in Plan.FIELDS}
        data["files"] = [
            {
                "path": f.path,
                "changed": f.changed,
                "exists": f.before is not None,
                "deleted": f.after is None,
                "mode": oct(f.mode),
                "diff": f.diff(),
            }
            for f in self.files
        ]
        data["paths"] = [{**vars(p), "mode": oct(p.mode)} for p in self.paths]
        data["mounts"] = [vars(m).copy() for m in self.mounts]
        for name in ("unmounts", "skipped", "warnings"):
            data[name] = list(data[name])  # copies, as asdict made them
        data["has_changes"] = self.has_changes
        data["summary"] = self.summary()
        return data


# --- planning --------------------------------------------------------------------------------------


def make_plan(spec: Spec, system: SystemRoot) -> Plan:
    plan = Plan(name=spec.name, kind=spec.kind, root=spec.root)
    live = system.mounts()
    mounts = _expand_mounts(spec, system, plan)
    plan.paths = _plan_paths(spec, system, mounts, live)
    plan.mounts = [_mount_step(spec, system, mount, live) for mount in mounts]
    fstab_text = system.read_text(fstab.FSTAB)  # read once: a large one costs each time
    plan.files = _plan_files(spec, system, mounts, plan, fstab_text)
    plan.unmounts = _jail_mounts(spec.name, fstab_text, system, live, keep={m.target for m in plan.mounts})
    removals, left = _dropped_paths(spec, system, plan)
    plan.paths += removals
    plan.warnings += left
    _plan_boot_guard(system, plan)
    plan.tree = render_tree(spec, plan)
    return plan


def _dropped_paths(spec: Spec, system: SystemRoot, plan: Plan) -> tuple[list[PathStep], list[str]]:
    """What the applied spec made in the jail tree that this one drops — mount points, device nodes,
    dev/, a workdir, proc — as removal steps, with a note for each one left in place."""
    state = next(f for f in plan.files if f.path == jail_state_path(spec.name))
    # an unchanged state file holds this very spec: not read and validated again (verify, a re-plan)
    old = spec if not state.changed else applied_spec(system, spec.name)
    if old is None or old.root != spec.root:
        return [], []
    kept = {p.path for p in plan.paths}
    bound = [m.target for m in plan.mounts]  # under a kept bind lies the host's source, not the jail's tree
    made = [p for p in _made_paths(old, system) if p not in kept and not any(_within(p, target) for target in bound)]
    return _removal_steps(system, made, set(plan.unmounts))


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


def _made_paths(spec: Spec, system: SystemRoot) -> list[str]:
    """Every path the plan of `spec` creates under its jail root (the root's own chain not included):
    from the spec alone, plus the targets of the jail's recorded binds (children the source has no more)."""
    try:
        mounts = _expand_mounts(spec, system, Plan(spec.name, spec.kind, spec.root))
    except PlanError:
        mounts = [m for m in spec.mounts if not m.children]
    wanted = [spec.jail_path(m.target) for m in mounts]
    wanted += [m.target for m in read_applied_mounts(system.root, spec.name)]
    if spec.devices:
        wanted += [spec.jail_path("dev"), *(spec.jail_path(f"dev/{d}") for d in spec.devices)]
    if spec.exec is not None:
        settings = spec.exec
        wanted += [spec.jail_path("proc")] if settings.proc is not None else []
        wanted += [spec.jail_path("tmp")] if settings.per_run_tmp else []
        wanted += [spec.jail_path(mask) for mask in settings.masks]
        wanted += [spec.jail_path(settings.workdir)] if settings.workdir is not None else []
        wanted += [spec.jail_path(copy.lstrip("/")) for copy in settings.copies]
    out: set[str] = set()
    for path in wanted:
        if path.startswith(spec.root + "/"):
            out.update([path, *_parents_within(spec.root, path)])
    return sorted(out)


def _removal_steps(
    system: SystemRoot, paths: list[str], unmounted: set[str], going: set[str] | None = None
) -> tuple[list[PathStep], list[str]]:
    """Removal steps, deepest first, for those of `paths` still as the jail made them; a note for each
    one left. A mount point this transaction unmounts is seen only once unmounted: the step expects it
    as the jail makes one (root's, 0755 or an empty 0644 file) and its run leaves anything else alone."""
    steps: list[PathStep] = []
    notes: list[str] = []
    going = set(going or ())  # deleted before these steps run: a directory holding only them is empty then
    for path in sorted(set(paths), key=lambda p: (-p.count("/"), p)):
        st = system.lstat(path)
        if path in unmounted:
            kind: Literal["dir", "file", "device"] = "dir" if st is None or stat.S_ISDIR(st.st_mode) else "file"
            step = PathStep(path, kind, 0o755 if kind == "dir" else 0o644, action="remove", reason="mount point")
        elif st is None:
            continue
        elif why := _not_as_made(system, path, st, going):
            notes.append(f"left in place: {path} ({why})")
            continue
        else:
            kind = "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "device"
            device = (os.major(st.st_rdev), os.minor(st.st_rdev)) if kind == "device" else None
            mode = stat.S_IMODE(st.st_mode)
            step = PathStep(path, kind, mode, st.st_uid, st.st_gid, device, "remove", "the jail made it")
        steps.append(step)
        going.add(path)
    return steps, notes


def _not_as_made(system: SystemRoot, path: str, st: os.stat_result, going: set[str]) -> str:
    """Why an existing path is not removed ('' when it is): what the jail makes is an empty directory
    (or one whose entries all go too), an empty file or a character device."""
    if stat.S_ISDIR(st.st_mode):
        others = [e for e in system.listdir(path) or [] if posixpath.join(path, e) not in going]
        return f"not empty: it holds {', '.join(others[:3])}{', …' * (len(others) > 3)}" if others else ""
    if stat.S_ISREG(st.st_mode) and st.st_size:
        return "a file with content"
    if stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return ""
    return "not a directory, empty file or device node"


def _jail_mounts(
    name: str, fstab_text: str | None, system: SystemRoot, live: dict[str, MountEntry], keep: set[str]
) -> list[str]:
    """The live mounts this jail made that are not in `keep`, deepest first: what converging to a spec
    that dropped them (or removing the jail) unmounts. Known from the jail's applied mounts record (every
    bind it made, live-only ones too) and its fstab block (jails applied before the record existed); the
    transaction unmounts only a mount that is still the one recorded."""
    targets = {m.target for m in read_applied_mounts(system.root, name)}
    with _blocks_of(fstab.FSTAB):
        body = managed_block.block_body(fstab_text or "", name)
    targets.update(target for _, target, _, _ in fstab.parse_entries(body or ""))
    return sorted((t for t in targets - keep if t in live), key=lambda t: (-t.count("/"), t))


def _expand_mounts(spec: Spec, system: SystemRoot, plan: Plan) -> list[Mount]:
    """`children: true` becomes one mount per entry; absent optional sources are skipped.
    Sorted so a parent is mounted before anything inside it."""
    out: list[Mount] = []
    for mount in spec.mounts:
        exists = system.stat(mount.source) is not None
        if not exists and mount.optional:
            plan.skipped.append(f"{mount.source} (optional, not on this host)")
            continue
        if not mount.children:
            out.append(mount)
            continue
        entries = system.listdir(mount.source)
        if entries is None:
            raise PlanError(f"mounts: {mount.source} does not exist or is not a directory (children: true)")
        source_dir = system.stat(mount.source)
        for entry in entries:
            if entry in mount.exclude:
                continue
            if why := _untrusted_entry(system, mount.source, source_dir, entry):
                plan.skipped.append(f"{posixpath.join(mount.source, ascii(entry)[1:-1])} ({why}: not bound)")
                continue
            out.append(
                parse_mount(
                    {
                        "source": posixpath.join(mount.source, entry),
                        "target": posixpath.join(mount.target, entry),
                        "readonly": mount.readonly,
                        "persist": mount.persist,
                    }
                )
            )
    return sorted(out, key=lambda m: m.target.count("/"))


def _untrusted_entry(system: SystemRoot, source: str, source_dir: os.stat_result | None, entry: str) -> str:
    """Why an entry of a `children` source is not bound ('' when it is). A user who can write the source
    plants a link (`leak -> /etc`) to have the host's directory bound into the jail; a name with control
    or invisible characters would be written into fstab and shown in the plan as something else. A link
    is trusted as the path layer trusts one: root's, in a directory no one else can write."""
    if unreadable_text(entry):
        return "its name has control or invisible characters"
    st = system.lstat(posixpath.join(source, entry))
    if st is None or not stat.S_ISLNK(st.st_mode):
        return ""
    if st.st_uid != 0:
        return f"a symlink owned by uid {st.st_uid}"
    if source_dir is None or source_dir.st_uid != 0 or source_dir.st_mode & 0o022:
        return "a symlink in a directory others can write"
    return ""


def _mount_step(spec: Spec, system: SystemRoot, mount: Mount, live: dict[str, MountEntry]) -> MountStep:
    target = spec.jail_path(mount.target)
    entry = live.get(target)
    action: Literal["mount", "remount", "none"] = "mount"
    if entry is not None and _same_object(system, mount.source, target):
        action = "none" if entry.readonly == mount.readonly else "remount"
    return MountStep(mount.source, target, mount.readonly, mount.persist, action)


def _same_object(system: SystemRoot, source: str, target: str) -> bool:
    a, b = system.stat(source), system.stat(target)
    return a is not None and b is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _plan_paths(spec: Spec, system: SystemRoot, mounts: list[Mount], live: dict[str, MountEntry]) -> list[PathStep]:
    steps: dict[str, PathStep] = {}
    binds = _binds(spec, mounts)

    def want(
        path: str,
        kind: Literal["dir", "file", "device"],
        mode: int,
        uid: int = 0,
        gid: int = 0,
        device: tuple[int, int] | None = None,
        reason: str = "",
    ) -> None:
        if path in steps:
            return
        for parent in _parents_within(spec.root, path):
            want(parent, "dir", 0o755, reason="parent")
        steps[path] = _path_step(system, path, kind, mode, uid, gid, device, reason, mounted=path in live)

    _root_chain(spec, system, steps)
    for index, mount in enumerate(spec.mounts):
        if mount.create is not None and system.lstat(mount.source) is None:
            _create_source(system, f"mounts[{index}]", mount, steps)
    for mount in mounts:
        source = system.stat(mount.source)
        kind: Literal["dir", "file"] = "file" if source is not None and not stat.S_ISDIR(source.st_mode) else "dir"
        want(spec.jail_path(mount.target), kind, 0o755 if kind == "dir" else 0o644, reason="mount point")
    if spec.devices:
        want(spec.jail_path("dev"), "dir", 0o755)
        for name in spec.devices:
            major, minor, mode = DEVICES[name]
            want(spec.jail_path(f"dev/{name}"), "device", mode, device=(major, minor), reason="device")
    if spec.exec is not None:
        settings = spec.exec
        if settings.proc is not None:
            want(spec.jail_path("proc"), "dir", 0o555, reason="procfs mount point")
        if settings.per_run_tmp:
            want(spec.jail_path("tmp"), "dir", 0o1777, reason="per-run tmp mount point")
        for mask in settings.masks:
            want(spec.jail_path(mask), "file", 0o644, reason="masked with /dev/null")
        if settings.workdir is not None:
            account = system.accounts.get(settings.user)
            if account is None:
                raise PlanError(f"exec.user: no user {settings.user!r} in {system.host('/etc/passwd')}")
            want(spec.jail_path(settings.workdir), "dir", 0o755, account.uid, account.gid, reason="workdir")
        for copy in settings.copies:
            for parent in _parents_within(spec.root, spec.jail_path(copy.lstrip("/"))):
                want(parent, "dir", 0o755, reason="parent")
            fix = _copy_owner_fix(spec, system, copy, binds)
            if fix is not None:
                steps[fix.path] = fix
    _refuse_writes_through_mounts(binds, steps)
    return list(steps.values())


def _create_source(system: SystemRoot, field: str, mount: Mount, steps: dict[str, PathStep]) -> None:
    """Steps that make a missing bind source (its missing parents root's, 0755), as `create` says. Never
    in a directory another user can write: they could swap what is made for a link before the bind."""
    assert mount.create is not None
    create = mount.create
    account = system.accounts.get(create.owner)
    if account is None:
        raise PlanError(f"{field}.create.owner: no user {create.owner!r} in {system.host('/etc/passwd')}")
    gid = account.gid if create.group is None else system.groups.get(create.group)
    if gid is None:
        raise PlanError(f"{field}.create.group: no group {create.group!r} in {system.host('/etc/group')}")
    missing = [mount.source]
    while (parent := posixpath.dirname(missing[-1])) != "/" and system.lstat(parent) is None:
        missing.append(parent)
    above = posixpath.dirname(missing[-1])
    st = system.lstat(above)
    if st is None or not stat.S_ISDIR(st.st_mode):
        raise PlanError(f"{field}.create: {above} is not a directory; cannot create {mount.source} in it")
    if writable_by_others(st):
        raise PlanError(
            f"{field}.create: {above} can be written by other users (owner uid {st.st_uid}, mode "
            f"{stat.S_IMODE(st.st_mode):04o}); create {mount.source} yourself or choose a source elsewhere"
        )
    for parent in reversed(missing[1:]):
        steps.setdefault(parent, PathStep(parent, "dir", 0o755, reason=SOURCE))
    steps[mount.source] = PathStep(mount.source, "dir", create.mode_bits, account.uid, gid, reason=SOURCE)


Binds = dict[str, Mount]  # bind target as seen on the host → its mount


def _binds(spec: Spec, mounts: list[Mount]) -> Binds:
    return {spec.jail_path(m.target): m for m in mounts}


def _bind_holding(path: str, binds: Binds, *, itself: bool = False) -> str | None:
    """The bind target `path` lies under (or is, with `itself`): one set lookup per parent, so checking
    every write is linear in the writes, not writes × mounts."""
    candidate = path if itself else posixpath.dirname(path)
    while candidate not in binds:
        if candidate in ("/", ""):
            return None
        candidate = posixpath.dirname(candidate)
    return candidate


def _refuse_writes_through_mounts(binds: Binds, steps: dict[str, PathStep]) -> None:
    """Creating a path below a bind target would create it in the host directory bound there."""
    for step in steps.values():
        target = None if step.action == "none" else _bind_holding(step.path, binds)
        if target is not None:
            raise PlanError(
                f"{step.path} would be created inside the bind mount at {target}, that is in the "
                f"host's {binds[target].source}; create it there first or choose another target"
            )


def _root_chain(spec: Spec, system: SystemRoot, steps: dict[str, PathStep]) -> None:
    """Every component of the jail root: a real directory, created when missing. One that exists is used
    as it is or refused, never changed (chmod'ing a shared /tmp breaks every user of it); see
    `chain_problem` for what is refused."""
    path = ""
    parts = spec.root.strip("/").split("/")
    for depth, part in enumerate(parts, 1):
        path += "/" + part
        st = system.lstat(path)
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise PlanError(f"root: {path} is a symlink; a jail root must not pass through symlinks")
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise PlanError(f"root: {path} exists and is not a directory")
        if st is None:
            steps[path] = PathStep(path, "dir", 0o755, reason=CHAIN)
            continue
        problem = chain_problem(st, spec.kind, is_root=depth == len(parts))
        if problem:
            raise PlanError(
                f"root: {path} is {problem}; tui-jail does not change a directory it did not create: "
                "choose a jail root elsewhere (e.g. /chroot/<name>)"
            )
        steps[path] = PathStep(path, "dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, action="none", reason=CHAIN)


def chain_problem(st: os.stat_result, kind: str, *, is_root: bool) -> str:
    """Why an existing directory on the way to the jail root cannot be used as it is ('' when it can).

    sftp: sshd's safely_chroot refuses the login unless every component is owned by root and not
    writable by group or others. exec: no sshd rule, only what would let another user swap a component
    for one of their own between the plan and a job's start — a directory they own (they can rename
    anything in it, or chmod it) or one their group or everyone can write without the sticky bit (then
    anyone may rename the next component). A sticky one (/tmp, 1777) lets only an entry's owner rename it,
    and the next component is root's. The jail root itself is the jail's: no one else may write it at all."""
    writable = st.st_mode & 0o022
    if st.st_uid != 0:
        owner = f"owned by uid {st.st_uid}"
        return f"{owner} (sshd wants every component of a ChrootDirectory root-owned)" if kind == "sftp" else owner
    if not writable:
        return ""
    mode = f"writable by others (mode {stat.S_IMODE(st.st_mode):04o})"
    if kind == "sftp":
        return f"{mode}; sshd refuses a ChrootDirectory with a group- or world-writable component"
    if is_root:
        return f"{mode}, so another user could plant their own entries (mount points) in the jail"
    if not st.st_mode & stat.S_ISVTX:
        return f"{mode} without the sticky bit, so another user could rename the jail root away"
    return ""


def _parents_within(root: str, path: str) -> list[str]:
    parents = []
    parent = posixpath.dirname(path)
    while parent != root and parent.startswith(root + "/"):
        parents.append(parent)
        parent = posixpath.dirname(parent)
    return list(reversed(parents))


def _path_step(
    system: SystemRoot,
    path: str,
    kind: Literal["dir", "file", "device"],
    mode: int,
    uid: int,
    gid: int,
    device: tuple[int, int] | None,
    reason: str,
    *,
    mounted: bool,
) -> PathStep:
    st = system.lstat(path)
    if st is None:
        return PathStep(path, kind, mode, uid, gid, device, "create", reason)
    if stat.S_ISLNK(st.st_mode):
        raise PlanError(f"{path} is a symlink inside the jail; refusing to follow it")
    expected = {"dir": stat.S_ISDIR, "file": stat.S_ISREG, "device": stat.S_ISCHR}[kind]
    if not expected(st.st_mode) and not mounted:
        raise PlanError(f"{path} exists but is not a {kind}")
    if mounted or kind != "device" or (os.major(st.st_rdev), os.minor(st.st_rdev)) == device:
        return PathStep(path, kind, mode, uid, gid, device, "none", reason)
    raise PlanError(f"{path} is a device node with the wrong numbers")


def _plan_files(
    spec: Spec, system: SystemRoot, mounts: list[Mount], plan: Plan, fstab_text: str | None
) -> list[FileChange]:
    files = []
    entries = [fstab.FstabEntry(m.source, spec.jail_path(m.target), m.readonly) for m in mounts if m.persist]
    with _blocks_of(fstab.FSTAB):
        files.append(FileChange(fstab.FSTAB, fstab_text, fstab.set_jail_block(fstab_text or "", spec.name, entries)))
    if spec.sftp is not None:
        files += _plan_sshd(spec, system, plan)
    if spec.exec is not None:
        binds = _binds(spec, mounts)
        files += [_copy_change(spec, system, copy, binds) for copy in spec.exec.copies]
        if spec.exec.allow_root:
            plan.warnings.append(
                "exec.allow_root: jobs may run as root in the jail (exec.user or --user root); the "
                "chroot-breaking capabilities are still removed, but root reads every copy and writes every rw mount"
            )
    files.append(_change(system, jail_state_path(spec.name), render_state(spec), mode=0o600))
    if spec.exec is not None:
        files.append(_change(system, jail_launch_path(spec.name), render_launch(spec, mounts), mode=0o600))
    return files


def _copy_source(copy: str, system: SystemRoot) -> os.stat_result:
    """The host file of an `exec.copies` entry: it must be a regular file (a symlink to one counts)."""
    st = system.stat(copy)
    if st is None:
        raise PlanError(f"exec.copies: {copy} does not exist")
    if not stat.S_ISREG(st.st_mode):
        raise PlanError(f"exec.copies: {copy} is not a regular file; only regular files are copied")
    return st


COPY_LIMIT = 1024 * 1024  # copies are small configuration files (passwd, hosts, resolv.conf)


def _copy_content(system: SystemRoot, copy: str) -> str:
    """Read once, bounded, and only while it is a regular file (one swapped for a device since the stat
    would read without end)."""
    try:
        return system.read_regular(copy, COPY_LIMIT)
    except FileNotFoundError:
        raise PlanError(f"exec.copies: {copy} does not exist") from None
    except ValueError as exc:
        raise PlanError(f"exec.copies: {copy}: {exc}; only regular files are copied") from None


def _copy_owner(st: os.stat_result) -> tuple[int, int, int]:
    """The copy's (mode, uid, gid): the source's, numbers kept as they are — the launcher takes the job's
    uid, gid and groups from the host's passwd and group, so the same numbers keep the same readers
    (root:shadow 0640 stays out of reach of a job user outside group shadow). No setuid/setgid/sticky."""
    return stat.S_IMODE(st.st_mode) & 0o777, st.st_uid, st.st_gid


def _copy_target(spec: Spec, copy: str, binds: Binds) -> str:
    """Where a copy lands in the jail; never through a bind, which would write the host's file."""
    target = spec.jail_path(copy.lstrip("/"))
    bound = _bind_holding(target, binds, itself=True)
    if bound is not None:
        raise PlanError(
            f"exec.copies: {copy} would be written through the bind mount at {bound}, into the host's "
            f"{binds[bound].source}; copy it somewhere not mounted over"
        )
    return target


def _copy_change(spec: Spec, system: SystemRoot, copy: str, binds: Binds) -> FileChange:
    st = _copy_source(copy, system)
    target = _copy_target(spec, copy, binds)
    content = _copy_content(system, copy)
    owner = _copy_owner(st)
    secret = not st.st_mode & stat.S_IROTH
    return FileChange(target, system.read_text(target), content, owner[0], owner, secret)


def _copy_owner_fix(spec: Spec, system: SystemRoot, copy: str, binds: Binds) -> PathStep | None:
    """An existing copy whose mode or owner is not its source's (an older tui-jail wrote every copy 0644
    root:root) is fixed in place; a copy whose content changes gets the source's owner from its write."""
    target = _copy_target(spec, copy, binds)
    current = system.lstat(target)
    if current is None or not stat.S_ISREG(current.st_mode):
        return None
    mode, uid, gid = _copy_owner(_copy_source(copy, system))
    if (stat.S_IMODE(current.st_mode), current.st_uid, current.st_gid) == (mode, uid, gid):
        return None
    return PathStep(target, "file", mode, uid, gid, action="fix", reason="copy keeps its source's mode and owner")


def render_state(spec: Spec) -> str:
    header = f"# tui-jail: the applied spec of jail {spec.name}. Written by tui-jail apply; do not edit.\n"
    # defaults left out keep it short; the version stays so the file says what it is
    return header + dump_plain_yaml({"version": spec.version, **spec_data(spec, exclude_defaults=True)})


def _change(system: SystemRoot, path: str, after: str | None, mode: int = 0o644) -> FileChange:
    return FileChange(path, system.read_text(path), after, mode)


def _plan_sshd(spec: Spec, system: SystemRoot, plan: Plan) -> list[FileChange]:
    main = system.read_text(sshd_config.SSHD_CONFIG)
    if main is None:
        raise PlanError(f"no {sshd_config.SSHD_CONFIG} under {system.root}: an sftp jail needs sshd")
    with _blocks_of(sshd_config.SSHD_CONFIG):
        return _plan_sshd_blocks(spec, system, plan, main)


@contextmanager
def _blocks_of(path: str) -> Iterator[None]:
    """A managed block that cannot be read (a BEGIN without its END) is refused naming its file."""
    try:
        yield
    except PlanError:
        raise
    except ValueError as exc:
        raise PlanError(f"{path}: {exc}; fix or remove that line by hand") from None


def _plan_sshd_blocks(spec: Spec, system: SystemRoot, plan: Plan, main: str) -> list[FileChange]:
    assert spec.sftp is not None
    settings = sshd_config.MatchBlockSettings(
        spec.name,
        spec.sftp.users,
        spec.sftp.addresses,
        spec.root,
        spec.sftp.allow_tcp_forwarding,
        spec.sftp.x11_forwarding,
    )
    dropin = sshd_config.dropin_path(spec.name)
    if sshd_config.uses_dropin(main, spec.name):
        changes = [_change(system, dropin, sshd_config.render_match_block(settings, close_match=False))]
        # a block left in the main file by an earlier apply (before the Include existed) goes away
        if managed_block.find_block(main, spec.name) is not None:
            changes.append(
                FileChange(sshd_config.SSHD_CONFIG, main, sshd_config.set_appended_block(main, spec.name, None))
            )
        stop_at = dropin
        order_text = main
    else:
        block = sshd_config.render_match_block(settings, close_match=True)
        new_main = sshd_config.set_appended_block(main, spec.name, block)
        changes = [FileChange(sshd_config.SSHD_CONFIG, main, new_main)]
        if system.lstat(dropin) is not None:
            changes.append(_change(system, dropin, None))
        stop_at = None
        order_text = sshd_config.set_appended_block(main, spec.name, None)
    users, addresses = spec.sftp.users, spec.sftp.addresses
    for shadow in sshd_config.find_shadows(system.read_text, system.glob, order_text, users, addresses, stop_at):
        plan.warnings.append(shadow.describe())
    return changes


def _plan_boot_guard(system: SystemRoot, plan: Plan) -> None:
    """Where DIR boots with systemd, a plan that changes anything installs the boot guard when it is
    missing or differs: its files come first, so it is in place before anything it guards."""
    if not plan.has_changes or not bootguard.boots_with_systemd(system):
        return
    if problem := bootguard.missing_entry_point(system):
        plan.warnings.append(f"no boot guard: {problem}; a reboot before the confirmation would keep the change")
        return
    guard = [_change(system, path, text) for path, text in bootguard.files().items()]
    plan.files[:0] = [change for change in guard if change.changed]


# --- removal ---------------------------------------------------------------------------------------


def plan_removal(name: str, system: SystemRoot, spec: Spec | None) -> Plan:
    """Take a jail down: unmount every mount it made (deepest first), remove its fstab block, its sshd
    block or drop-in, its state file, its launch file and the tree it created (see `_take_down_tree`)."""
    plan = Plan(name=name, kind=spec.kind if spec else "unknown", root=spec.root if spec else "", removal=True)
    fstab_text = system.read_text(fstab.FSTAB)
    live = system.mounts()
    plan.unmounts = _jail_mounts(name, fstab_text, system, live, keep=set())
    if spec is not None:  # what the applied spec names, should a bind be in neither record
        named = {spec.jail_path(m.target) for m in _expand_mounts(spec, system, plan)} & set(live)
        plan.unmounts = sorted(named | set(plan.unmounts), key=lambda t: (-t.count("/"), t))
    plan.files.append(FileChange(fstab.FSTAB, fstab_text, fstab.set_jail_block(fstab_text or "", name, [])))
    main = system.read_text(sshd_config.SSHD_CONFIG)
    with _blocks_of(sshd_config.SSHD_CONFIG):
        if main is not None and managed_block.find_block(main, name) is not None:
            without = sshd_config.set_appended_block(main, name, None)
            plan.files.append(FileChange(sshd_config.SSHD_CONFIG, main, without))
    dropin = sshd_config.dropin_path(name)
    if system.lstat(dropin) is not None:
        plan.files.append(_change(system, dropin, None))
    for state in (jail_state_path(name), jail_launch_path(name)):
        if system.lstat(state) is not None:
            plan.files.append(_change(system, state, None))
    if spec is not None:
        _take_down_tree(spec, system, plan)
    plan.skipped.clear()
    if not plan.has_changes:
        plan.warnings.append(f"no jail named {name!r} is set up under {system.root}")
    elif spec is None:
        plan.warnings.append(f"left in place: the jail tree ({jail_state_path(name)} cannot be read to know it)")
    _plan_boot_guard(system, plan)
    plan.tree = "\n".join(f"unmount {t}" for t in plan.unmounts)
    return plan


def _take_down_tree(spec: Spec, system: SystemRoot, plan: Plan) -> None:
    """The jail tree goes with the jail: its copies deleted, then — once unmounted — every path its plan
    creates, deepest first, and the directories of the root's chain it created, each only while it is
    as the jail made it; anything else is left, and the plan says what and why."""
    copies = [spec.jail_path(copy.lstrip("/")) for copy in spec.exec.copies] if spec.exec else []
    for copy in copies:
        if system.lstat(copy) is not None:
            plan.files.append(_change(system, copy, None))
    chain = read_made_chain(system.root, spec.name)
    made = [p for p in _made_paths(spec, system) if p not in copies] + (chain or [])
    removals, left = _removal_steps(system, made, set(plan.unmounts), going=set(copies))
    plan.paths += removals
    plan.warnings += left
    if chain is None and system.lstat(spec.root) is not None:
        plan.warnings.append(
            f"left in place: {spec.root} and the directories on the way to it (this jail's record does not "
            "say which of them tui-jail created); delete them by hand once the jail is gone"
        )
    elif chain is not None and spec.root not in chain and system.lstat(spec.root) is not None:
        plan.warnings.append(f"left in place: {spec.root} (it was there before the jail)")


# --- the mount tree --------------------------------------------------------------------------------


def render_tree(spec: Spec, plan: Plan) -> str:
    """The jail as its inhabitant sees it: / and what each path is bound from."""
    rows: dict[str, str] = {}
    created = {p.path for p in plan.path_changes if p.reason == SOURCE}
    made = {m.source: m.create for m in spec.mounts if m.create is not None and m.source in created}
    for mount in plan.mounts:
        inside = "/" + posixpath.relpath(mount.target, spec.root)
        flags = ["ro" if mount.readonly else "rw", "fstab" if mount.persist else "live only"]
        if (create := made.get(mount.source)) is not None:
            flags.append(f"created: {create.owner}{f':{create.group}' if create.group else ''} {create.mode}")
        rows[inside] = f"← {mount.source} ({', '.join(flags)})"
    for step in plan.paths:
        if step.kind == "device":
            rows["/" + posixpath.relpath(step.path, spec.root)] = (
                f"char {step.device[0]},{step.device[1]}" if step.device else ""
            )
    if spec.exec is not None:
        settings = spec.exec
        if settings.proc is not None:
            opts = ",".join([*settings.proc.options, f"hidepid={settings.proc.hidepid}"])
            rows["/proc"] = f"fresh procfs ({opts}), per run"
        if settings.per_run_tmp:
            rows["/tmp"] = "← /tmp/job-<id> (rw), per run"
        for mask in settings.masks:
            rows[f"/{mask}"] = "← /dev/null (masked), per run"
        if settings.workdir:
            rows.setdefault(f"/{settings.workdir}", f"(writable by {settings.user})")
        for copy in settings.copies:
            rows.setdefault(copy, "(isolated copy)")
    return _draw_tree(f"/  = {spec.root} on the host", rows)


def _draw_tree(title: str, rows: dict[str, str]) -> str:
    children: dict[str, list[str]] = {}
    for path in rows:
        parts = path.strip("/").split("/")
        for depth in range(len(parts)):
            parent = "/" + "/".join(parts[:depth])
            child = "/" + "/".join(parts[: depth + 1])
            siblings = children.setdefault(parent.rstrip("/") or "/", [])
            if child not in siblings:
                siblings.append(child)
    lines = [title]

    def walk(node: str, prefix: str) -> None:
        kids = sorted(children.get(node, []))
        for index, child in enumerate(kids):
            last = index == len(kids) - 1
            label = posixpath.basename(child)
            note = rows.get(child, "")
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label}{'  ' + note if note else ''}")
            walk(child, prefix + ("    " if last else "│   "))

    walk("/", "")
    return "\n".join(lines)
