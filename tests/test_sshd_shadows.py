"""The shadow check reads a large sshd_config by its Match and Include lines only, and finds what
reading every line in sshd's order finds (the reference below is the check as it was, line by line)."""

from __future__ import annotations

import posixpath
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_jail.core import sshd_config
from tui_jail.core.sshd_config import JAIL_KEYWORDS, SSHD_DIR, ConfigLine, Shadow, iter_lines, match_may_apply

USERS, ADDRESSES = ("media", "alice"), ("203.0.113.7", "10.1.2.3")


def reference_shadows(files: dict[str, str], main: str, stop_at: str | None) -> list[Shadow]:
    """Every keyword line in reading order, a file edge ending the Match, then the Matches' lines."""
    ordered: list[ConfigLine | None] = []  # None: a file edge

    def walk(path: str, text: str, depth: int) -> bool:
        for line in iter_lines(text, path):
            if line.keyword == "include" and depth < 8:
                for arg in line.args:
                    for included in glob(files, arg if arg.startswith("/") else posixpath.join(SSHD_DIR, arg)):
                        if included == stop_at:
                            return False
                        ordered.append(None)
                        if not walk(included, files.get(included) or "", depth + 1):
                            return False
                        ordered.append(None)
            else:
                ordered.append(line)
        return True

    walk(sshd_config.SSHD_CONFIG, main, 0)
    shadows: list[Shadow] = []
    seen: set[tuple[str, int, str, str]] = set()
    applies: list[tuple[str, str]] = []
    for line in ordered:
        if line is None:
            applies = []
        elif line.keyword == "match":
            applies = [(u, a) for u in USERS for a in ADDRESSES if match_may_apply(line.args, u, a)]
        elif line.keyword in JAIL_KEYWORDS:
            for user, address in applies:
                if (line.path, line.lineno, user, address) not in seen:
                    seen.add((line.path, line.lineno, user, address))
                    shadows.append(Shadow(line.path, line.lineno, line.keyword, user, address))
    return shadows


def glob(files: dict[str, str], pattern: str) -> list[str]:
    return sorted(path for path in files if path.startswith(pattern.rstrip("*")))


LINES = [
    "Match User media",
    "match user alice address 10.1.0.0/16",
    "MATCH User bob",
    "Match=User media",
    "  Match all",
    'Match User "media"',
    "Match Address 203.0.113.*",
    "Match Group staff",
    "\tChrootDirectory /srv/x",
    "ForceCommand internal-sftp # matched",
    "PermitTTY=no",
    "X11Forwarding no",
    "AllowTcpForwarding yes",
    "# Match User media",
    "Banner /etc/matches",
    "Include /etc/ssh/sshd_config.d/*",
    "include conf.d/*",
    "Subsystem sftp internal-sftp",
    "",
]
BREAKS = ["\n", "\n", "\n", "\r\n", "\x0c", "\r"]


@st.composite
def configs(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.sampled_from(LINES), max_size=25))
    breaks = draw(st.lists(st.sampled_from(BREAKS), min_size=len(lines), max_size=len(lines)))
    return "".join(line + brk for line, brk in zip(lines, breaks, strict=True)) + draw(
        st.sampled_from(["", "Match all"])
    )


@settings(max_examples=200, deadline=None)
@given(main=configs(), dropin=configs(), other=configs(), stop=st.booleans())
def test_the_same_shadows_as_reading_every_line(main: str, dropin: str, other: str, stop: bool) -> None:
    files = {"/etc/ssh/sshd_config.d/10-a.conf": dropin, "/etc/ssh/sshd_config.d/20-b.conf": other}
    stop_at = "/etc/ssh/sshd_config.d/20-b.conf" if stop else None
    ours = sshd_config.find_shadows(files.get, lambda p: glob(files, p), main, USERS, ADDRESSES, stop_at)
    assert ours == reference_shadows(files, main, stop_at)


def test_the_lines_of_a_match_for_others_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # 200 Match blocks for other users: their lines were all split and parsed, most of a plan's own work
    blocks = "".join(f"Match User user{i}\n\tChrootDirectory /srv/c{i}\n\tPermitTTY no\n" for i in range(200))
    config = f"Port 22\n{blocks}Match User media\n\tChrootDirectory /srv/m\n"
    parsed: list[int] = []
    parse = sshd_config._parse_line

    def counted(raw: str, path: str, lineno: int) -> ConfigLine | None:
        parsed.append(lineno)
        return parse(raw, path, lineno)

    monkeypatch.setattr(sshd_config, "_parse_line", counted)
    shadows = sshd_config.find_shadows(lambda p: None, lambda p: [], config, ("media",), ("203.0.113.7",))
    assert [(s.lineno, s.keyword) for s in shadows] == [(603, "chrootdirectory")]
    assert len(parsed) == 200 + 1 + 1  # the Match lines, and the lines of the one for media


def test_the_plans_text_modules_compile_no_dataclass() -> None:
    # each frozen dataclass compiled its methods at import (~1 ms): the plan imports these on every run
    modules = ("sshd_config", "fstab", "managed_block", "difftext", "linebreaks")
    code = f"import sys; import {', '.join(f'tui_jail.core.{m}' for m in modules)}; print('dataclasses' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
