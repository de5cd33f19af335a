"""The mounts backend against real binds in the private namespace: `check` (one findmnt run over the
table) accepts what the bind and remount steps leave and names the first mount point that differs;
an apply journals that check after its last mount and before its first file."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import nsenv
import pytest
from txn_helpers import seedbox

from tui_jail.backends import mounts
from tui_jail.backends.mounts import Expected, MountError
from tui_jail.core.plan import make_plan
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import transaction

needs_private_ns = nsenv.needs_private_ns


@pytest.fixture
def bound(tmp_path: Path) -> Iterator[SystemRoot]:
    """Under a root: /src and /other directories, /src bound read-only at /target with a space in it."""
    for name in ("src", "other", "tar get"):
        (tmp_path / name).mkdir()
    system = SystemRoot(tmp_path)
    mounts.bind(system, "/src", "/tar get")
    mounts.remount(system, "/tar get", readonly=True)
    yield system
    subprocess.run(["umount", str(tmp_path / "tar get")], check=False)


@needs_private_ns
def test_check_accepts_what_the_steps_left(bound: SystemRoot) -> None:
    mounts.check(bound, [Expected("/tar get", "/src", True)])
    mounts.check(bound, [Expected("/tar get")])


@needs_private_ns
@pytest.mark.parametrize(
    ("expected", "message"),
    [
        (Expected("/tar get", "/other"), "shows /tar get mounted, but not from /other"),
        (Expected("/tar get", readonly=False), "does not show /tar get rw"),
        (Expected("/other"), "does not show /other mounted"),
    ],
)
def test_check_names_the_mount_point_that_differs(bound: SystemRoot, expected: Expected, message: str) -> None:
    with pytest.raises(MountError, match=message):
        mounts.check(bound, [Expected("/tar get", "/src", True), expected])


def test_the_check_comes_after_the_last_mount_and_before_the_first_file(sample_root: Path) -> None:
    system = SystemRoot(sample_root)
    ops, _, _ = transaction.build_steps(make_plan(seedbox(), system), system)
    kinds = [op["op"] for op in ops]
    check = kinds.index("check")
    assert max(i for i, kind in enumerate(kinds) if kind in ("bind", "remount")) == check - 1
    assert kinds.index("write") > check
    binds = {op["target"]: op["source"] for op in ops if op["op"] == "bind"}
    assert len(binds) == 4
    assert {m["target"]: m.get("source") for m in ops[check]["mounts"]} == binds
