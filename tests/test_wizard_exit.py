"""Leaving the wizard with a change pending: once the UI is gone, one line on the terminal says when it
rolls back and the exact command that keeps it (the countdown that said so went with the screen)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from txn_helpers import seedbox

from tui_jail import cli
from tui_jail.app import WizardApp
from tui_jail.core.plan import make_plan
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import entry, transaction

APPLIER = {"SSH_CONNECTION": "198.51.100.4 50022 192.0.2.1 22", "SUDO_USER": "admin"}


def test_leaving_with_a_change_pending_says_when_it_rolls_back(
    wizard_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    system = SystemRoot(wizard_root)
    pending = transaction.apply(make_plan(seedbox(), system), system, timeout=60, environ=APPLIER)

    async def quit_at_once(pilot: Any) -> None:
        await pilot.press("ctrl+q")

    run = WizardApp.run
    # `tui-jail --root DIR` as typed, the app headless (no terminal here) and left with ^q at once
    monkeypatch.setattr(WizardApp, "run", lambda app: run(app, headless=True, auto_pilot=quit_at_once))
    monkeypatch.setattr(sys, "argv", ["/opt/tui-jail/bin/tui-jail"])
    monkeypatch.setattr(entry, "LOGIN_PATH", str(tmp_path))  # not on a new login's PATH
    assert cli.main(["--root", str(wizard_root)]) == 0
    at = time.strftime("%H:%M:%S", time.localtime(pending.deadline))
    confirm = f"/opt/tui-jail/bin/tui-jail --root {wizard_root} confirm {pending.id}"
    line = f"tui-jail: rclone-sftp is pending: it rolls back at {at} unless `{confirm}` runs from a new login\n"
    assert capsys.readouterr().out.endswith(line)
