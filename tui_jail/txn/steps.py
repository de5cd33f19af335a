"""Doing and undoing one journalled step. Each undo looks at the live system, so it is right whether
its step never started, half-ran or completed, and running it twice changes nothing.

A step (`journal.Op`) is a small dict: `op` is one of mkdir, touch, mknod, fix, remove (a path the
jail made and its spec dropped: kind, mode, owner and device numbers as made), write, bind, remount,
umount, check (the mounts made so far), reload; paths are as seen inside the root. A
`write` step's old content lives in the journal's backup; its new content is handed to `do` by the
applying process, except the jail's applied mounts record (`mounts_of`), made from what the mount
steps journalled. Every change goes through the path layer (`tui_jail.paths`); a mount step
journals the identity of its mount before acting, and its undo touches only that mount.
"""

from __future__ import annotations

import posixpath
import stat

from tui_jail.backends import mounts
from tui_jail.backends.sshd_pid import pidfile_process
from tui_jail.core.fstab import FSTAB
from tui_jail.paths import binds, files
from tui_jail.paths.binds import Identity
from tui_jail.paths.resolve import Entry, resolved
from tui_jail.paths.system import SystemRoot
from tui_jail.txn.journal import Journal, Op

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from tui_jail.backends.sshd import Relistening  # loaded only when sshd is involved


def describe(op: Op) -> str:
    """One plain line for `recover` and `status`."""
    kind = op["op"]
    if kind == "write":
        if op.get("delete"):
            return f"deleted {op['path']}"
        return f"{'rewrote' if op['before'] else 'created'} {op['path']}"
    if kind in CREATED:
        return f"created {_KIND_NAMES[_KINDS[kind]]} {op['path']}"
    if kind == "fix":
        return f"changed owner/mode of {op['path']} to {op['uid']}:{op['gid']} {op['mode']:04o}"
    if kind == "remove":
        return f"removed {_KIND_NAMES[op['kind']]} {op['path']} (the jail made it; the spec dropped it)"
    if kind == "bind":
        return f"bind-mounted {op['source']} at {op['target']}"
    if kind == "remount":
        return f"remounted {op['target']} {'read-only' if op['readonly'] else 'read-write'}"
    if kind == "umount":
        return f"unmounted {op['target']}"
    if kind == "check":
        count = len(op["mounts"])
        return f"checked that {count} mount{'s were' if count != 1 else ' was'} in place"
    return "reloaded sshd"


def undo_text(op: Op) -> str:
    """What undoing `op` does, as a plain phrase; empty for an op that changed nothing."""
    kind = op["op"]
    if kind == "write":
        return f"restore {op['path']} from the backup" if op["before"] else f"delete {op['path']}"
    if kind == "mkdir" and op.get("identity"):
        return f"remove {op['path']} if it is still the empty directory made"
    if kind in ("mkdir", "touch", "mknod"):
        still = {"mkdir": "empty", "touch": "an empty file", "mknod": "a device node"}[kind]
        return f"remove {op['path']} if it is still {still}"
    if kind == "remove":
        what = f"{_KIND_NAMES[op['kind']]} {op['path']}"
        return f"re-create {what} ({op['uid']}:{op['gid']} {op['mode']:04o}) unless it exists"
    if kind == "fix":
        was = op["was"]
        return f"give {op['path']} back {was['uid']}:{was['gid']} {was['mode']:04o}"
    if kind == "bind":
        return f"unmount {op['target']}"
    if kind == "remount":
        return f"remount {op['target']} {'read-write' if op['readonly'] else 'read-only'} again"
    if kind == "umount":
        if op.get("source"):
            return f"mount {op['source']} at {op['target']} again"
        return f"leave {op['target']} unmounted (where it was mounted from is unknown)"
    if kind == "check":
        return ""  # a check changed nothing: there is nothing to undo
    return "reload sshd once the files are restored"


# --- do --------------------------------------------------------------------------------------------

_KINDS = {"mkdir": "dir", "touch": "file", "mknod": "device"}
CREATED = frozenset(_KINDS)  # steps that create a path, each undone by removing it while it is as made
_KIND_NAMES = {"dir": "directory", "file": "empty file (mount point)", "device": "device node"}


