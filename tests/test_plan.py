"""The planner: golden plans per preset, idempotence, bytes outside managed blocks kept, drop-in vs
appended sshd block, several jails side by side, and OpenSSH's own verdict on what we generate."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_jail.backends.sshd import Connection, candidate_config, check_config, effective_config
from tui_jail.core import fstab, managed_block, sshd_config
from tui_jail.core.plan import Plan, PlanError, make_plan, plan_removal
from tui_jail.core.render import plan_text
from tui_jail.core.spec import Spec, parse_spec, spec_data
from tui_jail.paths.system import SystemRoot
from tui_jail.presets import preset_document, preset_names

GOLDEN = Path(__file__).parent / "golden"
FILLED = {"<seedbox-ip>": "203.0.113.7", "<media-user>": "media", "<agent-user>": "agent"}


def filled_preset(name: str) -> Spec:
    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, str):
            for placeholder, real in FILLED.items():
                value = value.replace(placeholder, real)
        return value

    return parse_spec(fill(preset_document(name)))


def seedbox(name: str = "rclone-sftp", addresses: tuple[str, ...] = ("203.0.113.7",), **extra: Any) -> Spec:
    return parse_spec(
        {
            "name": name,
            "kind": "sftp",
            "root": f"/chroot/{name}",
            "mounts": [
                {"source": "/tank/incomingmovies", "target": "incomingmovies"},
                {"source": "/tank/IncomingTV", "target": "IncomingTV", "readonly": True},
            ],
            "sftp": {"users": ["media"], "addresses": list(addresses)},
            **extra,
        }
    )


def write_files_and_paths(plan: Plan, root: Path) -> None:
    """What an apply does minus mounts: enough to check the files and tree are then unchanged."""
    for step in plan.path_changes:
        host = root / step.path.lstrip("/")
        if step.action == "create" and step.kind == "dir":
            host.mkdir()
        elif step.action == "create" and step.kind == "file":
            host.touch()
        elif step.action == "create" and step.device:
            os.mknod(host, stat.S_IFCHR | step.mode, os.makedev(*step.device))
        os.chown(host, step.uid, step.gid)
        os.chmod(host, step.mode)
    for change in plan.changed_files:
        host = root / change.path.lstrip("/")
        if change.after is None:
            host.unlink()
        else:
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_text(change.after)


@pytest.mark.parametrize("name", preset_names())
def test_golden_plan(name: str, sample_root: Path) -> None:
    """The whole plan text of each preset on the sample root, as reviewed and committed."""
    text = plan_text(make_plan(filled_preset(name), SystemRoot(sample_root)))
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("TUI_JAIL_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("name", preset_names())
def test_plan_reads_only(name: str, sample_root: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in sample_root.rglob("*")}
    make_plan(filled_preset(name), SystemRoot(sample_root))
    assert {p: p.stat().st_mtime_ns for p in sample_root.rglob("*")} == before


@pytest.mark.parametrize("name", preset_names())
def test_files_and_tree_are_idempotent(name: str, sample_root: Path) -> None:
    system = SystemRoot(sample_root)
    spec = filled_preset(name)
    first = make_plan(spec, system)
    assert first.has_changes
    write_files_and_paths(first, sample_root)
    second = make_plan(spec, SystemRoot(sample_root))
    assert second.changed_files == [] and second.path_changes == []


def test_fstab_block_escapes_and_marks_entries(sample_root: Path) -> None:
    (sample_root / "tank/Incoming TV").mkdir()
    spec = seedbox(mounts=[{"source": "/tank/Incoming TV", "target": "tv", "readonly": True}])
    change = next(f for f in make_plan(spec, SystemRoot(sample_root)).files if f.path == "/etc/fstab")
    body = managed_block.block_body(change.after or "", "rclone-sftp")
    assert body == (
        "/tank/Incoming\\040TV /chroot/rclone-sftp/tv none "
        "bind,ro,nofail,x-systemd.requires-mounts-for=/tank/Incoming\\040TV 0 0\n"
    )
    assert fstab.parse_entries(body)[0][:2] == ("/tank/Incoming TV", "/chroot/rclone-sftp/tv")


def test_fstab_escapes_tab_and_backslash() -> None:
    """The spec refuses control characters; the fstab writer still escapes whatever it is given."""
    entry = fstab.FstabEntry("/a\tb\\c", "/t", False)
    assert entry.render().split()[0] == "/a\\011b\\134c"
    assert fstab.parse_entries(entry.render())[0][0] == "/a\tb\\c"


def test_findmnt_accepts_the_generated_fstab(sample_root: Path, tmp_path: Path) -> None:
    import sh

    change = next(f for f in make_plan(seedbox(), SystemRoot(sample_root)).files if f.path == "/etc/fstab")
    candidate = tmp_path / "fstab"
    candidate.write_text(change.after or "")
    out = sh.Command("findmnt")("--verify", "--tab-file", str(candidate), _ok_code=[0, 1])
    assert "error" not in str(out).lower().replace("0 parse errors", "").replace("0 errors", "")


# --- bytes outside the managed block ---------------------------------------------------------------

line = st.text(
    alphabet=st.characters(
        # \r and the other characters str.splitlines() breaks on are content in a file of lines
        blacklist_categories=("Cs",),
        blacklist_characters="\n",
    ),
    max_size=30,
)
file_text = st.lists(line, max_size=12).map("\n".join) | st.lists(line, max_size=12).map(
    lambda ls: "\n".join(ls) + "\n"
)


@settings(max_examples=200, deadline=None)
@given(text=file_text)
def test_fstab_bytes_outside_the_block_are_kept(text: str) -> None:
    entries = [fstab.FstabEntry("/tank/a", "/chroot/x/a", False)]
    with_block = fstab.set_jail_block(text, "x", entries)
    assert with_block.startswith(text)
    assert fstab.set_jail_block(with_block, "x", entries) == with_block
    removed = fstab.set_jail_block(with_block, "x", [])
    assert removed == (text if text.endswith("\n") or not text else text + "\n")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=file_text, crlf=st.booleans(), raw=st.binary(max_size=6))
def test_the_fstab_on_disk_is_kept_byte_for_byte(sample_root: Path, text: str, crlf: bool, raw: bytes) -> None:
    """Read from the file and planned whole: CRLF line ends, stray \r and bytes that are not UTF-8 stay."""
    data = (text.replace("\n", "\r\n") if crlf else text).encode() + raw
    (sample_root / "etc/fstab").write_bytes(data)
    plan = make_plan(seedbox(), SystemRoot(sample_root))
    after = next(change.after for change in plan.files if change.path == "/etc/fstab")
    assert after is not None
    assert after.encode("utf-8", errors="surrogateescape").startswith(data)


@settings(max_examples=200, deadline=None)
@given(before=file_text, after=file_text)
def test_block_replaced_in_place_keeps_both_sides(before: str, after: str) -> None:
    before = before if before.endswith("\n") or not before else before + "\n"
    text = before + managed_block.wrap("x", "old\n") + after
    assert fstab.set_jail_block(text, "x", [fstab.FstabEntry("/a", "/b", True)]).startswith(before)
    assert fstab.set_jail_block(text, "x", [fstab.FstabEntry("/a", "/b", True)]).endswith(after)
    assert fstab.set_jail_block(text, "x", []) == before + after


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=file_text)
def test_sshd_config_bytes_are_kept_and_block_comes_last(text: str) -> None:
    settings_ = sshd_config.MatchBlockSettings("x", ("media",), ("192.0.2.1",), "/chroot/x", False, False)
    block = sshd_config.render_match_block(settings_, close_match=True)
    with_block = sshd_config.set_appended_block(text, "x", block)
    assert with_block.startswith(text)
    assert with_block.endswith(managed_block.wrap("x", block))
    assert sshd_config.set_appended_block(with_block + "Port 2222\n", "x", block).endswith(
        managed_block.wrap("x", block)
    )


def test_unterminated_block_is_refused_not_guessed(sample_root: Path) -> None:
    fstab_path = sample_root / "etc/fstab"
    fstab_path.write_text(fstab_path.read_text() + "# BEGIN tui-jail rclone-sftp\n/x /y none bind 0 0\n")
    with pytest.raises(PlanError, match="without its"):
        make_plan(seedbox(), SystemRoot(sample_root))


# --- sshd: drop-in or appended, and what OpenSSH makes of it -----------------------------------------


def test_dropin_when_the_main_config_includes_the_directory(sample_root: Path) -> None:
    plan = make_plan(seedbox(), SystemRoot(sample_root))
    paths = {f.path for f in plan.changed_files}
    assert "/etc/ssh/sshd_config.d/50-tui-jail-rclone-sftp.conf" in paths
    assert "/etc/ssh/sshd_config" not in paths


def test_appended_block_without_include(sample_root: Path) -> None:
    main = sample_root / "etc/ssh/sshd_config"
    original = main.read_text().replace("Include /etc/ssh/sshd_config.d/*.conf\n", "")
    main.write_text(original + "Match User backup\n\tForceCommand /usr/local/bin/backup\n")
    plan = make_plan(seedbox(), SystemRoot(sample_root))
    change = next(f for f in plan.changed_files if f.path == "/etc/ssh/sshd_config")
    assert change.after is not None and change.after.startswith(main.read_text())
    assert change.after.rstrip().endswith("Match all\n# END tui-jail rclone-sftp".replace("\n", "\n"))


def test_include_inside_a_match_does_not_count(sample_root: Path) -> None:
    main = sample_root / "etc/ssh/sshd_config"
    text = main.read_text().replace("Include /etc/ssh/sshd_config.d/*.conf\n", "")
    main.write_text(text + "Match User ops\n\tInclude /etc/ssh/sshd_config.d/*.conf\n")
    plan = make_plan(seedbox(), SystemRoot(sample_root))
    assert [f.path for f in plan.changed_files if "ssh" in f.path] == ["/etc/ssh/sshd_config"]


def test_two_jails_side_by_side(sample_root: Path) -> None:
    first, second = seedbox("alpha"), seedbox("beta", addresses=("198.51.100.0/24",))
    write_files_and_paths(make_plan(first, SystemRoot(sample_root)), sample_root)
    fstab_after_first = (sample_root / "etc/fstab").read_text()
    write_files_and_paths(make_plan(second, SystemRoot(sample_root)), sample_root)
    text = (sample_root / "etc/fstab").read_text()
    assert text.startswith(fstab_after_first)
    assert managed_block.block_body(text, "alpha") and managed_block.block_body(text, "beta")
    assert not make_plan(first, SystemRoot(sample_root)).changed_files
    removal = plan_removal("alpha", SystemRoot(sample_root), first)
    fstab_change = next(f for f in removal.files if f.path == "/etc/fstab")
    assert (
        fstab_change.after is not None and "alpha" not in fstab_change.after and "tui-jail beta" in fstab_change.after
    )


def effective(system: SystemRoot, plan: Plan, user: str, addr: str) -> dict[str, str]:
    with candidate_config(system, {f.path: f.after for f in plan.files if "ssh" in f.path}) as config:
        ok, message = check_config(config)
        assert ok, message
        return effective_config(config, Connection(user, addr))


@pytest.mark.parametrize("mode", ["dropin", "appended"])
@pytest.mark.parametrize(
    ("addresses", "inside", "outside"),
    [
        (("203.0.113.7",), ["203.0.113.7"], ["203.0.113.8", "127.0.0.1"]),
        (("198.51.100.0/24",), ["198.51.100.1", "198.51.100.254"], ["198.51.101.1"]),
        (("2001:db8::/64",), ["2001:db8::1"], ["2001:db8:1::1"]),
        (("203.0.113.7", "2001:db8::5"), ["203.0.113.7", "2001:db8::5"], ["2001:db8::6"]),
    ],
)
def test_sshd_accepts_and_jails_exactly_the_listed_connections(
    sample_root: Path, mode: str, addresses: tuple[str, ...], inside: list[str], outside: list[str]
) -> None:
    if mode == "appended":
        main = sample_root / "etc/ssh/sshd_config"
        main.write_text(main.read_text().replace("Include /etc/ssh/sshd_config.d/*.conf\n", ""))
    system = SystemRoot(sample_root)
    plan = make_plan(seedbox(addresses=addresses), system)
    for addr in inside:
        got = effective(system, plan, "media", addr)
        assert (got["chrootdirectory"], got["forcecommand"]) == ("/chroot/rclone-sftp", "internal-sftp")
        assert (got["allowtcpforwarding"], got["x11forwarding"], got["permittty"]) == ("no", "no", "no")
        other_user = effective(system, plan, "admin", addr)
        assert other_user["chrootdirectory"] == "none"
    for addr in outside:
        got = effective(system, plan, "media", addr)
        assert (got["chrootdirectory"], got["forcecommand"]) == ("none", "none")


def test_shadowing_match_is_reported_and_real(sample_root: Path) -> None:
    """An earlier drop-in's Match for the same user wins in sshd: the plan says so, and sshd agrees."""
    (sample_root / "etc/ssh/sshd_config.d/10-media.conf").write_text("Match User media\n\tChrootDirectory /srv/other\n")
    system = SystemRoot(sample_root)
    plan = make_plan(seedbox(), system)
    assert any("10-media.conf:2" in w and "chrootdirectory" in w for w in plan.warnings), plan.warnings
    assert effective(system, plan, "media", "203.0.113.7")["chrootdirectory"] == "/srv/other"


