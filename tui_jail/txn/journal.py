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
               or takes down, written before it does (see `tui_jail.paths.binds`); `end STATUS` once
               confirmed or rolled back (what is left to know when `state.json` is damaged).
- `reserve`    64 KiB of nothing, freed when the transaction ends or a rollback starts: on a full disk
               the rollback still has room to restore files and to record its end.
- `state.json` status, deadline, who applied from where; replaced atomically, written last at
               creation (a transaction without it is not one yet).

Rollback is driven by these files alone, or by the copy of `ops.json` and the backups the watchdog
holds in memory (`Journal.remembered`). A damaged entry is named, never a traceback (`scan`): a
finished one blocks nothing; an unfinished one is rolled back from what is intact. This module does
no system changes beyond its own directory. The layout, the lock, the raw state and the clocks live
in `journal_layout`, which is all the detached watchdog loads until it has something to roll back.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Iterator, Mapping
from functools import partial

from tui_jail.paths.files import Appender
from tui_jail.paths.fsops import (
    atomic_write,
    fsync_dir,
    make_dirs,
    open_appender,
    remove_file,
    remove_tree,
    restrict,
    write_new,
)
from tui_jail.txn.journal_layout import (
    FINISHED,
    STATE_DIR,
    TRANSACTIONS,
    UNFINISHED,
    boot_id,
    boottime,
    lock_path,
    read_state,
    running,
    seconds_left,
    take_lock,
)
from tui_jail.txn.journal_layout import LONGEST_WAIT as LONGEST_WAIT  # re-exported for the commands
from tui_jail.txn.journal_layout import Busy as Busy  # re-exported: callers catch it as journal.Busy
from tui_jail.txn.journal_layout import Damaged as Damaged

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: status, confirm and the watchdog need none
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from tui_jail.paths.files import Root

Op = dict[str, "Any"]
DEFAULT_TIMEOUT = 120.0  # seconds a transaction waits for its confirmation
RESERVE = 64 * 1024  # bytes held back for the rollback (see the module's docstring)


def wait_problem(seconds: float) -> str:
    """Why `seconds` cannot be a confirm timeout or an extension; '' when it can. NaN or infinity
    would never come due: the watchdog would never roll back."""
    if not 1 <= seconds <= LONGEST_WAIT:  # NaN compares false, infinity is larger: both refused
        return f"must be a number of seconds from 1 to {LONGEST_WAIT:g}, not {seconds:g}"
    return ""


