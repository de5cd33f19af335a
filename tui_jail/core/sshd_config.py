"""sshd_config, read and written as text: the jail's Match block, where it goes, and what shadows it.

Pure functions over file contents. Where OpenSSH itself can answer (`sshd -t`, `sshd -T -C`) the
I/O side in `backends/sshd.py` asks it; this module only decides what to write and warns early.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from tui_jail.core import managed_block

SSHD_CONFIG = "/etc/ssh/sshd_config"
_KEYWORD = re.compile(r"([^\s=]+)(?:\s*=\s*|\s+|$)")
_QUOTE_OR_COMMENT = re.compile("[\"'#]")
_QUOTE_COMMENT_OR_EQUALS = re.compile("[\"'#=]")
_BOUNDARY = "\x00file-boundary"  # a file edge in reading order: Match state does not cross it
SSHD_DIR = "/etc/ssh"
JAIL_KEYWORDS = ("chrootdirectory", "forcecommand", "allowtcpforwarding", "x11forwarding", "permittty")


def dropin_path(name: str) -> str:
    return f"{SSHD_DIR}/sshd_config.d/50-tui-jail-{name}.conf"


@dataclass(frozen=True)
class MatchBlockSettings:
    name: str
    users: tuple[str, ...]
    addresses: tuple[str, ...]
    chroot: str
    allow_tcp_forwarding: bool
    x11_forwarding: bool


def render_match_block(settings: MatchBlockSettings, *, close_match: bool) -> str:
    """The Match block of one sftp jail. `close_match` ends it with `Match all`, so lines an admin
    appends to sshd_config later are not silently captured by our Match."""
    yes_no = {True: "yes", False: "no"}
    lines = [
        f"# sftp jail {settings.name}: managed by tui-jail, change it with tui-jail",
        f"Match Address {','.join(settings.addresses)} User {','.join(settings.users)}",
        f"\tChrootDirectory {quote(settings.chroot)}",
        "\tForceCommand internal-sftp",
        f"\tAllowTcpForwarding {yes_no[settings.allow_tcp_forwarding]}",
        f"\tX11Forwarding {yes_no[settings.x11_forwarding]}",
        "\tPermitTTY no",
    ]
    if close_match:
        lines.append("Match all")
    return "\n".join(lines) + "\n"


def quote(value: str) -> str:
    return f'"{value}"' if any(c in value for c in " \t#\"'") else value


class ConfigLine(NamedTuple):  # a tuple, not a dataclass: thousands are made per plan of a large config
    path: str
    lineno: int
    keyword: str  # lower-case
    args: tuple[str, ...]


def parse_lines(text: str, path: str) -> list[ConfigLine]:
    """Keyword lines of one file (comments and blanks dropped). `Keyword=value` is accepted too."""
    return list(iter_lines(text, path))


def iter_lines(text: str, path: str) -> Iterator[ConfigLine]:
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not _QUOTE_COMMENT_OR_EQUALS.search(line):  # the common case, in one split
            keyword, *args = line.split()
            yield ConfigLine(path, lineno, keyword.lower(), tuple(args))
            continue
        match = _KEYWORD.match(line)
        keyword, rest = (match.group(1), line[match.end() :]) if match else (line, "")
        yield ConfigLine(path, lineno, keyword.lower(), _split_args(rest))


def _split_args(rest: str) -> tuple[str, ...]:
    if not _QUOTE_OR_COMMENT.search(rest):
        return tuple(rest.split())  # the common case; shlex is 10x slower
    try:
        return tuple(shlex.split(rest, comments=True))
    except ValueError:
        return tuple(rest.split())


def include_patterns(text: str) -> list[str]:
    """Top-level Include patterns of a config, as absolute paths (relative ones are under /etc/ssh).
    An Include inside a Match block is conditional and so not counted."""
    patterns = []
    for line in iter_lines(text, SSHD_CONFIG):
        if line.keyword == "match":
            break
        if line.keyword == "include":
            patterns += [arg if arg.startswith("/") else posixpath.join(SSHD_DIR, arg) for arg in line.args]
    return patterns


def includes_path(text: str, path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in include_patterns(text))


def uses_dropin(main_text: str, name: str) -> bool:
    return includes_path(main_text, dropin_path(name))


def set_appended_block(main_text: str, name: str, block: str | None) -> str:
    return managed_block.set_block(main_text, name, block, must_be_last=True)


# --- shadowing -------------------------------------------------------------------------------------


def _pattern_list_matches(patterns: str, value: str, matcher: Callable[[str, str], bool]) -> bool:
    """OpenSSH's match_pattern_list: any positive match, and no negated one."""
    matched = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if matcher(pattern[1:] if negated else pattern, value):
            if negated:
                return False
            matched = True
    return matched


