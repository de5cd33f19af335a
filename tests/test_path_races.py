"""The race harness: a hostile non-root user swaps path components while root applies and rolls back.

The jail binds a directory from the jailed user's own home (`/home/media/share`), so that user can
rename things on the transaction's paths. The apply (or the rollback) runs in a child with the fault
hook set to stop it at the K-th point where the path layer has resolved a path and is about to act
on it (`path@K:stop`); while it is stopped, a child running as the user (setuid) replaces one of the
components they can write with a link to a sentinel — a root-only file or directory inside the root,
or a directory outside it reached by `..`. After the run (and a rollback) no sentinel's mode, owner or
content changed, and no mount is left, or was ever made, outside the jail tree. Hypothesis chooses the
stop, the component and the sentinel. The positive control first runs util-linux `mount` on the same
swap and sees the sentinel exposed in the jail. (An apply of this spec passes 21 such points, a
rollback 15: the stops drawn cover them and a few beyond, where the run goes untouched.)
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nsenv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from txn_helpers import wait_watchdogs_gone

from tui_jail.core.plan import make_plan
from tui_jail.core.spec import parse_spec
from tui_jail.core.yamlio import load_yaml_text
from tui_jail.paths import faults
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import journal, transaction

pytestmark = [
    pytest.mark.races,
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]

MEDIA = 1001  # the sample root's media user
JAIL = "/chroot/races"
SPEC = f"""
version: 1
name: races
kind: sftp
root: {JAIL}
mounts:
  - {{source: /home/media/share, target: share}}
  - {{source: /tank/incomingmovies, target: movies, readonly: true}}
devices: [null]
sftp: {{users: [media], addresses: [203.0.113.7]}}
"""
# where a swapped-in link points, from a component two levels below the root (home/media/X, tank/X/Y)
SENTINELS = {
    "dir inside the root": "../../etc/sentinel-dir",
    "file inside the root": "../../etc/sentinel-file",
    "dir outside the root": "../../../outside-dir",
}


@pytest.fixture
def arena(sample_root: Path) -> Iterator[Path]:
    yield sample_root
    _clean(sample_root)


def _prepare(root: Path) -> None:
    share = root / "home/media/share"
    share.mkdir()
    (share / "upload").write_text("media's\n")
    os.chown(share, MEDIA, MEDIA)
    (root / "etc/sentinel-dir").mkdir(mode=0o700)
    (root / "etc/sentinel-dir/secret").write_text("root only\n")
    (root / "etc/sentinel-file").write_text("root only\n")
    os.chmod(root / "etc/sentinel-file", 0o600)
    outside = root.parent / "outside-dir"
    outside.mkdir(mode=0o700, exist_ok=True)
    (outside / "secret").write_text("host only\n")


def _sentinels(root: Path) -> dict[str, Any]:
    found = {}
    for path in (root / "etc/sentinel-dir", root / "etc/sentinel-file", root.parent / "outside-dir"):
        for item in [path, *sorted(path.iterdir())] if path.is_dir() else [path]:
            st_ = os.lstat(item)
            content = item.read_bytes() if item.is_file() else None
            found[str(item)] = (stat.S_IFMT(st_.st_mode), stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid, content)
    return found


def _components(root: Path) -> list[str]:
    """Entries the user can rename: those in directories the user owns, on the transaction's side of the tree."""
    found = []
    for top in ("home/media", "tank/incomingmovies"):
        for dirpath, dirnames, filenames in os.walk(root / top):
            if os.lstat(dirpath).st_uid == MEDIA:
                found += [os.path.relpath(os.path.join(dirpath, n), root) for n in [*dirnames, *filenames]]
    return sorted(found)


def _as_user(action: Any) -> None:
    """Run `action()` in a child that is the user, not root."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover — the child
        code = 1
        try:
            os.setgroups([])
            os.setgid(MEDIA)
            os.setuid(MEDIA)
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the user's swap failed"


def _swap(root: Path, component: str, sentinel: str) -> None:
    """The user's move: the component renamed away, a link to the sentinel in its place."""
    path = root / component
    target = "../" * (component.count("/") - 2) + sentinel  # SENTINELS are written for two levels down

    # the directory opened by root and handed over: the user owns it, but cannot walk down to it
    # through pytest's 0700 temporary directories
    parent = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)

    def swap() -> None:
        os.rename(path.name, path.name + ".away", src_dir_fd=parent, dst_dir_fd=parent)
        os.symlink(target, path.name, dir_fd=parent)

    try:
        _as_user(swap)
    finally:
        os.close(parent)


