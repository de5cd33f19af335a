"""Who the admin is and how they reached this host: the connection preflight and verification protect.

`SSH_CONNECTION` ("client_ip client_port server_ip server_port") gives the addresses; the user is the one
who logged in: the one sshd authenticated (`session.LOGIN_USER`, which the CLI takes from the process
tree, as `su -` and sudo replace USER and LOGNAME), else `SUDO_USER`, else the login name, else this
process's user. Reads nothing else: the caller hands it the environment (see `session.adopt_login`).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from tui_jail.backends.sshd import Connection
from tui_jail.txn.session import LOGIN_USER, Login


def admin_connection(environ: Mapping[str, str]) -> Connection | None:
    """The admin's own SSH connection as `sshd -T -C` wants it, or None when not logged in over SSH."""
    named = (environ.get(name) for name in (LOGIN_USER, "SUDO_USER", "LOGNAME", "USER"))
    return connection_of(environ.get("SSH_CONNECTION", ""), next((name for name in named if name), ""))


def login_connection(login: Login) -> Connection | None:
    """An active login (see `session.active_logins`) as `sshd -T -C` wants it."""
    return connection_of(login.connection, login.user)


def connection_of(ssh_connection: str, user: str) -> Connection | None:
    """`user` over the connection SSH_CONNECTION describes; None when it describes none."""
    fields = ssh_connection.split()
    if len(fields) != 4 or not fields[3].isdigit():
        return None
    user = user or _process_user()
    try:
        client, server = _plain_address(fields[0]), _plain_address(fields[2])
    except ValueError:
        return None
    # with UseDNS no (the default) sshd matches Host against the address itself
    return Connection(user=user, addr=client, host=client, laddr=server, lport=int(fields[3]))


def _process_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _plain_address(text: str) -> str:
    """An IPv4-mapped IPv6 address matches IPv4 rules in a live session but not in `sshd -T -C`: unmap it."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