class TxnState:
    """One transaction's state.json. A plain class with slots, not a dataclass: `status`, `confirm` and
    `rollback` load this module with a rollback's clock running, and `dataclasses` brings `inspect`
    (tests/test_cli_imports.py holds them to that)."""

    # in state.json's order (and `status --json`'s)
    FIELDS = (
        "id",
        "jail",
        "action",  # apply | remove
        "status",
        "created",
        "deadline",
        "timeout",
        "applier_pid",
        "watchdog_pid",
        "user",
        "ssh_connection",
        # boot clock ticks (session.boot_ticks) when the reloaded sshd listened again: a confirmation must
        # come from a connection accepted after it; 0 when any session may confirm (no sshd change, no SSH login)
        "new_login_after",
        "notes",
        "error",
        "watchdog_start",  # the watchdog's start time (see journal_layout.running)
        "boot_id",  # the boot the deadline belongs to
        "boot_deadline",  # the deadline on CLOCK_BOOTTIME; `deadline` is wall time, for display
    )
    __slots__ = FIELDS

    def __init__(
        self,
        id: str,
        jail: str,
        action: str,
        status: str,
        created: float,
        deadline: float,
        timeout: float,
        applier_pid: int = 0,
        watchdog_pid: int = 0,
        user: str = "",
        ssh_connection: str = "",
        new_login_after: int = 0,
        notes: list[str] | None = None,
        error: str = "",
        watchdog_start: int = 0,
        boot_id: str = "",
        boot_deadline: float = 0.0,
    ) -> None:
        self.id, self.jail, self.action, self.status = id, jail, action, status
        self.created, self.deadline, self.timeout = created, deadline, timeout
        self.applier_pid, self.watchdog_pid, self.user, self.ssh_connection = (
            applier_pid,
            watchdog_pid,
            user,
            ssh_connection,
        )
        self.new_login_after = new_login_after
        self.notes: list[str] = [] if notes is None else notes
        self.error, self.watchdog_start, self.boot_id, self.boot_deadline = (
            error,
            watchdog_start,
            boot_id,
            boot_deadline,
        )

    def as_dict(self) -> dict[str, Any]:
        """The fields in order, as state.json holds them (the notes copied, as `dataclasses.asdict` did)."""
        data = {name: getattr(self, name) for name in TxnState.FIELDS}
        data["notes"] = list(self.notes)
        return data

    def __repr__(self) -> str:
        return f"TxnState({', '.join(f'{k}={v!r}' for k, v in self.as_dict().items())})"

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED

    def set_deadline(self, seconds: float) -> None:
        """The deadline `seconds` from now, on both clocks."""
        self.boot_id, self.boot_deadline = boot_id(), boottime() + seconds
        self.deadline = time.time() + seconds

    def seconds_left(self) -> float:
        """Until the deadline, on the boot clock; 0.0 once it has come (or it is from another boot)."""
        return seconds_left(self.as_dict())

    def watchdog_running(self) -> bool:
        return running(self.watchdog_pid, self.watchdog_start)

    def watchdog_state(self) -> str:
        """armed, re-armed (a command found the first one gone) or gone; '' once nothing is left to watch."""
        if self.status not in ("preparing", "applying", "pending", "rolling-back"):
            return ""
        if not self.watchdog_running():
            return "gone"
        return "re-armed" if any(note.startswith("watchdog re-armed") for note in self.notes) else "armed"

    @property
    def needs_new_login(self) -> bool:
        return self.new_login_after > 0

    def applied_from(self, environ: Mapping[str, str]) -> bool:
        """`environ` is the SSH session that applied this: a confirmation from it proves no new login works."""
        return bool(self.ssh_connection) and environ.get("SSH_CONNECTION", "") == self.ssh_connection


def state_dir(root: Root) -> Path:
    """The journal's home as a Path, for the callers that want one (history, the tests)."""
    from pathlib import Path  # here, not at the top: see `Journal.dir`

    return Path(_state_path(root))


def _state_path(root: Root) -> str:
    return os.path.join(root, STATE_DIR.lstrip("/"))


def ensure_state_dir(root: Root) -> str:
    """The journal's home: created 0700 (its parents, like /var/lib, the usual 0755)."""
    path = _state_path(root)
    if not os.path.isdir(path):
        make_dirs(os.path.dirname(path), 0o755)
        make_dirs(path, 0o700)
    return path


def new_id(jail: str, now: float) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{jail}-{os.urandom(2).hex()}"


def repair_lock(root: Root) -> str:
    """Make the state directory again if it was deleted, and remove a lock that is not a file (a
    directory, a link: nobody can hold it, so every command would fail). Returns what was wrong, in
    one line ('' when nothing was)."""
    ensure_state_dir(root)
    path = lock_path(os.fspath(root))
    try:
        kind = stat.S_IFMT(os.lstat(path).st_mode)
    except FileNotFoundError:
        return ""
    if kind == stat.S_IFREG:
        return ""
    if kind == stat.S_IFDIR:
        remove_tree(path)
    else:
        remove_file(path)
    what = {stat.S_IFDIR: "a directory", stat.S_IFLNK: "a symbolic link"}.get(kind, "not a file")
    return f"{path}: the journal lock was {what}, which nobody can hold; removed"


@contextlib.contextmanager
def locked(root: Root, *, wait: float = 0.0) -> Iterator[None]:
    """The one-at-a-time lock (see `journal_layout.take_lock`); raises Busy when it is not free in time."""
    repair_lock(root)
    fd = take_lock(os.fspath(root), wait)
    try:
        yield
    finally:
        os.close(fd)


