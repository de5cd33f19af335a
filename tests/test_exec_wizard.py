"""The exec flow in the wizard: the mounts screen warns before deleting an entry the jail's own shell
needs (its ELF loader or a library), and deletes it on a second press."""

from __future__ import annotations

import shutil
from pathlib import Path

from wizard_support import keys, run_async, walk, wizard

from tui_jail.screens.mounts import MountsScreen


def with_host_binaries(root: Path) -> Path:
    """The sample root, its /bin, /lib, /lib64 and /usr links to the host's: real programs to read
    (nothing is mounted or written outside the root)."""
    for name in ("bin", "lib", "lib64", "usr"):
        shutil.rmtree(root / name)
        (root / name).symlink_to(Path("/") / name)
    return root


@run_async
async def test_deleting_the_mount_that_holds_the_shells_loader_is_warned_about_first(sample_root: Path) -> None:
    app = wizard(with_host_binaries(sample_root))
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
