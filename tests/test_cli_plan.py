"""The commands as a script or an admin runs them (`presets` and `plan` above all): exit codes,
one-line refusals without tracebacks — a mistyped --root, no root privileges —, plain text when
piped, one JSON document with --json."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_jail.presets import preset_names, preset_text


def tui_jail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui_jail", *args], capture_output=True, text=True, timeout=60)


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest.update(f"{path}:{st.st_mode}:{st.st_uid}:{st.st_mtime_ns}".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def spec_file(tmp_path: Path, preset: str, **fill: str) -> Path:
    text = preset_text(preset)
    for placeholder, value in fill.items():
        text = text.replace(f"<{placeholder}>", value)
    path = tmp_path / f"{preset}.yaml"
    path.write_text(text)
    return path


def test_presets_lists_all_four() -> None:
    result = tui_jail("presets")
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines() if not line.startswith(" ")] == preset_names()


def test_presets_show_prints_the_commented_yaml() -> None:
    result = tui_jail("presets", "show", "seedbox-sftp")
    assert result.returncode == 0 and result.stdout == preset_text("seedbox-sftp")
    assert result.stdout.startswith("# seedbox-sftp")


def test_unknown_preset_is_one_line() -> None:
    result = tui_jail("presets", "show", "nope")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "unknown preset 'nope'" in result.stderr


def test_usage_error_exits_2() -> None:
    assert tui_jail("plan").returncode == 2
    assert tui_jail("plan", "--preset", "a", "--spec", "b").returncode == 2


@pytest.mark.parametrize(
    ("fill", "needle"),
    [
        ({"seedbox-ip": "203.0.113.7/24", "media-user": "media"}, "sftp.addresses[0]: CIDR has host bits set"),
        ({"seedbox-ip": "203.0.113.7", "media-user": "me dia"}, "sftp.users[0]"),
        ({"seedbox-ip": "203.0.113.7"}, "placeholder <media-user> is still unset"),
    ],
)
def test_bad_spec_is_refused_in_one_line_and_nothing_written(
    tmp_path: Path, sample_root: Path, fill: dict[str, str], needle: str
) -> None:
    before = tree_digest(sample_root)
    result = tui_jail("plan", "--spec", str(spec_file(tmp_path, "seedbox-sftp", **fill)), "--root", str(sample_root))
    assert result.returncode == 1
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_digest(sample_root) == before


def test_broken_yaml_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    result = tui_jail("plan", "--spec", str(bad))
    assert result.returncode == 1 and str(bad) in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("preset", preset_names())
def test_plan_each_preset_piped_is_plain_text(tmp_path: Path, sample_root: Path, preset: str) -> None:
    spec = spec_file(tmp_path, preset, **{"seedbox-ip": "203.0.113.7", "media-user": "media", "agent-user": "agent"})
    result = tui_jail("plan", "--spec", str(spec), "--root", str(sample_root))
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    assert "+# BEGIN tui-jail" in result.stdout and "mount tree inside the jail:" in result.stdout


def test_plan_json_is_one_document(tmp_path: Path, sample_root: Path) -> None:
    spec = spec_file(tmp_path, "seedbox-sftp", **{"seedbox-ip": "203.0.113.7", "media-user": "media"})
    result = tui_jail("plan", "--spec", str(spec), "--root", str(sample_root), "--json")
    data = json.loads(result.stdout)
    assert data["has_changes"] is True and data["name"] == "rclone-sftp"
    dropin = next(f for f in data["files"] if f["path"].endswith("50-tui-jail-rclone-sftp.conf"))
    assert "+\tForceCommand internal-sftp\n" in dropin["diff"]
    assert {m["action"] for m in data["mounts"]} == {"mount"}


def test_plan_of_a_preset_with_no_placeholders(sample_root: Path) -> None:
    result = tui_jail("plan", "--preset", "joblet-builder", "--root", str(sample_root))
    assert (
        result.returncode == 0
        and "/opt/joblet/runtimes → /opt/joblet/jobs/builder/opt/joblet/runtimes (rw)" in result.stdout
    )


def test_plan_on_a_terminal_is_coloured(sample_root: Path) -> None:
    import io

    from tui_jail.core.plan import make_plan
    from tui_jail.core.render import print_plan
    from tui_jail.core.spec import parse_spec
    from tui_jail.paths.system import SystemRoot

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    spec = parse_spec(
        {"name": "t", "kind": "sftp", "root": "/chroot/t", "sftp": {"users": ["media"], "addresses": ["192.0.2.1"]}}
    )
    out = Terminal()
    print_plan(make_plan(spec, SystemRoot(sample_root)), out)
    assert "\x1b[" in out.getvalue() and "ForceCommand internal-sftp" in out.getvalue()
    assert "mount tree inside the jail:" in out.getvalue()


@pytest.mark.parametrize("where", ["before", "after"])
def test_root_before_or_after_the_command_is_the_same(tmp_path: Path, sample_root: Path, where: str) -> None:
    """`tui-jail --root DIR plan …` must not silently fall back to / (the real host)."""
    spec = spec_file(tmp_path, "seedbox-sftp", **{"seedbox-ip": "203.0.113.7", "media-user": "media"})
    (sample_root / "etc/fstab").write_text("# the sample root's own fstab\n")
    args = ["plan", "--spec", str(spec)]
    args = ["--root", str(sample_root), *args] if where == "before" else [*args, "--root", str(sample_root)]
    result = tui_jail(*args)
    assert result.returncode == 0, result.stderr
    assert " # the sample root's own fstab\n" in result.stdout


@pytest.mark.parametrize("args", [["--root", "{missing}", "recover"], ["status", "--root", "{missing}"]])
def test_a_root_that_is_not_a_directory_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    """A mistyped --root must not read as an empty system (`recover`: nothing to recover)."""
    missing = str(tmp_path / "sysimage")
    result = tui_jail(*(arg.format(missing=missing) for arg in args))
    assert result.returncode == 2
    assert f"argument --root: {missing}: no such directory" in result.stderr
    assert "nothing to recover" not in result.stdout + result.stderr


def test_removing_a_jail_that_was_never_applied_says_so(sample_root: Path) -> None:
    result = tui_jail("--root", str(sample_root), "remove", "nosuch", "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "jail nosuch: nothing to remove: no state file, fstab block or sshd block names this jail\n"


def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    argv = [*nobody, sys.executable, "-m", "tui_jail", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")


@pytest.fixture
def open_root(sample_root: Path) -> Iterator[Path]:
    """A sample root that anyone may read down to its journal (0700, as tui-jail makes it)."""
    place = Path(tempfile.mkdtemp(prefix="tui-jail-open-"))
    place.chmod(0o755)
    subprocess.run(["cp", "-a", str(sample_root), str(place / "root")], check=True)
    (place / "root/var/lib/tui-jail/transactions").mkdir(parents=True)
    (place / "root/var/lib/tui-jail").chmod(0o700)
    yield place / "root"
    shutil.rmtree(place)


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to nobody")
@pytest.mark.parametrize("command", [["apply", "--preset", "seedbox-sftp", "--yes"], ["confirm"], ["recover", "--yes"]])
def test_changing_commands_refuse_at_once_without_root(open_root: Path, command: list[str]) -> None:
    before = tree_digest(open_root)
    result = as_nobody("--root", str(open_root), *command)
    assert result.returncode == 1
    assert (
        result.stderr
        == f"tui-jail: tui-jail {command[0]} needs root: it changes system files, mounts and the journal\n"
    )
    assert tree_digest(open_root) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to nobody")
def test_an_unreadable_journal_is_one_line_not_an_internal_error(open_root: Path) -> None:
    result = as_nobody("--root", str(open_root), "status")
    journal = open_root / "var/lib/tui-jail/transactions"
    assert result.returncode == 1
    assert (
        result.stderr
        == f"tui-jail: Permission denied: {journal} (tui-jail reads and changes system files: run it as root)\n"
    )


@pytest.mark.parametrize("value", ["nan", "inf", "0", "86401", "soon"])
def test_a_confirm_timeout_that_would_never_come_due_is_a_usage_error(sample_root: Path, value: str) -> None:
    """NaN or infinity would leave the change pending for ever: the watchdog would never roll back."""
    before = tree_digest(sample_root)
    for args in (["apply", "--preset", "seedbox-sftp", "--confirm-timeout", value], ["confirm", "--extend", value]):
        result = tui_jail("--root", str(sample_root), *args)
        assert result.returncode == 2 and "error: argument" in result.stderr, result.stderr
        assert "seconds" in result.stderr.splitlines()[-1]
    assert tree_digest(sample_root) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="apply and remove refuse without root")
def test_apply_json_asks_for_yes_and_remove_dry_run_changes_nothing(tmp_path: Path, sample_root: Path) -> None:
    """The Ansible module's two entry points that are not `plan --json` (ansible_collections/tui_jail/fleet)."""
    spec = spec_file(tmp_path, "seedbox-sftp", **{"media-user": "media", "seedbox-ip": "203.0.113.7"})
    before = tree_digest(sample_root)
    unasked = tui_jail("apply", "--spec", str(spec), "--root", str(sample_root), "--json")
    assert unasked.returncode == 1 and unasked.stderr.count("\n") == 1 and "--yes" in unasked.stderr, unasked.stderr
    dry = tui_jail("remove", "rclone-sftp", "--root", str(sample_root), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["has_changes"] is False
    assert tree_digest(sample_root) == before
