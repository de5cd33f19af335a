"""Starting the wizard (placeholder until the wizard issue lands)."""

from __future__ import annotations

import argparse

from tui_jail.commands.common import refuse


def run(args: argparse.Namespace) -> int:
    return refuse("the wizard is not built yet; try `tui-jail plan --help`")