def begun_with(ops: list[Op], index: int) -> int:
    """One past the last step whose `begin` is recorded together with step `index`'s: the run of path
    creations it starts (a jail's mount points), else itself alone. A begin on disk before its step
    ran is what a crash between a begin and its step leaves already: the undo of a path never
    created finds nothing of the step's to remove."""
    end = index + 1
    if ops[index]["op"] in CREATED:
        while end < len(ops) and ops[end]["op"] in CREATED:
            end += 1
    return end


# steps whose effect a crash of the machine undoes by itself: mounts live in the running kernel, a check
# changes nothing, the sshd reload changes only the running daemon (at boot sshd reads what is on disk)
VOLATILE = frozenset({"bind", "remount", "umount", "check", "reload"})


def do(
    op: Op,
    system: SystemRoot,
    after: bytes | None,
    journal: Journal | None = None,
    index: int = -1,
    *,
    relistening: list[Relistening] | None = None,
    unsynced: set[str] | None = None,
) -> str:
    """Carry out step `index` of `journal`; returns a note for the journal ('' for none). A reload
    appends the reloaded daemon to `relistening`, if given, instead of waiting until it listens again
    (see `sshd.reload_sshd`); a path created adds its parent to `unsynced`, if given, instead of
    fsyncing it (the caller fsyncs each once: a jail's mount points share one)."""
    kind = op["op"]
    root = system.dir

    def record(identity: Identity) -> None:
        if journal is not None:
            journal.record_mount(index, identity)

    if kind in _KINDS:
        device = (op["major"], op["minor"]) if kind == "mknod" else None
        made = None
        if op.get("identity") and journal is not None:
            made = lambda st: journal.record_made(index, {"dev": st.st_dev, "ino": st.st_ino})  # noqa: E731
        files.create_path(
            root, op["path"], _KINDS[kind], op["mode"], op["uid"], op["gid"], device, sync=unsynced is None, made=made
        )
        if unsynced is not None:
            unsynced.add(posixpath.dirname(op["path"]))
    elif kind == "fix":
        files.change_owner_mode(root, op["path"], op["uid"], op["gid"], op["mode"])
    elif kind == "remove":
        return _remove_as_made(system, op)
    elif kind == "write" and op.get("delete"):
        files.remove_file(root, op["path"])
    elif kind == "write":
        if op.get("mounts_of"):
            assert journal is not None
            after = _applied_record(op, index, journal, system)
        assert after is not None
        files.atomic_write(root, op["path"], after, op["mode"], op["uid"], op["gid"])
        if op["path"] == FSTAB:
            return reload_fstab_units(system)
    elif kind == "bind":
        mounts.bind(system, op["source"], op["target"], readonly=bool(op.get("readonly")), record=record)
    elif kind == "remount":
        mounts.remount(system, op["target"], op["readonly"], record=record)
    elif kind == "umount":
        if not mounts.umount(system, op["target"], expect=op.get("identity"), record=record):
            return f"{op['target']} was not mounted as recorded: left alone"
    elif kind == "check":
        mounts.check(system, [mounts.Expected(**want) for want in op["mounts"]])
    elif kind == "reload":
        return reload_sshd(system, relistening=relistening)
    return ""


def _applied_record(op: Op, index: int, journal: Journal, system: SystemRoot) -> bytes:
    """The jail's live binds after this transaction's mount steps, and the directories of its root's
    chain it created (those still there): the record it found, updated."""
    from tui_jail.paths import applied  # an apply's step (and one kind of undo): a rollback loads it rarely

    backup = journal.backup(index) if op["before"] else None
    before = applied.parse(backup) if backup is not None else []
    ops, done, identities = journal.ops(), journal.done(), journal.mount_records()
    made = [(ops[i], identities.get(i)) for i in range(index) if i in done]
    # a first apply knows what it created; a record from before chains were recorded does not
    chain = applied.parse_chain(backup) if backup is not None else []
    if chain is not None:
        chain += [step["path"] for step, _ in made if step.get("chain")]
        chain = [path for path in set(chain) if files.stat_of(system.dir, path, follow_last=False) is not None]
    return applied.render(applied.after_steps(before, made), chain)


SSHD_NOT_RUNNING = "sshd is not running: nothing to reload"


