"""Who the admin is and how they reached this host: the connection preflight and verification protect.

`SSH_CONNECTION` ("client_ip client_port server_ip server_port") gives the addresses; the user is the one
who logged in — `SUDO_USER` when the admin became root with sudo, else the login name, else (an
environment without either) this process's user. Reads nothing else: the caller hands it the
environment (see `session` for finding SSH_CONNECTION when sudo dropped it).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from tui_jail.backends.sshd import Connection


def admin_connection(environ: Mapping[str, str]) -> Connection | None:
    """The admin's own SSH connection as `sshd -T -C` wants it, or None when not logged in over SSH."""
    fields = environ.get("SSH_CONNECTION", "").split()
    if len(fields) != 4 or not fields[3].isdigit():
        return None
    user = environ.get("SUDO_USER") or environ.get("LOGNAME") or environ.get("USER") or _process_user()
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
