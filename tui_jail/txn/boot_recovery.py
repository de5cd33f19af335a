"""At boot, before `recover --boot` rolls an unconfirmed transaction back: systemd generated mount
units from the fstab that transaction wrote, and has mounted them, or queued them (`nofail` mounts
are not ordered before local-fs.target, after which the boot guard runs). Stopping those units
unmounts them and cancels their start jobs; otherwise a queued one would mount the jail again after
the rollback removed its fstab lines (a daemon-reload does not cancel it).
"""

from __future__ import annotations

from pathlib import Path

from tui_jail.backends import systemd
from tui_jail.core import fstab
from tui_jail.paths.system import SystemRoot
from tui_jail.txn import journal
from tui_jail.txn.journal import Damaged, Journal


def stop_unconfirmed_mounts(root: Path) -> list[str]:
    """Stop the mount units of the fstab entries each unfinished transaction added; what was done,
    one line each. Runs before anything is rolled back."""
    if not systemd.manages(root):
        return []
    system = SystemRoot(root)
    done = []
    for entry in journal.scan(root):
        if entry.unfinished:
            try:
                done.append(systemd.stop_mounts(_added_targets(entry.journal, system)))
            except (OSError, Damaged, systemd.SystemdError) as exc:
                done.append(f"{entry.journal.id}: mount units left as they are: {exc}")
    return [line for line in done if line]


def _added_targets(txn: Journal, system: SystemRoot) -> list[str]:
    """The targets of fstab lines `txn` wrote that the file had not before (deepest first). Without
    the old fstab there is no telling the jail's lines from the others: OSError."""
    begun = txn.begun()
    added: set[str] = set()
    for index, op in enumerate(txn.ops()):
        if op["op"] == "write" and op["path"] == fstab.FSTAB and index in begun:
            before = txn.backup(index).decode(errors="replace") if op["before"] else ""
            added |= _targets(system.read_text(fstab.FSTAB) or "") - _targets(before)
    return sorted(added, key=lambda target: (-target.count("/"), target))


def _targets(text: str) -> set[str]:
    return {target for _, target, _, _ in fstab.parse_entries(text)}
