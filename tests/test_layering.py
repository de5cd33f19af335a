"""The layering contracts in pyproject.toml really catch what they forbid.

Each case copies the package and pyproject.toml into a temporary project, plants one violation and
runs the real `lint-imports` there: the contract it breaks must be reported BROKEN and the run must
fail, while the unmodified copy passes. A contract that could never fail would be worse than none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_copy(tmp_path: Path, plant: tuple[str, str] | None, *contracts: str) -> subprocess.CompletedProcess[str]:
    shutil.copytree(PROJECT / "tui_jail", tmp_path / "tui_jail", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path)
    if plant is not None:
        module, line = plant
        path = tmp_path / module
        path.write_text(path.read_text() + f"\n{line}\n")
    # the copy must shadow the installed package: it comes first on the path
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    only = [arg for contract in contracts for arg in ("--contract", contract)]
    argv = [str(LINT_IMPORTS), "--no-cache", "--no-logo", *only]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_the_unmodified_package_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_copy(tmp_path, None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("tui_jail/core/fstab.py", "import textual", "no-ui-below-screens"),
        ("tui_jail/txn/transaction.py", "import tui_jail.screens.apply", "no-ui-below-screens"),
        ("tui_jail/screens/apply.py", "import subprocess", "screens-run-no-commands"),
        ("tui_jail/screens/verify.py", "import sh", "screens-run-no-commands"),
        ("tui_jail/core/plan.py", "import sh", "pure-core"),
        ("tui_jail/paths/system.py", "import tui_jail.txn.transaction", "acyclic"),
        ("tui_jail/backends/mounts.py", "import tui_jail.commands.status", "layers"),
        ("tui_jail/core/spec.py", "import tui_jail.backends.mounts", "layers"),
        ("tui_jail/jailexec/launcher.py", "import tui_jail.txn.journal", "layers"),
    ],
    ids=[
        "textual-in-backend",
        "screen-in-transaction",
        "subprocess-in-screen",
        "sh-in-screen",
        "sh-in-plan",
        "cycle",
        "command-in-backend",
        "backend-in-core",
        "transaction-in-launcher",
    ],
)
def test_a_planted_violation_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    result = lint_copy(tmp_path, (module, line), contract)
    assert result.returncode != 0, result.stdout
    assert "0 kept, 1 broken" in result.stdout, result.stdout
