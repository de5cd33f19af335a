"""Where tui-jail's short-lived scratch files go: the candidate sshd configs that `sshd -t`/`-T` read and
the fstab slices `findmnt --verify` reads, made and removed within one check.

In RAM (/dev/shm, the tmpfs every Linux system mounts there) rather than /tmp, which is often the root
file system: there, making and removing a directory waits on the file system's journal whenever other
processes sync (16-20 ms for one candidate config on a loaded machine, against 1 ms in /dev/shm). A
TMPDIR the admin set is honoured.
"""

from __future__ import annotations

import os

RAM = "/dev/shm"


def scratch_dir() -> str | None:
    """The directory for scratch files: TMPDIR when set, else /dev/shm (None where it cannot be written:
    tempfile's own choice)."""
    if os.environ.get("TMPDIR"):
        return os.environ["TMPDIR"]
    return RAM if os.access(RAM, os.W_OK | os.X_OK) else None
