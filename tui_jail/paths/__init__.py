"""The path layer: the one place that writes under the system root.

`resolve` walks a path from a descriptor of the root, following only trusted links and never out of
the root; `files` creates, writes, removes and changes owners and modes through the descriptors it
resolved; `binds` makes and undoes bind mounts by identity (mount ID, source object, boot); `applied`
keeps each jail's live binds; `kernel` holds the system calls Python lacks. `system` is the read side:
`SystemRoot`, the root (`--root DIR`) every reader goes through, with live mounts from `mountinfo`;
`fsops` gives the journal and other host paths the same writes; `faults` is the test-only switch that
stops a run at a numbered boundary (the race harness swaps components there). Nothing else in the
package writes to the system: tests/test_write_contract.py keeps it so.
"""