def test_a_match_pattern_has_only_opensshs_wildcards(sample_root: Path) -> None:
    """`*` and `?` are OpenSSH's only wildcards: `[m]edia` is not media (fnmatch's class read it as media
    and reported a shadow sshd never applies), `m?dia` is; sshd agrees with both."""
    dropin = sample_root / "etc/ssh/sshd_config.d/10-media.conf"
    system = SystemRoot(sample_root)
    dropin.write_text("Match User [m]edia\n\tChrootDirectory /srv/other\n")
    plan = make_plan(seedbox(), system)
    assert plan.warnings == []
    assert effective(system, plan, "media", "203.0.113.7")["chrootdirectory"] == "/chroot/rclone-sftp"
    dropin.write_text("Match User m?dia Address 203.0.113.*\n\tChrootDirectory /srv/other\n")
    plan = make_plan(seedbox(), system)
    assert any("10-media.conf:2" in w for w in plan.warnings), plan.warnings
    assert effective(system, plan, "media", "203.0.113.7")["chrootdirectory"] == "/srv/other"


def test_unrelated_match_is_not_reported(sample_root: Path) -> None:
    (sample_root / "etc/ssh/sshd_config.d/10-ops.conf").write_text(
        "Match User ops Address 10.0.0.0/8\n\tChrootDirectory /srv/ops\nMatch Address 192.0.2.0/24\n\tForceCommand x\n"
    )
    assert make_plan(seedbox(), SystemRoot(sample_root)).warnings == []


