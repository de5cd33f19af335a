"""The watchdog's name before the transaction moved into `tui_jail.txn`, kept for the rollback timers
already armed under it: where systemd is PID 1, an install older than that move armed a transient timer
that runs `python -m tui_jail.watchdog ROOT TXN` at the deadline. Upgrading tui-jail while such a change
is pending must not turn its rollback into "No module named tui_jail.watchdog", so this name runs the
same loop (`tui_jail.txn.watchdog`)."""

import sys

from tui_jail.txn.watchdog import main

if __name__ == "__main__":
    sys.exit(main())
