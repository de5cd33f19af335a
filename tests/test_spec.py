"""Spec validation: every bad value is refused with a message naming the field and the value."""

from __future__ import annotations

import copy
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_jail.core.spec import SpecError, parse_spec
from tui_jail.presets import preset_document, preset_names


def seedbox(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "name": "rclone-sftp",
        "kind": "sftp",
        "root": "/chroot/rclone-sftp",
        "mounts": [{"source": "/tank/incomingmovies", "target": "incomingmovies"}],
        "devices": [None, "zero"],  # YAML's bare `null` as DESIGN.md writes it
        "sftp": {"users": ["media"], "addresses": ["203.0.113.7"]},
    }
    data.update(changes)
    return data


def exec_spec(**exec_changes: Any) -> dict[str, Any]:
    return {
        "name": "job",
        "kind": "exec",
        "root": "/srv/job",
        "exec": {"user": "nobody", "capabilities": {"drop": ["CAP_SYS_ADMIN"]}, **exec_changes},
    }


def refused(data: dict[str, Any], *needles: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    return message


def test_design_example_is_valid() -> None:
    spec = parse_spec(seedbox())
    assert spec.devices == ("null", "zero")
    assert spec.sftp is not None and spec.sftp.addresses == ("203.0.113.7",)
    assert spec.mounts[0].persist and not spec.mounts[0].readonly


@pytest.mark.parametrize("name", preset_names())
def test_presets_are_valid_specs(name: str) -> None:
    spec = parse_spec(preset_document(name), allow_placeholders=True)
    assert spec.kind == ("sftp" if name == "seedbox-sftp" else "exec")


@pytest.mark.parametrize(
    ("name", "field"), [("seedbox-sftp", "sftp.users[0]"), ("awf-host-chroot", "mounts[10].source")]
)
def test_unset_placeholder_is_refused_with_what_to_set(name: str, field: str) -> None:
    message = refused(preset_document(name), field, "placeholder <", "still unset")
    assert "--spec" in message


@pytest.mark.parametrize(
    ("address", "needle"),
    [
        ("203.0.113.7/24", "host bits"),
        ("[2001:db8::1]", "bracketed"),
        ("203.0.113.300", "not an IP"),
        ("seedbox.example.com", "not an IP"),
        ("10.0.0.0/33", "not an IP"),
        ("", "not an IP"),
    ],
)
def test_bad_addresses(address: str, needle: str) -> None:
    refused(seedbox(sftp={"users": ["media"], "addresses": [address]}), "sftp.addresses[0]", needle, repr(address))


@pytest.mark.parametrize(
    ("given_", "stored"),
    [("::ffff:203.0.113.7", "203.0.113.7"), ("2001:DB8::/32", "2001:db8::/32"), ("10.0.0.0/8", "10.0.0.0/8")],
)
def test_addresses_are_normalised(given_: str, stored: str) -> None:
    spec = parse_spec(seedbox(sftp={"users": ["media"], "addresses": [given_]}))
    assert spec.sftp is not None and spec.sftp.addresses == (stored,)


@pytest.mark.parametrize("user", ["me dia", "a,b", "med*", "us?r", "!root", "-x", "Media", "", "a" * 33])
def test_user_names_sshd_would_split_or_misread(user: str) -> None:
    refused(seedbox(sftp={"users": [user], "addresses": ["192.0.2.1"]}), "sftp.users[0]", repr(user))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"root": "chroot/x"}, "root"),
        ({"root": "/chroot/../etc"}, "root"),
        ({"root": "/chroot//x"}, "root"),
        ({"root": "/chroot/x/"}, "root"),
        ({"root": "/"}, "root"),
        ({"mounts": [{"source": "tank", "target": "t"}]}, "mounts[0].source"),
        ({"mounts": [{"source": "/tank", "target": "../etc"}]}, "mounts[0].target"),
        ({"mounts": [{"source": "/tank", "target": "/etc"}]}, "mounts[0].target"),
        ({"mounts": [{"source": "/tank", "target": "a/./b"}]}, "mounts[0].target"),
        ({"mounts": [{"source": "/tank", "target": "."}]}, "mounts[0].target"),
        ({"mounts": [{"source": "/a", "target": "x"}, {"source": "/b", "target": "x"}]}, "mounts[1].target"),
        ({"name": "Rclone"}, "name"),
        ({"name": "a" * 33}, "name"),
        ({"version": 2}, "version"),
        ({"kind": "chroot"}, "kind"),
        ({"devices": ["null", "sda"]}, "devices[1]"),
        ({"surprise": 1}, "surprise"),
        ({"sftp": {"users": ["media"], "addresses": ["192.0.2.1"], "shell": True}}, "shell"),
        ({"mounts": [{"source": "/a", "target": "x", "ro": True}]}, "'ro'"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], field: str) -> None:
    refused(seedbox(**changes), field)


