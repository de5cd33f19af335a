"""The transaction journal: what a rollback needs to know after any crash, on disk and fsynced.

`/var/lib/tui-jail/` (0700) holds a lock file and `transactions/<id>/`, one directory per
transaction:

- `ops.json`   the steps of the transaction, in order, each with what undoing it needs (for a file:
               its mode and owner before; its content before is `backup/<n>`). Written, fsynced,
               before the first change.
- `plan.txt`   the plan as the admin saw it (for `recover`, on a bare console).
- `log`        one line per event: `begin N` before step N is attempted and `undo N` once its undo
               is complete, each on disk before going on; `done N` after step N, carried to disk
               by the next one; `mount N {...}`, the identity of the mount step N makes, changes
               or takes down, on disk before it does (see `tui_jail.paths.binds`).
- `state.json` status, deadline, who applied from where; replaced atomically, written last at
               creation (a transaction without it is not one yet).

Rollback is driven by these files alone. This module does no system changes beyond its own
directory. The layout, the lock and the raw state live in `journal_layout`, which is all the
detached watchdog loads until it has something to roll back.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tui_jail.fsops import append_line, atomic_write, fsync_dir, make_dirs, restrict, write_new
from tui_jail.journal_layout import STATE_DIR, TRANSACTIONS, UNFINISHED, read_state, take_lock
from tui_jail.journal_layout import Busy as Busy  # re-exported: callers catch it as journal.Busy

Op = dict[str, Any]
DEFAULT_TIMEOUT = 120.0  # seconds a transaction waits for its confirmation
LONGEST_WAIT = 86400.0  # a change left unconfirmed for longer than a day is no safety net


def wait_problem(seconds: float) -> str:
    """Why `seconds` cannot be a confirm timeout or an extension; '' when it can. NaN or infinity
    would never come due: the watchdog would never roll back."""
    if not (math.isfinite(seconds) and 1 <= seconds <= LONGEST_WAIT):
        return f"must be a number of seconds from 1 to {LONGEST_WAIT:g}, not {seconds:g}"
    return ""


@dataclass
class TxnState:
    id: str
    jail: str
    action: str  # apply | remove
    status: str
    created: float
    deadline: float
    timeout: float
    applier_pid: int = 0
    watchdog_pid: int = 0
    user: str = ""
    ssh_connection: str = ""
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED

    def applied_from(self, environ: Mapping[str, str]) -> bool:
        """`environ` is the SSH session that applied this: a confirmation from it proves no new login works."""
        return bool(self.ssh_connection) and environ.get("SSH_CONNECTION", "") == self.ssh_connection


def state_dir(root: Path) -> Path:
    return root / STATE_DIR.lstrip("/")


def ensure_state_dir(root: Path) -> Path:
    """The journal's home: created 0700 (its parents, like /var/lib, the usual 0755)."""
    path = state_dir(root)
    if not path.is_dir():
        make_dirs(path.parent, 0o755)
        make_dirs(path, 0o700)
    return path


def new_id(jail: str, now: float) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{jail}-{os.urandom(2).hex()}"


@contextlib.contextmanager
def locked(root: Path, *, wait: float = 0.0) -> Iterator[None]:
    """The one-at-a-time lock (see `journal_layout.take_lock`); raises Busy when it is not free in time."""
    ensure_state_dir(root)
    fd = take_lock(str(root), wait)
    try:
        yield
    finally:
        os.close(fd)


