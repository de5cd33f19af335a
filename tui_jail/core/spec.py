"""The jail spec: the validated data model every later step (plan, transaction, verify, wizard) reads.

Bad input stops here, with a message naming the field and the value, so nothing downstream ever sees
a value that sshd, fstab or mount would misread. The spec's types are frozen records; `parse_spec`
makes them. A spec that is exactly plain — the types YAML gives, only known keys, every rule of
`core.spec_checks` passed — is read here directly; anything else (a value to coerce, like
`readonly: "yes"`, or an error to word) goes to the pydantic models of `core.spec_model`, the
authority on both, whose reading becomes the records. Importing pydantic is most of what loading a
spec used to cost `verify` and `plan` (issue 15), so a valid plain spec never imports it.
"""

from __future__ import annotations

from tui_jail.core import spec_checks as checks
from tui_jail.core.spec_checks import (
    DEVICES,
    NAMESPACES,
    PLACEHOLDER_RE,
    check_jail_name,
    jail_path,
    unreadable_text,
)
from tui_jail.paths.records import keyword_record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (6 ms of every verify; see tui_jail.cli)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any

    Reader = Callable[[Any], Any]

__all__ = [
    "DEVICES",
    "NAMESPACES",
    "CapabilitySets",
    "CreateSource",
    "ExecSettings",
    "Mount",
    "ProcMount",
    "SftpAccess",
    "Spec",
    "SpecError",
    "check_jail_name",
    "load_spec_file",
    "parse_mount",
    "parse_spec",
    "spec_data",
    "unreadable_text",
]


class SpecError(ValueError):
    """A spec that cannot be used; the message names the field and the value."""


@keyword_record
class CreateSource:
    """A missing bind source the plan creates (the transaction makes it, a rollback removes it while
    it is still the empty directory it made): owned by `owner` (and `group`, default the owner's
    primary group), with `mode`."""

    owner: str = "root"
    group: str | None = None
    mode: str = "0755"

    @property
    def mode_bits(self) -> int:
        return int(self.mode, 8)


@keyword_record
class Mount:
    """A bind mount of a host path into the jail. `target` is relative to the jail root."""

    source: str
    target: str
    readonly: bool = False
    persist: bool = True
    optional: bool = False  # skip (with a note) when the source does not exist on this host
    children: bool = False  # bind each entry of `source` separately, leaving out `exclude`
    exclude: tuple[str, ...] = ()
    create: CreateSource | None = None  # make the source when it is missing (see CreateSource)


@keyword_record
class SftpAccess:
    users: tuple[str, ...]
    addresses: tuple[str, ...]
    allow_tcp_forwarding: bool = False
    x11_forwarding: bool = False


@keyword_record
class CapabilitySets:
    """`drop`: held while the jail is set up, dropped before the command (bounding set too).
    `never`: never held by the command at all. Both end up absent from every set."""

    drop: tuple[str, ...] = ()
    never: tuple[str, ...] = ()

    @property
    def removed(self) -> frozenset[str]:
        return frozenset(self.drop) | frozenset(self.never)


@keyword_record
class ProcMount:
    """A fresh procfs at /proc inside the jail, mounted in the jail's own PID namespace."""

    options: tuple[str, ...] = ("nosuid", "nodev", "noexec")
    hidepid: int = 2


@keyword_record
class ExecSettings:
    """How a command enters an exec jail (`tui-jail exec`)."""

    user: str = "nobody"
    # uid 0 in the jail: refused unless this says so (even then the chroot-breaking capabilities go)
    allow_root: bool = False
    namespaces: tuple[str, ...] = ("mount", "pid")
    capabilities: CapabilitySets = CapabilitySets()
    proc: ProcMount | None = ProcMount()
    per_run_tmp: bool = True  # /tmp/job-<id> on the host, bound at <root>/tmp for one run
    workdir: str | None = None  # writable by `user`, created by the plan
    copies: tuple[str, ...] = ()  # host files copied into the jail (isolated /etc copies)
    masks: tuple[str, ...] = ()  # paths inside the jail hidden behind /dev/null


