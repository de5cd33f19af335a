"""The plain reader of `core.spec` and the pydantic model of `core.spec_model` read every spec alike:
`parse_spec` gives the same spec (as data, types and key order included) or the same error message as
the model alone, whichever path it takes, for the presets and the test corpora mutated with awkward
values. And a plain valid spec takes the plain path (no pydantic), which is why there are two."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from test_spec import exec_spec, seedbox

from tui_jail.core import spec as spec_module
from tui_jail.core.spec import SpecError, parse_mount, parse_spec, spec_data
from tui_jail.core.spec_model import MountModel, SpecModel, format_validation_error
from tui_jail.presets import preset_data, preset_names

FILLED = {"<media-user>": "media", "<seedbox-ip>": "203.0.113.0/24", "<agent-user>": "agent"}


def filled(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: filled(item) for key, item in value.items()}
    if isinstance(value, list):
        return [filled(item) for item in value]
    return FILLED.get(value, value) if isinstance(value, str) else value


RICH_MOUNTS = [
    {"source": "/srv/share", "target": "share", "children": True, "exclude": ["private", "jail"]},
    {"source": "/srv/new", "target": "new", "create": {"owner": "media", "group": "users", "mode": "750"}},
    {"source": "/srv/ro", "target": "data/ro", "readonly": True, "persist": False, "optional": True},
]
RICH_EXEC = {
    "user": "agent",
    "allow_root": False,
    "namespaces": ["net", "pid", "mount"],
    "capabilities": {"drop": ["sys_admin", "CAP_NET_RAW"], "never": ["cap_sys_ptrace"]},
    "proc": {"options": ["nosuid"], "hidepid": 1},
    "per_run_tmp": False,
    "workdir": "work",
    "copies": ["/etc/hosts"],
    "masks": ["etc/shadow"],
}
BASES: list[dict[str, Any]] = [
    *(preset_data(name) for name in preset_names()),
    *(filled(preset_data(name)) for name in preset_names()),
    seedbox(),
    seedbox(
        mounts=RICH_MOUNTS, sftp={"users": ["media", "<user>"], "addresses": ["::ffff:192.0.2.1", "2001:db8::/32"]}
    ),
    exec_spec(),
    {**exec_spec(**RICH_EXEC), "mounts": RICH_MOUNTS[:2], "devices": ["null", "tty", "urandom"]},
]

AWKWARD: list[Any] = [
    *("yes", "no", "true", "1", 1, 0, 2, 3, -1, 2**70, 1.0, 0.0, True, False, None, "", " "),
    *("0755", "755", "0750", 755, 0o755, "4755", "0o755", "07555"),
    *([], ["media"], [None], {}, {"extra": 1}, ("null", "zero"), ("media",)),
    *("::ffff:192.0.2.1", "::ffff:192.0.2.0/120", "[2001:db8::1]", "2001:db8::/32", "2001:DB8::1"),
    *("203.0.113.7/24", "203.0.113.0/24", " 203.0.113.7 ", "203.0.113.300", "0.0.0.0/0"),
    *("<placeholder>", "<media-user>", " <seedbox-ip> ", "%u", "/srv/%h", "media", "root", "nobody", "Media"),
    *("a\u202eb", "a\u200bb", "a\nb", "tab\there", "\udcff", "é"),
    *("/srv/../etc", "//srv", "/srv//x", "/srv/", "x/../y", "./x", ".", "..", "/", "/proc/x", "/sys", "/dev/null"),
    *("dev", "dev/null", "dev/shm", "/tank", "/chroot/rclone-sftp/x", "/etc", "/srv/" + "a" * 300, "a" * 5000),
    *("CAP_SYS_ADMIN", "sys_admin", "cap_net_raw", "CAP_NOPE", "nosuid", "noexec", "mount", "pid", "net"),
    *("null", "zero", "tty", "full", "sftp", "exec", "rclone-sftp", "-bad", "UPPER"),
    SingleQuotedScalarString("media"),
    DoubleQuotedScalarString("/srv/quoted"),
]
KEYS = ["version", "name", "kind", "root", "mounts", "devices", "sftp", "exec", "source", "target", "readonly"]
KEYS += ["children", "exclude", "create", "owner", "group", "mode", "users", "addresses", "user", "allow_root"]
KEYS += ["namespaces", "capabilities", "drop", "never", "proc", "options", "hidepid", "workdir", "copies", "masks"]
KEYS += ["extra", "Version"]


def places(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and index in the document, as paths from its top."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((*at, key))
        found.extend(places(item, (*at, key)))
    return found


def containers(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The paths of the document and of every mapping and list in it."""
    return [(), *(path for path in places(document) if isinstance(_at(document, path), (dict, list)))]


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    document = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        paths = places(document)
        operation = draw(
            st.sampled_from(["replace", "replace", "retype", "retype", "delete", "add", "unwrap", "twice"])
        )
        if operation == "add":
            where = _at(document, draw(st.sampled_from(containers(document))))
            value = draw(st.sampled_from(AWKWARD))
            if isinstance(where, dict):
                where[draw(st.sampled_from(KEYS))] = value
            else:
                where.append(value)
            continue
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent, key = _at(document, path[:-1]), path[-1]
        if operation == "replace":
            parent[key] = draw(st.sampled_from(AWKWARD))
        elif operation == "delete":
            del parent[key]
        elif operation == "unwrap" and isinstance(parent[key], list) and parent[key]:
            parent[key] = parent[key][0]  # a list where one value is wanted, or the reverse
        elif operation == "retype":
            parent[key] = draw(st.sampled_from(retyped(parent[key])))
        elif operation == "twice" and isinstance(parent[key], list) and parent[key]:
            parent[key].append(copy.deepcopy(parent[key][0]))  # a user, address, mount or device listed twice
    return document


