"""Capability sets of a process, read from `/proc/<pid>/status` and decoded into names.

Used by verification (a probe's status from inside the jail, and this process's own for
comparison). The exec launcher lowers the sets by system calls: `tui_jail.jailexec.capdrop`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_jail.core.capabilities import decode_mask

SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


@dataclass(frozen=True)
class CapState:
    """The five capability masks of a process and its no_new_privs flag."""

    masks: dict[str, int]  # CapInh, CapPrm, CapEff, CapBnd, CapAmb → mask
    no_new_privs: int

    def names(self, which: str) -> frozenset[str]:
        return decode_mask(self.masks[which])

    def holding(self, removed: frozenset[str]) -> dict[str, frozenset[str]]:
        """For each set, the capabilities of `removed` it still holds (empty sets left out)."""
        found = {which: self.names(which) & removed for which in SETS}
        return {which: names for which, names in found.items() if names}


def parse_status(text: str) -> CapState:
    """The Cap* and NoNewPrivs lines of `/proc/<pid>/status`."""
    masks: dict[str, int] = {}
    no_new_privs = -1
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in SETS:
            masks[key] = int(value.strip(), 16)
        elif key == "NoNewPrivs":
            no_new_privs = int(value.strip())
    missing = [which for which in SETS if which not in masks]
    if missing:
        raise ValueError(f"no {', '.join(missing)} in the status text")
    return CapState(masks, no_new_privs)


def read_status(pid: int | str = "self") -> CapState:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return parse_status(status.read())
