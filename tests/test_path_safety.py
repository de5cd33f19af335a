"""Issue 13's path defects, each against the path layer with real files, links and mounts in the private
namespace. Every attack first runs against the unprotected operation the old code used (a plain
chmod, util-linux `mount`, `os.path.ismount`, writing through the path string): that positive control
shows the attack lands, so the protected run cannot pass by missing it.

A "user" here is uid 4242 owning the links and directories it could have made; the race harness
(test_path_races.py) has a real non-root process make the swaps."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nsenv
import pytest
from txn_helpers import seedbox

from tui_jail.backends import mounts, sshd
from tui_jail.core.errors import Refused
from tui_jail.core.plan import make_plan, plan_removal
from tui_jail.paths import applied, binds, files, resolve
from tui_jail.paths.mountinfo import read_mountinfo
from tui_jail.paths.resolve import PathRefused
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import journal, steps, transaction
from tui_jail.txn.journal import Journal, Op, TxnState

USER = 4242
needs_private_ns = nsenv.needs_private_ns


def user_link(link: Path, target: str) -> None:
    """What the user does: their own symbolic link in place of `link`."""
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        link.rename(link.with_name(link.name + ".moved"))
    link.symlink_to(target)
    os.lchown(link, USER, USER)


def new_journal(root: Path, ops: list[Op], backups: dict[int, bytes] | None = None) -> Journal:
    now = time.time()
    state = TxnState(journal.new_id("t", now), "t", "apply", "applying", now, now + 60, 60)
    return Journal.create(root, state, ops, backups or {}, "")


def mode_of(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A root with a sticky world-writable /tmp, a root-only /etc/victim, and /src to bind."""
    base = tmp_path / "root"
    for name in ("etc", "src", "jail"):
        (base / name).mkdir(parents=True)
    (base / "tmp").mkdir(mode=0o1777)
    os.chmod(base / "tmp", 0o1777)
    (base / "etc/victim").write_text("secret\n")
    os.chmod(base / "etc/victim", 0o600)
    (base / "src/marker").write_text("src\n")
    yield base
    system = SystemRoot(base)
    for point in sorted(system.mounts(), key=lambda p: -p.count("/")):
        if point != "/":
            subprocess.run(["umount", str(system.host(point))], check=False)


# --- 1: the chain fix follows a link swapped in between plan and apply --------------------------------


def test_a_fix_never_follows_a_link_swapped_in_after_the_plan(root: Path) -> None:
    jails = root / "tmp/jails"
    jails.mkdir()
    os.chown(jails, USER, USER)
    os.chmod(jails, 0o777)
    fix: Op = {"op": "fix", "path": "/tmp/jails", "mode": 0o755, "uid": 0, "gid": 0}
    fix["was"] = {"mode": 0o777, "uid": USER, "gid": USER}
    system = SystemRoot(root)
    user_link(jails, "../etc/victim")
    # positive control: what the old fix did (lchown + chmod on the path) reaches the victim
    control = root / "etc/control"
    control.write_text("x")
    os.chmod(control, 0o600)
    user_link(root / "tmp/other", "../etc/control")
    os.lchown(root / "tmp/other", 0, 0)
    os.chmod(root / "tmp/other", 0o755)
    assert mode_of(control)[0] == 0o755

    with pytest.raises(PathRefused, match="symbolic link"):
        steps.do(fix, system, None)
    assert not steps.undo(fix, 0, system, new_journal(root, [fix]), {})  # and rollback gives nothing "back"
    assert mode_of(root / "etc/victim") == (0o600, 0, 0)


# --- 2: a mount point the jailed user can swap ----------------------------------------------------------