class Journal:
    """One transaction's directory; `remembered` adds what the watchdog read of it when armed."""

    def __init__(self, root: Root, txn_id: str) -> None:
        self.root = root
        self.id = txn_id
        self.dir_path = os.path.join(root, TRANSACTIONS.lstrip("/"), txn_id)
        self._ops: list[Op] | None = None
        self._backups: dict[int, bytes] = {}
        self._state: TxnState | None = None
        self._log: list[str] | None = None
        self._appender: Appender | None = None  # the log, opened at the first line this process appends

    @property
    def dir(self) -> Path:
        """The transaction's directory as a Path, for the callers that want one (recover's listing,
        history, the tests). The journal itself works on `dir_path`, text: pathlib (with the urllib.parse
        and ipaddress it imports) is no part of the start-up of `status`, `confirm` and `rollback`."""
        from pathlib import Path

        return Path(self.dir_path)

    @classmethod
    def remembered(
        cls,
        root: Root,
        txn_id: str,
        ops: list[Op] | None,
        backups: dict[int, bytes],
        state: dict[str, Any],
        log: list[str],
    ) -> Journal:
        """The journal with the watchdog's own copy of its undo (steps, backups, the last state and
        log it read): it rolls back from memory whatever became of the files since."""
        journal = cls(root, txn_id)
        journal._ops, journal._backups, journal._log = ops, backups, log
        with contextlib.suppress(Damaged, TypeError):  # what it read was sound, or nothing stands in
            journal._state = _typed(state)
        return journal

    # --- creation ----------------------------------------------------------------------------------

    @classmethod
    def create(cls, root: Root, state: TxnState, ops: list[Op], backups: dict[int, bytes], plan_text: str) -> Journal:
        """Write the whole journal (state.json last) before anything changes."""
        journal = cls(root, state.id)
        restrict(ensure_state_dir(root), 0o700)
        make_dirs(f"{journal.dir_path}/backup", 0o700)
        # nothing reads a transaction before its state.json exists, so the files before it are plain
        # fsynced writes, in any order; replacing state.json fsyncs the directory, which covers their names too
        here = journal.dir_path
        contents = {f"{here}/backup/{index}": content for index, content in backups.items()}
        contents[f"{here}/plan.txt"] = plan_text.encode()
        contents[f"{here}/ops.json"] = json.dumps(ops, indent=1).encode()
        contents[f"{here}/log"] = b""  # created here: an append alone does not fsync the name
        contents[f"{here}/reserve"] = bytes(RESERVE)
        from tui_jail.txn.together import side_by_side  # only an apply writes a journal: status and confirm do without

        side_by_side([partial(write_new, path, content) for path, content in contents.items()], at_once=8)
        fsync_dir(f"{here}/backup")
        journal.write_state(state)
        return journal

    # --- reading -----------------------------------------------------------------------------------

    def state(self) -> TxnState:
        """Raises FileNotFoundError (no state.json: not a transaction yet) or Damaged."""
        return _typed(read_state(self.dir_path))

    def state_or_stand_in(self) -> tuple[TxnState, str]:
        """The state, or — damaged or gone — what the watchdog remembers of it, or a stand-in named
        after the directory; with what is wrong ('' when nothing is)."""
        try:
            return self.state(), ""
        except (OSError, Damaged) as exc:
            problem = str(exc) if isinstance(exc, Damaged) else f"{self.dir_path}/state.json: {exc.strerror}"
        if self._state is not None:
            return self._state, problem
        jail = self.id.split("-", 2)[-1].rpartition("-")[0] or "?"  # ids are DATE-TIME-JAIL-XXXX (new_id)
        stand_in = TxnState(self.id, jail, "?", "pending", created=0.0, deadline=0.0, timeout=0.0)
        return stand_in, problem

    def ops(self) -> list[Op]:
        """The steps; raises Damaged when ops.json is gone or unreadable and no copy is held."""
        if self._ops is not None:
            return self._ops
        path = f"{self.dir_path}/ops.json"
        try:
            with open(path, "rb") as file:
                ops = json.loads(file.read())
        except OSError as exc:
            raise Damaged(f"{path}: {exc.strerror}") from None
        except ValueError as exc:
            raise Damaged(f"{path}: not JSON ({exc})") from None
        if not (isinstance(ops, list) and all(isinstance(op, dict) and isinstance(op.get("op"), str) for op in ops)):
            raise Damaged(f"{path}: not a list of steps")
        return ops

    def backup(self, index: int) -> bytes:
        if index in self._backups:
            return self._backups[index]
        with open(f"{self.dir_path}/backup/{index}", "rb") as file:
            return file.read()

    def plan_text(self) -> str:
        try:
            with open(f"{self.dir_path}/plan.txt") as file:
                return file.read()
        except FileNotFoundError:
            return ""

    def _log_lines(self) -> list[str] | None:
        """The log's lines (what the watchdog last read of it, when it is gone); None when unknown."""
        try:
            with open(f"{self.dir_path}/log", errors="replace") as file:
                return file.read().splitlines()
        except OSError:
            return self._log

    def events(self) -> list[tuple[str, int]]:
        events = []
        for line in self._log_lines() or []:
            word, _, number = line.partition(" ")
            if number.isdigit():  # a torn last line (crash mid-append) is ignored
                events.append((word, int(number)))
        return events

    def mount_records(self) -> dict[int, dict[str, Any]]:
        """Step -> the identity of the mount it acted on (see `record_mount`)."""
        return self._records("mount")

    def made_records(self) -> dict[int, dict[str, Any]]:
        """Step -> the identity of the directory it made (see `record_made`)."""
        return self._records("made")

    def _records(self, kind: str) -> dict[int, dict[str, Any]]:
        records = {}
        for line in self._log_lines() or []:
            word, _, rest = line.partition(" ")
            number, _, identity = rest.partition(" ")
            if word == kind and number.isdigit():
                with contextlib.suppress(ValueError):  # a torn last line
                    records[int(number)] = json.loads(identity)
        return records

    def ended(self) -> str:
        """The log's last `end STATUS` ('' for none): known even when state.json is damaged."""
        ends = [line[4:] for line in self._log_lines() or [] if line.startswith("end ")]
        return ends[-1] if ends else ""

    def begun(self) -> set[int]:
        """The steps begun; every step when the log is gone (each undo checks the live system, so
        undoing one that never ran changes nothing)."""
        if self._log_lines() is None:
            return set(range(len(self.ops())))
        return {n for word, n in self.events() if word == "begin"}

    def done(self) -> set[int]:
        return {n for word, n in self.events() if word == "done"}

    def undone(self) -> set[int]:
        return {n for word, n in self.events() if word == "undo"}

    # --- writing -----------------------------------------------------------------------------------

    def write_state(self, state: TxnState) -> None:
        atomic_write(f"{self.dir_path}/state.json", json.dumps(state.as_dict(), indent=1).encode(), 0o600, 0, 0)
        if state.status in FINISHED:
            with contextlib.suppress(OSError):  # a second record of the end: state.json is the first
                self._append(f"end {state.status}")
            self.release_reserve()

    def release_reserve(self) -> None:
        """Give back the room held for the rollback (it starts now, or it is not needed any more)."""
        with contextlib.suppress(OSError):
            remove_file(f"{self.dir_path}/reserve")

    def update(self, **changes: Any) -> TxnState:
        state = self.state()
        for key, value in changes.items():
            setattr(state, key, value)
        self.write_state(state)
        return state

    def record_mount(self, index: int, identity: dict[str, Any]) -> None:
        """The mount step `index` is about to make or change, in the log before it does: an undo then
        acts on that very mount and no other. Not fsynced: a mount outlives only a crash of the
        process, and then the page cache still holds the line; a crash of the machine takes the
        mount with it."""
        self._append(f"mount {index} {json.dumps(identity)}", sync=False)

    def record_made(self, index: int, identity: dict[str, int]) -> None:
        """The directory step `index` has just made (device, inode), on disk before it is given its
        owner: its undo removes that very directory and no other. Fsynced: the directory outlives a
        crash of the machine."""
        self._append(f"made {index} {json.dumps(identity)}")

    def record(self, word: str, index: int, *, volatile: bool = False) -> None:
        """A rollback goes by `begin` and `undo`, on disk before the step runs; a `done` only tells
        `recover` a step was not cut short. A `volatile` step's effect ends with the running system
        (a mount, a check, the sshd reload): its `begin` is not fsynced either, as `record_mount`
        (the next synced line of the log takes it to the disk in any case)."""
        self._append(f"{word} {index}", sync=word != "done" and not volatile)

    def record_all(self, word: str, indices: list[int]) -> None:
        """`record` of several steps at once, non-volatile: one append, one fdatasync for them all."""
        if indices:
            self._append("\n".join(f"{word} {index}" for index in indices))

    def _append(self, line: str, *, sync: bool = True) -> None:
        if self._appender is None:
            self._appender = open_appender(f"{self.dir_path}/log")
        self._appender.append(line, sync=sync)