# --- the jail tree ---------------------------------------------------------------------------------


def test_a_symlink_in_the_root_chain_is_refused(sample_root: Path) -> None:
    (sample_root / "elsewhere").mkdir()
    os.symlink("elsewhere", sample_root / "chroot")
    with pytest.raises(PlanError, match="symlink"):
        make_plan(seedbox(), SystemRoot(sample_root))


def shared_dir(root: Path, path: str, mode: int, uid: int = 0, gid: int = 0) -> Path:
    host = root / path.lstrip("/")
    host.mkdir(parents=True, exist_ok=True)
    os.chown(host, uid, gid)
    os.chmod(host, mode)
    return host


def exec_jail(root: str, **exec_settings: Any) -> Spec:
    return parse_spec({"name": "job", "kind": "exec", "root": root, "exec": {"user": "nobody", **exec_settings}})


SHARED_PARENTS = [
    ("/tmp", 0o1777, 0, "writable by others"),  # the sample root's own /tmp
    ("/var/tmp", 0o1777, 0, "writable by others"),
    ("/home/alice", 0o700, 1001, "owned by uid 1001"),
    ("/srv/share", 0o2775, 0, "writable by others"),
    ("/srv/open", 0o777, 0, "writable by others"),
]


@pytest.mark.parametrize(("parent", "mode", "uid", "why"), SHARED_PARENTS)
def test_an_sftp_root_under_a_shared_directory_is_refused_not_fixed(
    sample_root: Path, parent: str, mode: int, uid: int, why: str
) -> None:
    """The plan used to chmod /tmp to 1755 and chown /home/alice to root (and remove never gave them back)."""
    host = shared_dir(sample_root, parent, mode, uid)
    spec = parse_spec({**spec_data(seedbox()), "root": f"{parent}/jail"})
    with pytest.raises(PlanError) as info:
        make_plan(spec, SystemRoot(sample_root))
    message = str(info.value)
    assert message.startswith(f"root: {parent} ") and why in message and "sshd" in message, message
    assert (stat.S_IMODE(host.stat().st_mode), host.stat().st_uid) == (mode, uid)