@needs_private_ns
def test_a_mount_point_in_a_directory_the_user_can_write_is_refused(root: Path) -> None:
    home = root / "home/media"
    (home / "incoming").mkdir(parents=True)
    os.chown(home, USER, USER)
    sentinel = root / "etc/sentinel"
    sentinel.mkdir()
    (sentinel / "keep").write_text("keep\n")
    system = SystemRoot(root)
    with pytest.raises(PathRefused, match="lies in a directory another user can write"):
        mounts.bind(system, "/src", "/home/media/incoming")  # refused even before any swap

    user_link(home / "incoming", "../../etc/sentinel")
    # positive control: util-linux mount resolves the swapped mount point and covers the sentinel
    subprocess.run(["mount", "--bind", str(root / "src"), str(home / "incoming")], check=True)
    assert sorted(os.listdir(sentinel)) == ["marker"]
    subprocess.run(["umount", str(sentinel)], check=True)

    os.chown(home, 0, 0)  # even where only root could have made the link, the mount point is never followed
    os.lchown(home / "incoming", 0, 0)
    with pytest.raises(PathRefused, match="is a symbolic link"):
        mounts.bind(system, "/src", "/home/media/incoming")
    assert sorted(os.listdir(sentinel)) == ["keep"]
    assert binds.current(root, "/etc/sentinel") is None


# --- 7: rollback leaves binds ---------------------------------------------------------------------------


def _bind(root: Path, target: str) -> tuple[Op, Journal]:
    op: Op = {"op": "bind", "source": "/src", "target": target, "readonly": False}
    txn = new_journal(root, [op])
    steps.do(op, SystemRoot(root), None, txn, 0)
    return op, txn


@needs_private_ns
@pytest.mark.parametrize("target", ["//jail", "/jail/"])
def test_rollback_unmounts_a_bind_named_with_extra_slashes(root: Path, target: str) -> None:
    op, txn = _bind(root, target)
    assert "/jail" in SystemRoot(root).mounts()
    # positive control: the old undo looked the target up by its spelling in the mount table
    assert target not in SystemRoot(root).mounts()
    assert steps.undo(op, 0, SystemRoot(root), txn, txn.mount_records())
    assert "/jail" not in SystemRoot(root).mounts()


@needs_private_ns
def test_rollback_unmounts_a_bind_whose_source_moved(root: Path) -> None:
    op, txn = _bind(root, "/jail")
    (root / "src").rename(root / "src-moved")
    # positive control: the old undo compared the target with the source at its path, gone now
    assert binds.object_of(root, "/src") is None
    assert steps.undo(op, 0, SystemRoot(root), txn, txn.mount_records())
    assert "/jail" not in SystemRoot(root).mounts()


@needs_private_ns
def test_rollback_leaves_a_mount_that_is_not_the_one_it_made(root: Path) -> None:
    op, txn = _bind(root, "/jail")
    subprocess.run(["umount", str(root / "jail")], check=True)
    (root / "other").mkdir()
    subprocess.run(["mount", "--bind", str(root / "other"), str(root / "jail")], check=True)
    assert not steps.undo(op, 0, SystemRoot(root), txn, txn.mount_records())
    assert "/jail" in SystemRoot(root).mounts()


@needs_private_ns
def test_rollback_does_not_call_a_covered_bind_undone(root: Path) -> None:
    op, txn = _bind(root, "/jail")
    (root / "other").mkdir()
    subprocess.run(["mount", "--bind", str(root / "other"), str(root / "jail")], check=True)
    # positive control: the mount at the top of the target is not ours, yet ours is still there beneath
    assert not binds.matches(binds.current(root, "/jail"), txn.mount_records()[0])
    assert sum(1 for e in read_mountinfo() if e.mount_point == str(root / "jail")) == 2
    with pytest.raises(mounts.MountError, match="covered by another mount"):
        steps.undo(op, 0, SystemRoot(root), txn, txn.mount_records())
    subprocess.run(["umount", str(root / "jail")], check=True)
    assert steps.undo(op, 0, SystemRoot(root), txn, txn.mount_records())
    assert "/jail" not in SystemRoot(root).mounts()


@needs_private_ns
def test_device_nodes_on_overlayfs_are_not_mount_points(tmp_path: Path) -> None:
    for name in ("lower", "upper", "work", "merged"):
        (tmp_path / name).mkdir()
    # lower and upper on different file systems: a file then reports its layer's device, a directory the overlay's
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(tmp_path / "lower")], check=True)
    (tmp_path / "lower/dev").mkdir()
    options = f"lowerdir={tmp_path / 'lower'},upperdir={tmp_path / 'upper'},workdir={tmp_path / 'work'}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(tmp_path / "merged")], check=True)
    try:
        root = tmp_path / "merged"
        node: Op = {"op": "mknod", "path": "/dev/null", "mode": 0o666, "uid": 0, "gid": 0, "major": 1, "minor": 3}
        steps.do(node, SystemRoot(root), None)
        assert os.path.ismount(root / "dev/null")  # positive control: what the old undo asked
        assert steps.undo(node, 0, SystemRoot(root), new_journal(root, [node]), {})
        assert not (root / "dev/null").exists()
    finally:
        subprocess.run(["umount", str(tmp_path / "merged")], check=True)
        subprocess.run(["umount", str(tmp_path / "lower")], check=True)


