"""The planner's cost grows no faster than what it plans: bind mounts, host fstab lines, Match blocks.

Each case plans a small and a five times larger system and allows the larger at most twice linear (10x)
plus a margin for a machine shared by many test runs: a cost that compares every mount with every
other, or re-reads a file per entry, is 25x there and fails. (bench/scale.py measures whole commands
against the per-mount goals; these keep the growth of the pure part in check in seconds.)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from txn_helpers import seedbox, seedbox_text

from tui_jail.core.plan import make_plan
from tui_jail.core.spec import Spec, parse_spec
from tui_jail.core.yamlio import load_yaml_text
from tui_jail.paths.system import SystemRoot

MARGIN = 0.3  # seconds


def plan_seconds(spec: Spec, root: Path) -> float:
    """The best of three: a loaded machine only ever adds time."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        plan = make_plan(spec, SystemRoot(root))
        for change in plan.changed_files:
            change.diff()
        best = min(best, time.perf_counter() - start)
    return best


def with_mounts(root: Path, count: int) -> Spec:
    for i in range(count):
        (root / f"tank/scale{i}").mkdir(parents=True, exist_ok=True)
    mounts = [{"source": f"/tank/scale{i}", "target": f"scale{i}", "readonly": i % 2 == 0} for i in range(count)]
    return parse_spec({**load_yaml_text(seedbox_text()), "mounts": mounts})


def test_bind_mounts(sample_root: Path) -> None:
    small = plan_seconds(with_mounts(sample_root, 60), sample_root)
    big = plan_seconds(with_mounts(sample_root, 300), sample_root)
    assert big <= 10 * small + MARGIN, (small, big)


def test_host_fstab_lines(sample_root: Path) -> None:
    def with_fstab(lines: int) -> float:
        entries = "".join(f"UUID=0000-{i:05x} /srv/disk{i} ext4 defaults,nofail 0 2\n" for i in range(lines))
        (sample_root / "etc/fstab").write_text(entries)
        return plan_seconds(seedbox(), sample_root)

    small, big = with_fstab(2_000), with_fstab(10_000)
    assert big <= 10 * small + MARGIN, (small, big)


def test_match_blocks_in_sshd_config(sample_root: Path) -> None:
    config = sample_root / "etc/ssh/sshd_config"
    head = config.read_text()

    def with_matches(blocks: int) -> float:
        body = "".join(
            f"Match User user{i} Address 10.{i % 250}.0.0/16\n\tChrootDirectory /srv/c{i}\n"
            "\tForceCommand internal-sftp\n\tX11Forwarding no\n\tPermitTTY no\n"
            for i in range(blocks)
        )
        config.write_text(head + body)
        return plan_seconds(seedbox(), sample_root)

    small, big = with_matches(100), with_matches(500)
    assert big <= 10 * small + MARGIN, (small, big)


def test_the_applied_record_copies_no_mount_deeply(monkeypatch) -> None:
    """The applied record (every plan and apply renders it) turns each mount into a dict by its fields:
    dataclasses.asdict deep-copied every field of every mount (~0.1 ms a mount, 500 mounts: 50 ms)."""
    import copy

    from tui_jail.paths import applied

    copies: list[object] = []
    deepcopy = copy.deepcopy
    monkeypatch.setattr(copy, "deepcopy", lambda value, *args: copies.append(value) or deepcopy(value, *args))
    mounts = [applied.AppliedMount(f"/t{i}", f"/s{i}", i % 2 == 0, i, 1, i, "boot") for i in range(300)]
    record = applied.render(applied.after_steps(mounts, []), ["/chroot"])
    assert applied.parse(record) == sorted(mounts, key=lambda m: m.target)
    assert copies == []


def test_an_unchanged_state_file_is_not_read_as_a_spec_again(sample_root: Path, monkeypatch) -> None:
    """The plan of the spec a jail was applied with (verify makes one; so does a re-plan) takes the spec
    its unchanged state file holds from the file's comparison, without reading and validating it again
    (a YAML parse and the spec's validation); a changed spec still reads the applied one."""
    from tui_jail.core import plan as planner

    system = SystemRoot(sample_root)
    applied = make_plan(seedbox(), system)
    state = next(f for f in applied.files if f.path == planner.jail_state_path("rclone-sftp"))
    (sample_root / state.path.lstrip("/")).parent.mkdir(parents=True)
    (sample_root / state.path.lstrip("/")).write_text(state.after or "")
    read: list[str] = []
    reading = planner.applied_spec
    monkeypatch.setattr(planner, "applied_spec", lambda system, name: read.append(name) or reading(system, name))
    again = make_plan(seedbox(), system)
    assert not any(f.changed for f in again.files if f.path == state.path) and read == []
    make_plan(seedbox(address="198.51.100.9"), system)
    assert read == ["rclone-sftp"]  # the control: a changed spec reads the applied one


def test_the_planner_does_not_load_the_mount_syscalls() -> None:
    # paths.applied (the jail's mounts record, read by every plan) imported binds, kernel and ctypes
    code = "import sys, tui_jail.core.plan; print(sorted({'ctypes', 'tui_jail.paths.binds'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
