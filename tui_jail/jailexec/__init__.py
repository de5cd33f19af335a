"""The exec launcher: `tui-jail exec` runs one command inside an applied exec jail, or refuses and runs nothing.

`launcher` reads the jail's launch file (written by the plan, see `tui_jail.core.launchfile`), checks the
jail is as it says, then enters new namespaces, binds and chroots; `capdrop` lowers the capability sets
and reads them back; `libc` holds the system calls Python lacks; `ptyrelay` gives a job a terminal of its
own. It sits on a job's start-up path, so it imports little: never the spec, the planner or the transaction.
"""
