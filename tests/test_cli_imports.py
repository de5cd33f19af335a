"""The CLI imports the command it runs and no other (each of the ten costs start-up time), while
`tui-jail --help` still lists them all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tui_jail.commands import COMMAND_MODULES

LOADED = """
import sys
from tui_jail import cli
code = cli.main(sys.argv[1:])
print(" ".join(sorted(m for m in sys.modules if m.startswith("tui_jail.commands."))), code)
"""


def loaded_commands(*words: str) -> tuple[set[str], str]:
    result = subprocess.run([sys.executable, "-c", LOADED, *words], capture_output=True, text=True, timeout=60)
    *modules, code = result.stdout.split("\n")[-2].split()
    return {m.removeprefix("tui_jail.commands.") for m in modules}, code


def test_status_imports_only_its_own_command(tmp_path: Path) -> None:
    modules, code = loaded_commands("--root", str(tmp_path), "status")
    assert code == "0"
    assert modules == {"status", "common"}, modules
    modules, _ = loaded_commands(f"--root={tmp_path}", "presets")
    assert "status" not in modules and "presets" in modules, modules


def test_help_and_an_unknown_command_still_know_all_ten(tmp_path: Path) -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "tui_jail", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    listed = [line.split()[0] for line in help_text.splitlines() if line.startswith("    ") and line.split()]
    assert set(COMMAND_MODULES) <= set(listed), help_text
    wrong = subprocess.run(
        [sys.executable, "-m", "tui_jail", "--root", str(tmp_path), "statu"], capture_output=True, text=True, timeout=60
    )
    assert wrong.returncode == 2 and all(name in wrong.stderr for name in COMMAND_MODULES), wrong.stderr