def reload_sshd(system: SystemRoot, *, relistening: list[Relistening] | None = None) -> str:
    # nothing to reload when no sshd runs: ask `sshd -T` for a PidFile only when the config sets one
    drop_ins = [f"/etc/ssh/sshd_config.d/{name}" for name in system.listdir("/etc/ssh/sshd_config.d") or []]
    configs = [system.read_text(p) or "" for p in ["/etc/ssh/sshd_config", *drop_ins]]
    named = any("pidfile" in text.lower() and _sets_pidfile(text) for text in configs)
    if not named and pidfile_process(system, "/run/sshd.pid") is None:
        return SSHD_NOT_RUNNING  # known without loading the sshd backend
    from tui_jail.backends import sshd  # loaded only when an sshd may run

    pidfile = sshd.configured_pidfile(system) if named else "/run/sshd.pid"
    if sshd.running_sshd(system, pidfile) is None:
        return SSHD_NOT_RUNNING
    return sshd.reload_sshd(system, pidfile, relistening=relistening)


def _sets_pidfile(text: str) -> bool:
    """A PidFile line, not a comment: Debian's stock sshd_config has `#PidFile /run/sshd.pid`, which would
    cost every apply an `sshd -T` run before its reload."""
    from tui_jail.core.sshd_config import iter_lines  # only for a config that mentions a PidFile at all

    return any(line.keyword == "pidfile" for line in iter_lines(text, "sshd_config"))


def reload_fstab_units(system: SystemRoot) -> str:
    """Where systemd runs the root, after every change to fstab: it generates mount units from the
    file and keeps the old ones until reloaded (mounting a stale entry at the next start job, and
    findmnt --verify warning meanwhile). '' elsewhere."""
    from tui_jail.backends import systemd  # loaded only when fstab changes

    return systemd.daemon_reload(system.dir)


# --- undo ------------------------------------------------------------------------------------------


def undo(
    op: Op,
    index: int,
    system: SystemRoot,
    journal: Journal,
    identities: dict[int, Identity],
    *,
    unsynced: set[str] | None = None,
) -> bool:
    """Undo one step, whatever state it reached; `identities` are the journal's mount records.
    Returns whether it changed anything. Raises OSError/MountError when it cannot. A path the step
    created and the undo removes adds its parent to `unsynced`, if given, instead of fsyncing it
    (the caller fsyncs each once, before it records those undos)."""
    kind = op["op"]
    root = system.dir
    if kind == "write":
        files.remove_stale_temps(root, op["path"])  # the applier's, when it was killed half-way through writing
        if op["before"] is None:
            return files.remove_file(root, op["path"])
        return _restore(op, index, system, journal)
    if kind in _KINDS and op.get("identity"):
        return _remove_made_dir(system, op, journal.made_records().get(index))
    if kind in _KINDS:
        return _remove_if_ours(system, op, unsynced)
    if kind == "remove":
        return _make_again(system, op)
    if kind == "fix":
        was, made = op["was"], {key: op[key] for key in ("mode", "uid", "gid")}
        return files.change_owner_mode(root, op["path"], was["uid"], was["gid"], was["mode"], only_if=made)
    if kind in ("check", "reload"):
        return False  # a check changes nothing; sshd is reloaded once the files are back
    return _undo_mount(op, system, identities.get(index))


def _restore(op: Op, index: int, system: SystemRoot, journal: Journal) -> bool:
    """Put a rewritten file back, unless it is still as it was (a write that failed did nothing,
    and rewriting an immutable file would only fail)."""
    was, backup = op["before"], journal.backup(index)
    with resolved(system.dir, op["path"], follow_last=False) as entry:
        st = entry.stat
        same = st is not None and {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid} == was
    if same and files.read_bytes(system.dir, op["path"]) == backup:
        return False
    files.atomic_write(system.dir, op["path"], backup, was["mode"], was["uid"], was["gid"])
    return True


