"""sshd_config, read and written as text: the jail's Match block, where it goes, and what shadows it.

Pure functions over file contents. Where OpenSSH itself can answer (`sshd -t`, `sshd -T -C`) the
I/O side in `backends/sshd.py` asks it; this module only decides what to write and warns early.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import posixpath
import re
from collections import namedtuple
from collections.abc import Callable, Iterator

from tui_jail.core import managed_block
from tui_jail.core.linebreaks import only_newline_breaks
from tui_jail.paths.records import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from typing import NamedTuple

SSHD_CONFIG = "/etc/ssh/sshd_config"
# compiled on first use (re's cache): only a line with `=`, a quote or a comment needs it (the four
# regular expressions compiled at import were ~1 M instructions of every plan)
_KEYWORD = r"([^\s=]+)(?:\s*=\s*|\s+|$)"
_MATCH_OR_INCLUDE = ("match", "include")  # in a line lower-cased: no other character lower-cases to these
SSHD_DIR = "/etc/ssh"
JAIL_KEYWORDS = ("chrootdirectory", "forcecommand", "allowtcpforwarding", "x11forwarding", "permittty")


def dropin_path(name: str) -> str:
    return f"{SSHD_DIR}/sshd_config.d/50-tui-jail-{name}.conf"


@record  # not a dataclass: compiling one's methods cost each plan's import more than using it
class MatchBlockSettings:
    """What the jail's Match block says."""

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


if TYPE_CHECKING:

    class ConfigLine(NamedTuple):  # a tuple, not a dataclass: thousands are made per plan of a large config
        path: str
        lineno: int
        keyword: str  # lower-case
        args: tuple[str, ...]

else:  # the same tuple without importing typing
    ConfigLine = namedtuple("ConfigLine", ("path", "lineno", "keyword", "args"))


_new_line = tuple.__new__  # ConfigLine's own __new__ without its Python frame, for the common case


def parse_lines(text: str, path: str) -> list[ConfigLine]:
    """Keyword lines of one file (comments and blanks dropped). `Keyword=value` is accepted too."""
    return list(iter_lines(text, path))


def iter_lines(text: str, path: str, first: int = 1) -> Iterator[ConfigLine]:
    """Keyword lines of a file, or of its part starting at line number `first`."""
    for lineno, raw in enumerate(text.splitlines(), first):
        line = _parse_line(raw, path, lineno)
        if line is not None:
            yield line


def _parse_line(raw: str, path: str, lineno: int) -> ConfigLine | None:
    """One line's keyword and arguments; None for a comment or a blank line (its break may be on it)."""
    words = raw.split()
    if not words or words[0][0] == "#":
        return None
    if "=" not in raw and _unquoted(raw):  # the common case, in one split
        return _new_line(ConfigLine, (path, lineno, words[0].lower(), tuple(words[1:])))
    line = raw.strip()
    match = re.match(_KEYWORD, line)
    keyword, rest = (match.group(1), line[match.end() :]) if match else (line, "")
    return ConfigLine(path, lineno, keyword.lower(), _split_args(rest))


def _unquoted(text: str) -> bool:
    """No quote and no comment in text (a memchr each: cheaper than a regex over a short line)."""
    return '"' not in text and "'" not in text and "#" not in text


def _split_args(rest: str) -> tuple[str, ...]:
    if _unquoted(rest):
        return tuple(rest.split())  # the common case; shlex is 10x slower
    import shlex  # only for a line with quotes or a comment: most configs have none

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


def _name_matches(pattern: str, name: str) -> bool:
    """OpenSSH's match_pattern: `*` and `?` are its only wildcards (`[a]lice` is those seven characters,
    where fnmatch would read a class and report a Match that sshd never applies)."""
    if "*" not in pattern and "?" not in pattern:  # OpenSSH's only wildcards
        return pattern == name  # the common case, without building a regex
    return re.fullmatch(_pattern_regex(pattern), name, re.DOTALL) is not None


def _pattern_regex(pattern: str) -> str:
    """`*` any run of characters, `?` any one, everything else itself."""
    return ".*".join(".".join(re.escape(piece) for piece in part.split("?")) for part in pattern.split("*"))


