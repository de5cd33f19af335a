"""`tui-jail verify`: live lines on a terminal then a table, only the table when piped, one JSON document
with --json, exit 1 and one line on stderr when a check fails, exit 0 on an applied jail."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from test_verify_mounts import apply_by_hand, needs_private_ns, world  # noqa: F401 — world is a fixture

from tui_jail.cli import main
from tui_jail.core.plan import make_plan
from tui_jail.core.spec import parse_spec
from tui_jail.core.yamlio import dump_yaml
from tui_jail.paths.system import SystemRoot

SPEC = {
    "version": 1,
    "name": "box",
    "kind": "sftp",
    "root": "/chroot/box",
    "mounts": [{"source": "/tank/IncomingTV", "target": "tv"}],
    "sftp": {"users": ["media"], "addresses": ["203.0.113.7"]},
}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "box.yaml"
    path.write_text(dump_yaml(SPEC))
    return path


@pytest.fixture(autouse=True)
def _not_over_ssh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_CONNECTION", raising=False)


def test_json_document_and_refusal(sample_root: Path, spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", "--spec", str(spec_file), "--root", str(sample_root), "--json"])
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert code == 1
    assert document["jail"] == "box" and document["ok"] is False
    statuses = {r["name"]: r["status"] for r in document["results"]}
    assert statuses["tree: chroot chain"] == "fail"
    assert statuses["sshd: your own connection is not jailed"] == "skip"
    assert err.count("\n") == 1 and err.startswith("tui-jail: verification of box failed: ")
    assert "tree: chroot chain" in err


def test_terminal_gets_each_result_then_the_table(
    sample_root: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = Terminal()
    monkeypatch.setattr("sys.stdout", screen)
    main(["verify", "--spec", str(spec_file), "--root", str(sample_root)])
    assert "\x1b[" in screen.getvalue()  # coloured for a terminal
    text = re.sub(r"\x1b\[[0-9;]*m", "", screen.getvalue())
    table_at = text.index("jail box: ")
    for name in ("tree: chroot chain", "mounts: fstab block", "sftp: user media"):
        assert 0 <= text.index(name) < table_at  # a live line before the table
        assert text.index(name, table_at) > table_at  # and a row in it
    assert "✗ sshd: media from 203.0.113.7 is jailed: chrootdirectory none" in text[:table_at]


def test_piped_output_is_only_the_table(sample_root: Path, spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["verify", "--spec", str(spec_file), "--root", str(sample_root)])
    out = capsys.readouterr().out
    assert out.startswith("jail box: ") and "\x1b[" not in out
    assert "fix: apply the jail" in out


def test_unset_placeholders_are_refused(capsys: pytest.CaptureFixture[str], sample_root: Path) -> None:
    assert main(["verify", "--preset", "seedbox-sftp", "--root", str(sample_root)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "placeholder" in err


@needs_private_ns
def test_applied_jail_passes(world: Path, spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    system = SystemRoot(world)
    apply_by_hand(make_plan(parse_spec(SPEC), system), system)
    code = main(["verify", "--spec", str(spec_file), "--root", str(world), "--json"])
    results = json.loads(capsys.readouterr().out)["results"]
    assert code == 0
    assert {r["name"]: r["status"] for r in results if r["status"] != "pass"} == {
        "sshd: your own connection is not jailed": "skip",
        "sshd: running daemon has loaded the config": "warn",
        "sftp: log socket in the jail": "warn",
    }
