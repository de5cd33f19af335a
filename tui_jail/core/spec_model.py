"""The spec's schema as pydantic models: the authority on every coercion and every error message.

`core.spec.parse_spec` reads a spec that is already exactly plain (the types YAML gives, every value
valid) without this module, since importing pydantic costs most of what a command like `verify`
spends; anything else comes here, and pydantic either coerces it (`readonly: "yes"`) or words the
error. The rules themselves are `core.spec_checks`, shared with that plain reader, so the two can
only differ in what they accept as plain, never in what a value means.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Annotated, Any, Literal

# pydantic looks for plugins through importlib.metadata entry points (every installed distribution's
# metadata read) the first time it builds a model; tui-jail uses none, and a plugin that happened to be
# installed in its venv would only observe or change validation. Set before the models below are built;
# an explicit setting of the caller's stands (pydantic's documented switch: "__all__", "1", "true" or names).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def _no_plugins() -> tuple[()]:
    return ()


def _real_loader_attribute(name: str) -> Any:
    """Anything but get_plugins comes from pydantic's own loader: the stand-in relies on a private
    module, and a pydantic that asks it for more must get the real answer, not an ImportError. The
    import system's own probes (`__path__` on every `from ... import`) are told there is no such name."""
    if name.startswith("__"):
        raise AttributeError(name)
    if sys.modules.get(_LOADER) is _stand_in:
        del sys.modules[_LOADER]
    return getattr(importlib.import_module(_LOADER), name)


_LOADER = "pydantic.plugin._loader"
_stand_in = ModuleType(_LOADER, "pydantic's plugin loader, every plugin disabled")
if os.environ["PYDANTIC_DISABLE_PLUGINS"] in ("__all__", "1", "true"):
    # Even so, the module pydantic asks for plugins (`get_plugins`, on every model and TypeAdapter it
    # builds) imports importlib.metadata, and with it email, zipfile and csv: 15-35 ms of every command
    # that loads a spec, for a list that is empty with every plugin disabled. This stand-in answers the
    # same without the import (tests/test_spec_imports.py; a loader pydantic already imported stands).
    _stand_in.get_plugins = _no_plugins  # type: ignore[attr-defined]
    _stand_in.__getattr__ = _real_loader_attribute  # type: ignore[method-assign]
    sys.modules.setdefault(_LOADER, _stand_in)

from pydantic import (  # noqa: E402 (after the stand-in, which must come first)
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from tui_jail.core import spec_checks as checks  # noqa: E402

__all__ = [
    "AbsPath",
    "Address",
    "MountModel",
    "RelPath",
    "SpecModel",
    "UserName",
    "ValidationError",
    "format_validation_error",
]

Device = Annotated[Literal["null", "zero", "full", "random", "urandom", "tty"], BeforeValidator(checks.device)]
AbsPath = Annotated[str, AfterValidator(checks.absolute_path)]
RelPath = Annotated[str, AfterValidator(checks.relative_path)]
Address = Annotated[str, BeforeValidator(checks.address)]
UserName = Annotated[str, BeforeValidator(checks.user)]
Capability = Annotated[str, BeforeValidator(checks.capability)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class CreateSourceModel(_Model):
    owner: UserName = "root"
    group: str | None = None
    mode: Annotated[str, BeforeValidator(checks.mode)] = "0755"

    @field_validator("group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        return checks.group(value)


class MountModel(_Model):
    source: AbsPath
    target: RelPath
    readonly: bool = False
    persist: bool = True
    optional: bool = False
    children: bool = False
    exclude: tuple[Annotated[str, AfterValidator(checks.no_control)], ...] = ()
    create: CreateSourceModel | None = None

    @model_validator(mode="after")
    def _exclude_needs_children(self) -> MountModel:
        checks.exclude_needs_children(self)
        return self


class SftpAccessModel(_Model):
    users: tuple[UserName, ...]
    addresses: tuple[Address, ...]
    allow_tcp_forwarding: bool = False
    x11_forwarding: bool = False

    @field_validator("users", "addresses")
    @classmethod
    def _unique(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return checks.unique(values)


class CapabilitySetsModel(_Model):
    drop: tuple[Capability, ...] = ()
    never: tuple[Capability, ...] = ()

    @model_validator(mode="after")
    def _disjoint(self) -> CapabilitySetsModel:
        checks.disjoint(self.drop, self.never)
        return self


class ProcMountModel(_Model):
    options: tuple[Literal["nosuid", "nodev", "noexec"], ...] = ("nosuid", "nodev", "noexec")
    hidepid: Literal[0, 1, 2] = 2


class ExecSettingsModel(_Model):
    user: UserName = "nobody"
    allow_root: bool = False
    namespaces: tuple[Literal["mount", "pid", "ipc", "uts", "net"], ...] = ("mount", "pid")
    capabilities: CapabilitySetsModel = CapabilitySetsModel()
    proc: ProcMountModel | None = ProcMountModel()
    per_run_tmp: bool = True
    workdir: RelPath | None = None
    copies: tuple[AbsPath, ...] = ()
    masks: tuple[RelPath, ...] = ()

    @model_validator(mode="after")
    def _root_only_when_allowed(self) -> ExecSettingsModel:
        checks.root_only_when_allowed(self)
        return self

    @field_validator("namespaces")
    @classmethod
    def _mount_and_pid(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return checks.mount_and_pid(values)


class SpecModel(_Model):
    """What each field means is said on the records of `core.spec` (Spec, Mount, ...)."""

    version: Annotated[Literal[1], BeforeValidator(checks.version)] = 1
    name: str
    kind: Literal["sftp", "exec"]
    root: AbsPath
    mounts: tuple[MountModel, ...] = ()
    devices: tuple[Device, ...] = ("null", "zero")
    sftp: SftpAccessModel | None = None
    exec: ExecSettingsModel | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return checks.check_jail_name(value)

    @field_validator("root")
    @classmethod
    def _usable_root(cls, value: str) -> str:
        return checks.usable_root(value)

    @model_validator(mode="after")
    def _consistent(self) -> SpecModel:
        checks.consistent(self)
        return self


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field: message`, fields written the way they are in the YAML."""
    lines = []
    for error in exc.errors():
        loc = ""
        for part in error["loc"]:
            if isinstance(part, int):
                loc += f"[{part}]"
            elif isinstance(part, str) and part.startswith(("function-", "literal", "function")):
                continue
            else:
                loc += f".{part}" if loc else str(part)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown key {loc.rsplit('.', 1)[-1]!r}"
        elif error["type"] == "literal_error":
            message = f"{message}, got {error.get('input')!r}"
        lines.append(f"{loc}: {message}" if loc else message)
    return "; ".join(dict.fromkeys(lines))
