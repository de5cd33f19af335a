"""Read-only access to a system root (`--root DIR`): files, stats, users, live mounts.

Everything the planner and the verification checks read goes through `SystemRoot`, so that `--root`
is honoured everywhere: paths are given as seen inside DIR, and files, stats and listings are
resolved by the path layer (inside DIR, trusted links only: an absolute link never reaches the
host). Nothing here writes; writing is the transaction's job.
"""

from __future__ import annotations

import os
import posixpath
import stat
from functools import cached_property

from tui_jail.paths import files
from tui_jail.paths.records import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from pathlib import Path

    from tui_jail.paths.files import Root
    from tui_jail.paths.mountinfo import MountEntry


@record
class Account:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


def read_regular(host_path: Root, limit: int) -> bytes:
    """A regular file's bytes, at most `limit`. Anything else (a device reads without end, a FIFO
    blocks) or a larger file raises ValueError; OSError when it cannot be opened."""
    fd = os.open(host_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // 1024} KiB")
    return data


class SystemRoot:
    """A view of DIR as if it were `/`. `host(path)` maps an in-root path to the real path."""

    def __init__(self, root: Root = "/") -> None:
        self.dir = os.path.abspath(root)  # DIR, as text: what the path layer is given

    @cached_property
    def root(self) -> Path:
        """DIR as a Path, for the planner and the checks. Made when first asked for: a rollback works on
        `dir` alone, and pathlib (with the urllib.parse and ipaddress it imports) is a sixth of its
        start-up (tests/test_cli_imports.py)."""
        from pathlib import Path

        return Path(self.dir)

    def __repr__(self) -> str:
        return f"SystemRoot({self.dir!r})"

    def host(self, path: str) -> Path:
        if not path.startswith("/"):
            raise ValueError(f"expected an absolute path inside the root, got {path!r}")
        return self.root / path.lstrip("/") if path != "/" else self.root

    def inside(self, host_path: str) -> str | None:
        """A host path → the same path as seen inside the root (None when outside it)."""
        root = self.dir
        if root == "/":
            return host_path
        if host_path == root:
            return "/"
        if host_path.startswith(root + "/"):
            return host_path[len(root) :]
        return None

    def read_text(self, path: str) -> str | None:
        # newline="": a \r (CRLF files) is content to keep byte for byte, not a newline to translate
        data = files.read_bytes(self.dir, path)
        return None if data is None else data.decode("utf-8", errors="surrogateescape")

    def read_regular(self, path: str, limit: int) -> str:
        """A regular file's text (see `read_regular`), resolved inside DIR; absent: FileNotFoundError."""
        st = self.stat(path)
        if st is None:
            raise FileNotFoundError(path)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        data = files.read_bytes(self.dir, path, limit=limit)  # refuses one swapped for a device since
        if data is None:
            raise FileNotFoundError(path)
        return data.decode("utf-8", errors="surrogateescape")

    def lstat(self, path: str) -> os.stat_result | None:
        return files.stat_of(self.dir, path, follow_last=False)

    def stat(self, path: str) -> os.stat_result | None:
        return files.stat_of(self.dir, path)

    def is_dir(self, path: str) -> bool:
        st = self.stat(path)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def listdir(self, path: str) -> list[str] | None:
        return files.list_dir(self.dir, path)

    def glob(self, pattern: str) -> list[str]:
        """In-root paths matching an absolute glob pattern, sorted as sshd's Include does."""
        base = self.root
        matches = sorted(base.glob(pattern.lstrip("/")))
        return [posixpath.join("/", str(m.relative_to(base))) for m in matches]

    @cached_property
    def accounts(self) -> dict[str, Account]:
        text = self.read_text("/etc/passwd") or ""
        accounts = {}
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) >= 7 and fields[2].isdigit() and fields[3].isdigit():
                accounts[fields[0]] = Account(fields[0], int(fields[2]), int(fields[3]), fields[5], fields[6])
        return accounts

    @cached_property
    def groups(self) -> dict[str, int]:
        """Group name -> gid, from the root's /etc/group."""
        found = {}
        for line in (self.read_text("/etc/group") or "").splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[2].isdigit():
                found[fields[0]] = int(fields[2])
        return found

    def shadow_password(self, user: str) -> str | None:
        for line in (self.read_text("/etc/shadow") or "").splitlines():
            fields = line.split(":")
            if len(fields) >= 2 and fields[0] == user:
                return fields[1]
        return None

    def mounts(self) -> dict[str, MountEntry]:
        """Live mounts under the root, keyed by their mount point as seen inside the root.
        Where several are stacked on one point, the last (topmost) wins."""
        from tui_jail.paths.mountinfo import read_mountinfo  # here: a rollback asks each mount itself

        result: dict[str, MountEntry] = {}
        for entry in read_mountinfo():
            inside = self.inside(entry.mount_point)
            if inside is not None:
                result[inside] = entry
        return result