@keyword_record
class Spec:
    version: int = 1
    name: str
    kind: str  # "sftp" or "exec"
    root: str
    mounts: tuple[Mount, ...] = ()
    devices: tuple[str, ...] = ("null", "zero")
    sftp: SftpAccess | None = None
    exec: ExecSettings | None = None

    def unset_placeholders(self) -> list[tuple[str, str]]:
        """(field, placeholder) for every `<placeholder>` a preset left for the user to fill in."""
        found: list[tuple[str, str]] = []
        for field, value in _walk(spec_data(self)):
            if isinstance(value, str):
                found.extend((field, m.group(0)) for m in PLACEHOLDER_RE.finditer(value))
        return found

    def jail_path(self, relative: str) -> str:
        """A path inside the jail, as seen on the host."""
        return jail_path(self.root, relative)


_RECORDS = (Spec, Mount, CreateSource, SftpAccess, ExecSettings, CapabilitySets, ProcMount)


def spec_data(value: Any, *, exclude_defaults: bool = False) -> Any:
    """A spec (or any part of one) as plain data, what YAML or JSON writes: mappings in field order,
    lists for tuples; with `exclude_defaults`, a field equal to its default is left out, at every level."""
    if isinstance(value, tuple):
        return [spec_data(item, exclude_defaults=exclude_defaults) for item in value]
    if type(value) in _RECORDS:
        defaults = vars(type(value))
        return {
            name: spec_data(item, exclude_defaults=exclude_defaults)
            for name, item in vars(value).items()
            if not (exclude_defaults and name in defaults and defaults[name] == item)
        }
    return value