def test_capabilities_accept_both_spellings_and_store_one() -> None:
    spec = parse_spec(exec_spec(capabilities={"drop": ["cap_net_admin", "CAP_SYS_ADMIN"], "never": ["net_raw"]}))
    assert spec.exec is not None
    assert spec.exec.capabilities.drop == ("CAP_NET_ADMIN", "CAP_SYS_ADMIN")
    assert spec.exec.capabilities.never == ("CAP_NET_RAW",)


def test_unknown_capability_is_named() -> None:
    refused(exec_spec(capabilities={"drop": ["CAP_FLY"]}), "exec.capabilities.drop[0]", "CAP_FLY")


def test_exec_needs_mount_and_pid_namespaces() -> None:
    refused(exec_spec(namespaces=["mount", "net"]), "exec.namespaces", "pid")


def test_kind_and_section_must_agree() -> None:
    refused(seedbox(kind="exec"), "exec")
    refused({**exec_spec(), "sftp": {"users": ["a"], "addresses": ["192.0.2.1"]}}, "sftp")


# --- property tests: any control character anywhere is refused, naming the field --------------------

STRING_FIELDS = [
    ("name", lambda d, v: d.__setitem__("name", v)),
    ("root", lambda d, v: d.__setitem__("root", v)),
    ("mounts[0].source", lambda d, v: d["mounts"][0].__setitem__("source", v)),
    ("mounts[0].target", lambda d, v: d["mounts"][0].__setitem__("target", v)),
    ("sftp.users[0]", lambda d, v: d["sftp"]["users"].__setitem__(0, v)),
    ("sftp.addresses[0]", lambda d, v: d["sftp"]["addresses"].__setitem__(0, v)),
]
VALID = {
    "name": "rclone-sftp",
    "root": "/chroot/rclone-sftp",
    "mounts[0].source": "/tank/incomingmovies",
    "mounts[0].target": "incomingmovies",
    "sftp.users[0]": "media",
    "sftp.addresses[0]": "203.0.113.7",
}
controls = st.sampled_from([chr(c) for c in [*range(0, 32), 127]])


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(STRING_FIELDS), control=controls, position=st.integers(0, 40))
def test_control_characters_are_refused_everywhere(field: Any, control: str, position: int) -> None:
    name, setter = field
    data = copy.deepcopy(seedbox())
    valid = VALID[name]
    cut = min(position, len(valid))
    setter(data, valid[:cut] + control + valid[cut:])
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    assert str(info.value).startswith(name) or f"{name}:" in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + ".:/[]-_ ", max_size=40))
def test_address_text_is_either_a_real_address_or_refused(text: str) -> None:
    import ipaddress

    data = seedbox(sftp={"users": ["media"], "addresses": [text]})
    try:
        spec = parse_spec(data)
    except SpecError as exc:
        assert "sftp.addresses[0]" in str(exc)
        return
    assert spec.sftp is not None
    stored = spec.sftp.addresses[0]
    if "/" in stored:
        ipaddress.ip_network(stored, strict=True)
    else:
        ipaddress.ip_address(stored)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "._-/ ,*?!", max_size=12))
def test_user_text_is_either_a_plain_posix_name_or_refused(text: str) -> None:
    data = seedbox(sftp={"users": [text], "addresses": ["192.0.2.1"]})
    try:
        spec = parse_spec(data)
    except SpecError as exc:
        assert "sftp.users[0]" in str(exc)
        return
    assert spec.sftp is not None
    assert not set(spec.sftp.users[0]) & set(" ,*?!/") and spec.sftp.users[0][0] not in "-."


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "c d"]), min_size=1, max_size=5))
def test_targets_never_escape_the_root(parts: list[str]) -> None:
    target = "/".join(parts)
    data = seedbox(mounts=[{"source": "/tank/x", "target": target}])
    try:
        spec = parse_spec(data)
    except SpecError as exc:
        assert "mounts[0].target" in str(exc)
        return
    import posixpath

    joined = posixpath.normpath(spec.jail_path(spec.mounts[0].target))
    assert joined.startswith(spec.root + "/")


# --- values that sshd, the kernel or a terminal read differently (issue 13, items 8 and 14) ------------


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_version_is_the_integer_1(version: Any) -> None:
    refused(seedbox(version=version), "version", repr(version))