@pytest.mark.parametrize("parent", ["/tmp", "/var/tmp"])
def test_an_exec_root_under_a_sticky_shared_directory_is_planned_without_touching_it(
    sample_root: Path, parent: str
) -> None:
    """sshd's rule does not bind an exec jail: a sticky 1777 directory lets nobody rename the root-owned
    jail root away, so it is used as it is."""
    shared_dir(sample_root, parent, 0o1777)
    plan = make_plan(exec_jail(f"{parent}/job"), SystemRoot(sample_root))
    assert [p.path for p in plan.path_changes if not p.path.startswith(f"{parent}/job")] == []
    assert not any(p.action == "fix" for p in plan.paths)


@pytest.mark.parametrize(
    ("parent", "mode", "uid", "why"),
    [
        ("/home/alice", 0o755, 1001, "owned by uid 1001"),  # alice can rename the jail root away
        ("/srv/open", 0o777, 0, "writable by others"),  # anyone can, without the sticky bit
        ("/srv/share", 0o2775, 0, "writable by others"),  # the group can
    ],
)
def test_an_exec_root_where_another_user_can_swap_a_component_is_refused(
    sample_root: Path, parent: str, mode: int, uid: int, why: str
) -> None:
    shared_dir(sample_root, parent, mode, uid)
    with pytest.raises(PlanError) as info:
        make_plan(exec_jail(f"{parent}/job"), SystemRoot(sample_root))
    assert str(info.value).startswith(f"root: {parent} ") and why in str(info.value), str(info.value)