def _address_matches(pattern: str, address: str) -> bool:
    if "/" in pattern:
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return fnmatch.fnmatchcase(address, pattern)


def match_may_apply(args: tuple[str, ...], user: str, address: str) -> bool:
    """Could a `Match` line with these criteria apply to this user and address? Criteria we cannot
    know here (Group, Host, LocalAddress, LocalPort, RDomain) count as 'may'."""
    index = 0
    while index < len(args):
        criterion = args[index].lower()
        if criterion == "all":
            index += 1
            continue
        value = args[index + 1] if index + 1 < len(args) else ""
        index += 2
        if criterion == "user" and not _pattern_list_matches(value, user, fnmatch.fnmatchcase):
            return False
        if criterion == "address":
            candidate = address.split("/")[0]
            if not _pattern_list_matches(value, candidate, _address_matches):
                return False
    return True


@dataclass(frozen=True)
class Shadow:
    path: str
    lineno: int
    keyword: str
    user: str
    address: str

    def describe(self) -> str:
        return (
            f"{self.path}:{self.lineno}: an earlier Match sets {self.keyword} for user {self.user} "
            f"from {self.address}; sshd uses the first value, so the jail's setting would be ignored"
        )


def find_shadows(ordered_lines: list[ConfigLine], users: tuple[str, ...], addresses: tuple[str, ...]) -> list[Shadow]:
    """Match blocks, earlier in sshd's reading order than the jail's block, that may apply to a
    jailed (user, address) and set one of the jail's keywords first."""
    shadows = []
    seen = set()
    active_args: tuple[str, ...] | None = None
    applies: list[tuple[str, str]] = []  # the (user, address) pairs the active Match may apply to
    for line in ordered_lines:
        if line.keyword == _BOUNDARY:
            active_args = None
            continue
        if line.keyword == "match":
            active_args = line.args
            applies = [(u, a) for u in users for a in addresses if match_may_apply(active_args, u, a)]
            continue
        if active_args is None or line.keyword not in JAIL_KEYWORDS:
            continue
        for user, address in applies:
            key = (line.path, line.lineno, user, address)
            if key not in seen:
                seen.add(key)
                shadows.append(Shadow(line.path, line.lineno, line.keyword, user, address))
    return shadows


def reading_order(
    read: Callable[[str], str | None], glob: Callable[[str], list[str]], main_text: str, stop_at: str | None = None
) -> list[ConfigLine]:
    """All keyword lines in the order sshd reads them, Includes expanded in place (one level of
    nesting is the usual layout; deeper ones are expanded too). Stops before `stop_at`
    (a path) is reached. Match state does not leak out of an included file (OpenSSH ≥ 8.2), so a
    file boundary resets it."""
    out: list[ConfigLine] = []

    def walk(path: str, text: str, depth: int) -> bool:
        for line in iter_lines(text, path):
            if line.keyword == "include" and depth < 8:
                for arg in line.args:
                    pattern = arg if arg.startswith("/") else posixpath.join(SSHD_DIR, arg)
                    for included in glob(pattern):
                        if included == stop_at:
                            return False
                        out.append(ConfigLine(included, 0, _BOUNDARY, ()))
                        if not walk(included, read(included) or "", depth + 1):
                            return False
                        out.append(ConfigLine(path, line.lineno, _BOUNDARY, ()))
            else:
                out.append(line)
        return True

    walk(SSHD_CONFIG, main_text, 0)
    return out
