"""Starting the wizard: `tui-jail [--root DIR | --sandbox]`.

`--sandbox` builds a throwaway root with a realistic /etc, the host's programs bound in read-only
(so exec jails run), and says SANDBOX on every screen; it is left in place afterwards (its path is
printed) so the newcomer can look at what was written. The sandbox wizard first re-executes itself
in a private mount namespace (`unshare -m --propagation private`): its bind mounts never reach the
host's mount table and vanish with the namespace — once the wizard and any rollback watchdog it
started have exited. Leaving the wizard with a change pending prints, after the UI is gone, when it
rolls back and the command that keeps it.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tui_jail.core.errors import Refused

if TYPE_CHECKING:
    import argparse
    from types import SimpleNamespace

    from tui_jail.app import WizardApp

IN_PRIVATE_NAMESPACE = "TUI_JAIL_SANDBOX_NS"


def run(args: argparse.Namespace | SimpleNamespace) -> int:
    root: Path = args.root or Path("/")
    if args.sandbox:
        if os.geteuid() != 0:
            raise Refused("--sandbox needs root: it makes device nodes, owners and bind mounts (privately)")
        if not os.environ.get(IN_PRIVATE_NAMESPACE):
            _reexec_in_private_namespace()
        from tui_jail.sandbox import bind_host_binaries, new_sandbox

        root = new_sandbox()
        bind_host_binaries(root)
    built_app(root, sandbox=args.sandbox).run()
    for line in pending_lines(root):  # the screen that showed the countdown is gone
        print(line)
    if args.sandbox:
        print(f"tui-jail: the sandbox root is {root} (delete it when done)", file=sys.stderr)
    return 0


def built_app(root: Path, *, sandbox: bool) -> WizardApp:
    """The wizard's app, imported and built with the cyclic garbage collector paused.

    Textual's modules, the wizard's and the app make tens of thousands of objects that live as long as the
    process; the collector would walk them again and again as they are made (~80 M instructions of the
    ~1,300 M before the first screen). What they made is then frozen out of its generations (it is
    never garbage) and the collector runs again, for everything made after."""
    gc.disable()
    try:
        from tui_jail.app import make_app

        return make_app(root=root, sandbox=sandbox)
    finally:
        gc.freeze()
        gc.enable()


def pending_lines(root: Path) -> list[str]:
    """One line for each change left pending: when it rolls back, and the command that keeps it."""
    import time

    from tui_jail.txn import entry, journal

    lines = []
    for txn in journal.unfinished(root):
        state, _ = txn.state_or_stand_in()
        if state.status == "pending":
            at = time.strftime("%H:%M:%S", time.localtime(state.deadline))
            where = "from a new login" if state.needs_new_login else "from any session"
            confirm = entry.command(root, "confirm", state.id)
            lines.append(f"tui-jail: {state.jail} is pending: it rolls back at {at} unless `{confirm}` runs {where}")
    return lines


def _reexec_in_private_namespace() -> None:
    argv = ["unshare", "-m", "--propagation", "private", sys.executable, "-m", "tui_jail", "--sandbox"]
    try:
        os.execvpe(argv[0], argv, {**os.environ, IN_PRIVATE_NAMESPACE: "1"})
    except OSError as exc:
        raise Refused(f"--sandbox could not enter a private mount namespace with unshare (util-linux): {exc}") from None