def test_an_existing_jail_root_someone_else_owns_is_refused(sample_root: Path) -> None:
    shared_dir(sample_root, "/chroot/rclone-sftp", 0o755, 1001)
    with pytest.raises(PlanError, match=r"root: /chroot/rclone-sftp .*owned by uid 1001"):
        make_plan(seedbox(), SystemRoot(sample_root))
    shared_dir(sample_root, "/srv/job", 0o1777)  # sticky or not, the jail root itself is the jail's
    with pytest.raises(PlanError, match=r"root: /srv/job .*writable by others"):
        make_plan(exec_jail("/srv/job"), SystemRoot(sample_root))


# --- children: what a user planted in a source is not bound -----------------------------------------


def test_children_skip_untrusted_links_and_odd_names_with_a_note(sample_root: Path) -> None:
    share = shared_dir(sample_root, "/srv/share", 0o755, 1001, 1001)  # the user's own directory
    (share / "movies").mkdir()
    os.symlink("/etc", share / "leak")
    os.lchown(share / "leak", 1001, 1001)
    (share / "bad\nname").mkdir()
    (share / "bidi\u202egnp.exe").mkdir()
    os.symlink("movies", share / "root-link")  # root's own link, but in a directory the user can write
    spec = parse_spec({**spec_data(seedbox()), "mounts": [{"source": "/srv/share", "target": "s", "children": True}]})
    plan = make_plan(spec, SystemRoot(sample_root))
    assert [m.source for m in plan.mounts] == ["/srv/share/movies"]
    assert len(plan.skipped) == 4, plan.skipped
    assert all("\n" not in note for note in plan.skipped)
    assert any("leak" in note and "symlink" in note for note in plan.skipped), plan.skipped


def test_children_keep_a_trusted_link(sample_root: Path) -> None:
    os.symlink("vendor-tool", sample_root / "opt/vendor-link")  # root's, in root's 0755 /opt
    plan = make_plan(filled_preset("joblet-builder"), SystemRoot(sample_root))
    assert "/opt/vendor-link" in {m.source for m in plan.mounts}
    assert plan.skipped == []


# --- writes never go through a bind ----------------------------------------------------------------


def test_a_copy_through_a_bind_is_refused(sample_root: Path) -> None:
    shared_dir(sample_root, "/srv/appconf", 0o755)
    (sample_root / "srv/appconf/passwd").write_text("app's own\n")
    spec = exec_jail("/srv/job", copies=["/etc/passwd"])
    spec = parse_spec({**spec_data(spec), "mounts": [{"source": "/srv/appconf", "target": "etc"}]})
    with pytest.raises(PlanError, match=r"exec\.copies: /etc/passwd .*bind mount at /srv/job/etc"):
        make_plan(spec, SystemRoot(sample_root))


@pytest.mark.parametrize("where", ["masks", "workdir"])
def test_a_path_created_through_a_bind_is_refused(sample_root: Path, where: str) -> None:
    shared_dir(sample_root, "/srv/appconf", 0o755)
    settings: dict[str, Any] = {"masks": ["etc/app/secret"]} if where == "masks" else {"workdir": "etc/work"}
    spec = exec_jail("/srv/job", **settings)
    spec = parse_spec({**spec_data(spec), "mounts": [{"source": "/srv/appconf", "target": "etc"}]})
    with pytest.raises(PlanError, match="inside the bind mount at /srv/job/etc"):
        make_plan(spec, SystemRoot(sample_root))


