"""The spec's rules, each once: what a field may hold and how the fields of a spec must agree.

Both ways a spec is validated call these and nothing else: the plain reader in `core.spec` (the fast
path every command takes for a spec that is already exactly plain) and the pydantic models in
`core.spec_model` (the authority for every coercion and every error message). A field check takes
the value and returns it (canonical where the rule says so: an address, a capability, a mode) or
raises ValueError with the message the spec's error names the field with; a model check takes any
object with the model's attributes (a record or a model) and raises, or returns nothing.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re

from tui_jail.core.capabilities import normalise_capability

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)

if TYPE_CHECKING:
    from typing import Any, Protocol

    class _Mount(Protocol):
        @property
        def source(self) -> str: ...
        @property
        def target(self) -> str: ...
        @property
        def optional(self) -> bool: ...
        @property
        def children(self) -> bool: ...
        @property
        def exclude(self) -> tuple[str, ...]: ...
        @property
        def create(self) -> object | None: ...

    class _Exec(Protocol):
        @property
        def user(self) -> str: ...
        @property
        def allow_root(self) -> bool: ...
        @property
        def workdir(self) -> str | None: ...
        @property
        def copies(self) -> tuple[str, ...]: ...
        @property
        def masks(self) -> tuple[str, ...]: ...

    class _Spec(Protocol):
        @property
        def kind(self) -> str: ...
        @property
        def root(self) -> str: ...
        @property
        def mounts(self) -> tuple[_Mount, ...]: ...
        @property
        def devices(self) -> tuple[str, ...]: ...
        @property
        def sftp(self) -> object | None: ...
        @property
        def exec(self) -> _Exec | None: ...


NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# POSIX portable user names (no leading '-'); sshd splits a Match User list on ',' and
# whitespace, and treats '*', '?' and '!' as pattern syntax, so none of those may appear.
USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
PLACEHOLDER_RE = re.compile(r"<([a-z][a-z0-9-]*)>")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MODE_RE = re.compile(r"^0?[0-7]{3}$")

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
NAME_MAX, PATH_MAX = 255, 4095  # the kernel's limits, in bytes (ENAMETOOLONG past them)


def unreadable_text(value: str) -> str:
    """What makes `value` read as something else ('' for nothing): a newline or control character
    splits a config line; an invisible format character (bidi override, zero width, BOM) shows a
    path as another."""
    if CONTROL_RE.search(value):
        return "a newline or control character"
    if not value.isascii():
        import unicodedata  # here: its tables load in 4-5 ms, and a spec is almost always ASCII

        for char in value:
            if unicodedata.category(char) == "Cf":
                return f"the invisible format character U+{ord(char):04X}"
    return ""


def no_control(value: str) -> str:
    if problem := unreadable_text(value):
        raise ValueError(f"contains {problem}: {value!r}")
    return value


def check_jail_name(value: str) -> str:
    """A jail's name names files (`jails/<name>.yaml`, the sshd drop-in) and the managed blocks."""
    no_control(value)
    if not NAME_RE.fullmatch(value):
        raise ValueError(f"must match [a-z0-9][a-z0-9-]{{0,31}}: {value!r}")
    return value


def under(path: str, directory: str) -> bool:
    """`path` is `directory` or lies inside it (both normalised absolute paths)."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def version(value: Any) -> Any:
    # Literal[1] alone takes True and 1.0 (both == 1): a spec says 1, the integer
    if type(value) is not int:
        raise ValueError(f"must be the integer 1, got {value!r}")
    return value


def absolute_path(value: str) -> str:
    no_control(value)
    if not value.startswith("/"):
        raise ValueError(f"must be an absolute path: {value!r}")
    _check_normalised(value)
    return value


def relative_path(value: str) -> str:
    no_control(value)
    if value.startswith("/"):
        raise ValueError(f"must be relative to the jail root: {value!r}")
    if value in ("", "."):
        raise ValueError(f"must name something inside the jail root: {value!r}")
    _check_normalised(value)
    return value


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


def address(value: Any) -> str:
    """Accept an IPv4/IPv6 address or a strict CIDR; return its canonical text."""
    if not isinstance(value, str):
        raise ValueError(f"must be an IP address or CIDR, got {value!r}")
    no_control(value)
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


def user(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a user name, got {value!r}")
    no_control(value)
    if PLACEHOLDER_RE.fullmatch(value):
        return value
    if not USER_RE.fullmatch(value):
        raise ValueError(
            f"not a user name sshd can match (lower-case POSIX name, no spaces, commas or patterns): {value!r}"
        )
    return value


def group(value: str | None) -> str | None:
    return None if value is None else user(value)


def capability(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a capability name, got {value!r}")
    name = normalise_capability(value)
    if name is None:
        raise ValueError(f"unknown capability: {value!r}")
    return name


def device(value: Any) -> Any:
    # YAML reads a bare `null` (as DESIGN.md writes `devices: [null, zero]`) as None.
    return "null" if value is None else value


def mode(value: Any) -> str:
    """A directory mode as YAML keeps it unambiguous: a quoted octal string ('0755'; a bare 0755 is
    the decimal 755 to a YAML 1.2 reader). No setuid, setgid or sticky bit."""
    if not isinstance(value, str) or not MODE_RE.fullmatch(value):
        raise ValueError(f"must be a quoted octal mode like '0755' (no setuid, setgid or sticky bit), got {value!r}")
    return value.rjust(4, "0")


def unique(values: tuple[str, ...]) -> tuple[str, ...]:
    """sftp's users and addresses: at least one, none twice."""
    if not values:
        raise ValueError("needs at least one entry")
    seen = set()
    for value in values:
        if value in seen:
            raise ValueError(f"listed twice: {value!r}")
        seen.add(value)
    return values


