"""Shared fixtures: a realistic sample root for tests that read or write a system, and an
environment scrubbed of the variables that change how Textual or rich render."""

from __future__ import annotations

import subprocess
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
