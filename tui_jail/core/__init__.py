"""The pure core: what a jail is and what making it changes, computed without changing anything.

The spec (validated model, YAML round-trip, saved documents), the plan (spec + the current system → every
change, as data), and what both are made of: capability names, the fstab and sshd_config text (parsed, managed blocks
rendered), diff text, the boot guard's and the exec
launch file's contents, the plan as terminal text, ELF reading, the check-result API verification reports
through, the refusals commands turn into one line.
Nothing here writes to the system or runs a command: the transaction, verification and the exec launcher
above read what it computes. It reads the system only through `tui_jail.paths.system` (the path layer).
"""
