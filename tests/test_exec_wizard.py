"""The exec flow in the wizard: the mounts screen warns before deleting an entry the jail's own shell
needs (its ELF loader or a library), and deletes it on a second press; the apply step of an exec jail
asks for its own proof (a job run in it: x runs `tui-jail exec JAIL -- true`), not a new SSH login,
and k keeps it without the new-login warning."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nsenv
import pytest
from test_wizard_apply import APPLIER, applied, panel_text
from wizard_support import keys, run_async, txn_status, until, walk, wizard

from tui_jail.sandbox import bind_host_binaries
from tui_jail.screens.keep_modal import KeepModal
from tui_jail.screens.mounts import MountsScreen

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]


@run_async
async def test_deleting_the_mount_that_holds_the_shells_loader_is_warned_about_first(wizard_root: Path) -> None:
    bind_host_binaries(wizard_root)  # real programs to read; unmounted by the fixture (nothing is applied)
    app = wizard(wizard_root)
    async with app.run_test(size=(100, 30)) as pilot:
        await keys(pilot, *walk("joblet-production", "mounts"))
        assert isinstance(app.screen, MountsScreen)
        assert [m["target"] for m in app.state.mounts] == ["bin", "lib", "lib64", "usr"]
        await keys(pilot, "down", "down", "down", "d")  # /usr: the shell needs nothing there, so no warning
        assert [m["target"] for m in app.state.mounts] == ["bin", "lib", "lib64"]
        await keys(pilot, "d")  # the cursor is on /lib64 now: the shell's ELF loader
        assert [m["target"] for m in app.state.mounts] == ["bin", "lib", "lib64"]
        message = [n.message for n in app._notifications][-1]
        assert "the jail's /bin/sh needs /lib64: without it, it lacks its ELF loader /lib64/" in message
        assert "Press d again" in message
        await keys(pilot, "d")
        assert [m["target"] for m in app.state.mounts] == ["bin", "lib"]


@run_async
async def test_an_exec_jail_is_proven_by_a_job_and_kept_without_the_login_ritual(wizard_root: Path) -> None:
    bind_host_binaries(wizard_root)  # unmounted with everything else by the fixture
    app = wizard(wizard_root, environ=APPLIER, clock=time.time)  # applied over SSH, from this session
    async with app.run_test(size=(100, 30)) as pilot:
        await applied(pilot, "joblet-production")
        text = panel_text(app)
        assert "No sshd change: prove the jail runs its job" in text and "exec joblet-production -- true" in text
        assert "log in anew" not in text
        await keys(pilot, "x")
        await until(pilot, lambda: "the jail ran `true`: exit status 0" in panel_text(app), timeout=60)
        await keys(pilot, "k")
        assert not isinstance(app.screen, KeepModal)  # no warning about new logins: sshd was not touched
        await until(pilot, lambda: txn_status(app) == "confirmed")