def mount_and_pid(values: tuple[str, ...]) -> tuple[str, ...]:
    """An exec jail's namespaces: mount and pid always, none twice, in NAMESPACES' order."""
    missing = [ns for ns in ("mount", "pid") if ns not in values]
    if missing:
        raise ValueError(f"mount and pid namespaces are required, missing: {', '.join(missing)}")
    if len(set(values)) != len(values):
        raise ValueError(f"a namespace is listed twice: {list(values)}")
    return tuple(ns for ns in NAMESPACES if ns in values)


def usable_root(value: str) -> str:
    if value == "/":
        raise ValueError("the jail root cannot be / itself")
    if "%" in value:
        raise ValueError(f"sshd expands % (%u, %h, %%) in ChrootDirectory, so it would chroot elsewhere: {value!r}")
    if value in SYSTEM_DIRS or any(under(value, kernel) for kernel in KERNEL_DIRS):
        raise ValueError(f"{value} is a system directory; choose a directory of its own, e.g. /chroot/<name>")
    return value


def exclude_needs_children(mount: _Mount) -> None:
    if mount.exclude and not mount.children:
        raise ValueError("exclude only makes sense with children: true")
    if mount.create is not None and (mount.children or mount.optional):
        what = "children: true (there would be no entries to bind)" if mount.children else "optional: true"
        raise ValueError(f"create does not go with {what}")
    for item in mount.exclude:
        if "/" in item or item in ("", ".", ".."):
            raise ValueError(f"exclude entries are single names inside the source: {item!r}")


def disjoint(drop: tuple[str, ...], never: tuple[str, ...]) -> None:
    both = sorted(set(drop) & set(never))
    if both:
        raise ValueError(f"listed in both drop and never: {', '.join(both)}")


def root_only_when_allowed(settings: _Exec) -> None:
    if settings.user == "root" and not settings.allow_root:
        raise ValueError("user: root runs every job as uid 0 in the jail; say allow_root: true to mean it")


def jail_path(root: str, relative: str) -> str:
    """A path inside the jail, as seen on the host."""
    return posixpath.join(root, relative)


def consistent(spec: _Spec) -> None:
    """The sections the kind needs, distinct mount targets, each mount's reach, no device twice, and
    every path inside the jail short enough for the kernel."""
    if spec.kind == "sftp" and spec.sftp is None:
        raise ValueError("kind sftp needs an sftp: section (users, addresses)")
    if spec.kind == "sftp" and spec.exec is not None:
        raise ValueError("kind sftp takes no exec: section")
    if spec.kind == "exec" and spec.exec is None:
        raise ValueError("kind exec needs an exec: section")
    if spec.kind == "exec" and spec.sftp is not None:
        raise ValueError("kind exec takes no sftp: section")
    targets: dict[str, int] = {}
    for index, mount in enumerate(spec.mounts):
        if mount.target in targets:
            raise ValueError(f"mounts[{index}].target: duplicate target {mount.target!r}")
        targets[mount.target] = index
        _check_mount(spec, index, mount)
    if len(set(spec.devices)) != len(spec.devices):
        raise ValueError(f"devices: a device is listed twice: {list(spec.devices)}")
    if spec.exec is not None:
        inside = [("exec.workdir", spec.exec.workdir)] if spec.exec.workdir else []
        inside += [(f"exec.masks[{i}]", mask) for i, mask in enumerate(spec.exec.masks)]
        inside += [(f"exec.copies[{i}]", copy.lstrip("/")) for i, copy in enumerate(spec.exec.copies)]
        for field, relative in inside:
            _check_length(spec.root, field, relative)


def _check_length(root: str, field: str, relative: str) -> None:
    if len(jail_path(root, relative).encode("utf-8", "surrogateescape")) > PATH_MAX:
        raise ValueError(f"{field}: too long for the kernel inside the jail root (over {PATH_MAX} bytes)")


def _check_mount(spec: _Spec, index: int, mount: _Mount) -> None:
    """A bind must not reach the jail itself or the kernel's filesystems, nor cover its devices."""
    source, field, root = mount.source, f"mounts[{index}]", spec.root
    if any(under(source, kernel) for kernel in KERNEL_DIRS):
        raise ValueError(f"{field}.source: {source} is the kernel's; a jail gets its own /dev nodes and /proc")
    if under(source, root):
        raise ValueError(f"{field}.source: {source} is the jail root or inside it")
    if under(root, source):
        # only `children` with the entry leading to the root excluded keeps the jail out of the bind
        entry = root[len(source.rstrip("/")) + 1 :].split("/")[0]
        if not (mount.children and entry in mount.exclude):
            raise ValueError(
                f"{field}.source: {source} contains the jail root {root} (a bind of it would hold the jail "
                f"itself); bind its entries with children: true and exclude: [{entry}]"
            )
    _check_length(root, f"{field}.target", mount.target)
    device = mount.target.removeprefix("dev/")
    if (mount.target == "dev" and spec.devices) or (mount.target.startswith("dev/") and device in DEVICES):
        raise ValueError(f"{field}.target: {mount.target} would cover the jail's own device nodes (devices:)")
