"""The transaction: the only code that changes the system. Plan → journalled steps → pending → confirmed
or rolled back.

`apply` takes the lock (one transaction at a time), starts the watchdog's interpreter and runs the
preflight meanwhile, writes the journal (steps, backups of every file it will touch), arms the
detached watchdog — hands it the transaction and waits until it is watching — (and a systemd timer
where systemd is PID 1), then carries out the steps — paths, bind mounts then read-only remounts,
files, sshd reload — recording each, fsynced — and returns once a reloaded sshd listens again (its
restart runs alongside the steps after the reload). Any failure rolls back at once. `confirm`, `extend`
and `rollback_txn` (in `pending`, re-exported here) act on a pending transaction under the same lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from tui_jail.core.errors import Refused
from tui_jail.core.plan import CHAIN, SOURCE, PathStep, Plan
from tui_jail.core.render import plan_text
from tui_jail.paths import applied, faults, files
from tui_jail.paths.files import read_bytes
from tui_jail.paths.fsops import remove_tree
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import arming, journal, session, steps
from tui_jail.txn.admin import admin_connection
from tui_jail.txn.journal import DEFAULT_TIMEOUT, Busy, Journal, Op, TxnState
from tui_jail.txn.journal_layout import STATE_DIR, running
from tui_jail.txn.pending import confirm as confirm
from tui_jail.txn.pending import extend as extend
from tui_jail.txn.pending import pending_refusal
from tui_jail.txn.pending import rollback_txn as rollback_txn
from tui_jail.txn.preflight import run_preflight
from tui_jail.txn.rollback import rollback, stop_timer
from tui_jail.txn.together import side_by_side

if TYPE_CHECKING:
    from tui_jail.backends.sshd import Relistening

SSH_DIR = "/etc/ssh/"
Step = tuple[Op, bytes | None, bytes | None]  # a step, the backup of its file, its new content


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def build_steps(plan: Plan, system: SystemRoot) -> tuple[list[Op], dict[int, bytes], dict[int, bytes]]:
    """The plan as journal steps, with the backups (old content) and new content of each file write."""
    paths = [_path_op(step, system) for step in plan.path_changes if step.action != "remove"]
    # paths the jail made and no longer wants go once nothing is mounted on them, deepest first
    removals = [_path_op(step, system) for step in plan.path_changes if step.action == "remove"]
    files: list[Step] = []
    # the plan's own path steps run first: a file below one of them must not mkdir it again
    created = {step.path for step in plan.path_changes if step.action == "create"}
    for change in plan.changed_files:
        files.extend(_mkdir_op(parent) for parent in _missing_parents(system, change.path, created))
        st = system.lstat(change.path)
        before = None if st is None else {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
        if change.owner is not None:
            owner = {"mode": change.owner[0], "uid": change.owner[1], "gid": change.owner[2]}
        else:
            owner = before or {"mode": change.mode, "uid": 0, "gid": 0}
        op: Op = {"op": "write", "path": change.path, **owner, "before": before, "delete": change.after is None}
        op["sshd"] = change.path.startswith(SSH_DIR)
        backup = read_bytes(system.root, change.path) if st is not None else None
        if backup != (None if change.before is None else _encode(change.before)):
            # written, the plan's content would silently drop whatever changed the file since
            raise Refused(f"nothing changed: {change.path} was changed since the plan was made; plan and review again")
        files.append((op, backup, None if change.after is None else _encode(change.after)))
    mounts = _mount_ops(plan, system)
    if any(op.get("sshd") for op, _, _ in files):
        files.append(({"op": "reload"}, None, None))
    # a jail is built before sshd sends anyone into it, and taken down after sshd stops doing so
    ordered = [*files, *mounts, *removals] if plan.removal else [*paths, *mounts, *removals, *files]
    chain = any(op.get("chain") for op, _, _ in paths)
    if mounts or chain or system.lstat(applied.record_path(plan.name)) is not None:
        ordered += _applied_record_steps(plan.name, system, created)
    ops = [op for op, _, _ in ordered]
    backups = {i: b for i, (_, b, _) in enumerate(ordered) if b is not None}
    contents = {i: c for i, (_, _, c) in enumerate(ordered) if c is not None}
    return ops, backups, contents


def _applied_record_steps(name: str, system: SystemRoot, created: set[str]) -> list[Step]:
    """Last, the jail's applied mounts record, made at apply time from the mount steps' identities."""
    path = applied.record_path(name)
    parents = [_mkdir_op(parent) for parent in _missing_parents(system, path, created)]
    backup = read_bytes(system.root, path)
    before = None if backup is None else {"mode": 0o600, "uid": 0, "gid": 0}
    op: Op = {"op": "write", "path": path, "mode": 0o600, "uid": 0, "gid": 0, "before": before, "delete": False}
    return [*parents, ({**op, "sshd": False, "mounts_of": name}, backup, None)]


def _mkdir_op(path: str) -> Step:
    mode = 0o700 if "tui-jail" in path else 0o755
    return {"op": "mkdir", "path": path, "mode": mode, "uid": 0, "gid": 0}, None, None


def _path_op(step: PathStep, system: SystemRoot) -> Step:
    owner = {"path": step.path, "mode": step.mode, "uid": step.uid, "gid": step.gid}
    if step.action == "fix":
        st = system.lstat(step.path)
        assert st is not None
        was = {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
        return {"op": "fix", **owner, "was": was}, None, None
    if step.action == "remove":
        device = {"major": step.device[0], "minor": step.device[1]} if step.device else {}
        return {"op": "remove", **owner, "kind": step.kind, **device}, None, None
    if step.kind == "device":
        assert step.device is not None
        return {"op": "mknod", **owner, "major": step.device[0], "minor": step.device[1]}, None, None
    op: Op = {"op": "mkdir" if step.kind == "dir" else "touch", **owner}
    if step.reason == SOURCE:  # outside the jail, where a user may act: its undo goes by identity
        op["identity"] = True
    if step.reason == CHAIN:  # the jail's record keeps it: remove takes down what the jail created
        op["chain"] = True
    return op, None, None


def _mount_ops(plan: Plan, system: SystemRoot) -> list[Step]:
    live = system.mounts()
    sources = _fstab_sources(plan)
    recorded = {m.target: m for m in applied.read_applied_mounts(system.root, plan.name)}

    def unmount(target: str) -> Op:
        entry = live.get(target)
        readonly = bool(entry and entry.readonly)
        op: Op = {"op": "umount", "target": target, "source": sources.get(target), "readonly": readonly}
        if target in recorded:  # only the very mount the jail made, as its applied record knows it
            made = recorded[target]
            op.update(source=made.source, identity=made.identity(), mounts_of=plan.name)
        return op

    ops: list[Op] = []
    for mount in plan.mount_changes:
        if mount.action == "mount" and mount.target in live and (mount.target in recorded or mount.target in sources):
            # the jail's bind of an old source goes first: a new bind would stack on it, the old one live below
            ops.append(unmount(mount.target))
        if mount.action == "mount":  # a read-only bind is made read-only before it is attached
            ops.append({"op": "bind", "source": mount.source, "target": mount.target, "readonly": mount.readonly})
        else:
            was = live[mount.target].readonly
            ops.append({"op": "remount", "target": mount.target, "readonly": mount.readonly, "was": was})
    if ops:
        ops.append({"op": "check", "mounts": _expected_mounts([op for op in ops if op["op"] != "umount"])})
    ops += [unmount(target) for target in plan.unmounts]
    return [(op, None, None) for op in ops]


def _expected_mounts(ops: list[Op]) -> list[dict[str, object]]:
    """What the bind and remount steps leave at each target, for the one check after them."""
    expected: dict[str, dict[str, object]] = {}
    for op in ops:
        want = expected.setdefault(op["target"], {"target": op["target"]})
        if op["op"] == "bind":
            want["source"] = op["source"]
        want["readonly"] = op["readonly"]
    return list(expected.values())


def _missing_parents(system: SystemRoot, path: str, created: set[str]) -> list[str]:
    missing = []
    parent = os.path.dirname(path)
    while parent != "/" and parent not in created and system.lstat(parent) is None:
        missing.append(parent)
        parent = os.path.dirname(parent)
    created.update(missing)
    return list(reversed(missing))


def _fstab_sources(plan: Plan) -> dict[str, str]:
    """Where each unmounted target was bound from, by the jail's old fstab block."""
    from tui_jail.core import fstab, managed_block

    change = next((f for f in plan.files if f.path == fstab.FSTAB), None)
    body = managed_block.block_body(change.before or "", plan.name) if change else None
    return {target: source for source, target, _, _ in fstab.parse_entries(body or "")}


