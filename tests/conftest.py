"""Shared fixtures: a realistic sample root for tests that read or write a system, and an
environment scrubbed of the variables that change how Textual or rich render."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_jail.sandbox import make_sandbox_root

_RENDERING_VARS = ("NO_COLOR", "FORCE_COLOR", "TEXTUAL_THEME", "TEXTUAL_ANIMATIONS", "COLUMNS", "LINES")


@pytest.fixture(autouse=True)
def _steady_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _RENDERING_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def _sample_root_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # host-key generation is the slow part of a sandbox: do it once, copy it per test
    return make_sandbox_root(tmp_path_factory.mktemp("template") / "root")


@pytest.fixture
def sample_root(tmp_path: Path, _sample_root_template: Path) -> Path:
    """A fresh sandbox root (Debian-like /etc, users, staging dirs, /opt) under tmp_path."""
    subprocess.run(["cp", "-a", str(_sample_root_template), str(tmp_path / "root")], check=True)
    return tmp_path / "root"


@pytest.fixture
def wizard_root(sample_root: Path) -> Iterator[Path]:
    """A sample root the wizard may apply to: afterwards nothing of it stays pending, watched or mounted."""
    from txn_helpers import wait_watchdogs_gone

    from tui_jail.paths.system import SystemRoot
    from tui_jail.txn import journal, transaction

    yield sample_root
    for txn in journal.unfinished(sample_root):
        transaction.rollback_txn(sample_root, txn.id, "test cleanup")
    wait_watchdogs_gone(sample_root)
    system = SystemRoot(sample_root)
    for point in sorted(system.mounts(), key=lambda p: -p.count("/")):
        if point != "/":
            subprocess.run(["umount", str(system.host(point))], check=False)


@pytest.fixture
def world(sample_root: Path) -> Iterator[Path]:
    """A sample root for the transaction tests: anything a failed test left mounted goes with it."""
    from tui_jail.paths.system import SystemRoot

    yield sample_root
    for point in sorted(SystemRoot(sample_root).mounts(), key=lambda p: -p.count("/")):  # deepest first
        if point != "/":
            subprocess.run(["umount", str(SystemRoot(sample_root).host(point))], check=False)
