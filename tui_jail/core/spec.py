"""The jail spec: the validated data model every later step (plan, transaction, verify, wizard) reads.

Bad input stops here, with a message naming the field and the value, so nothing downstream ever sees
a value that sshd, fstab or mount would misread. Loading and saving go through ruamel.yaml in
round-trip mode so a user's saved spec keeps its comments and key order.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import posixpath
import re
import sys
import unicodedata
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

from tui_jail.core.capabilities import normalise_capability  # noqa: E402

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# POSIX portable user names (no leading '-'); sshd splits a Match User list on ',' and
# whitespace, and treats '*', '?' and '!' as pattern syntax, so none of those may appear.
USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
PLACEHOLDER_RE = re.compile(r"<([a-z][a-z0-9-]*)>")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

DEVICES: dict[str, tuple[int, int, int]] = {
    # name: (major, minor, mode) — the classic character devices a jail may need
    "null": (1, 3, 0o666),
    "zero": (1, 5, 0o666),
    "full": (1, 7, 0o666),
    "random": (1, 8, 0o666),
    "urandom": (1, 9, 0o666),
    "tty": (5, 0, 0o666),
}
NAMESPACES = ("mount", "pid", "ipc", "uts", "net")
# The kernel's own filesystems: a jail gets its own /dev nodes and procfs, never the host's.
KERNEL_DIRS = ("/proc", "/sys", "/dev")
# Directories the system itself lives in: a jail root there would put root-owned jail dirs, mount
# points and fstab binds over what the host runs on (and remove would take them away again).
SYSTEM_DIRS = frozenset(
    {
        "/", "/bin", "/boot", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt",
        "/opt", "/root", "/run", "/sbin", "/srv", "/tmp", "/usr", "/var",
        "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec", "/usr/local",
        "/usr/share", "/usr/include", "/usr/src", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib",
        "/var/lib", "/var/log", "/var/tmp", "/var/cache", "/var/spool", "/var/mail", "/var/run", "/var/lock",
        "/var/backups", "/var/www", "/var/opt", "/var/local",
        "/etc/ssh", "/etc/systemd", "/etc/default", "/etc/security", "/etc/pam.d", "/etc/sudoers.d",
    }
)  # fmt: skip


class SpecError(ValueError):
    """A spec that cannot be used; the message names the field and the value."""


def unreadable_text(value: str) -> str:
    """What makes `value` read as something else ('' for nothing): a newline or control character
    splits a config line; an invisible format character (bidi override, zero width, BOM) shows a
    path as another."""
    if CONTROL_RE.search(value):
        return "a newline or control character"
    if not value.isascii():
        for char in value:
            if unicodedata.category(char) == "Cf":
                return f"the invisible format character U+{ord(char):04X}"
    return ""


def _no_control(value: str) -> str:
    if problem := unreadable_text(value):
        raise ValueError(f"contains {problem}: {value!r}")
    return value


def check_jail_name(value: str) -> str:
    """A jail's name names files (`jails/<name>.yaml`, the sshd drop-in) and the managed blocks."""
    _no_control(value)
    if not NAME_RE.fullmatch(value):
        raise ValueError(f"must match [a-z0-9][a-z0-9-]{{0,31}}: {value!r}")
    return value