# --- 10: an immutable fstab -----------------------------------------------------------------------------


@needs_private_ns
def test_an_immutable_fstab_fails_the_apply_and_rolls_back_cleanly(sample_root: Path) -> None:
    fstab = sample_root / "etc/fstab"
    system = SystemRoot(sample_root)
    before = fstab.read_bytes()
    subprocess.run(["chattr", "+i", str(fstab)], check=True)
    try:
        with pytest.raises(OSError):  # positive control: nothing can rewrite it, a rollback neither
            files.atomic_write(sample_root, "/etc/fstab", before, 0o644, 0, 0)
        with pytest.raises(Refused, match="rolled back"):
            transaction.apply(make_plan(seedbox(), system), system, timeout=30, environ={})
    finally:
        subprocess.run(["chattr", "-i", str(fstab)], check=True)
    (txn,) = journal.transactions(sample_root)
    assert txn.state().status == "rolled-back", txn.state().error
    assert fstab.read_bytes() == before
    assert not journal.unfinished(sample_root)  # nothing blocks the next apply
    for point in sorted(system.mounts(), key=lambda p: -p.count("/")):
        assert point == "/", f"{point} left mounted"


# --- 12: --root is contained ----------------------------------------------------------------------------


@needs_private_ns
def test_an_absolute_link_in_the_root_never_binds_the_host(root: Path, tmp_path: Path) -> None:
    host_dir = tmp_path / "host-only"
    host_dir.mkdir()
    (host_dir / "host-secret").write_text("host\n")
    (root / "srv").mkdir()
    (root / "srv/x").symlink_to(str(host_dir))  # root's own link, as an admin might have made
    # positive control: util-linux follows it to the host
    subprocess.run(["mount", "--bind", str(root / "srv/x"), str(root / "jail")], check=True)
    assert os.listdir(root / "jail") == ["host-secret"]
    subprocess.run(["umount", str(root / "jail")], check=True)

    with pytest.raises(FileNotFoundError):  # resolved inside the root, where it names nothing
        mounts.bind(SystemRoot(root), "/srv/x", "/jail")
    assert "/jail" not in SystemRoot(root).mounts()
    inside = root / host_dir.relative_to("/")
    inside.mkdir(parents=True)
    (inside / "inside").write_text("inside\n")
    mounts.bind(SystemRoot(root), "/srv/x", "/jail")
    assert os.listdir(root / "jail") == ["inside"]


