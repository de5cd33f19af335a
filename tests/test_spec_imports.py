"""Loading a spec (what apply, plan and verify all do first) imports what validating it needs and
nothing else: not importlib.metadata (pydantic's plugin loader imports it, with email, zipfile and
csv, even with every plugin disabled; 15-35 ms), nor importlib.resources (tempfile, shutil, zipfile)
for reading a shipped preset (issue 15). Each load here also reads a spec that needs the pydantic
model (a tuple where YAML gives a list is coerced), so the model is built in every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tui_jail.presets import preset_text

AVOIDED = ("importlib.metadata", "importlib.resources", "email", "zipfile", "csv", "tempfile")
LOAD = """
import sys
from tui_jail.core.spec import load_spec_file, parse_spec
from tui_jail.presets import preset_data
if len(sys.argv) > 1:
    assert load_spec_file(sys.argv[1]).name
else:
    assert parse_spec(preset_data("seedbox-sftp"), allow_placeholders=True).name
coerced = {{**preset_data("seedbox-sftp"), "devices": ("null", "zero")}}
assert parse_spec(coerced, allow_placeholders=True).devices == ("null", "zero")
assert "pydantic" in sys.modules
print(" ".join(name for name in {avoided} if name in sys.modules))
"""


def avoided_imports(*argv: str, plugins: str | None = None) -> set[str]:
    environ = {key: value for key, value in os.environ.items() if key != "PYDANTIC_DISABLE_PLUGINS"}
    if plugins is not None:
        environ["PYDANTIC_DISABLE_PLUGINS"] = plugins
    argv = (sys.executable, "-c", LOAD.format(avoided=AVOIDED), *argv)
    result = subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_loading_a_preset_imports_no_plugin_scan_and_no_resources() -> None:
    assert avoided_imports() == set()
    assert avoided_imports(plugins="1") == set()  # pydantic's other spelling of "all disabled"


def test_loading_a_spec_file_imports_no_plugin_scan(tmp_path: Path) -> None:
    spec = tmp_path / "seedbox.yaml"
    spec.write_text(preset_text("seedbox-sftp").replace("<media-user>", "media").replace("<seedbox-ip>", "192.0.2.1"))
    assert avoided_imports(str(spec)) == set()


def test_with_plugins_enabled_pydantic_still_scans_for_them() -> None:
    """The control, and the documented switch honoured: naming one plugin to disable enables the rest,
    and pydantic's own loader (importlib.metadata's entry points) runs."""
    assert "importlib.metadata" in avoided_imports(plugins="some-plugin")


def test_a_name_the_stand_in_lacks_comes_from_pydantics_own_loader() -> None:
    """A pydantic that imports more than get_plugins from its loader still gets it (not an ImportError):
    the stand-in hands any other name to the real module. Control: the stand-in itself has no such name."""
    code = (
        "import sys, tui_jail.core.spec_model as spec\n"
        "stand_in = sys.modules['pydantic.plugin._loader']\n"
        "assert stand_in is spec._stand_in and 'importlib.metadata' not in sys.modules\n"
        "assert '_plugins' not in vars(stand_in)\n"
        "from pydantic.plugin._loader import _plugins\n"
        "print(sys.modules['pydantic.plugin._loader'] is not stand_in, 'importlib.metadata' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
