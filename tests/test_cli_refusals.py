"""Bad input and odd files on disk end in one line naming the field or file, exit 1 (2 for usage),
never 'internal error' nor a traceback, and nothing is written (issue 13, items 11, 13, 14)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from test_cli_plan import tree_digest

from tui_jail.cli import main
from tui_jail.core.yamlio import dump_yaml

SEEDBOX: dict[str, Any] = {
    "version": 1,
    "name": "box",
    "kind": "sftp",
    "root": "/chroot/box",
    "mounts": [{"source": "/tank/IncomingTV", "target": "tv"}],
    "sftp": {"users": ["media"], "addresses": ["203.0.113.7"]},
}
LONG_ROOT = "/srv/" + "j" * 250
EXEC: dict[str, Any] = {"name": "job", "kind": "exec", "root": "/srv/job", "exec": {"user": "nobody"}}


@pytest.fixture(autouse=True)
def _not_over_ssh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("TUI_JAIL_DEBUG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    return code, err


def one_line(code: int, err: str, *needles: str, exit_code: int = 1) -> None:
    assert code == exit_code, err
    assert err.count("\n") == 1 or (exit_code == 2 and err.strip().splitlines()[-1]), err
    last = err.strip().splitlines()[-1]
    assert "internal error" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in last, err


def spec_file(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(dump_yaml(data))
    return str(path)


def test_remove_refuses_a_name_that_is_a_path(sample_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = sample_root / "victim/config.yaml"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    before = tree_digest(sample_root)
    code, err = run(capsys, "--root", str(sample_root), "remove", "../../../../victim/config", "--yes")
    one_line(code, err, "NAME", "../../../../victim/config", exit_code=2)
    assert victim.read_text() == "precious\n"
    assert tree_digest(sample_root) == before  # no journal, no backup copy, nothing


def test_deep_yaml_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "deep.yaml"
    spec.write_text("name: " + "[" * 3000)
    one_line(*run(capsys, "plan", "--spec", str(spec)), str(spec), "nested")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("etc/ssh/sshd_config.d/50-other.conf", None),  # the drop-in layout: the main file has the Include
        ("etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\n# BEGIN tui-jail box\nMatch User x\n"),
        ("etc/ssh/sshd_config", "# BEGIN tui-jail box\nMatch User x\n"),
        ("etc/fstab", "/dev/sda1 / ext4 defaults 0 1\n# BEGIN tui-jail box\n/a /b none bind 0 0\n"),
    ],
)
def test_a_begin_without_its_end_is_one_line_naming_the_file(
    sample_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, text: str | None
) -> None:
    target = "etc/ssh/sshd_config" if text is None else path
    current = (sample_root / target).read_text()
    (sample_root / target).write_text(text or current + "# BEGIN tui-jail box\n")
    for command in (["plan", "--spec", spec_file(tmp_path, SEEDBOX)], ["remove", "box", "--yes"]):
        before = tree_digest(sample_root)
        one_line(*run(capsys, "--root", str(sample_root), *command), f"/{target}", "without its")
        assert tree_digest(sample_root) == before


def _link_to_a_device(root: Path) -> None:
    """/etc/conf.d -> /dev/zero, resolved inside the root (as every path is): the root's own /dev/zero."""
    (root / "dev").mkdir(exist_ok=True)
    os.mknod(root / "dev/zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    os.symlink("/dev/zero", root / "etc/conf.d")


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda root: (root / "etc/conf.d").mkdir(), "not a regular file"),
        (_link_to_a_device, "not a regular file"),
        (lambda root: os.mkfifo(root / "etc/conf.d"), "not a regular file"),
    ],
)
def test_a_copy_that_is_not_a_regular_file_is_refused(
    sample_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, needle: str
) -> None:
    make(sample_root)
    spec = spec_file(tmp_path, {**EXEC, "exec": {"user": "nobody", "copies": ["/etc/conf.d"]}})
    one_line(*run(capsys, "--root", str(sample_root), "plan", "--spec", spec), "exec.copies", "/etc/conf.d", needle)


@pytest.mark.parametrize(
    ("field", "data"),
    [
        ("root", {**SEEDBOX, "root": "/chroot/" + "x" * 300}),
        ("mounts[0].source", {**SEEDBOX, "mounts": [{"source": "/tank/" + "y" * 256, "target": "tv"}]}),
        ("mounts[0].target", {**SEEDBOX, "mounts": [{"source": "/tank/tv", "target": "/".join(["z" * 200] * 25)}]}),
        # fine as paths of their own, too long once inside a long jail root
        ("exec.copies[0]", {**EXEC, "root": LONG_ROOT, "exec": {"copies": ["/" + "/".join(["c" * 250] * 16)]}}),
        ("exec.masks[0]", {**EXEC, "root": LONG_ROOT, "exec": {"masks": ["/".join(["m" * 250] * 16)]}}),
    ],
)
def test_a_name_too_long_for_the_kernel_is_one_line(
    sample_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, data: dict[str, Any]
) -> None:
    one_line(*run(capsys, "--root", str(sample_root), "plan", "--spec", spec_file(tmp_path, data)), field, "too long")


@pytest.mark.parametrize("addresses", [["0.0.0.0/0", "::/0"], ["0.0.0.0/0"]])
def test_verify_when_every_address_is_jailed(
    sample_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], addresses: list[str]
) -> None:
    spec = spec_file(tmp_path, {**SEEDBOX, "sftp": {"users": ["media"], "addresses": addresses}})
    code, err = run(capsys, "--root", str(sample_root), "verify", "--spec", spec)
    assert code == 1  # nothing applied: checks fail, the command does not
    assert "internal error" not in err and "Traceback" not in err, err
