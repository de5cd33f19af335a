"""The confirm command the admin is told to type must run in a new root login: bare `tui-jail` only
when that login's PATH finds it, else the running entry point's absolute path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from txn_helpers import seedbox_text

from tui_jail.txn import entry, journal


def test_not_on_the_login_path_names_the_running_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "LOGIN_PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "argv", ["/opt/venv/bin/tui-jail", "apply"])
    assert entry.program() == "/opt/venv/bin/tui-jail"
    assert entry.command(Path("/"), "confirm", "T1") == "/opt/venv/bin/tui-jail confirm T1"
    assert entry.command(Path("/srv/r"), "confirm", "T1") == "/opt/venv/bin/tui-jail --root /srv/r confirm T1"
    monkeypatch.setattr(sys, "argv", ["/src/tui_jail/__main__.py"])  # python -m tui_jail: the venv's script beside
    assert entry.program() == str(Path(sys.executable).parent / "tui-jail")


def test_on_the_login_path_it_is_plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "tui-jail"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(entry, "LOGIN_PATH", str(tmp_path))
    assert entry.program() == "tui-jail"


def test_the_cli_pending_message_names_the_transaction(wizard_root: Path) -> None:
    """Run as `python -m tui_jail` from the venv (not on root's login PATH): the path of the venv's script."""
    spec = wizard_root.parent / "seed.yaml"
    spec.write_text(seedbox_text())
    argv = [sys.executable, "-m", "tui_jail", "--root", str(wizard_root), "apply", "--spec", str(spec), "--yes"]
    applied = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert applied.returncode == 0, applied.stderr
    txn = journal.unfinished(wizard_root)[0]
    program = Path(sys.executable).parent / "tui-jail"
    assert f"from any session:  {program} --root {wizard_root} confirm {txn.id}\n" in applied.stdout
