"""Shared by the transaction tests and bench/apply.py: the seedbox spec on a sample root, applying it
(in this process or through the CLI), a snapshot of everything a transaction could change (files
byte for byte with mode and owner, and the mount table), waiting for a transaction to finish and for
watchdog processes to exit."""

from __future__ import annotations

import os
import select
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tui_jail.core.plan import make_plan
from tui_jail.core.spec import Spec, parse_spec
from tui_jail.core.yamlio import load_yaml_text
from tui_jail.paths.system import SystemRoot
from tui_jail.presets import preset_text
from tui_jail.txn import journal, transaction

STATE = "var/lib/tui-jail"


def seedbox_text(user: str = "media", address: str = "203.0.113.7") -> str:
    return preset_text("seedbox-sftp").replace("<media-user>", user).replace("<seedbox-ip>", address)


def seedbox(user: str = "media", address: str = "203.0.113.7") -> Spec:
    return parse_spec(load_yaml_text(seedbox_text(user, address)))


def apply_plain(root: Path, timeout: float = 30.0, environ: dict[str, str] | None = None) -> journal.TxnState:
    """The seedbox applied under root, left pending."""
    system = SystemRoot(root)
    return transaction.apply(make_plan(seedbox(), system), system, timeout=timeout, environ=environ or {})


def cli(root: Path, *args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tui_jail", "--root", str(root), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, **kw)  # type: ignore[call-overload]


def install_layout(root: Path, entry: str = "/opt/tui-jail/bin/tui-jail") -> None:
    """Make root boot with systemd and hold tui-jail as DESIGN.md's "Install" puts it (the entry point
    a stand-in script): where the boot guard can be installed."""
    (root / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
    script = root / entry.lstrip("/")
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    link = root / "usr/local/sbin/tui-jail"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(entry)


def snapshot(root: Path) -> dict[str, Any]:
    """Every path under root except the journal: type, mode, owner and content (or device numbers);
    plus the live mounts under root."""
    files: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == STATE or rel.startswith(STATE + "/"):
            dirnames[:] = []
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            key = os.path.relpath(path, root)
            if key.startswith(STATE) or key == "var/lib":  # the journal and its parent are not the jail's
                continue
            if stat.S_ISREG(st.st_mode):
                content: Any = Path(path).read_bytes()
            elif stat.S_ISCHR(st.st_mode):
                content = st.st_rdev
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            else:
                content = None
            files[key] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, content)
    mounts = {k: (m.source, m.fs_root, m.readonly) for k, m in SystemRoot(root).mounts().items() if k != "/"}
    return {"files": files, "mounts": mounts}


def wait_finished(root: Path, txn_id: str, timeout: float = 10.0) -> journal.TxnState:
    """Until the transaction is confirmed or rolled back (the watchdog's work)."""
    give_up = time.monotonic() + timeout
    txn = journal.Journal(root, txn_id)
    while True:
        state = txn.state()
        if not state.unfinished or time.monotonic() > give_up:
            return state
        time.sleep(0.02)


def changed_paths(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """The paths whose entry differs (for a readable assertion message)."""
    old, new = before["files"], after["files"]
    return {p for p in set(old) | set(new) if old.get(p) != new.get(p)}


def wait_watchdogs_gone(root: Path, timeout: float = 10.0) -> None:
    """Every watchdog of root's transactions has exited (they hold a log file open under root)."""
    pids = [j.state().watchdog_pid for j in journal.transactions(root)]
    wait_exited([pid for pid in pids if pid and b"tui_jail.txn.watchdog" in _cmdline(pid)], timeout)


def watchdog_pids(root: Path) -> list[int]:
    """The watchdog processes for root, armed or still waiting for their transaction."""
    wanted = [b"tui_jail.txn.watchdog", str(root).encode()]
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _has_args(int(pid), wanted)]


def wait_exited(pids: list[int], timeout: float = 10.0) -> None:
    """Until each process has ended (its pidfd turns readable then)."""
    give_up = time.monotonic() + timeout
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            if not select.select([fd], [], [], max(0.0, give_up - time.monotonic()))[0]:
                raise TimeoutError(f"process {pid} ({_cmdline(pid)!r}) still running")
        finally:
            os.close(fd)


def _has_args(pid: int, wanted: list[bytes]) -> bool:
    args = _cmdline(pid).split(b"\0")
    return all(arg in args for arg in wanted)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
