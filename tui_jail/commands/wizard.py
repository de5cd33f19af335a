"""Starting the wizard: `tui-jail [--root DIR | --sandbox]`.

`--sandbox` builds a throwaway root with a realistic /etc and says SANDBOX on every screen; it is
left in place afterwards (its path is printed) so the newcomer can look at what was written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from tui_jail.app import make_app

    root: Path = args.root or Path("/")
    if args.sandbox:
        from tui_jail.sandbox import new_sandbox

        root = new_sandbox()
    make_app(root=root, sandbox=args.sandbox).run()
    if args.sandbox:
        print(f"tui-jail: the sandbox root is {root} (delete it when done)", file=sys.stderr)
    return 0