def retyped(value: Any) -> list[Any]:
    """`value` as other types spell it, which pydantic may read as the same value (or not)."""
    if isinstance(value, bool):
        return [str(value).lower(), "yes" if value else "no", int(value), float(value), "on" if value else "off"]
    if isinstance(value, int):
        return [str(value), float(value), value == 1, f"{value:o}"]
    if isinstance(value, str):
        return [SingleQuotedScalarString(value), DoubleQuotedScalarString(value), [value], value.encode(), f" {value}"]
    if isinstance(value, list):
        return [tuple(value), value[:1], [*value, *value[:1]]]
    if isinstance(value, dict):
        return [list(value.items()), {**value, "extra": None}]
    return [None, "", 0]


def typed(value: Any) -> Any:
    """`value` with the type of every part in it: True and 1, or a str and a str subclass, differ."""
    if isinstance(value, dict):
        return ("dict", [(typed(key), typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, value)


def outcome(read: Any) -> Any:
    try:
        return typed(read())
    except SpecError as exc:
        return ("SpecError", str(exc))


def by_the_model(data: Any, allow_placeholders: bool) -> Any:
    """What parse_spec gave before the plain reader: pydantic's reading or its error, the placeholders
    checked on that reading."""
    if not isinstance(data, dict):
        raise SpecError("a spec is a mapping of keys (version, name, kind, root, ...)")
    try:
        model = SpecModel.model_validate(spec_module._plain(data))
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc)) from None
    unset = [(field, text) for field, text in spec_module._walk(model.model_dump(mode="json")) if isinstance(text, str)]
    unset_found = [(field, m.group(0)) for field, text in unset for m in spec_module.PLACEHOLDER_RE.finditer(text)]
    if unset_found and not allow_placeholders:
        field, placeholder = unset_found[0]
        others = f" (and {len(unset_found) - 1} more)" if len(unset_found) > 1 else ""
        raise SpecError(
            f"{field}: placeholder {placeholder} is still unset{others}; "
            "set it in your spec file and pass it with --spec"
        )
    return [model.model_dump(mode="json"), model.model_dump(mode="json", exclude_defaults=True)]


def by_parse_spec(data: Any, allow_placeholders: bool) -> Any:
    spec = parse_spec(data, allow_placeholders=allow_placeholders)
    return [spec_data(spec), spec_data(spec, exclude_defaults=True)]


