"""The journal's history: only the last N finished transactions are kept, so that `status` and `apply`,
which read every entry, stay as fast after a thousand applies as after ten.

Pruned by `apply` and `remove` (`--keep-history N`) and by the wizard's apply (the default N), once
their own transaction is pending or over:
every earlier one is finished by then (an apply is refused while another is unfinished). Only a
sound entry that is confirmed or rolled back is ever removed: never an unfinished one, never a
damaged one (its problem stays named in `status`). A jail's live mounts are in its applied record,
not in the journal, so nothing a rollback or `verify` needs goes with a pruned entry. Each entry is
first moved out of `transactions/` in one rename, so a concurrent `status` sees it whole or not at all.
"""

from __future__ import annotations

from pathlib import Path

from tui_jail.paths.fsops import make_dirs, move, remove_tree
from tui_jail.txn import journal
from tui_jail.txn.journal_layout import FINISHED

DEFAULT_KEEP = 50
PRUNED = "pruned"  # beside transactions/: where an entry waits to be removed


def prunable(root: Path, keep: int) -> list[journal.Journal]:
    """The finished entries beyond the newest `keep`, oldest first."""
    finished = [
        entry.journal
        for entry in journal.scan(root)
        if entry.state is not None and not entry.unfinished and entry.state.status in FINISHED
    ]
    return finished[: max(len(finished) - keep, 0)]


def prune(root: Path, keep: int = DEFAULT_KEEP) -> int:
    """Remove the finished transactions beyond the newest `keep`; how many. Under the journal lock, not
    waited for: when another process holds it, the next apply prunes."""
    if not prunable(root, keep):
        return 0  # the usual case, read-only: a refused command leaves no lock file behind
    with journal.locked(root):
        old = prunable(root, keep)
        aside = journal.state_dir(root) / PRUNED
        make_dirs(aside, 0o700)
        for txn in old:
            move(txn.dir, aside / txn.id)
        remove_tree(aside)  # with whatever an interrupted prune left there
    return len(old)


def tidy(root: Path, keep: int = DEFAULT_KEEP) -> str:
    """Housekeeping after an apply or remove: prune to `keep`. A journal that cannot be pruned now never
    fails the command that applied: returns why not ('' when pruned), and the next apply tries again."""
    try:
        prune(root, keep)
    except (OSError, journal.Busy, journal.Damaged) as exc:
        return f"the journal's history was not pruned: {exc}"
    return ""
