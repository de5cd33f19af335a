"""The launch file of an exec jail: what `tui-jail exec` needs, compiled at plan time, read back as JSON only.

`render_launch` (called by the plan) turns a validated spec and its expanded mounts — children,
exclude and optional already resolved, the very list the plan's mount steps come from — into
`/var/lib/tui-jail/jails/<name>.launch.json`. The plan writes it like any other file, so the
transaction shows it as a diff, journals it and rolls it back with the rest. `read_launch` is the
reader on a job's start-up path: it must not import the spec (pydantic) or the planner, so it
validates the file itself and refuses anything it does not fully understand — a launch file is never
guessed at, because the launcher acts on it as root.

The on-disk state layout (`STATE_DIR`, `JAILS_DIR`) lives here rather than in the planner so that
exec can find the file without importing the planner; `tui_jail.core.plan` re-exports it.

The file is read with the C scanner `json.loads` itself uses (`_loads`), not through the `json` module:
that imports `re` and with it `enum`, ~12 ms of CPU on every job's start-up for a file of a few hundred
bytes; the `json` module reads only what that fast path does not take whole, and names the error.
"""

import os
import posixpath
import stat

from tui_jail.core.capabilities import CAPABILITIES
from tui_jail.core.errors import Refused

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on exec's start-up path
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, TypedDict

    from tui_jail.core.spec import Mount, Spec

    class LaunchMount(TypedDict):
        source: str  # host path, as seen inside the system root
        target: str  # host path of the mount point, as seen inside the system root
        readonly: bool

    class LaunchProc(TypedDict):
        options: list[str]
        hidepid: int

    class LaunchData(TypedDict):
        format: int
        about: str
        name: str
        root: str
        mounts: list[LaunchMount]
        user: str
        allow_root: bool  # uid 0 in the jail allowed (spec's exec.allow_root); absent in older files: false
        namespaces: list[str]
        remove_capabilities: dict[str, int]  # name → bit
        proc: LaunchProc | None
        per_run_tmp: bool
        workdir: str  # inside the jail
        masks: list[str]  # host paths of the mount points /dev/null is bound over, as seen inside the root


FORMAT = 1
STATE_DIR = "/var/lib/tui-jail"
JAILS_DIR = f"{STATE_DIR}/jails"
NAMESPACES = ("mount", "pid", "ipc", "uts", "net")
PROC_OPTIONS = ("nosuid", "nodev", "noexec")


def jail_launch_path(name: str) -> str:
    """Where an applied exec jail's launch file is kept (read by `exec`)."""
    return f"{JAILS_DIR}/{name}.launch.json"


def render_launch(spec: "Spec", mounts: "Sequence[Mount]") -> str:
    """The launch file of an exec jail: pretty, sorted JSON, so its diff in a plan reads well."""
    settings = spec.exec
    assert settings is not None, "only exec jails have a launch file"
    data: LaunchData = {
        "format": FORMAT,
        "about": f"tui-jail exec reads this; written by tui-jail apply from the spec of {spec.name}. Do not edit.",
        "name": spec.name,
        "root": spec.root,
        "mounts": [{"source": m.source, "target": spec.jail_path(m.target), "readonly": m.readonly} for m in mounts],
        "user": settings.user,
        "allow_root": settings.allow_root,
        "namespaces": list(settings.namespaces),
        "remove_capabilities": {name: CAPABILITIES[name][0] for name in sorted(settings.capabilities.removed)},
        "proc": None
        if settings.proc is None
        else {"options": list(settings.proc.options), "hidepid": settings.proc.hidepid},
        "per_run_tmp": settings.per_run_tmp,
        "workdir": "/" + settings.workdir if settings.workdir else "/",
        "masks": [spec.jail_path(mask) for mask in settings.masks],
    }
    import json  # here, on the planner's path: exec reads the file without the json module (`_loads`)

    return json.dumps(data, indent=2, sort_keys=True) + "\n"


class _Invalid(ValueError):
    pass


def read_launch(path: str, name: str) -> "LaunchData":
    """The launch file at `path` (a host path) of jail `name`, checked; `Refused` for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        if _is_sftp_jail(path.removesuffix(".launch.json") + ".yaml"):
            raise Refused(
                f"{name} is an sftp jail: its users log in with sftp and it runs no commands; "
                "exec runs commands in exec jails only"
            ) from None
        raise Refused(f"no applied exec jail named {name!r} ({path} does not exist); apply or re-apply it") from None
    except OSError as exc:
        raise Refused(f"cannot open {path}: {exc.strerror}") from None
    try:
        # The launch file decides, for a process running as root, which tree to chroot into, what is
        # mounted there and which capabilities the command keeps. Only root may have written it: a
        # file someone else owns or could write would let them run their command unjailed and
        # fully privileged. Checked on the open descriptor, so it is the file that is then read.
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"{path} is not a regular file; re-apply the jail")
        if st.st_uid != 0 or st.st_mode & 0o022:
            raise Refused(
                f"{path} is owned by uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):04o}; a launch file must be "
                "root-owned and not group/world-writable (re-apply the jail)"
            )
        raw = read_all(fd)
    finally:
        os.close(fd)
    try:
        return _validated(_loads(raw), name)
    except ValueError as exc:  # json's own errors and _Invalid
        raise Refused(f"{path} is not a valid launch file ({exc}); re-apply the jail") from None


def read_all(fd: int) -> bytes:
    """Everything left to read from `fd`, by plain reads: a file object (`open`, `os.fdopen`) costs the
    job's start-up a buffered reader, its fstat, isatty and seek calls for each file it reads."""
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


