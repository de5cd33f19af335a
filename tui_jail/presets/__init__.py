"""The shipped presets: commented YAML specs with defaults, the starting point of every jail."""

from __future__ import annotations

import os
from typing import Any

DESCRIPTIONS: dict[str, tuple[str, str]] = {
    # name: (what it builds, where it comes from: the source document by its title)
    "seedbox-sftp": (
        "SFTP-only jail for a remote seedbox: staging dirs bound in, Match Address + User in sshd",
        "Security Hardening: Chroot Jail Implementation",
    ),
    "joblet-production": (
        "minimal job chroot: read-only /bin /lib /usr, isolated /etc copies, /work, per-run /tmp",
        "Host Protection Guarantees; Service-Based Isolation Security Analysis",
    ),
    "joblet-builder": (
        "builder chroot: the host read-only, /opt but joblet, only /opt/joblet/runtimes writable",
        "Host Protection Guarantees; Service-Based Isolation Security Analysis",
    ),
    "awf-host-chroot": (
        "host as / for an agent: read-only system, rw $HOME and /tmp, docker masked, caps dropped",
        "Chroot Mode, agent firewall",
    ),
}


class UnknownPreset(LookupError):
    pass


def preset_names() -> list[str]:
    return list(DESCRIPTIONS)


def preset_text(name: str) -> str:
    if name not in DESCRIPTIONS:
        raise UnknownPreset(f"unknown preset {name!r}; choose one of: {', '.join(DESCRIPTIONS)}")
    # the file beside this module, read plainly: importlib.resources would import tempfile, shutil and
    # zipfile (10-20 ms of every command given --preset) to find it in the same place
    with open(os.path.join(os.path.dirname(__file__), f"{name}.yaml"), encoding="utf-8") as file:
        return file.read()


def preset_document(name: str) -> Any:
    """The preset as a ruamel round-trip document (comments kept, for saving a user's copy)."""
    from tui_jail.core.yamlio import load_yaml_text  # ruamel is not needed to list the presets

    return load_yaml_text(preset_text(name), source=f"preset {name}")


def preset_data(name: str) -> Any:
    """The preset's data without its comments, for using it (apply, plan, verify): read faster."""
    from tui_jail.core.yamlio import load_yaml_data

    return load_yaml_data(preset_text(name), source=f"preset {name}")
