"""The boot guard in the plan: where the root boots with systemd, a plan that changes anything
shows the guard's files the first time (and only then); it points at the install layout's entry
point, and where that is missing or lives in a temporary directory no guard is planned and the plan
says why."""

from __future__ import annotations

from pathlib import Path

from txn_helpers import install_layout, seedbox

from tui_jail.core import bootguard
from tui_jail.core.plan import make_plan, plan_removal
from tui_jail.core.render import plan_text
from tui_jail.paths.system import SystemRoot


def test_the_guard_is_in_the_plan_and_its_diff_where_the_root_boots_with_systemd(sample_root: Path) -> None:
    install_layout(sample_root)
    plan = make_plan(seedbox(), SystemRoot(sample_root))
    assert [f.path for f in plan.changed_files][:2] == [bootguard.UNIT, bootguard.WANTS]
    text = plan_text(plan)
    assert "+ExecStart=/usr/local/sbin/tui-jail recover --boot" in text
    assert "+Wants=tui-jail-recover.service" in text
    assert not plan.warnings


def test_an_installed_guard_is_not_planned_again(sample_root: Path) -> None:
    install_layout(sample_root)
    for path, text in bootguard.files().items():
        (sample_root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (sample_root / path.lstrip("/")).write_text(text)
    plan = make_plan(seedbox(), SystemRoot(sample_root))
    assert plan.has_changes
    assert not {bootguard.UNIT, bootguard.WANTS} & {f.path for f in plan.changed_files}


def test_no_guard_without_systemd_nor_in_a_plan_that_changes_nothing(sample_root: Path) -> None:
    plan = make_plan(seedbox(), SystemRoot(sample_root))
    assert not {bootguard.UNIT, bootguard.WANTS} & {f.path for f in plan.files}
    install_layout(sample_root)
    removal = plan_removal("rclone-sftp", SystemRoot(sample_root), None)  # nothing to remove
    assert not removal.has_changes and not {f.path for f in removal.files} & {bootguard.UNIT}


def test_without_the_install_layout_no_guard_is_planned_and_the_plan_says_so(sample_root: Path) -> None:
    (sample_root / "etc/systemd/system").mkdir(parents=True)
    plan = make_plan(seedbox(), SystemRoot(sample_root))
    assert bootguard.UNIT not in {f.path for f in plan.files}
    assert any("no boot guard: /usr/local/sbin/tui-jail does not exist" in w for w in plan.warnings)
    assert "warning: no boot guard" in plan_text(plan)


def test_a_guard_that_would_run_from_a_temporary_venv_is_refused(sample_root: Path) -> None:
    """/usr/local/sbin/tui-jail linked into a venv under /tmp (a throwaway checkout): at the next boot
    the guard would find nothing to run, so none is planned."""
    install_layout(sample_root, entry="/tmp/venv/bin/tui-jail")
    plan = make_plan(seedbox(), SystemRoot(sample_root))
    assert bootguard.UNIT not in {f.path for f in plan.files}
    assert any("leads to /tmp/venv/bin/tui-jail, in a temporary directory" in w for w in plan.warnings)
