"""`tui-jail recover`'s text on a bare console: a check says it changed nothing (not "will leave
it"), and a failed rollback lists one failure a line, each wrapped to 80 columns."""

from __future__ import annotations

from pathlib import Path

from wizard_support import T0

from tui_jail.commands.recover import explain
from tui_jail.txn import steps
from tui_jail.txn.journal import Entry, Journal, TxnState

BUSY = "unmount /chroot/rclone-sftp/IncomingTV: [Errno 16] Device or resource busy: " + "x" * 120


def test_a_check_has_nothing_to_undo() -> None:
    check = {"op": "check", "mounts": ["/a", "/b", "/c", "/d"]}
    assert steps.describe(check) == "checked that 4 mounts were in place"
    assert steps.describe({"op": "check", "mounts": ["/a"]}) == "checked that 1 mount was in place"
    assert steps.undo_text(check) == ""


def test_a_failed_rollback_is_one_failure_a_line_within_80_columns(sample_root: Path) -> None:
    state = TxnState(
        id="20231114-221320-rclone-sftp",
        jail="rclone-sftp",
        action="apply",
        status="failed",
        created=T0,
        deadline=T0 + 120,
        timeout=120,
        user="admin",
        error=f"{BUSY}\nrestore /etc/fstab from the backup: [Errno 30] Read-only file system",
    )
    text = explain(Entry(Journal.create(sample_root, state, [], {}, ""), state, unfinished=True))
    lines = text.splitlines()
    assert "Errno" not in lines[0]  # the failures are listed below the transaction, not run into it
    failures = lines[lines.index("  last rollback failed:") + 1 :]
    assert len(failures) > 2 and max(len(line) for line in failures) <= 80, text
    assert any(line.startswith("    - unmount /chroot/rclone-sftp/IncomingTV") for line in lines), text
    assert any(line.startswith("    - restore /etc/fstab from the backup") for line in lines), text


def test_a_step_begun_with_others_is_not_said_to_have_run(sample_root: Path) -> None:
    """A jail's mount points are begun together, so after a crash a begun step may never have started:
    recover says it was begun and is not known to have finished, not that it ran half-way."""
    state = TxnState(
        id="20231114-221320-rclone-sftp", jail="rclone-sftp", action="apply", status="failed",
        created=T0, deadline=T0 + 120, timeout=120,
    )  # fmt: skip
    ops = [{"op": "mkdir", "path": f"/chroot/j/m{i}", "mode": 0o755, "uid": 0, "gid": 0} for i in range(3)]
    txn = Journal.create(sample_root, state, ops, {}, "")
    txn.record_all("begin", [0, 1, 2])
    txn.record("done", 0)
    lines = explain(Entry(txn, state, unfinished=True)).splitlines()
    assert "  - created directory /chroot/j/m0; will remove /chroot/j/m0 if it is still empty" in lines
    assert any(
        line.startswith("  - created directory /chroot/j/m2 (begun, not known to have finished)") for line in lines
    )
    assert not any("half-way" in line for line in lines)