def _typed(state: dict[str, Any]) -> TxnState:
    known = TxnState.FIELDS  # keys a newer tui-jail added are left out
    return TxnState(**{key: value for key, value in state.items() if key in known})


class Entry:
    """One directory of the journal: its state, or what is wrong with it."""

    __slots__ = ("journal", "problem", "state", "unfinished")

    def __init__(self, journal: Journal, state: TxnState | None, problem: str = "", unfinished: bool = False) -> None:
        self.journal = journal
        self.state = state
        self.problem = problem  # one line, naming the file: '' for a sound entry
        self.unfinished = unfinished  # its change may still be in place: it blocks the next apply

    def __repr__(self) -> str:
        return f"Entry({self.journal.id!r}, {self.state!r}, problem={self.problem!r}, unfinished={self.unfinished!r})"


def scan(root: Root) -> list[Entry]:
    """Every entry under the root, oldest first, each state read once (there is one per apply ever
    made). A damaged entry is unfinished only when it is the newest and its log does not say it
    ended: applies are one at a time, and none starts while another is unfinished, so an entry
    with a newer one after it was finished."""
    transactions = os.path.join(root, TRANSACTIONS.lstrip("/"))
    try:
        names = sorted(os.listdir(transactions))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except PermissionError:
        raise  # not root: said as such by the CLI
    except OSError as exc:
        raise Damaged(f"{transactions}: cannot be read ({exc.strerror})") from None
    found = []
    for name in names:
        journal = Journal(root, name)
        try:
            state = journal.state()
        except (FileNotFoundError, NotADirectoryError):
            # `Journal.create` writes the log before state.json, and no step runs before state.json:
            # with neither, the applier was killed inside `create` and nothing ran (its ops.json may be
            # missing too, so `begun` could not even say so)
            if journal._log_lines() is None or not journal.begun() - journal.undone() or journal.ended():
                continue  # no state.json yet and nothing done: not a transaction
            found.append(Entry(journal, None, f"{journal.dir_path}/state.json: missing"))
        except Damaged as exc:
            found.append(Entry(journal, None, str(exc)))
        else:
            found.append(Entry(journal, state, unfinished=state.unfinished))
    found.sort(key=lambda entry: (entry.state.created if entry.state else 0.0, entry.journal.id))
    newest = max((entry.journal.id for entry in found), default="")
    for entry in found:
        entry.unfinished |= entry.state is None and entry.journal.id == newest and not entry.journal.ended()
    return found


def transactions(root: Root) -> list[Journal]:
    """Every readable transaction under the root, oldest first."""
    return [entry.journal for entry in scan(root) if entry.state is not None]


def unfinished(root: Root) -> list[Journal]:
    """The readable transactions not yet confirmed or rolled back."""
    return [entry.journal for entry in scan(root) if entry.state is not None and entry.unfinished]


def find(root: Root, txn_id: str | None) -> Journal | None:
    """The named transaction (damaged or not), or the latest unfinished one."""
    if txn_id is not None:
        journal = Journal(root, txn_id)
        exists = "/" not in txn_id and txn_id not in ("", ".", "..")
        return journal if exists and os.path.isdir(journal.dir_path) else None
    pending = [entry.journal for entry in scan(root) if entry.unfinished]
    return pending[-1] if pending else None