class Journal:
    """One transaction's directory."""

    def __init__(self, root: Path, txn_id: str) -> None:
        self.root = root
        self.id = txn_id
        self.dir = root / TRANSACTIONS.lstrip("/") / txn_id

    # --- creation ----------------------------------------------------------------------------------

    @classmethod
    def create(cls, root: Path, state: TxnState, ops: list[Op], backups: dict[int, bytes], plan_text: str) -> Journal:
        """Write the whole journal (backups first, state last) before anything changes."""
        journal = cls(root, state.id)
        restrict(ensure_state_dir(root), 0o700)
        make_dirs(journal.dir / "backup", 0o700)
        # nothing reads a transaction before its state.json exists, so the files before it are plain
        # fsynced writes; replacing state.json fsyncs the directory, which covers their names too
        for index, content in backups.items():
            write_new(journal.dir / "backup" / str(index), content)
        fsync_dir(journal.dir / "backup")
        write_new(journal.dir / "plan.txt", plan_text.encode())
        write_new(journal.dir / "ops.json", json.dumps(ops, indent=1).encode())
        write_new(journal.dir / "log", b"")  # created here: an append alone does not fsync the name
        journal.write_state(state)
        return journal

    # --- reading -----------------------------------------------------------------------------------

    def state(self) -> TxnState:
        return TxnState(**read_state(str(self.dir)))

    def ops(self) -> list[Op]:
        try:
            ops: list[Op] = json.loads((self.dir / "ops.json").read_text())
        except FileNotFoundError:
            return []  # crashed while preparing: nothing was changed
        return ops

    def backup(self, index: int) -> bytes:
        return (self.dir / "backup" / str(index)).read_bytes()

    def plan_text(self) -> str:
        try:
            return (self.dir / "plan.txt").read_text()
        except FileNotFoundError:
            return ""

    def events(self) -> list[tuple[str, int]]:
        try:
            text = (self.dir / "log").read_text()
        except FileNotFoundError:
            return []
        events = []
        for line in text.splitlines():
            word, _, number = line.partition(" ")
            if number.isdigit():  # a torn last line (crash mid-append) is ignored
                events.append((word, int(number)))
        return events

    def mount_records(self) -> dict[int, dict[str, Any]]:
        """Step -> the identity of the mount it acted on (see `record_mount`)."""
        try:
            text = (self.dir / "log").read_text()
        except FileNotFoundError:
            return {}
        records = {}
        for line in text.splitlines():
            word, _, rest = line.partition(" ")
            number, _, identity = rest.partition(" ")
            if word == "mount" and number.isdigit():
                with contextlib.suppress(ValueError):  # a torn last line
                    records[int(number)] = json.loads(identity)
        return records

    def begun(self) -> set[int]:
        return {n for word, n in self.events() if word == "begin"}

    def done(self) -> set[int]:
        return {n for word, n in self.events() if word == "done"}

    def undone(self) -> set[int]:
        return {n for word, n in self.events() if word == "undo"}

    # --- writing -----------------------------------------------------------------------------------

    def write_state(self, state: TxnState) -> None:
        atomic_write(self.dir / "state.json", json.dumps(asdict(state), indent=1).encode(), 0o600, 0, 0)

    def update(self, **changes: Any) -> TxnState:
        state = self.state()
        for key, value in changes.items():
            setattr(state, key, value)
        self.write_state(state)
        return state

    def record_mount(self, index: int, identity: dict[str, Any]) -> None:
        """The mount step `index` is about to make or change, on disk before it does: an undo then
        acts on that very mount and no other."""
        append_line(self.dir / "log", f"mount {index} {json.dumps(identity)}")

    def record(self, word: str, index: int) -> None:
        # a rollback goes by `begin` and `undo`; a `done` only tells `recover` a step was not cut short
        append_line(self.dir / "log", f"{word} {index}", sync=word != "done")


def transactions(root: Path) -> list[Journal]:
    """Every transaction under the root, oldest first."""
    return [journal for journal, _ in _with_states(root)]


def unfinished(root: Path) -> list[Journal]:
    return [journal for journal, state in _with_states(root) if state.unfinished]


def _with_states(root: Path) -> list[tuple[Journal, TxnState]]:
    """Each transaction with its state, oldest first; every state read once, as there is one per
    apply ever made."""
    try:
        names = os.listdir(root / TRANSACTIONS.lstrip("/"))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        journal = Journal(root, name)
        try:
            found.append((journal, journal.state()))
        except (FileNotFoundError, NotADirectoryError):
            continue  # no state.json yet: not a transaction (see `Journal.create`)
    return sorted(found, key=lambda pair: (pair[1].created, pair[0].id))


def find(root: Path, txn_id: str | None) -> Journal | None:
    """The named transaction, or the latest unfinished one."""
    if txn_id is not None:
        journal = Journal(root, txn_id)
        return journal if (journal.dir / "state.json").exists() and "/" not in txn_id else None
    pending = unfinished(root)
    return pending[-1] if pending else None