def _under(path: str, directory: str) -> bool:
    """`path` is `directory` or lies inside it (both normalised absolute paths)."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _version(value: Any) -> Any:
    # Literal[1] alone takes True and 1.0 (both == 1): a spec says 1, the integer
    if type(value) is not int:
        raise ValueError(f"must be the integer 1, got {value!r}")
    return value


def _absolute_path(value: str) -> str:
    _no_control(value)
    if not value.startswith("/"):
        raise ValueError(f"must be an absolute path: {value!r}")
    _check_normalised(value)
    return value


def _relative_path(value: str) -> str:
    _no_control(value)
    if value.startswith("/"):
        raise ValueError(f"must be relative to the jail root: {value!r}")
    if value in ("", "."):
        raise ValueError(f"must name something inside the jail root: {value!r}")
    _check_normalised(value)
    return value


NAME_MAX, PATH_MAX = 255, 4095  # the kernel's limits, in bytes (ENAMETOOLONG past them)


def _check_normalised(value: str) -> None:
    parts = value.split("/")
    if len(value.encode("utf-8", "surrogateescape")) > PATH_MAX:
        raise ValueError(f"is too long for the kernel (over {PATH_MAX} bytes): {value[:40]!r}...")
    for part in parts:
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise ValueError(f"has a name too long for the kernel (over {NAME_MAX} bytes): {part[:40]!r}...")
    if ".." in parts:
        raise ValueError(f"must not contain '..': {value!r}")
    if posixpath.normpath(value) != value and value != "/":
        raise ValueError(f"is not normalised (try {posixpath.normpath(value)!r}): {value!r}")


def _address(value: Any) -> str:
    """Accept an IPv4/IPv6 address or a strict CIDR; return its canonical text."""
    if not isinstance(value, str):
        raise ValueError(f"must be an IP address or CIDR, got {value!r}")
    _no_control(value)
    text = value.strip()
    if PLACEHOLDER_RE.fullmatch(text):
        return text  # reported by Spec.unset_placeholders with a clearer message
    if text.startswith("["):
        raise ValueError(f"bracketed IPv6 is accepted by sshd but never matches; drop the brackets: {value!r}")
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=True)
            net = _unmap_network(net)
            return str(net)
        addr = ipaddress.ip_address(text)
    except ValueError as exc:
        if "host bits set" in str(exc):
            raise ValueError(
                f"CIDR has host bits set (sshd refuses to start with it): {value!r}; "
                f"did you mean {ipaddress.ip_network(text, strict=False)}?"
            ) from None
        raise ValueError(f"not an IP address or CIDR: {value!r}") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        # A live IPv4 client matches IPv4 rules; sshd -T -C with the mapped form does not.
        return str(addr.ipv4_mapped)
    return str(addr)


def _unmap_network(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None and net.prefixlen >= 96:
        return ipaddress.ip_network(f"{net.network_address.ipv4_mapped}/{net.prefixlen - 96}")
    return net


def _user(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a user name, got {value!r}")
    _no_control(value)
    if PLACEHOLDER_RE.fullmatch(value):
        return value
    if not USER_RE.fullmatch(value):
        raise ValueError(
            f"not a user name sshd can match (lower-case POSIX name, no spaces, commas or patterns): {value!r}"
        )
    return value


def _capability(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a capability name, got {value!r}")
    name = normalise_capability(value)
    if name is None:
        raise ValueError(f"unknown capability: {value!r}")
    return name


def _device(value: Any) -> Any:
    # YAML reads a bare `null` (as DESIGN.md writes `devices: [null, zero]`) as None.
    return "null" if value is None else value


Device = Annotated[Literal["null", "zero", "full", "random", "urandom", "tty"], BeforeValidator(_device)]
AbsPath = Annotated[str, AfterValidator(_absolute_path)]
RelPath = Annotated[str, AfterValidator(_relative_path)]
Address = Annotated[str, BeforeValidator(_address)]
UserName = Annotated[str, BeforeValidator(_user)]
Capability = Annotated[str, BeforeValidator(_capability)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


MODE_RE = re.compile(r"^0?[0-7]{3}$")


def _mode(value: Any) -> str:
    """A directory mode as YAML keeps it unambiguous: a quoted octal string ('0755'; a bare 0755 is
    the decimal 755 to a YAML 1.2 reader). No setuid, setgid or sticky bit."""
    if not isinstance(value, str) or not MODE_RE.fullmatch(value):
        raise ValueError(f"must be a quoted octal mode like '0755' (no setuid, setgid or sticky bit), got {value!r}")
    return value.rjust(4, "0")


class CreateSource(_Model):
    """A missing bind source the plan creates (the transaction makes it, a rollback removes it while
    it is still the empty directory it made): owned by `owner` (and `group`, default the owner's
    primary group), with `mode`."""

    owner: UserName = "root"
    group: str | None = None
    mode: Annotated[str, BeforeValidator(_mode)] = "0755"

    @field_validator("group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        return None if value is None else _user(value)

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
    exclude: tuple[Annotated[str, AfterValidator(_no_control)], ...] = ()
    create: CreateSource | None = None  # make the source when it is missing (see CreateSource)

    @model_validator(mode="after")
    def _exclude_needs_children(self) -> Mount:
        if self.exclude and not self.children:
            raise ValueError("exclude only makes sense with children: true")
        if self.create is not None and (self.children or self.optional):
            what = "children: true (there would be no entries to bind)" if self.children else "optional: true"
            raise ValueError(f"create does not go with {what}")
        for item in self.exclude:
            if "/" in item or item in ("", ".", ".."):
                raise ValueError(f"exclude entries are single names inside the source: {item!r}")
        return self


class SftpAccess(_Model):
    users: tuple[UserName, ...]
    addresses: tuple[Address, ...]
    allow_tcp_forwarding: bool = False
    x11_forwarding: bool = False

    @field_validator("users", "addresses")
    @classmethod
    def _unique(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if not values:
            raise ValueError("needs at least one entry")
        seen = set()
        for value in values:
            if value in seen:
                raise ValueError(f"listed twice: {value!r}")
            seen.add(value)
        return values


class CapabilitySets(_Model):
    """`drop`: held while the jail is set up, dropped before the command (bounding set too).
    `never`: never held by the command at all. Both end up absent from every set."""

    drop: tuple[Capability, ...] = ()
    never: tuple[Capability, ...] = ()

    @model_validator(mode="after")
    def _disjoint(self) -> CapabilitySets:
        both = sorted(set(self.drop) & set(self.never))
        if both:
            raise ValueError(f"listed in both drop and never: {', '.join(both)}")
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
        if self.user == "root" and not self.allow_root:
            raise ValueError("user: root runs every job as uid 0 in the jail; say allow_root: true to mean it")
        return self

    @field_validator("namespaces")
    @classmethod
    def _mount_and_pid(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        missing = [ns for ns in ("mount", "pid") if ns not in values]
        if missing:
            raise ValueError(f"mount and pid namespaces are required, missing: {', '.join(missing)}")
        if len(set(values)) != len(values):
            raise ValueError(f"a namespace is listed twice: {list(values)}")
        return tuple(ns for ns in NAMESPACES if ns in values)


class Spec(_Model):
    version: Annotated[Literal[1], BeforeValidator(_version)] = 1
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
        if value == "/":
            raise ValueError("the jail root cannot be / itself")
        if "%" in value:
            raise ValueError(f"sshd expands % (%u, %h, %%) in ChrootDirectory, so it would chroot elsewhere: {value!r}")
        if value in SYSTEM_DIRS or any(_under(value, kernel) for kernel in KERNEL_DIRS):
            raise ValueError(f"{value} is a system directory; choose a directory of its own, e.g. /chroot/<name>")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        if self.kind == "sftp" and self.sftp is None:
            raise ValueError("kind sftp needs an sftp: section (users, addresses)")
        if self.kind == "sftp" and self.exec is not None:
            raise ValueError("kind sftp takes no exec: section")
        if self.kind == "exec" and self.exec is None:
            raise ValueError("kind exec needs an exec: section")
        if self.kind == "exec" and self.sftp is not None:
            raise ValueError("kind exec takes no sftp: section")
        targets: dict[str, int] = {}
        for index, mount in enumerate(self.mounts):
            if mount.target in targets:
                raise ValueError(f"mounts[{index}].target: duplicate target {mount.target!r}")
            targets[mount.target] = index
            self._check_mount(index, mount)
        if len(set(self.devices)) != len(self.devices):
            raise ValueError(f"devices: a device is listed twice: {list(self.devices)}")
        if self.exec is not None:
            inside = [("exec.workdir", self.exec.workdir)] if self.exec.workdir else []
            inside += [(f"exec.masks[{i}]", mask) for i, mask in enumerate(self.exec.masks)]
            inside += [(f"exec.copies[{i}]", copy.lstrip("/")) for i, copy in enumerate(self.exec.copies)]
            for field, relative in inside:
                self._check_length(field, relative)
        return self

    def _check_length(self, field: str, relative: str) -> None:
        if len(self.jail_path(relative).encode("utf-8", "surrogateescape")) > PATH_MAX:
            raise ValueError(f"{field}: too long for the kernel inside the jail root (over {PATH_MAX} bytes)")

    def _check_mount(self, index: int, mount: Mount) -> None:
        """A bind must not reach the jail itself or the kernel's filesystems, nor cover its devices."""
        source, field = mount.source, f"mounts[{index}]"
        if any(_under(source, kernel) for kernel in KERNEL_DIRS):
            raise ValueError(f"{field}.source: {source} is the kernel's; a jail gets its own /dev nodes and /proc")
        if _under(source, self.root):
            raise ValueError(f"{field}.source: {source} is the jail root or inside it")
        if _under(self.root, source):
            # only `children` with the entry leading to the root excluded keeps the jail out of the bind
            entry = self.root[len(source.rstrip("/")) + 1 :].split("/")[0]
            if not (mount.children and entry in mount.exclude):
                raise ValueError(
                    f"{field}.source: {source} contains the jail root {self.root} (a bind of it would hold the jail "
                    f"itself); bind its entries with children: true and exclude: [{entry}]"
                )
        self._check_length(f"{field}.target", mount.target)
        device = mount.target.removeprefix("dev/")
        if (mount.target == "dev" and self.devices) or (mount.target.startswith("dev/") and device in DEVICES):
            raise ValueError(f"{field}.target: {mount.target} would cover the jail's own device nodes (devices:)")

    def unset_placeholders(self) -> list[tuple[str, str]]:
        """(field, placeholder) for every `<placeholder>` a preset left for the user to fill in."""
        found: list[tuple[str, str]] = []
        for field, value in _walk(self.model_dump(mode="python")):
            if isinstance(value, str):
                found.extend((field, m.group(0)) for m in PLACEHOLDER_RE.finditer(value))
        return found

    def jail_path(self, relative: str) -> str:
        """A path inside the jail, as seen on the host."""
        return posixpath.join(self.root, relative)


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