def _undo_mount(op: Op, system: SystemRoot, identity: Identity | None) -> bool:
    """Only the very mount the step journalled: no identity, the step never reached the kernel."""
    kind, target = op["op"], op["target"]
    if identity is None:
        return False
    if kind == "bind":
        if mounts.umount(system, target, expect=identity):
            return True
        if binds.still_mounted(identity):  # not at the top of its target: something was mounted over it
            raise mounts.MountError(f"the bind this transaction made at {target} is covered by another mount")
        return False
    if kind == "remount":
        if not mounts.remount(system, target, op["was"], expect=identity):
            return False
        mounts.check(system, [mounts.Expected(target, readonly=op["was"])])
        return True
    # umount: mount the source again, if it is still the object that was mounted and nothing is there now
    source = op.get("source")
    if not source or mounts.is_mount_point(system, target):
        return False
    with resolved(system.dir, source) as entry:
        if entry.stat is None or (entry.stat.st_dev, entry.stat.st_ino) != (
            identity["source_dev"],
            identity["source_ino"],
        ):
            raise mounts.MountError(f"{source} is not what was mounted at {target} any more; not mounting it again")
    remade = mounts.bind(system, source, target, readonly=op["readonly"])
    mounts.check(system, [mounts.Expected(target, source, op["readonly"])])
    if op.get("mounts_of"):  # the jail's record (restored before this undo) names the mount that is back
        from tui_jail.paths import applied

        applied.replace_identity(system.dir, op["mounts_of"], target, remade)
    return True


def _remove_if_ours(system: SystemRoot, op: Op, unsynced: set[str] | None) -> bool:
    """Remove what the step created, and only while it is still as created (empty, not mounted on).
    One resolution: the mount check asks the descriptor the walk left open. A directory on the way
    missing: the step, begun with others before it (`begun_with`), never ran."""
    try:
        with resolved(system.dir, op["path"], follow_last=False) as entry:
            return _remove_entry_if_ours(entry, op, unsynced)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _remove_entry_if_ours(entry: Entry, op: Op, unsynced: set[str] | None) -> bool:
    if entry.fd is None:
        return False
    st = entry.stat
    assert st is not None
    if binds.mounted_on(entry):
        raise OSError(f"{op['path']} is still a mount point; not removing it")
    expected = {"mkdir": stat.S_ISDIR, "touch": stat.S_ISREG, "mknod": stat.S_ISCHR}[op["op"]]
    if not expected(st.st_mode) or (op["op"] == "touch" and st.st_size != 0):
        raise OSError(f"{op['path']} was replaced by something else; left in place")
    if op["op"] == "mkdir" and not files.is_empty_dir(entry):
        raise OSError(f"{op['path']} is not empty any more; left in place")
    files.remove_entry(entry, sync=unsynced is None)
    if unsynced is not None:
        unsynced.add(posixpath.dirname(op["path"]))
    return True


class LeftInPlace(OSError):
    """An undo that found what its step made changed by someone else, and left it: a note of the
    rollback, not a failure (nothing of the transaction's own is left to undo)."""


def _remove_made_dir(system: SystemRoot, op: Op, identity: dict[str, int] | None) -> bool:
    """Undo of a directory made outside the jail (a bind source): removed only while it is that very
    directory (device, inode), empty and not mounted on; never through a link."""
    path = op["path"]
    if identity is None:  # never made, or the machine crashed before its identity was on disk
        if files.stat_of(system.dir, path, follow_last=False) is None:
            return False
        raise LeftInPlace(f"{path}: not known to be the directory this transaction made; left in place")
    why = files.remove_made_dir(
        system.dir, path, identity["dev"], identity["ino"], mounted=lambda: mounts.is_mount_point(system, path)
    )
    if why:
        raise LeftInPlace(why)
    return True


def _device(op: Op) -> tuple[int, int] | None:
    return (op["major"], op["minor"]) if op["kind"] == "device" else None


def _remove_as_made(system: SystemRoot, op: Op) -> str:
    """Remove a path the jail made, only while it is still as made and nothing is mounted on it."""
    path = op["path"]
    with resolved(system.dir, path, follow_last=False) as entry:
        if entry.fd is None:
            return f"{path} was gone already"
        if binds.is_mount_point(system.dir, path):
            return f"{path} is a mount point: left in place"
        if why := files.as_made(entry, op):
            return f"{path} is {why}: left in place"
        files.remove_entry(entry)
    return ""


def _make_again(system: SystemRoot, op: Op) -> bool:
    """Undo of a removal: the path as it was made, unless something is there (the removal left it, or
    this undo ran before)."""
    with resolved(system.dir, op["path"], follow_last=False) as entry:
        if entry.stat is not None:
            return False
        files.create(entry, op["kind"], op["mode"], op["uid"], op["gid"], _device(op))
    return True