def disk_full(exc: BaseException, root: Path) -> str:
    """'the disk is full' in a refusal, when that is why `exc` happened ('' when not)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full (no space left under {root / STATE_DIR.lstrip('/')}): "
    return ""


def apply(
    plan: Plan,
    system: SystemRoot,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    environ: Mapping[str, str] | None = None,
) -> TxnState:
    """Apply `plan` as a transaction left pending (the watchdog rolls it back unless confirmed)."""
    environ = os.environ if environ is None else environ
    if not plan.has_changes:
        raise Refused(f"nothing to apply: {plan.summary()}")
    if problem := journal.wait_problem(timeout):
        raise Refused(f"--confirm-timeout {problem}")
    try:
        with journal.locked(system.root):
            if any(entry.unfinished for entry in journal.scan(system.root)):
                raise Refused(pending_refusal(system.root))
            try:
                watchdog = arming.Watchdog(system.root)
            except OSError as exc:
                raise Refused(f"nothing changed: could not start the rollback watchdog: {exc}") from None
            with watchdog:  # its interpreter starts up while the preflight runs
                logins = session.logins_to_protect(system.root)
                notes = run_preflight(plan, system, environ, logins)
                # from tmux or screen with SSH logins about, one of them is the admin's: as over SSH
                over_ssh = admin_connection(environ) is not None or any(login.has_terminal for login in logins)
                return _apply_locked(plan, system, timeout, environ, notes, watchdog, over_ssh)
    except Busy:
        raise Refused(pending_refusal(system.root)) from None
    except OSError as exc:  # the journal's directory or lock could not be made
        raise Refused(f"nothing changed: {disk_full(exc, system.root)}could not take the journal lock: {exc}") from None


def _apply_locked(
    plan: Plan,
    system: SystemRoot,
    timeout: float,
    environ: Mapping[str, str],
    notes: list[str],
    watchdog: arming.Watchdog,
    over_ssh: bool,
) -> TxnState:
    ops, backups, contents = build_steps(plan, system)
    now = time.time()
    connection = admin_connection(environ)
    state = TxnState(
        id=journal.new_id(plan.name, now),
        jail=plan.name,
        action="remove" if plan.removal else "apply",
        status="preparing",
        created=now,
        deadline=now + timeout,
        timeout=timeout,
        applier_pid=os.getpid(),
        user=connection.user if connection else "",
        ssh_connection=environ.get("SSH_CONNECTION", ""),
        notes=[f"preflight: {n}" for n in notes],
    )
    state.set_deadline(timeout)
    try:
        txn = Journal.create(system.root, state, ops, backups, plan_text(plan))
    except OSError as exc:
        with contextlib.suppress(OSError):
            remove_tree(Journal(system.root, state.id).dir)
        raise Refused(f"nothing changed: {disk_full(exc, system.root)}could not write the journal: {exc}") from None
    faults.point("apply")
    armed = (0, 0)
    try:
        armed = watchdog.arm(txn.id)
        timer = arming.arm_systemd_timer(system.root, txn.id, timeout)
        state.status, (state.watchdog_pid, state.watchdog_start) = "applying", armed
        if timer:
            state.notes.append(timer)
        txn.write_state(state)  # the lock is ours: nobody else writes the state meanwhile
    except Exception as exc:  # noqa: BLE001 — no guard, no change
        _forget(txn, armed)
        why = f"{disk_full(exc, system.root)}could not arm the rollback watchdog: {exc}"
        raise Refused(f"nothing changed: {why}") from None
    relistening: list[Relistening] = []  # a reloaded sshd restarts while the steps after the reload run
    # the directories paths were created in, each fsynced once before the change is pending: a crash
    # before that finds each step's begin on disk, and the undo of a path never made is a no-op
    unsynced: set[str] = set()
    begun_to = 0  # the steps before this one have their begin in the log
    for index, op in enumerate(ops):
        faults.point("apply")
        try:
            if index >= begun_to:
                begun_to = steps.begun_with(ops, index)
                if begun_to - index > 1:  # a run of path creations: their begins in one fdatasync
                    txn.record_all("begin", list(range(index, begun_to)))
                else:
                    txn.record("begin", index, volatile=op["op"] in steps.VOLATILE)
            faults.point("apply")
            note = steps.do(op, system, contents.get(index), txn, index, relistening=relistening, unsynced=unsynced)
            if op["op"] == "reload" and over_ssh:
                # the old daemon has closed its sockets: every login sshd accepts from now on has the change
                state.new_login_after = session.boot_ticks()
            faults.point("apply")
            txn.record("done", index)
            if note:
                state.notes.append(note)  # saved with the pending state: one state write, not one per note
        except BaseException as exc:
            undone = rollback(txn, f"step {index} ({steps.describe(op)}) failed: {exc}")
            if not isinstance(exc, Exception):
                raise
            full = disk_full(exc, system.root)
            raise Refused(f"{full}{steps.describe(op)} failed: {exc}; {_outcome(undone)}") from None
    faults.point("apply")
    state.status = "pending"
    state.set_deadline(timeout)
    try:
        side_by_side([partial(files.fsync_dir, system.root, directory) for directory in sorted(unsynced)], at_once=8)
        txn.write_state(state)
    except OSError as exc:
        undone = rollback(txn, f"could not record the transaction as pending: {exc}")
        full = disk_full(exc, system.root)
        raise Refused(f"{full}could not record the transaction as pending: {exc}; {_outcome(undone)}") from None
    for daemon in relistening:
        daemon.wait()  # returned, the apply is served: a new login made at once is not refused by a restarting sshd
    return state


def _forget(txn: Journal, armed: tuple[int, int]) -> None:
    """Nothing was changed: stop the watchdog armed for it, if any, and remove the journal entry, so
    nothing is left that blocks the next apply."""
    pid, start = armed
    if running(pid, start):
        os.kill(pid, signal.SIGKILL)
    stop_timer(txn.root, txn.id)
    with contextlib.suppress(OSError):
        remove_tree(txn.dir)


def _outcome(state: TxnState) -> str:
    if state.status == "rolled-back":
        return "rolled back"
    return f"the rollback could not finish: {state.error}; free what is needed and run tui-jail recover"
