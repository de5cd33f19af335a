"""verify.mounts against real bind mounts in the private namespace: live, right source, ro/rw, stacked,
and the fstab block. `apply_by_hand` (also used by the end-to-end test) applies a plan the simple way,
standing in for the transaction."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nsenv
import pytest

from tui_jail.core import fstab
from tui_jail.core.plan import Plan, make_plan
from tui_jail.core.spec import Spec, parse_spec
from tui_jail.paths.mountinfo import read_mountinfo
from tui_jail.paths.system import SystemRoot
from tui_jail.verify.mounts import FSTAB_CHECK, mount_check_name, mount_checks

needs_private_ns = nsenv.needs_private_ns


def apply_by_hand(plan: Plan, system: SystemRoot) -> None:
    """Write the plan's files, create its paths, mount its binds (read-only with the second remount)."""
    for change in plan.files:
        host = system.host(change.path)
        if change.after is None:
            host.unlink(missing_ok=True)
            continue
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(change.after)
        if change.before is None:
            os.chmod(host, change.mode)
    for step in plan.paths:
        host = system.host(step.path)
        if step.action == "create" and step.kind == "dir":
            host.mkdir()
        elif step.action == "create" and step.kind == "file":
            host.touch()
        elif step.action == "create" and step.device is not None:
            os.mknod(host, stat.S_IFCHR | step.mode, os.makedev(*step.device))
        if step.action != "none":
            os.chown(host, step.uid, step.gid)
            os.chmod(host, step.mode)
    for mount in plan.mounts:
        target = str(system.host(mount.target))
        subprocess.run(["mount", "--bind", str(system.host(mount.source)), target], check=True)
        if mount.readonly:
            subprocess.run(["mount", "-o", "remount,bind,ro", target], check=True)


def unmount_under(path: Path) -> None:
    """Unmount everything at or below `path`, deepest first (what a test leaves must not outlive it)."""
    points = sorted(
        (e.mount_point for e in read_mountinfo() if (e.mount_point + "/").startswith(str(path) + "/")),
        key=lambda p: -p.count("/"),
    )
    for point in points:
        subprocess.run(["umount", point], check=False, capture_output=True)


@pytest.fixture
def world(tmp_path: Path, sample_root: Path) -> Iterator[Path]:
    """The sample root copied onto a private tmpfs, so binds and their unmounts stay in the namespace."""
    root = tmp_path / "mounted"
    root.mkdir()
    nsenv.tmpfs_over(str(root))
    subprocess.run(["cp", "-a", f"{sample_root}/.", str(root)], check=True)
    shutil.rmtree(sample_root)
    yield root
    unmount_under(root)


def spec_with(ro: bool = True, persist_second: bool = True) -> Spec:
    return parse_spec(
        {
            "version": 1,
            "name": "box",
            "kind": "sftp",
            "root": "/chroot/box",
            "mounts": [
                {"source": "/tank/IncomingTV", "target": "tv", "readonly": ro},
                {"source": "/tank/incomingmovies", "target": "movies", "persist": persist_second},
            ],
            "sftp": {"users": ["media"], "addresses": ["203.0.113.7"]},
        }
    )


def results(spec: Spec, system: SystemRoot) -> dict[str, tuple[str, str]]:
    plan = make_plan(spec, system)
    return {c.name: (r.status, r.detail) for c in mount_checks(spec, system, plan) if (r := c.run())}


pytestmark = needs_private_ns


def test_applied_mounts_pass(world: Path) -> None:
    spec, system = spec_with(), SystemRoot(world)
    apply_by_hand(make_plan(spec, system), system)
    got = results(spec, system)
    assert got[mount_check_name("/chroot/box/tv")] == ("pass", "/tank/IncomingTV (ro)")
    assert got[mount_check_name("/chroot/box/movies")] == ("pass", "/tank/incomingmovies (rw)")
    assert got[FSTAB_CHECK][0] == "pass"


def test_unmounted_staging_dir_fails_by_name(world: Path) -> None:
    spec, system = spec_with(), SystemRoot(world)
    apply_by_hand(make_plan(spec, system), system)
    subprocess.run(["umount", str(world / "chroot/box/movies")], check=True)
    got = results(spec, system)
    assert got[mount_check_name("/chroot/box/movies")] == ("fail", "not mounted (want /tank/incomingmovies, rw)")
    assert got[mount_check_name("/chroot/box/tv")][0] == "pass"


def test_wrong_source_is_named(world: Path) -> None:
    spec, system = spec_with(), SystemRoot(world)
    apply_by_hand(make_plan(spec, system), system)
    movies = str(world / "chroot/box/movies")
    subprocess.run(["umount", movies], check=True)
    subprocess.run(["mount", "--bind", str(world / "tank/IncomingTV_staging"), movies], check=True)
    status, detail = results(spec, system)[mount_check_name("/chroot/box/movies")]
    assert status == "fail"
    assert "/IncomingTV_staging" in detail and "not /tank/incomingmovies" in detail


def test_first_bind_ignores_ro_and_verify_sees_it(world: Path) -> None:
    """`mount --bind -o ro` without the remount leaves a writable bind: the classic half-done read-only."""
    spec, system = spec_with(ro=False), SystemRoot(world)
    apply_by_hand(make_plan(spec, system), system)
    status, detail = results(spec_with(ro=True), system)[mount_check_name("/chroot/box/tv")]
    assert (status, detail) == ("fail", "writable, the spec wants ro")


def test_stacked_binds_warn(world: Path) -> None:
    spec, system = spec_with(), SystemRoot(world)
    apply_by_hand(make_plan(spec, system), system)
    movies = str(world / "chroot/box/movies")
    subprocess.run(["mount", "--bind", str(world / "tank/incomingmovies"), movies], check=True)
    status, detail = results(spec, system)[mount_check_name("/chroot/box/movies")]
    assert status == "warn" and "2 times" in detail


def test_fstab_block_must_list_exactly_the_persistent_mounts(world: Path) -> None:
    spec, system = spec_with(persist_second=False), SystemRoot(world)
    apply_by_hand(make_plan(spec, system), system)
    assert results(spec, system)[FSTAB_CHECK][0] == "pass"  # a live-only mount needs no entry
    text = (world / "etc/fstab").read_text()
    extra = fstab.FstabEntry("/tank/incomingmovies", "/chroot/box/movies", False).render()
    (world / "etc/fstab").write_text(text.replace("# END tui-jail box", extra + "\n# END tui-jail box"))
    status, detail = results(spec, system)[FSTAB_CHECK]
    assert status == "fail" and "not planned /tank/incomingmovies → /chroot/box/movies (rw)" in detail
    (world / "etc/fstab").write_text(text.replace("ro,nofail", "nofail"))
    status, detail = results(spec, system)[FSTAB_CHECK]
    assert status == "fail" and "missing /tank/IncomingTV → /chroot/box/tv (ro)" in detail


def test_missing_fstab_block_fails(world: Path) -> None:
    spec, system = spec_with(), SystemRoot(world)
    plan = make_plan(spec, system)
    apply_by_hand(plan, system)
    (world / "etc/fstab").write_text(next(f.before or "" for f in plan.files if f.path == fstab.FSTAB))
    status, detail = results(spec, system)[FSTAB_CHECK]
    assert status == "fail" and "no block for box" in detail