def test_a_dropped_device_is_planned_as_a_removal(sample_root: Path) -> None:
    system = SystemRoot(sample_root)
    write_files_and_paths(make_plan(seedbox(), system), sample_root)
    plan = make_plan(seedbox(devices=["null"]), system)
    zero = "/chroot/rclone-sftp/dev/zero"
    [removal] = [p for p in plan.path_changes if p.action == "remove"]
    assert (removal.path, removal.kind, removal.device, removal.mode) == (zero, "device", (1, 5), 0o666)
    assert f"  remove {zero}  char 1,5 0666 0:0" in plan_text(plan)
    assert {"path": zero, "action": "remove"}.items() <= plan.to_json()["paths"][-1].items()
    assert not plan.warnings


def test_a_dropped_path_not_as_the_jail_made_it_is_left_with_a_note(sample_root: Path) -> None:
    system = SystemRoot(sample_root)
    write_files_and_paths(make_plan(seedbox(), system), sample_root)
    (sample_root / "chroot/rclone-sftp/dev/keep").write_text("admin's file")
    plan = make_plan(seedbox(devices=["null"], mounts=[]), system)
    removed = {p.path for p in plan.path_changes if p.action == "remove"}
    assert "/chroot/rclone-sftp/dev/zero" in removed and "/chroot/rclone-sftp/dev" not in removed
    assert "/chroot/rclone-sftp/IncomingTV" in removed  # an empty mount point nothing is mounted on
    assert plan.warnings == []  # dev stays: the new spec still has /dev/null in it

    plan = make_plan(seedbox(devices=[], mounts=[]), system)
    assert plan.warnings == ["left in place: /chroot/rclone-sftp/dev (not empty: it holds keep)"]


# --- CRLF files: the managed block is found again --------------------------------------------------


def test_crlf_files_keep_one_block_and_remove_takes_them_out(sample_root: Path) -> None:
    main = sample_root / "etc/ssh/sshd_config"
    main.write_text(main.read_text().replace("Include /etc/ssh/sshd_config.d/*.conf\n", ""))  # appended block
    system = SystemRoot(sample_root)
    write_files_and_paths(make_plan(seedbox(), system), sample_root)
    for path in (sample_root / "etc/fstab", main):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    again = make_plan(seedbox(), system)
    for path in ("/etc/fstab", "/etc/ssh/sshd_config"):
        change = next(f for f in again.files if f.path == path)
        assert change.after is not None and change.after.count("# BEGIN tui-jail rclone-sftp") == 1, change.after
    removal = plan_removal("rclone-sftp", system, seedbox())
    for path in ("/etc/fstab", "/etc/ssh/sshd_config"):
        change = next(f for f in removal.files if f.path == path)
        assert change.after is not None and "tui-jail" not in change.after, change.after
        assert "\r\n" in change.after  # the admin's lines keep their endings


def test_builder_sees_opt_but_joblet(sample_root: Path) -> None:
    plan = make_plan(filled_preset("joblet-builder"), SystemRoot(sample_root))
    targets = {m.target: m for m in plan.mounts}
    assert "/opt/joblet/jobs/builder/opt/joblet" not in targets
    assert targets["/opt/joblet/jobs/builder/opt/vendor-tool"].readonly
    assert not targets["/opt/joblet/jobs/builder/opt/joblet/runtimes"].readonly
    assert all(m.readonly for t, m in targets.items() if not t.endswith("runtimes"))


def test_missing_optional_source_is_skipped_not_planned(sample_root: Path) -> None:
    os.remove(sample_root / "lib64/README")
    os.rmdir(sample_root / "lib64")
    plan = make_plan(filled_preset("joblet-production"), SystemRoot(sample_root))
    assert not any(m.source == "/lib64" for m in plan.mounts)
    assert plan.skipped == ["/lib64 (optional, not on this host)"]


def test_creating_below_a_bind_target_is_refused(sample_root: Path) -> None:
    spec = parse_spec(
        {
            "name": "nested",
            "kind": "exec",
            "root": "/srv/nested",
            "mounts": [{"source": "/usr", "target": "usr"}, {"source": "/tank/IncomingTV", "target": "usr/tv"}],
            "exec": {"user": "nobody"},
        }
    )
    with pytest.raises(PlanError, match="inside the bind mount"):
        make_plan(spec, SystemRoot(sample_root))