def _walk(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def parse_spec(data: Any, *, allow_placeholders: bool = False) -> Spec:
    """Validate plain data (from YAML or the wizard) into a Spec, or raise SpecError."""
    if not isinstance(data, dict):
        raise SpecError("a spec is a mapping of keys (version, name, kind, root, ...)")
    spec: Spec = _read(_plain(data), _read_spec, "SpecModel")
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


def parse_mount(data: dict[str, Any]) -> Mount:
    """One mount on its own (a spec's mount list checks more: see spec_checks.consistent), or SpecError."""
    mount: Mount = _read(_plain(data), _read_mount, "MountModel")
    return mount


def _read(data: dict[str, Any], read: Reader, model: str) -> Any:
    """`data` read plain, or else as the pydantic `model` reads it: its error, or its reading as records."""
    try:
        return read(data)
    except ValueError:  # not plain, or invalid: pydantic's to coerce or to word
        pass
    from tui_jail.core import spec_model  # first: it keeps pydantic from scanning for plugins

    try:
        reading = getattr(spec_model, model).model_validate(data).model_dump(mode="json")
    except spec_model.ValidationError as exc:
        raise SpecError(spec_model.format_validation_error(exc)) from None
    try:
        return read(reading)
    except ValueError as exc:  # pydantic's reading is plain and valid, or the two readers disagree
        raise AssertionError(f"the plain reader refuses pydantic's reading of {data!r}: {exc!r}") from exc


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


# The plain reader. Each reader takes one value and returns it as the record's field holds it, or
# raises ValueError: `_NotPlain` for anything pydantic might coerce (only the exact types YAML gives
# pass: str, bool, int that is not a bool, list, dict, None), a rule's own error for an invalid
# value. Either way the caller leaves the spec to pydantic, so nothing is decided here that the
# model would decide otherwise.


class _NotPlain(ValueError):
    """A value of a type the plain reader leaves to pydantic, or an unknown or missing key."""


# ruamel's round-trip reader gives a quoted scalar as a str subclass with str's own methods and repr;
# pydantic reads it as the str it holds
_QUOTED_STRINGS = "ruamel.yaml.scalarstring"


def _str(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str) and type(value).__module__ == _QUOTED_STRINGS:
        return str.__str__(value)
    raise _NotPlain(value)


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _NotPlain(value)
    return value


def _one_of(*choices: str | int) -> Reader:
    kinds = {type(choice) for choice in choices}

    def read(value: Any) -> Any:
        if type(value) not in kinds or value not in choices:
            raise _NotPlain(value)
        return value

    return read


def _checked(read: Reader, *rules: Callable[[Any], Any]) -> Reader:
    def read_checked(value: Any) -> Any:
        value = read(value)
        for rule in rules:
            value = rule(value)
        return value

    return read_checked


def _items(read: Reader) -> Reader:
    def read_items(value: Any) -> tuple[Any, ...]:
        if type(value) is not list:
            raise _NotPlain(value)
        return tuple(read(item) for item in value)

    return read_items


def _optional(read: Reader) -> Reader:
    return lambda value: None if value is None else read(value)


def _record(cls: type, fields: dict[str, Reader], rule: Callable[[Any], Any] | None = None) -> Reader:
    """A mapping of exactly `fields`' keys (each one without a default present) as a `cls`."""
    defaults = {name: vars(cls)[name] for name in fields if name in vars(cls)}

    def read_record(value: Any) -> Any:
        if type(value) is not dict or not value.keys() <= fields.keys():
            raise _NotPlain(value)
        made = {}
        for name, read in fields.items():
            if name in value:
                made[name] = read(value[name])
            elif name in defaults:
                made[name] = defaults[name]
            else:
                raise _NotPlain(name)
        record = cls(**made)
        if rule is not None:
            rule(record)
        return record

    return read_record


def _device(value: Any) -> Any:
    return _one_of(*DEVICES)(checks.device(value))


_user = _checked(_str, checks.user)
_absolute = _checked(_str, checks.absolute_path)
_relative = _checked(_str, checks.relative_path)
_read_create = _record(
    CreateSource,
    {"owner": _user, "group": _optional(_checked(_str, checks.group)), "mode": _checked(_str, checks.mode)},
)
_read_mount = _record(
    Mount,
    {
        "source": _absolute,
        "target": _relative,
        "readonly": _bool,
        "persist": _bool,
        "optional": _bool,
        "children": _bool,
        "exclude": _items(_checked(_str, checks.no_control)),
        "create": _optional(_read_create),
    },
    checks.exclude_needs_children,
)
_read_sftp = _record(
    SftpAccess,
    {
        "users": _checked(_items(_user), checks.unique),
        "addresses": _checked(_items(_checked(_str, checks.address)), checks.unique),
        "allow_tcp_forwarding": _bool,
        "x11_forwarding": _bool,
    },
)
_capabilities = _items(_checked(_str, checks.capability))
_read_capabilities = _record(
    CapabilitySets,
    {"drop": _capabilities, "never": _capabilities},
    lambda sets: checks.disjoint(sets.drop, sets.never),
)
_read_proc = _record(ProcMount, {"options": _items(_one_of("nosuid", "nodev", "noexec")), "hidepid": _one_of(0, 1, 2)})
_read_exec = _record(
    ExecSettings,
    {
        "user": _user,
        "allow_root": _bool,
        "namespaces": _checked(_items(_one_of(*NAMESPACES)), checks.mount_and_pid),
        "capabilities": _read_capabilities,
        "proc": _optional(_read_proc),
        "per_run_tmp": _bool,
        "workdir": _optional(_relative),
        "copies": _items(_absolute),
        "masks": _items(_relative),
    },
    checks.root_only_when_allowed,
)
_read_spec: Callable[[Any], Spec] = _record(
    Spec,
    {
        "version": _checked(checks.version, _one_of(1)),
        "name": _checked(_str, check_jail_name),
        "kind": _one_of("sftp", "exec"),
        "root": _checked(_absolute, checks.usable_root),
        "mounts": _items(_read_mount),
        "devices": _items(_device),
        "sftp": _optional(_read_sftp),
        "exec": _optional(_read_exec),
    },
    checks.consistent,
)
