"""Each jail's live binds, kept in its applied record `var/lib/tui-jail/jails/<name>.mounts.json`.

The transaction writes the record as its last step (so a rollback restores the one before), from
the identities its bind, remount and unmount steps journalled, on top of the record it found. A
re-apply that drops a mount, and `remove`, read it to know what this jail mounted — by mount ID,
target, source device and inode, boot ID — and take down only mounts that still match. Pruning old
transactions loses nothing: the record, not the journal, is what is live.

It also names the directories of the jail root's own chain that the jail created (`chain`), so that
`remove` takes down those, and only those: a record without the key (written before it existed)
knows none, and `remove` then leaves the whole chain.
"""

from __future__ import annotations

from tui_jail.paths.files import Root, atomic_write, read_bytes
from tui_jail.paths.records import record

# binds (and with it ctypes, for the mount syscalls) is imported by what checks or changes a live mount:
# every plan reads the record, and a plan mounts nothing
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from typing import Any

    from tui_jail.paths import binds

JAILS_DIR = "/var/lib/tui-jail/jails"  # the same directory as launchfile.JAILS_DIR


def record_path(name: str) -> str:
    return f"{JAILS_DIR}/{name}.mounts.json"


@record
class AppliedMount:
    """One bind a jail made and left live, as recorded when it was made."""

    target: str
    source: str
    readonly: bool
    mount_id: int
    source_dev: int
    source_ino: int
    boot_id: str

    def identity(self) -> binds.Identity:
        """Its fields as a dict (what `dataclasses.asdict` gives, without its deep copy: all are scalars,
        and it ran once per mount of every plan and apply)."""
        return dict(vars(self))

    def is_live(self, root: Root) -> bool:
        """It is still mounted: this boot, this very mount at its target."""
        from tui_jail.paths import binds

        return binds.matches(binds.current(root, self.target), self.identity())


def read_applied_mounts(root: Root, name: str) -> list[AppliedMount]:
    """The jail's recorded binds ([] when it has no record). `root` is the system root DIR."""
    data = read_bytes(root, record_path(name))
    return parse(data) if data is not None else []


def replace_identity(root: Root, name: str, target: str, identity: binds.Identity) -> None:
    """A mount of the jail made anew (a rollback re-binding what a remove took down): its record
    names the new mount, so that a later remove takes down that one."""
    from tui_jail.paths.binds import IDENTITY_KEYS

    ids = {key: identity[key] for key in IDENTITY_KEYS}
    recorded = read_applied_mounts(root, name)
    mounts = [AppliedMount(**{**m.identity(), **ids}) if m.target == target else m for m in recorded]
    atomic_write(root, record_path(name), render(mounts, read_made_chain(root, name)), 0o600, 0, 0)


def read_made_chain(root: Root, name: str) -> list[str] | None:
    """The directories of the jail root's chain the jail created; None when the record does not say."""
    data = read_bytes(root, record_path(name))
    return parse_chain(data) if data is not None else None


def parse(data: bytes) -> list[AppliedMount]:
    import json  # here and below, where a record is read or written: the plan of a jail never applied reads none

    try:
        entries = json.loads(data)["mounts"]
        return [AppliedMount(**entry) for entry in entries]
    except (ValueError, KeyError, TypeError):
        return []  # a damaged record knows no mount: convergence then leaves mounts alone


def parse_chain(data: bytes) -> list[str] | None:
    import json

    try:
        chain = json.loads(data).get("chain")
    except (ValueError, AttributeError):
        return None
    if not isinstance(chain, list) or not all(isinstance(path, str) for path in chain):
        return None  # unknown: nothing of the chain is taken for the jail's
    return chain


def render(mounts: list[AppliedMount], chain: list[str] | None) -> bytes:
    import json

    data: dict[str, Any] = {"mounts": [m.identity() for m in mounts]}
    if chain is not None:
        data["chain"] = sorted(chain)
    return json.dumps(data, indent=1).encode()


def after_steps(
    before: list[AppliedMount], steps: list[tuple[dict[str, Any], binds.Identity | None]]
) -> list[AppliedMount]:
    """The record once these journalled steps (each with the identity it recorded) are done: binds
    added, remounts' read-only flag carried, unmounted targets dropped."""
    from tui_jail.paths.binds import IDENTITY_KEYS

    live = {m.target: m for m in before}
    for op, identity in steps:
        kind = op["op"]
        if kind == "bind" and identity is not None:
            keep = {k: identity[k] for k in IDENTITY_KEYS}
            live[op["target"]] = AppliedMount(op["target"], op["source"], bool(op.get("readonly")), **keep)
        elif kind == "remount" and op["target"] in live:
            old = live[op["target"]]
            live[op["target"]] = AppliedMount(**{**old.identity(), "readonly": bool(op["readonly"])})
        elif kind == "umount":
            live.pop(op["target"], None)
    return sorted(live.values(), key=lambda m: m.target)
