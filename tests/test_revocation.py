"""Revocation: re-applying a spec that drops a mount converges (the bind is unmounted, its fstab line and
its mount point removed in the same transaction, a dropped device node too; a rollback puts them back as
they were), a mount whose source changes is replaced rather than stacked on, and `remove` takes down
every mount the jail made, from its applied record, even one the current spec no longer names (issue 13,
item 4). Real binds, in the suite's private mount namespace."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import nsenv
import pytest
from txn_helpers import seedbox, snapshot, wait_watchdogs_gone

from tui_jail.core import fstab, managed_block
from tui_jail.core.plan import make_plan, plan_removal
from tui_jail.core.spec import Spec, parse_spec, spec_data
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import transaction

pytestmark = [pytest.mark.ns, nsenv.needs_private_ns]


@pytest.fixture
def world(sample_root: Path) -> Iterator[Path]:
    yield sample_root
    wait_watchdogs_gone(sample_root)
    system = SystemRoot(sample_root)
    for point in sorted(system.mounts(), key=lambda p: -p.count("/")):
        if point != "/":
            subprocess.run(["umount", str(system.host(point))], check=False)


def without(spec: Spec, target: str, **changes: object) -> Spec:
    data = spec_data(spec)
    data["mounts"] = [m for m in data["mounts"] if m["target"] != target]
    return parse_spec({**data, **changes})


def mounts_at(system: SystemRoot, target: str) -> int:
    """How many mounts are stacked at `target` (the kernel's table, not the top one only)."""
    host = str(system.host(target))
    return sum(line.split()[4] == host for line in Path("/proc/self/mountinfo").read_text().splitlines())


def applied(spec: Spec, system: SystemRoot, *, remove: bool = False) -> None:
    plan = plan_removal(spec.name, system, spec) if remove else make_plan(spec, system)
    state = transaction.apply(plan, system, environ={})
    transaction.confirm(system.root, state.id, {})


def fstab_targets(system: SystemRoot, name: str) -> set[str]:
    body = managed_block.block_body(system.read_text(fstab.FSTAB) or "", name) or ""
    return {target for _, target, _, _ in fstab.parse_entries(body)}


def test_dropping_a_mount_unmounts_it_and_removes_its_fstab_line(world: Path) -> None:
    system = SystemRoot(world)
    full = seedbox()
    dropped = full.jail_path("IncomingTV")
    applied(full, system)
    assert dropped in system.mounts() and dropped in fstab_targets(system, full.name)

    smaller = without(full, "IncomingTV")
    plan = make_plan(smaller, system)
    assert plan.unmounts == [dropped], plan.summary()
    assert [p.path for p in plan.path_changes if p.action == "remove"] == [dropped]
    assert not plan.warnings
    applied(smaller, system)
    assert dropped not in system.mounts()
    assert system.lstat(dropped) is None  # its mount point went with it
    assert dropped not in fstab_targets(system, full.name)
    assert full.jail_path("incomingmovies") in system.mounts()  # the others stay
    assert not make_plan(smaller, system).has_changes  # converged


def test_remove_takes_down_every_mount_the_jail_made(world: Path) -> None:
    system = SystemRoot(world)
    full = seedbox()
    applied(full, system)
    targets = {full.jail_path(m.target) for m in full.mounts}
    assert targets <= set(system.mounts())
    # the applied spec on disk names fewer mounts than the jail made: the record still knows them all
    plan = plan_removal(full.name, system, without(full, "IncomingTV"))
    assert set(plan.unmounts) == targets
    assert full.jail_path("IncomingTV") in {p.path for p in plan.path_changes if p.action == "remove"}
    applied(full, system, remove=True)
    assert not targets & set(system.mounts())
    assert system.lstat(full.root) is None
    assert fstab_targets(system, full.name) == set()


def test_dropping_a_mount_and_a_device_removes_both_and_rollback_makes_them_again(world: Path) -> None:
    system = SystemRoot(world)
    full = seedbox()
    applied(full, system)
    dropped, zero = full.jail_path("IncomingTV"), full.jail_path("dev/zero")
    before = snapshot(world)
    assert system.lstat(zero) is not None and dropped in before["mounts"]

    plan = make_plan(without(full, "IncomingTV", devices=["null"]), system)
    assert [(p.path, p.kind) for p in plan.path_changes if p.action == "remove"] == [
        (zero, "device"),
        (dropped, "dir"),
    ]
    state = transaction.apply(plan, system, environ={})
    assert system.lstat(zero) is None and system.lstat(dropped) is None
    assert dropped not in system.mounts()

    transaction.rollback_txn(world, state.id, "test")
    assert snapshot(world) == before  # type, mode, owner, device numbers, and the bind on its mount point


def test_a_new_source_replaces_the_bind_instead_of_stacking_on_it(world: Path) -> None:
    system = SystemRoot(world)
    full = seedbox()
    applied(full, system)
    target = full.jail_path("incomingmovies")
    (world / "tank/newmovies").mkdir()
    (world / "tank/newmovies/marker").write_text("new")
    before = snapshot(world)
    data = spec_data(full)
    for mount in data["mounts"]:
        if mount["target"] == "incomingmovies":
            mount["source"] = "/tank/newmovies"
    moved = parse_spec(data)

    state = transaction.apply(make_plan(moved, system), system, environ={})
    assert mounts_at(system, target) == 1
    assert (system.host(target) / "marker").read_text() == "new"

    transaction.rollback_txn(world, state.id, "test")
    assert mounts_at(system, target) == 1
    assert not (system.host(target) / "marker").exists()
    assert snapshot(world) == before  # the old source bound again, its record naming it


def test_remove_takes_down_the_tree_it_created_and_only_that(world: Path) -> None:
    system = SystemRoot(world)
    shared = world / "opt/jails"  # the admin's, before the jail: its chain starts below it
    shared.mkdir(mode=0o755)
    (shared / "other-jail.txt").write_text("not the jail's")
    spec = without(seedbox(), "", root="/opt/jails/seed/root")
    before = snapshot(world)
    applied(spec, system)
    assert (world / "opt/jails/seed/root/dev/zero").is_char_device()

    plan = plan_removal(spec.name, system, spec)
    removed = [p.path for p in plan.path_changes if p.action == "remove"]
    assert removed[-2:] == ["/opt/jails/seed/root", "/opt/jails/seed"]  # deepest first, the chain last
    assert "/opt/jails" not in removed and not plan.warnings
    applied(spec, system, remove=True)
    assert snapshot(world) == before  # nothing of the jail's tree, files or mounts; /opt/jails untouched


def test_remove_leaves_what_the_jail_did_not_make_and_says_so(world: Path) -> None:
    system = SystemRoot(world)
    spec = without(seedbox(), "", root="/opt/seed")
    applied(spec, system)
    (world / "opt/seed/dev/notes").write_text("the admin's")
    plan = plan_removal(spec.name, system, spec)
    assert "left in place: /opt/seed/dev (not empty: it holds notes)" in plan.warnings
    assert "left in place: /opt/seed (not empty: it holds dev)" in plan.warnings
    applied(spec, system, remove=True)
    assert (world / "opt/seed/dev/notes").read_text() == "the admin's"
    assert not (world / "opt/seed/dev/zero").exists() and not (world / "opt/seed/IncomingTV").exists()
