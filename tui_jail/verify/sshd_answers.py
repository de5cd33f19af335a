"""sshd's answers about the connections an sftp jail's verification asks about, asked as early as possible.

OpenSSH is the authority on its config (see `tui_jail.verify.sftp`): each access check reads what
`sshd -T -C` says one connection gets. Who is asked about follows from the spec's users and addresses
and the admin's own connection alone (`asked_connections`): every user from both ends of each listed
network, the same users from an address outside them, and the admin. Those sshd runs are most of what
`tui-jail verify` waits for, so it reads who to ask about from the spec as read (`asked_in_document`)
and `SshdAnswers.start` begins them all at once, side by side on one copy of the installed config,
before pydantic is imported, the spec validated and the plan made, which then run beside sshd; each
check waits only for the answer it reads, and asks again only when validation made the spec's users or
addresses something else.

No pydantic and no plan here: `tui-jail verify` imports this module before either."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import threading
from collections.abc import Callable, Sequence
from types import TracebackType

from tui_jail.backends import sshd
from tui_jail.backends.sshd import Connection
from tui_jail.paths.records import record
from tui_jail.paths.system import SystemRoot

# documentation networks (RFC 5737, RFC 3849): never a real seedbox, so a good "somebody else"
_OUTSIDE_CANDIDATES = ("192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", "10.255.255.254")

Effective = Callable[[Connection], dict[str, str]]


def probe_addresses(address: str) -> list[str]:
    """An address, or a network's first and last usable address (both ends of the Match range)."""
    network = ipaddress.ip_network(address, strict=False)
    if network.num_addresses <= 2 or (network.version == 6 and network.prefixlen >= 127):
        first, last = network[0], network[-1]
    elif network.version == 4:
        first, last = network[1], network[-2]  # not the network and broadcast addresses
    else:
        first, last = network[1], network[-1]  # an IPv6 network's address is the subnet-router anycast
    return list(dict.fromkeys([str(first), str(last)]))


def outside_address(addresses: Sequence[str]) -> str | None:
    """An address the jail's Match does not cover, or None when it covers them all (0.0.0.0/0 and ::/0)."""
    networks = [ipaddress.ip_network(a, strict=False) for a in addresses]
    for candidate in _OUTSIDE_CANDIDATES:
        ip = ipaddress.ip_address(candidate)
        if not any(ip.version == n.version and ip in n for n in networks):
            return candidate
    return None


@record
class Asked:
    """The connections sshd is asked about for one jail."""

    jailed: tuple[Connection, ...]  # every user from both ends of each listed network: must be jailed
    free: tuple[Connection, ...]  # the same users from an address outside the list: must not be
    outside: str | None  # that address; None when the list covers every address
    admin: Connection | None  # the admin's own connection: must not be jailed

    @property
    def everyone(self) -> tuple[Connection, ...]:
        return self.jailed + self.free + ((self.admin,) if self.admin else ())


def asked_connections(users: Sequence[str], addresses: Sequence[str], admin: Connection | None) -> Asked:
    outside = outside_address(addresses)
    probes = [addr for address in addresses for addr in probe_addresses(address)]
    jailed = tuple(Connection(user, addr, host=addr) for user in users for addr in probes)
    free = tuple(Connection(user, outside, host=outside) for user in users) if outside is not None else ()
    return Asked(jailed, free, outside, admin)


# a name sshd can be asked about as it stands (no comma, '=' or space, which -C would read as syntax);
# the spec's own rule (core.spec) is what accepts or refuses a name
_PLAIN_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def asked_in_document(document: object, admin: Connection | None) -> Asked | None:
    """Who `asked_connections` will ask about for the spec `document` (a --spec file or a preset as read,
    not yet validated): known before pydantic is even imported. None unless it is an sftp jail whose
    users are plain names and whose addresses are addresses or networks; what validation makes of them
    may still differ (a canonical form), so these answers serve only when it does not."""
    if not isinstance(document, dict) or document.get("kind") != "sftp" or not isinstance(document.get("sftp"), dict):
        return None
    users, addresses = document["sftp"].get("users"), document["sftp"].get("addresses")
    if not isinstance(users, list) or not isinstance(addresses, list) or not users or not addresses:
        return None
    if not all(isinstance(user, str) and _PLAIN_USER.fullmatch(user) for user in users):
        return None
    if not all(isinstance(address, str) and _network(address) for address in addresses):
        return None
    return asked_connections([str(user) for user in users], [str(address) for address in addresses], admin)


def _network(address: str) -> bool:
    try:
        ipaddress.ip_network(address, strict=True)
    except ValueError:
        return False
    return True


class SshdAnswers:
    """`sshd -T -C` on the installed config, asked once per connection however many checks need it (an
    `Effective`). The first question, or `start()` before any, asks about every `expected` connection at
    once, their runs side by side on one copy of the config; concurrent checks wait for those answers
    instead of starting runs of their own. A connection not expected is asked about on its own."""

    def __init__(self, system: SystemRoot, expected: Sequence[Connection]) -> None:
        self.system = system
        self.expected = tuple(expected)
        self._guard = threading.Lock()
        self._answers: sshd.Answers = {}
        self._running: tuple[contextlib.ExitStack, Callable[[], sshd.Answers]] | None = None

    def start(self) -> SshdAnswers:
        """Start the runs for every expected connection now. When they cannot start (no config, no sshd
        binary), nothing is kept: the first check to ask meets that error and reports it, as without this."""
        config_copy = contextlib.ExitStack()
        try:
            config = config_copy.enter_context(sshd.candidate_config(self.system))
            self._running = config_copy, sshd.ask_effective_configs(config, self.expected)
        except Exception:  # noqa: BLE001 — reported by the checks, which ask again
            config_copy.close()
        return self

    def __call__(self, connection: Connection) -> dict[str, str]:
        with self._guard:
            self._read_started()
            if connection not in self._answers:
                wanted = [connection, *(c for c in self.expected if c not in self._answers)]
                with sshd.candidate_config(self.system) as config:
                    self._answers.update(sshd.effective_configs(config, wanted))
            answer = self._answers[connection]
        if isinstance(answer, sshd.SshdError):
            raise sshd.SshdError(str(answer))  # a fresh one: each failed check gets its own traceback
        return answer

    def _read_started(self) -> None:
        """The answers of the runs `start` began (waiting for them), then their copy of the config goes."""
        if self._running is not None:
            config_copy, read = self._running
            self._running = None
            with config_copy:
                self._answers.update(read())

    def close(self) -> None:
        """Wait for runs started and never read (no check asked), and remove their copy of the config."""
        with self._guard:
            self._read_started()

    def __enter__(self) -> SshdAnswers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
