"""The jail spec: the validated data model every later step (plan, transaction, verify, wizard) reads.

Bad input stops here, with a message naming the field and the value, so nothing downstream ever sees
a value that sshd, fstab or mount would misread. Loading and saving go through ruamel.yaml in
round-trip mode so a user's saved spec keeps its comments and key order.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
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
from tui_jail.core.spec_checks import DEVICES, PLACEHOLDER_RE, check_jail_name, unreadable_text  # noqa: E402

# DEVICES, check_jail_name and unreadable_text are the rules' own, named here for the plan and commands
__all__ = ["DEVICES", "Mount", "Spec", "SpecError", "check_jail_name", "parse_spec", "unreadable_text"]


class SpecError(ValueError):
    """A spec that cannot be used; the message names the field and the value."""


Device = Annotated[Literal["null", "zero", "full", "random", "urandom", "tty"], BeforeValidator(checks.device)]
AbsPath = Annotated[str, AfterValidator(checks.absolute_path)]
RelPath = Annotated[str, AfterValidator(checks.relative_path)]
Address = Annotated[str, BeforeValidator(checks.address)]
UserName = Annotated[str, BeforeValidator(checks.user)]
Capability = Annotated[str, BeforeValidator(checks.capability)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class CreateSource(_Model):
    """A missing bind source the plan creates (the transaction makes it, a rollback removes it while
    it is still the empty directory it made): owned by `owner` (and `group`, default the owner's
    primary group), with `mode`."""

    owner: UserName = "root"
    group: str | None = None
    mode: Annotated[str, BeforeValidator(checks.mode)] = "0755"

    @field_validator("group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        return checks.group(value)

    @property
    def mode_bits(self) -> int:
        return int(self.mode, 8)


class Mount(_Model):
    """A bind mount of a host path into the jail. `target` is relative to the jail root."""

    source: AbsPath
    target: RelPath
    readonly: bool = False
    persist: bool = True
    optional: bool = False  # skip (with a note) when the source does not exist on this host
    children: bool = False  # bind each entry of `source` separately, leaving out `exclude`
    exclude: tuple[Annotated[str, AfterValidator(checks.no_control)], ...] = ()
    create: CreateSource | None = None  # make the source when it is missing (see CreateSource)

    @model_validator(mode="after")
    def _exclude_needs_children(self) -> Mount:
        checks.exclude_needs_children(self)
        return self


class SftpAccess(_Model):
    users: tuple[UserName, ...]
    addresses: tuple[Address, ...]
    allow_tcp_forwarding: bool = False
    x11_forwarding: bool = False

    @field_validator("users", "addresses")
    @classmethod
    def _unique(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return checks.unique(values)


class CapabilitySets(_Model):
    """`drop`: held while the jail is set up, dropped before the command (bounding set too).
    `never`: never held by the command at all. Both end up absent from every set."""

    drop: tuple[Capability, ...] = ()
    never: tuple[Capability, ...] = ()

    @model_validator(mode="after")
    def _disjoint(self) -> CapabilitySets:
        checks.disjoint(self.drop, self.never)
        return self

    @property
    def removed(self) -> frozenset[str]:
        return frozenset(self.drop) | frozenset(self.never)


class ProcMount(_Model):
    """A fresh procfs at /proc inside the jail, mounted in the jail's own PID namespace."""

    options: tuple[Literal["nosuid", "nodev", "noexec"], ...] = ("nosuid", "nodev", "noexec")
    hidepid: Literal[0, 1, 2] = 2


class ExecSettings(_Model):
    """How a command enters an exec jail (`tui-jail exec`)."""

    user: UserName = "nobody"
    # uid 0 in the jail: refused unless this says so (even then the chroot-breaking capabilities go)
    allow_root: bool = False
    namespaces: tuple[Literal["mount", "pid", "ipc", "uts", "net"], ...] = ("mount", "pid")
    capabilities: CapabilitySets = CapabilitySets()
    proc: ProcMount | None = ProcMount()
    per_run_tmp: bool = True  # /tmp/job-<id> on the host, bound at <root>/tmp for one run
    workdir: RelPath | None = None  # writable by `user`, created by the plan
    copies: tuple[AbsPath, ...] = ()  # host files copied into the jail (isolated /etc copies)
    masks: tuple[RelPath, ...] = ()  # paths inside the jail hidden behind /dev/null

    @model_validator(mode="after")
    def _root_only_when_allowed(self) -> ExecSettings:
        checks.root_only_when_allowed(self)
        return self

    @field_validator("namespaces")
    @classmethod
    def _mount_and_pid(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return checks.mount_and_pid(values)


class Spec(_Model):
    version: Annotated[Literal[1], BeforeValidator(checks.version)] = 1
    name: str
    kind: Literal["sftp", "exec"]
    root: AbsPath
    mounts: tuple[Mount, ...] = ()
    devices: tuple[Device, ...] = ("null", "zero")
    sftp: SftpAccess | None = None
    exec: ExecSettings | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_jail_name(value)

    @field_validator("root")
    @classmethod
    def _usable_root(cls, value: str) -> str:
        return checks.usable_root(value)

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        checks.consistent(self)
        return self

    def unset_placeholders(self) -> list[tuple[str, str]]:
        """(field, placeholder) for every `<placeholder>` a preset left for the user to fill in."""
        found: list[tuple[str, str]] = []
        for field, value in _walk(self.model_dump(mode="python")):
            if isinstance(value, str):
                found.extend((field, m.group(0)) for m in PLACEHOLDER_RE.finditer(value))
        return found

    def jail_path(self, relative: str) -> str:
        """A path inside the jail, as seen on the host."""
        return checks.jail_path(self.root, relative)


def _walk(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


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


def parse_spec(data: Any, *, allow_placeholders: bool = False) -> Spec:
    """Validate plain data (from YAML or the wizard) into a Spec, or raise SpecError."""
    if not isinstance(data, dict):
        raise SpecError("a spec is a mapping of keys (version, name, kind, root, ...)")
    try:
        spec = Spec.model_validate(_plain(data))
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc)) from None
    if not allow_placeholders:
        unset = spec.unset_placeholders()
        if unset:
            field, placeholder = unset[0]
            others = f" (and {len(unset) - 1} more)" if len(unset) > 1 else ""
            raise SpecError(
                f"{field}: placeholder {placeholder} is still unset{others}; "
                f"set it in your spec file and pass it with --spec"
            )
    return spec


def _plain(value: Any) -> Any:
    """ruamel's CommentedMap/Seq → dict/list, keeping scalars (pydantic wants plain types)."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_spec_file(path: Path, *, allow_placeholders: bool = False) -> Spec:
    from tui_jail.core.yamlio import load_yaml_file

    return parse_spec(load_yaml_file(path, comments=False), allow_placeholders=allow_placeholders)