def mount_by_the_model(data: Any) -> Any:
    try:
        return MountModel.model_validate(spec_module._plain(data)).model_dump(mode="json")
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc)) from None


def assert_read_alike(document: dict[str, Any]) -> None:
    for allow in (True, False):
        expected = outcome(lambda: by_the_model(copy.deepcopy(document), allow))  # noqa: B023 (called at once)
        assert outcome(lambda: by_parse_spec(document, allow)) == expected, (document, allow)  # noqa: B023
    mounts = document.get("mounts")
    for mount in mounts if isinstance(mounts, list) else ():
        if isinstance(mount, dict):
            expected = outcome(lambda: mount_by_the_model(mount))  # noqa: B023
            assert outcome(lambda: spec_data(parse_mount(mount))) == expected, mount  # noqa: B023


@settings(max_examples=300, deadline=None)
@given(document=mutated())
def test_parse_spec_reads_every_document_as_the_model_alone_does(document: dict[str, Any]) -> None:
    assert_read_alike(document)


def each_value_replaced(document: dict[str, Any], values: Any) -> Iterator[dict[str, Any]]:
    for path in places(document):
        for other in values(_at(document, path)):
            changed = copy.deepcopy(document)
            _at(changed, path[:-1])[path[-1]] = other
            yield changed


@pytest.mark.parametrize("index", range(len(BASES)))
def test_every_value_of_every_corpus_document_retyped_is_read_alike(index: int) -> None:
    """Every field of every document, one at a time, spelt as another type: a sweep of what the random
    mutations above only sample."""
    for changed in each_value_replaced(BASES[index], retyped):
        assert_read_alike(changed)


@pytest.mark.slow
@pytest.mark.parametrize("index", [len(BASES) - 3, len(BASES) - 1])
def test_every_field_given_every_awkward_value_is_read_alike(index: int) -> None:
    """The two documents with every field, each field given each awkward value in turn (~10 s each)."""
    for changed in each_value_replaced(BASES[index], lambda _value: AWKWARD):
        assert_read_alike(changed)


@pytest.mark.parametrize("index", range(len(BASES)))
def test_every_corpus_document_takes_the_plain_path(index: int) -> None:
    """The control for the property above: its documents, unmutated, are read without the model (so
    both paths are compared, not the model with itself); the awkward values send them to it."""
    document = BASES[index]
    assert spec_module._read_spec(spec_module._plain(document)) == parse_spec(document, allow_placeholders=True)
    with pytest.raises(ValueError):
        spec_module._read_spec(spec_module._plain({**document, "devices": ("null", "zero")}))


def test_the_model_coerces_and_the_records_hold_its_reading() -> None:
    """What pydantic coerces (a str for a bool, a tuple for a list, a quoted mode) is the model's to read,
    and parse_spec gives exactly its reading; what it refuses is refused in its words."""
    data = seedbox(mounts=[{"source": "/tank/x", "target": "x", "readonly": "yes", "create": {"mode": "750"}}])
    data["devices"] = ("null", "zero")
    spec = parse_spec(data)
    assert spec.mounts[0].readonly is True and spec.devices == ("null", "zero")
    assert spec.mounts[0].create is not None and spec.mounts[0].create.mode == "0750"
    with pytest.raises(SpecError) as refused:
        parse_spec(seedbox(mounts=[{"source": "/tank/x", "target": "x", "readonly": "perhaps"}]))
    assert str(refused.value) == "mounts[0].readonly: Input should be a valid boolean, unable to interpret input"


def test_a_plain_spec_is_read_without_importing_pydantic() -> None:
    code = (
        "import sys\n"
        "from tui_jail.core.spec import parse_spec\n"
        "from tui_jail.presets import preset_data\n"
        "for name in ('seedbox-sftp', 'joblet-production', 'joblet-builder', 'awf-host-chroot'):\n"
        "    parse_spec(preset_data(name), allow_placeholders=True)\n"
        "print('pydantic' in sys.modules)\n"
        "try:\n"
        "    parse_spec({**preset_data('seedbox-sftp'), 'kind': 'ftp'})\n"
        "except ValueError:\n"
        "    pass\n"
        "print('pydantic' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "True"], result.stdout + result.stderr