def _address_matches(pattern: str, address: str) -> bool:
    if "/" in pattern:
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return _name_matches(pattern, address)


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
        if criterion == "user" and not _pattern_list_matches(value, user, _name_matches):
            return False
        if criterion == "address":
            candidate = address.split("/")[0]
            if not _pattern_list_matches(value, candidate, _address_matches):
                return False
    return True


@record
class Shadow:
    """An earlier Match's setting of one of the jail's keywords, for one jailed (user, address)."""

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


def find_shadows(
    read: Callable[[str], str | None],
    glob: Callable[[str], list[str]],
    main_text: str,
    users: tuple[str, ...],
    addresses: tuple[str, ...],
    stop_at: str | None = None,
) -> list[Shadow]:
    """Match blocks, earlier in sshd's reading order than the jail's block, that may apply to a
    jailed (user, address) and set one of the jail's keywords first.

    The reading order expands Includes in place (one level of nesting is the usual layout; deeper ones
    are expanded too) and stops before `stop_at` (a path) is reached. Match state does not leak out of
    an included file (OpenSSH >= 8.2), so a file boundary ends it. Only the Match and Include lines are
    read one by one, and a Match block's own lines only when it may apply to a jailed pair: reading every
    line of a config of hundreds of Matches for others cost more than the rest of a plan."""
    shadows = []
    seen = set()

    def walk(path: str, text: str, depth: int) -> bool:
        applies: list[tuple[str, str]] = []  # the (user, address) pairs the Match being read may apply to
        for head, body, first in _sections(text, path):
            if head is not None and head.keyword == "match":
                applies = [(u, a) for u in users for a in addresses if match_may_apply(head.args, u, a)]
            elif head is not None and depth < 8:  # an Include, expanded in place
                for included in _included(head, glob):
                    if included == stop_at or not walk(included, read(included) or "", depth + 1):
                        return False
                    applies = []
            for line in iter_lines(body, path, first) if applies else ():
                if line.keyword not in JAIL_KEYWORDS:
                    continue
                for user, address in applies:
                    if (line.path, line.lineno, user, address) not in seen:
                        seen.add((line.path, line.lineno, user, address))
                        shadows.append(Shadow(line.path, line.lineno, line.keyword, user, address))
        return True

    walk(SSHD_CONFIG, main_text, 0)
    return shadows


def _included(include: ConfigLine, glob: Callable[[str], list[str]]) -> Iterator[str]:
    """The files an Include line names, in sshd's order (relative patterns are under /etc/ssh)."""
    for arg in include.args:
        yield from glob(arg if arg.startswith("/") else posixpath.join(SSHD_DIR, arg))


def _sections(text: str, path: str) -> Iterator[tuple[ConfigLine | None, str, int]]:
    """The text cut at its Match and Include lines: (that line, the text up to the next one, the number
    of its first line); the first section, before any, has None."""
    head, body_start, body_line = None, 0, 1
    for start, end, lineno in _lines_naming_match_or_include(text):
        line = _parse_line(text[start:end], path, lineno)
        if line is not None and line.keyword in ("match", "include"):
            yield head, text[body_start:start], body_line
            head, body_start, body_line = line, end, lineno + 1
    yield head, text[body_start:], body_line


def _lines_naming_match_or_include(text: str) -> Iterator[tuple[int, int, int]]:
    """(start, end past its break, number) of each line with 'match' or 'include' in it in any case: every
    Match and Include line among them. An ASCII text whose lines only "\n" breaks is searched whole (its
    lower-case copy has the same offsets; a regular expression was slower than reading every line)."""
    if not (text.isascii() and only_newline_breaks(text)):
        offset = 0
        for lineno, raw in enumerate(text.splitlines(keepends=True), 1):
            if any(word in raw.lower() for word in _MATCH_OR_INCLUDE):
                yield offset, offset + len(raw), lineno
            offset += len(raw)
        return
    lower = text.lower()
    lineno, counted, end = 1, 0, 0
    for at in sorted(at for word in _MATCH_OR_INCLUDE for at in _occurrences(lower, word)):
        if at < end:
            continue  # on the line just given
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at) + 1 or len(text)
        lineno += text.count("\n", counted, start)
        counted = start
        yield start, end, lineno


def _occurrences(text: str, word: str) -> Iterator[int]:
    at = text.find(word)
    while at >= 0:
        yield at
        at = text.find(word, at + 1)
