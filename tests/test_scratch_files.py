"""The scratch files of a check (the candidate sshd config, the fstab slices findmnt reads) are made in
RAM, /dev/shm, not in /tmp: on a root file system that others sync, making and removing them waited
on its journal (16-20 ms per candidate config on a loaded machine, 1 ms in /dev/shm). TMPDIR, when the
admin sets it, still decides."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tui_jail.backends import sshd
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import preflight

pytestmark = pytest.mark.skipif(not os.access("/dev/shm", os.W_OK), reason="no writable /dev/shm here")


def test_the_candidate_sshd_config_is_made_in_ram(sample_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    with sshd.candidate_config(SystemRoot(sample_root)) as config:
        assert config.is_relative_to("/dev/shm"), config
        assert sshd.check_config(config) == (True, "")  # sshd reads it there as anywhere
    assert not config.exists()


def test_findmnt_reads_its_slices_from_ram(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    read: list[str] = []
    popen = subprocess.Popen

    def recording(argv: list[str], **kwargs: object) -> subprocess.Popen[str]:
        read.append(argv[-1])
        return popen(argv, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(subprocess, "Popen", recording)
    [findings] = preflight._findings("/tank/a /srv/a none bind 0 0\n")
    assert findings == set() or all(target for target, _ in findings)
    assert read and all(name.startswith("/dev/shm/tui-jail-fstab-") for name in read), read


def test_a_tmpdir_the_admin_set_still_decides(
    sample_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: the same calls follow TMPDIR (tempfile's own rule) when it is set."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with sshd.candidate_config(SystemRoot(sample_root)) as config:
        assert config.is_relative_to(tmp_path), config