@pytest.mark.parametrize(
    ("sftp", "field"),
    [
        ({"users": ["media"], "addresses": ["nope"]}, "sftp.addresses[0]"),
        ({"users": ["Bad User"], "addresses": ["192.0.2.1"]}, "sftp.users[0]"),
        ({"users": [], "addresses": ["192.0.2.1"]}, "sftp.users"),
        ({"users": ["media"], "addresses": []}, "sftp.addresses"),
    ],
)
def test_a_bad_user_or_address_is_one_problem(sftp: dict[str, Any], field: str) -> None:
    message = refused(seedbox(sftp=sftp), field)
    assert "Tuple" not in message and ";" not in message, message


# bidi override, zero width space, BOM, bidi isolate, soft hyphen
FORMAT_CHARACTERS = ["\u202e", "\u200b", "\ufeff", "\u2066", "\u00ad"]


@pytest.mark.parametrize("char", FORMAT_CHARACTERS)
@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("root", lambda c: seedbox(root=f"/chroot/a{c}b")),
        ("mounts[0].source", lambda c: seedbox(mounts=[{"source": f"/tank/{c}x", "target": "x"}])),
        ("mounts[0].target", lambda c: seedbox(mounts=[{"source": "/tank/x", "target": f"x{c}"}])),
        (
            "mounts[0].exclude[0]",
            lambda c: seedbox(mounts=[{"source": "/opt", "target": "opt", "children": True, "exclude": [f"j{c}"]}]),
        ),
        ("exec.copies[0]", lambda c: exec_spec(copies=[f"/etc/pass{c}wd"])),
        ("exec.masks[0]", lambda c: exec_spec(masks=[f"run/{c}docker.sock"])),
    ],
)
def test_invisible_format_characters_are_refused_in_paths(char: str, field: str, change: Any) -> None:
    message = refused(change(char), field, f"U+{ord(char):04X}")
    assert "\n" not in message


def test_a_percent_in_the_root_is_refused() -> None:
    refused(seedbox(root="/chroot/%u"), "root", "%")


@pytest.mark.parametrize(
    "root",
    ["/etc", "/usr", "/proc", "/home", "/var", "/boot", "/dev", "/sys", "/run", "/bin", "/lib", "/tmp", "/opt",
     "/srv", "/root", "/usr/lib", "/usr/local", "/var/lib", "/var/log", "/var/tmp", "/etc/ssh", "/proc/1",
     "/sys/fs/x", "/dev/shm/jail"],
)  # fmt: skip
def test_a_system_directory_as_the_jail_root_is_refused(root: str) -> None:
    refused(seedbox(root=root), "root", root)


@pytest.mark.parametrize("root", ["/chroot/rclone-sftp", "/srv/jail", "/home/media/jail", "/var/lib/jails/j"])
def test_ordinary_jail_roots_stay_valid(root: str) -> None:
    assert parse_spec(seedbox(root=root)).root == root


@pytest.mark.parametrize("source", ["/chroot/rclone-sftp", "/chroot", "/", "/chroot/rclone-sftp/inner"])
def test_a_source_that_is_contains_or_lies_in_the_root_is_refused(source: str) -> None:
    refused(seedbox(mounts=[{"source": source, "target": "x"}]), "mounts[0].source", source)


def test_a_source_containing_the_root_is_fine_when_that_child_is_excluded() -> None:
    mount = {"source": "/chroot", "target": "x", "children": True}
    refused(seedbox(mounts=[mount]), "mounts[0].source")
    assert parse_spec(seedbox(mounts=[{**mount, "exclude": ["rclone-sftp"]}]))


@pytest.mark.parametrize("source", ["/proc", "/proc/self", "/sys", "/sys/kernel", "/dev", "/dev/shm"])
def test_kernel_filesystems_are_not_sources(source: str) -> None:
    refused(seedbox(mounts=[{"source": source, "target": "x"}]), "mounts[0].source", source)


@pytest.mark.parametrize("source", ["/usr", "/etc", "/opt", "/var", "/home"])
def test_system_directories_stay_valid_sources(source: str) -> None:
    assert parse_spec(seedbox(mounts=[{"source": source, "target": "x", "readonly": True}]))


@pytest.mark.parametrize("target", ["dev/null", "dev/zero", "dev/tty", "dev"])
def test_a_target_on_the_jails_devices_is_refused(target: str) -> None:
    refused(seedbox(mounts=[{"source": "/tank/x", "target": target}]), "mounts[0].target", target)
