"""A missing bind source made by the plan (`mounts[].create`): the spec's checks, the plan's step and
tree, and for real (root, the suite's private mount namespace) apply making it with its owner and a
rollback removing it — only while it is still the empty directory the transaction made, never
through a link swapped in, never someone else's directory put in its place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nsenv
import pytest
from txn_helpers import seedbox_text

from tui_jail.core.plan import SOURCE, PlanError, make_plan
from tui_jail.core.render import plan_text
from tui_jail.core.spec import SpecError, parse_spec
from tui_jail.core.yamlio import load_yaml_text
from tui_jail.paths.system import SystemRoot
from tui_jail.screens.wizard_state import plain
from tui_jail.txn import steps, transaction

MADE = "/tank/IncomingTV"  # one of the seedbox's staging dirs, removed for these tests
MEDIA = 1001  # the sample root's media user and group
real = pytest.mark.skipif(
    os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="applies for real: needs root in a private mount ns"
)


def seedbox_creating(create: Any, source: str = MADE) -> dict[str, Any]:
    data: dict[str, Any] = plain(load_yaml_text(seedbox_text()))
    mount = next(m for m in data["mounts"] if m["target"] == "IncomingTV")
    mount.update(source=source, create=create)
    return data


def missing_source(root: Path) -> SystemRoot:
    (root / MADE.lstrip("/")).rmdir()
    return SystemRoot(root)


@pytest.mark.parametrize(
    ("create", "problem"),
    [
        ({"mode": 755}, "mounts[2].create.mode: must be a quoted octal mode like '0755'"),
        ({"mode": "4755"}, "mounts[2].create.mode: must be a quoted octal mode"),
        ({"owner": "Me dia"}, "mounts[2].create.owner: not a user name"),
        ({"size": 1}, "mounts[2].create.size: unknown key 'size'"),
    ],
)
def test_bad_create_values_are_one_line_naming_the_field(create: Any, problem: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(seedbox_creating(create))
    assert str(caught.value).startswith(problem) and "\n" not in str(caught.value)


def test_create_does_not_go_with_optional_or_children() -> None:
    data = seedbox_creating({"owner": "media"})
    data["mounts"][2]["optional"] = True
    with pytest.raises(SpecError, match=r"mounts\[2\]: create does not go with optional: true"):
        parse_spec(data)


def test_the_plan_shows_the_directory_it_makes(sample_root: Path) -> None:
    system = missing_source(sample_root)
    plan = make_plan(parse_spec(seedbox_creating({"owner": "media", "mode": "0750"})), system)
    step = next(p for p in plan.path_changes if p.path == MADE)
    assert (step.action, step.kind, step.mode, step.uid, step.gid, step.reason) == (
        "create", "dir", 0o750, MEDIA, MEDIA, SOURCE
    )  # fmt: skip
    assert f"create {MADE}  dir 0750 {MEDIA}:{MEDIA}  (mount source)" in plan_text(plan)
    assert f"IncomingTV  ← {MADE} (rw, fstab, created: media 0750)" in plan.tree


def test_without_create_a_missing_source_plans_no_directory(sample_root: Path) -> None:
    system = missing_source(sample_root)
    plan = make_plan(parse_spec(seedbox_creating(None)), system)
    assert not any(p.path == MADE for p in plan.path_changes)


@pytest.mark.parametrize(
    ("create", "source", "problem"),
    [
        ({"owner": "ghost"}, MADE, "mounts[2].create.owner: no user 'ghost'"),
        ({"owner": "media", "group": "ghosts"}, MADE, "mounts[2].create.group: no group 'ghosts'"),
        # /tmp is 1777: another user could put a link where the directory is about to be made
        ({"owner": "media"}, "/tmp/tv", "mounts[2].create: /tmp can be written by other users"),
    ],
)
def test_the_plan_refuses_what_it_cannot_make_safely(sample_root: Path, create: Any, source: str, problem: str) -> None:
    system = missing_source(sample_root)
    with pytest.raises(PlanError) as caught:
        make_plan(parse_spec(seedbox_creating(create, source)), system)
    assert str(caught.value).startswith(problem)


def applied(root: Path) -> tuple[SystemRoot, str]:
    system = missing_source(root)
    plan = make_plan(parse_spec(seedbox_creating({"owner": "media", "mode": "0750"})), system)
    state = transaction.apply(plan, system, timeout=60, environ={})
    return system, state.id


@real
def test_apply_makes_it_with_its_owner_and_rollback_removes_it(world: Path) -> None:
    system, txn_id = applied(world)
    made = os.lstat(world / MADE.lstrip("/"))
    assert (made.st_uid, made.st_gid, made.st_mode & 0o7777) == (MEDIA, MEDIA, 0o750)
    assert "/chroot/rclone-sftp/IncomingTV" in system.mounts()
    state = transaction.rollback_txn(world, txn_id, "test")
    assert state.status == "rolled-back", state.error
    assert not (world / MADE.lstrip("/")).exists()
    assert not any(note.startswith("left in place") for note in state.notes)


@real
@pytest.mark.parametrize("change", ["filled", "link", "swapped"])
def test_rollback_leaves_what_is_no_longer_the_directory_it_made(world: Path, change: str) -> None:
    """Someone filled it, or put a link or another empty directory in its place: left alone, and said."""
    system, txn_id = applied(world)
    source = world / MADE.lstrip("/")
    elsewhere = world / "tank/elsewhere"
    if change == "filled":
        (source / "episode.mkv").write_text("data")
    else:
        source.rename(world / "tank/IncomingTV.moved")
        elsewhere.mkdir()
        if change == "link":
            source.symlink_to(elsewhere)
        else:
            source.mkdir()
            # the control: an undo that goes by the path alone (empty directory, not mounted on) removes
            # this directory, which the transaction never made
            assert steps.undo({"op": "mkdir", "path": MADE}, 0, system, None, {}) is True  # type: ignore[arg-type]
            assert not source.exists()
            source.mkdir()
    state = transaction.rollback_txn(world, txn_id, "test")
    assert state.status == "rolled-back", state.error
    note = next(note for note in state.notes if note.startswith("left in place"))
    expected = {"filled": "not empty any more", "link": "a symbolic link", "swapped": "another directory"}[change]
    assert MADE in note and expected in note
    if change == "filled":
        assert (source / "episode.mkv").read_text() == "data"
    else:
        assert os.path.lexists(source) and elsewhere.is_dir()
    assert "/chroot/rclone-sftp/IncomingTV" not in system.mounts()
