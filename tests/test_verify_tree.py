"""verify.tree: the chroot chain as sshd's safely_chroot judges it, and a jail holding only what was planned.
No mounts are needed: mount targets only have to exist as directories here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_jail.core.plan import Plan, make_plan
from tui_jail.core.spec import Spec, parse_spec
from tui_jail.paths.system import SystemRoot
from tui_jail.verify.tree import chain_result, chroot_components, contents_result

SPEC = {
    "version": 1,
    "name": "box",
    "kind": "sftp",
    "root": "/chroot/box",
    "mounts": [{"source": "/tank/IncomingTV", "target": "tv"}],
    "sftp": {"users": ["media"], "addresses": ["203.0.113.7"]},
}


def build_tree(spec: Spec, system: SystemRoot) -> Plan:
    """Create the plan's directories (devices as plain files: node numbers are not this module's business)."""
    plan = make_plan(spec, system)
    for step in plan.paths:
        host = system.host(step.path)
        if step.kind == "dir":
            host.mkdir(exist_ok=True)
        else:
            host.touch()
        os.chown(host, step.uid, step.gid)
        os.chmod(host, step.mode)
    return plan


@pytest.fixture
def applied(sample_root: Path) -> tuple[Spec, SystemRoot, Plan]:
    spec, system = parse_spec(SPEC), SystemRoot(sample_root)
    return spec, system, build_tree(spec, system)


def test_components_start_at_slash() -> None:
    assert chroot_components("/chroot/box") == ["/", "/chroot", "/chroot/box"]


def test_planned_tree_passes(applied: tuple[Spec, SystemRoot, Plan]) -> None:
    spec, system, plan = applied
    assert chain_result(spec.root, system).status == "pass"
    assert contents_result(spec, system, plan).status == "pass"


@pytest.mark.parametrize(
    ("path", "change", "expected"),
    [
        ("chroot", lambda p: os.chmod(p, 0o775), "/chroot: mode 0775 is group/world writable"),
        ("chroot/box", lambda p: os.chmod(p, 0o757), "/chroot/box: mode 0757 is group/world writable"),
        ("chroot/box", lambda p: os.chown(p, 1001, 0), "/chroot/box: owned by uid 1001"),
        (".", lambda p: os.chmod(p, 0o777), "/: mode 0777 is group/world writable"),
    ],
    ids=["group-writable-parent", "world-writable-root", "user-owned-root", "writable-system-root"],
)
def test_chain_failure_names_the_component(
    applied: tuple[Spec, SystemRoot, Plan], path: str, change: object, expected: str
) -> None:
    spec, system, _ = applied
    change(system.root / path)  # type: ignore[operator]
    result = chain_result(spec.root, system)
    assert result.status == "fail"
    assert result.detail.startswith(expected)
    assert result.fix.startswith("chown root ")


def test_symlinked_component_is_judged_by_its_target(applied: tuple[Spec, SystemRoot, Plan]) -> None:
    """sshd stat()s each component, so a symlink counts as what it points to."""
    spec, system, _ = applied
    (system.root / "chroot").rename(system.root / "real")
    (system.root / "chroot").symlink_to("real")
    assert chain_result(spec.root, system).status == "pass"
    os.chmod(system.root / "real", 0o770)
    assert chain_result(spec.root, system).detail.startswith("/chroot: mode 0770")


def test_an_exec_jail_is_judged_by_the_exec_rule(sample_root: Path) -> None:
    """A sticky 1777 /tmp on the way lets no one swap the jail root (the plan uses it as it is); sshd's
    stricter rule does not bind an exec jail. A plain 0777 one does let them."""
    system = SystemRoot(sample_root)
    (sample_root / "tmp/job").mkdir()
    assert chain_result("/tmp/job", system, "exec").status == "pass"
    assert chain_result("/tmp/job", system, "sftp").status == "fail"
    os.chmod(sample_root / "tmp", 0o777)
    result = chain_result("/tmp/job", system, "exec")
    assert (result.status, result.detail.split(" (")[0]) == ("fail", "/tmp is writable by others")


def test_a_file_in_the_chain_fails(sample_root: Path) -> None:
    (sample_root / "chroot").write_text("not a dir")
    result = chain_result("/chroot/box", SystemRoot(sample_root))
    assert (result.status, result.detail) == ("fail", "/chroot is not a directory")


def test_stray_entries_are_named_but_the_log_socket_is_tolerated(applied: tuple[Spec, SystemRoot, Plan]) -> None:
    spec, system, plan = applied
    jail = system.host(spec.root)
    (jail / "dev/log").touch()
    assert contents_result(spec, system, plan).status == "pass"
    (jail / "secrets.txt").write_text("left behind")
    (jail / "dev/sda").touch()
    result = contents_result(spec, system, plan)
    assert result.status == "fail"
    assert result.detail == "not planned: /chroot/box/dev/sda, /chroot/box/secrets.txt"


def test_missing_pieces_are_named(applied: tuple[Spec, SystemRoot, Plan]) -> None:
    spec, system, plan = applied
    (system.host(spec.root) / "dev/zero").unlink()
    (system.host(spec.root) / "tv").rmdir()
    result = contents_result(spec, system, plan)
    assert result.status == "fail"
    assert result.detail == "missing: /chroot/box/dev/zero, /chroot/box/tv"


def test_no_jail_root(sample_root: Path) -> None:
    spec = parse_spec(SPEC)
    system = SystemRoot(sample_root)
    result = contents_result(spec, system, make_plan(spec, system))
    assert (result.status, result.detail) == ("fail", "there is no jail root at /chroot/box")