class _ScannerSettings:
    """What `json.loads` gives its C scanner (`json.JSONDecoder`'s attributes), but for the constants: NaN
    and Infinity are not JSON, so the fast path leaves them to `json.loads` (which still takes them)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> "Any":
        raise ValueError(name)


def _loads(raw: bytes) -> "Any":
    """`json.loads(raw)`: the same C scanner, used directly when it takes the whole UTF-8 text (what
    `render_launch` writes); anything else (an error, text before or after the document, another
    encoding, a constant) goes to `json.loads`, so the result, or the error and its message, is its."""
    try:
        from _json import make_scanner  # CPython's; elsewhere the ImportError leads to json.loads

        text = raw.decode()
        # typeshed calls the context a scanner; the C code only reads the settings' attributes
        value, end = make_scanner(_ScannerSettings)(text, 0)  # type: ignore[arg-type]
        if end == len(text.rstrip(" \t\n\r")):  # json's whitespace, not str.isspace's
            return value
    # Not only ValueError and StopIteration: CPython 3.11's scanner, asked without the json module
    # loaded, reports a syntax error as SystemError. Whatever went wrong, json.loads reads it again.
    except Exception:  # noqa: BLE001
        pass
    import json

    return json.loads(raw)


def _is_sftp_jail(state_path: str) -> bool:
    """The applied spec beside the launch file says `kind: sftp` (read as lines: only on a refusal)."""
    try:
        with open(state_path, encoding="utf-8", errors="replace") as file:
            return any(line.rstrip() == "kind: sftp" for line in file)
    except OSError:
        return False


def _validated(data: "Any", name: str) -> "LaunchData":
    _expect(data, dict, "the file")
    if data.get("format") != FORMAT or type(data.get("format")) is not int:
        raise _Invalid(f"format {data.get('format')!r}; this tui-jail reads format {FORMAT}")
    fields: dict[str, type | tuple[type, ...]] = {
        "format": int,
        "about": str,
        "name": str,
        "root": str,
        "mounts": list,
        "user": str,
        "namespaces": list,
        "remove_capabilities": dict,
        "proc": (dict, type(None)),
        "per_run_tmp": bool,
        "workdir": str,
        "masks": list,
        "allow_root": bool,
    }
    data.setdefault("allow_root", False)  # a file written before the field existed: root was never meant
    if set(data) != set(fields):
        raise _Invalid(f"fields {sorted(set(data) ^ set(fields))} missing or unknown")
    for key, kind in fields.items():
        _expect(data[key], kind, key)
    if data["name"] != name:
        raise _Invalid(f"it is the launch file of {data['name']!r}")
    if not data["user"]:
        raise _Invalid("user is empty")
    root = _path(data["root"], "root")
    if root == "/":
        raise _Invalid("root is /")
    for index, mount in enumerate(data["mounts"]):
        where = f"mounts[{index}]"
        _expect(mount, dict, where)
        if set(mount) != {"source", "target", "readonly"}:
            raise _Invalid(f"{where} needs exactly source, target, readonly")
        _path(mount["source"], f"{where}.source")
        _path(mount["target"], f"{where}.target", under=root)
        _expect(mount["readonly"], bool, f"{where}.readonly")
    for index, mask in enumerate(data["masks"]):
        _path(mask, f"masks[{index}]", under=root)
    _path(data["workdir"], "workdir")
    namespaces = _names(data["namespaces"], "namespaces", NAMESPACES)
    if not {"mount", "pid"} <= namespaces:
        raise _Invalid("namespaces: mount and pid are required")
    for cap, bit in data["remove_capabilities"].items():
        if cap not in CAPABILITIES or type(bit) is not int or CAPABILITIES[cap][0] != bit:
            raise _Invalid(f"remove_capabilities: {cap}={bit!r} is not a capability and its bit")
    proc = data["proc"]
    if proc is not None:
        if set(proc) != {"options", "hidepid"} or type(proc["hidepid"]) is not int or proc["hidepid"] not in (0, 1, 2):
            raise _Invalid("proc needs options and hidepid 0, 1 or 2")
        _names(proc["options"], "proc.options", PROC_OPTIONS)
    return data  # type: ignore[no-any-return]  # checked field by field above


def _expect(value: "Any", kind: type | tuple[type, ...], where: str) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Invalid(f"{where} has the wrong type")


def _names(value: "Any", where: str, known: tuple[str, ...]) -> set[str]:
    """A list of distinct names, each one of `known`."""
    _expect(value, list, where)
    if not all(isinstance(item, str) and item in known for item in value) or len(set(value)) != len(value):
        raise _Invalid(f"{where} {value!r}: distinct names out of {', '.join(known)}")
    return set(value)


def _path(value: "Any", where: str, *, under: str | None = None) -> str:
    """An absolute, normalised path (no `..`, no `//`, no NUL); strictly below `under` when given."""
    _expect(value, str, where)
    if not value.startswith("/") or value.startswith("//") or posixpath.normpath(value) != value or "\0" in value:
        raise _Invalid(f"{where} {value!r} is not an absolute, normalised path")
    if under is not None and not value.startswith(under + "/"):
        raise _Invalid(f"{where} {value!r} is not inside the jail root {under}")
    return str(value)
