"""tui-jail: a Textual wizard and plain commands that build chroot jails without locking the admin out.

Flow: spec (validated model) → plan (pure: files, paths, mounts, diffs) → transaction (journal,
watchdog, confirm, rollback) → verification (live checks from the backends)."""

__version__ = "0.1.0"