def test_a_symlinked_etc_is_followed_inside_the_root_only(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside/etc"
    outside.mkdir(parents=True)
    (outside / "fstab").write_text("host fstab\n")
    (root / "etc").rename(root / "etc.real")
    (root / "etc").symlink_to(str(outside))
    with open(root / "etc/fstab", "rb") as control:  # positive control: the path string leads out of the root
        assert control.read() == b"host fstab\n"
    with pytest.raises(FileNotFoundError):
        files.atomic_write(root, "/etc/fstab", b"jail fstab\n", 0o644, 0, 0)
    assert (outside / "fstab").read_text() == "host fstab\n"


@needs_private_ns
def test_only_the_roots_own_sshd_is_signalled(root: Path, tmp_path: Path) -> None:
    """DIR/run/sshd.pid holding another sshd's pid: that sshd is not DIR's (its config is not DIR's)."""
    nsenv.private_world(tmp_path / "world")
    config = Path("/etc/ssh/sshd_config").read_text()  # the namespace's scratch copy
    other = tmp_path / "other_sshd_config"
    other.write_text(config)
    (root / "etc/ssh").mkdir()
    (root / "etc/ssh/sshd_config").write_text(config)
    (root / "run").mkdir()
    with nsenv.SshServer(other, nsenv.free_port()) as server:
        (root / "run/sshd.pid").write_text(f"{server.pid}\n")
        # positive control: the old test (the pid file names a process called sshd) takes it for DIR's
        assert Path(f"/proc/{server.pid}/comm").read_text().strip() == "sshd"
        assert sshd.running_sshd(SystemRoot(root)) is None
        assert "not running" in steps.reload_sshd(SystemRoot(root))
        assert server.running()
    with nsenv.SshServer(root / "etc/ssh/sshd_config", nsenv.free_port()) as own:
        (root / "run/sshd.pid").write_text(f"{own.pid}\n")
        assert sshd.running_sshd(SystemRoot(root)) is not None


@pytest.mark.parametrize(
    ("argv", "config"),
    [
        (["sshd", "-D"], "/etc/ssh/sshd_config"),
        (["sshd", "-D", "-f", "/x/c"], "/x/c"),
        (["sshd", "-Df/x/c"], "/x/c"),
        (["sshd", "-De", "-o", "Port=2", "-f", "rel"], "rel"),
        (["sshd", "-o", "-f", "-D"], "/etc/ssh/sshd_config"),
    ],
)
def test_the_config_an_sshd_was_started_with(argv: list[str], config: str) -> None:
    assert sshd.config_argument(argv) == config


# --- the applied record ---------------------------------------------------------------------------------


@needs_private_ns
def test_an_apply_records_the_jails_live_binds_and_a_rollback_restores_the_record(sample_root: Path) -> None:
    system = SystemRoot(sample_root)
    state = transaction.apply(make_plan(seedbox(), system), system, timeout=60, environ={})
    recorded = applied.read_applied_mounts(sample_root, "rclone-sftp")
    assert sorted(m.target for m in recorded) == sorted(p for p in system.mounts() if p != "/")
    assert all(m.is_live(sample_root) for m in recorded)
    assert {m.readonly for m in recorded} == {bool(system.mounts()[m.target].readonly) for m in recorded}
    transaction.rollback_txn(sample_root, state.id, "test")
    assert applied.read_applied_mounts(sample_root, "rclone-sftp") == []
    assert not any(m.is_live(sample_root) for m in recorded)
    assert not (sample_root / applied.record_path("rclone-sftp").lstrip("/")).exists()


@needs_private_ns
def test_a_remove_takes_down_the_recorded_mounts_and_its_rollback_records_them_again(sample_root: Path) -> None:
    system = SystemRoot(sample_root)
    state = transaction.apply(make_plan(seedbox(), system), system, timeout=60, environ={})
    transaction.confirm(sample_root, state.id, {})
    made = applied.read_applied_mounts(sample_root, "rclone-sftp")
    removal = transaction.apply(plan_removal("rclone-sftp", system, seedbox()), system, timeout=60, environ={})
    assert [p for p in system.mounts() if p != "/"] == []
    assert applied.read_applied_mounts(sample_root, "rclone-sftp") == []
    transaction.rollback_txn(sample_root, removal.id, "test")
    again = applied.read_applied_mounts(sample_root, "rclone-sftp")
    assert [m.target for m in again] == [m.target for m in made]
    assert all(m.is_live(sample_root) for m in again)
    assert not any(m.is_live(sample_root) for m in made)  # the old mounts are gone: the record follows the new


def test_the_journal_appends_to_the_log_it_opened_never_through_a_link_put_at_its_name(tmp_path: Path) -> None:
    """The journal holds its log open (files.Appender: resolved once, not per line). Once open, a link
    put at the log's name — by someone who could rename in the journal's directory — is never written
    through: the lines go on into the file opened. Control: an append by the path string lands in the
    link's target."""
    log, victim = tmp_path / "log", tmp_path / "shadow"
    victim.write_text("root:x:0:\n")
    appender = files.Appender(tmp_path, "/log")
    appender.append("begin 0")
    log.rename(tmp_path / "log.opened")
    log.symlink_to(victim)
    with open(log, "a") as unprotected:  # the positive control: the old way, by name, follows the link
        unprotected.write("begin 1\n")
    assert victim.read_text() == "root:x:0:\nbegin 1\n"
    victim.write_text("root:x:0:\n")
    appender.append("begin 2", sync=False)
    appender.append("undo 2")
    appender.close()
    assert victim.read_text() == "root:x:0:\n"
    assert (tmp_path / "log.opened").read_text() == "begin 0\nbegin 2\nundo 2\n"
    with pytest.raises(OSError):  # and a link already at the name when it is opened is refused
        files.Appender(tmp_path, "/log")


def test_the_boot_id_a_mount_is_recorded_with_is_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bind and unmount records or compares the boot id: read from /proc once, not per mount (a
    process does not outlive its boot)."""
    from tui_jail.paths import kernel

    reads: list[str] = []

    def counted(path: str, *args: object, **kwargs: object) -> object:
        reads.append(path)
        return open(path, *args, **kwargs)  # the caller closes it

    monkeypatch.setattr(kernel, "_boot_id", None)
    monkeypatch.setattr(kernel, "open", counted, raising=False)
    ids = {kernel.boot_id() for _ in range(50)}
    assert ids == {Path("/proc/sys/kernel/random/boot_id").read_text().strip()}
    assert reads == ["/proc/sys/kernel/random/boot_id"]


def test_a_path_made_for_root_is_made_with_its_mode_and_one_for_a_user_is_given_away_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A jail's mount points are root's: made with their final mode, no chown or chmod after (each was a
    journalled inode update per mount point). Where the umask takes bits away, the mode is set after
    all. A path for a user stays root's and 0700 until it is recorded (`made`), then is given away."""
    changes: list[str] = []
    chown, chmod = os.chown, os.chmod
    monkeypatch.setattr(os, "chown", lambda *a, **k: changes.append("chown") or chown(*a, **k))
    monkeypatch.setattr(os, "chmod", lambda *a, **k: changes.append("chmod") or chmod(*a, **k))
    seen: list[tuple[int, int]] = []

    def made(st: os.stat_result) -> None:
        seen.append((st.st_uid, stat.S_IMODE(st.st_mode)))

    old = os.umask(0o022)
    try:
        files.create_path(tmp_path, "/point", "dir", 0o755, 0, 0, made=made)
        files.create_path(tmp_path, "/empty", "file", 0o644, 0, 0)
        assert changes == [] and seen == [(0, 0o755)]
        os.umask(0o077)
        files.create_path(tmp_path, "/narrowed", "dir", 0o755, 0, 0)
        assert changes == ["chown", "chmod"]
        changes.clear()
        files.create_path(tmp_path, "/theirs", "dir", 0o750, USER, USER, made=made)
        assert changes == ["chown", "chmod"] and seen[-1] == (0, 0o700)
    finally:
        os.umask(old)
    for name, want in (("point", (0, 0, 0o755)), ("empty", (0, 0, 0o644)), ("narrowed", (0, 0, 0o755))):
        st = (tmp_path / name).stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == want, name
    st = (tmp_path / "theirs").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (USER, USER, 0o750)


def test_a_removal_holds_no_descriptor_of_what_it_removes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path layer removes a directory or file with no descriptor of it open (its parent's only): a
    held one made the removed inode an orphan until closed, a second journalled update per mount point
    of a rollback. Control: the walk does hold one just before."""
    held_at_removal: list[list[str]] = []

    def open_on(path: Path) -> list[str]:
        links = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                links.append(os.readlink(f"/proc/self/fd/{fd}"))
        return [link for link in links if link == str(path)]

    for name in ("rmdir", "unlink"):
        real = getattr(os, name)

        def watched(path: str, *args: object, real: Any = real, **kwargs: Any) -> None:
            held_at_removal.append(open_on(tmp_path / path))
            real(path, *args, **kwargs)

        monkeypatch.setattr(os, name, watched)
    (tmp_path / "point").mkdir()
    (tmp_path / "file").write_bytes(b"")
    with resolve.resolved(tmp_path, "/point", follow_last=False) as entry:
        assert open_on(tmp_path / "point")  # the control: the walk holds the entry open
        files.remove_entry(entry)
    assert files.remove_file(tmp_path, "/file")
    assert held_at_removal == [[], []]
    assert not (tmp_path / "point").exists() and not (tmp_path / "file").exists()