def _run_stopped(fault: str, work: Any, at_stop: Any) -> bool:
    """Run `work()` in a child that stops at `fault`; call `at_stop()` while it is stopped. True when
    it did stop there (False: the run had fewer points and finished untouched)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover — the child
        os.environ[faults.ENV] = fault
        try:
            work()
        except Exception:  # noqa: BLE001 — a refused or failed run is an outcome, judged by the parent
            pass
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, os.WUNTRACED)
    stopped = os.WIFSTOPPED(status)
    if stopped:
        at_stop()
        os.kill(pid, signal.SIGCONT)
        os.waitpid(pid, 0)
    return stopped


def _apply(root: Path) -> None:
    system = SystemRoot(root)
    transaction.apply(make_plan(parse_spec(load_yaml_text(SPEC)), system), system, timeout=300, environ={})


def _finish(root: Path) -> None:
    """Whatever the run left pending or failed, rolled back (as the watchdog or recover would)."""
    for txn in journal.unfinished(root):
        transaction.rollback_txn(root, txn.id, "race harness")


def _assert_safe(root: Path, before: dict[str, Any]) -> None:
    assert _sentinels(root) == before
    for point, entry in SystemRoot(root.parent).mounts().items():
        if point == "/":
            continue
        assert point.startswith(f"/root{JAIL}/"), f"a mount outside the jail tree: {point}"
        assert "sentinel" not in entry.fs_root and "outside-dir" not in entry.fs_root, f"{point} shows {entry.fs_root}"


def _clean(root: Path) -> None:
    _finish(root)
    wait_watchdogs_gone(root)
    system = SystemRoot(root.parent)
    for point in sorted(system.mounts(), key=lambda p: -p.count("/")):
        if point != "/":
            subprocess.run(["umount", str(system.host(point))], check=False)


def test_positive_control_util_linux_mount_follows_the_users_swap(arena: Path) -> None:
    _prepare(arena)
    target = arena / "chroot/control"
    target.mkdir(parents=True)
    _swap(arena, "home/media/share", SENTINELS["dir inside the root"])
    subprocess.run(["mount", "--bind", str(arena / "home/media/share"), str(target)], check=True)
    try:
        assert os.listdir(target) == ["secret"]  # root's secret, now inside the jail
    finally:
        subprocess.run(["umount", str(target)], check=True)


_fresh = {"suppress_health_check": [HealthCheck.function_scoped_fixture], "deadline": None, "database": None}


@settings(max_examples=40, **_fresh)  # type: ignore[arg-type]
@given(
    phase=st.sampled_from(["apply", "rollback"]),
    stop=st.integers(0, 24),
    pick=st.integers(0, 1000),
    sentinel=st.sampled_from(sorted(SENTINELS)),
)
def test_a_swap_at_any_stop_of_an_apply_or_a_rollback_changes_no_sentinel(
    sample_root: Path, tmp_path_factory: pytest.TempPathFactory, phase: str, stop: int, pick: int, sentinel: str
) -> None:
    _race(_fresh_root(sample_root, tmp_path_factory), phase, stop, pick, sentinel)


def _race(root: Path, phase: str, stop: int, pick: int, sentinel: str) -> None:
    """One example: the apply (or the rollback of an applied jail) stopped at `stop`, the user's swap
    of the `pick`-th component they can write, then every check, and everything rolled back."""
    try:
        _prepare(root)
        before = _sentinels(root)
        if phase == "rollback":
            _apply(root)
        pending = journal.unfinished(root)

        def work() -> None:
            if pending:
                transaction.rollback_txn(root, pending[0].id, "race")
            else:
                _apply(root)

        def attack() -> None:
            components = _components(root)
            _swap(root, components[pick % len(components)], SENTINELS[sentinel])

        _run_stopped(f"path@{stop}:stop", work, attack)
        _assert_safe(root, before)
        _finish(root)
        _assert_safe(root, before)
        assert not [p for p in SystemRoot(root).mounts() if p != "/"], "the rollback left a mount"
    finally:
        _clean(root)


def _fresh_root(template: Path, factory: pytest.TempPathFactory) -> Path:
    """Hypothesis reuses the function's fixture across examples: each example copies it afresh."""
    base = factory.mktemp("race")
    subprocess.run(["cp", "-a", str(template), str(base / "root")], check=True)
    return base / "root"
