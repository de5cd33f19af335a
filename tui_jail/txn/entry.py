"""How to run tui-jail again from another login: the command the admin is told to type.

A new root login has the login PATH, not this session's (an activated venv, sudo's secure_path): when
`tui-jail` is not found there, the command names the running entry point by its absolute path, so
it is not "command not found" with the rollback's clock running.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from tui_jail.paths.files import Root

NAME = "tui-jail"
# root's PATH in a new login (Debian's login.defs ENV_SUPATH; what sshd sets for root)
LOGIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def program() -> str:
    """`tui-jail` when a new root login finds it, else the absolute path of the running one."""
    import shutil  # only for a refusal's message: `confirm` and `rollback` import this module

    if shutil.which(NAME, path=LOGIN_PATH):
        return NAME
    script = sys.argv[0] or NAME
    if os.path.basename(script) == NAME:
        return os.path.abspath(script)
    beside = os.path.join(os.path.dirname(sys.executable), NAME)  # run as `python -m tui_jail` from a venv
    if os.path.isfile(beside):
        return beside
    return f"{sys.executable} -m tui_jail"


def command(root: Root, *words: str, name: str | None = None) -> str:
    """The exact command line for the system root `root`, as typed in another session."""
    top = os.fspath(root)
    where = [] if top == "/" else ["--root", top]
    return " ".join([name or program(), *where, *words])
