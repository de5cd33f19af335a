"""fstab: the managed block of bind entries for one jail, escaped the way fstab wants.

Every entry carries `nofail` and `x-systemd.requires-mounts-for=<source>`: a missing or late
source must never send the boot to the emergency shell (the real lockout, before sshd starts).
A read-only bind is written `bind,ro`: util-linux then does the second `remount,bind,ro` the
kernel needs, so it really ends up read-only.
"""

from __future__ import annotations

from tui_jail.core import managed_block
from tui_jail.paths.records import record

FSTAB = "/etc/fstab"


def escape(path: str) -> str:
    """Fields split on white space: space → \\040, tab → \\011, backslash → \\134."""
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


def unescape(field: str) -> str:
    out = field
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        out = out.replace(code, char)
    return out


@record
class FstabEntry:
    source: str  # host path, as seen inside the root
    target: str
    readonly: bool

    def options(self) -> list[str]:
        opts = ["bind"]
        if self.readonly:
            opts.append("ro")
        opts += ["nofail", f"x-systemd.requires-mounts-for={escape(self.source)}"]
        return opts

    def render(self) -> str:
        return f"{escape(self.source)} {escape(self.target)} none {','.join(self.options())} 0 0"


def render_block_body(entries: list[FstabEntry]) -> str:
    return "".join(entry.render() + "\n" for entry in entries)


def set_jail_block(fstab_text: str, name: str, entries: list[FstabEntry]) -> str:
    return managed_block.set_block(fstab_text, name, render_block_body(entries) if entries else None)


def parse_entries(body: str) -> list[tuple[str, str, str, list[str]]]:
    """(source, target, fstype, options) of each entry line in a block body."""
    entries = []
    for line in body.splitlines():
        fields = line.split()
        if len(fields) >= 4 and not fields[0].startswith("#"):
            entries.append((unescape(fields[0]), unescape(fields[1]), fields[2], fields[3].split(",")))
    return entries
