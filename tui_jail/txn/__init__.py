"""The transaction: the only code that changes the system, and everything that keeps it undoable.

A plan from the core becomes journalled steps (`transaction`, `steps`, `journal`) after the preflight
refuses what would lock the admin out (`preflight`, with `session` and `admin` for who is logged in and
how); a detached watchdog (`arming`, `watchdog`, `watched`) rolls it back at its deadline unless a new
login confirms it (`pending`, `entry`); `rollback` undoes it from the journal alone, at boot too
(`boot_recovery`, run by the boot guard); `history` prunes finished ones. It acts on the system through
the backends and the path layer; commands and screens above drive it.
"""
