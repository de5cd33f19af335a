"""Exec pieces that need no namespace: capability parsing, the kernel-bits guard and the read-back,
prepare's refusals, the CLI's refusals and argument order (the quick reading against argparse's), and
which paths the builder's exclusions must hide."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tui_jail
from tui_jail.backends import caps
from tui_jail.commands import exec as exec_command
from tui_jail.core import launchfile
from tui_jail.core.capabilities import CAPABILITIES
from tui_jail.core.elf import NotElf, read_needs
from tui_jail.core.errors import Refused
from tui_jail.core.launchfile import jail_launch_path
from tui_jail.core.plan import PlanError, make_plan, render_state
from tui_jail.core.spec import Spec, SpecError, parse_spec, spec_data
from tui_jail.core.yamlio import load_yaml_text
from tui_jail.jailexec import capdrop, launcher
from tui_jail.jailexec.launcher import prepare
from tui_jail.jailexec.libc import StepFailed
from tui_jail.paths.system import SystemRoot
from tui_jail.presets import preset_text
from tui_jail.verify.exec import _hidden_paths
from tui_jail.verify.loader import jail_program_needs

STATUS = """Name:\tsh
CapInh:\t0000000000000000
CapPrm:\t0000000000000000
CapEff:\t0000000000000000
CapBnd:\t000001fff6d2cfff
CapAmb:\t0000000000000000
NoNewPrivs:\t1
"""


def preset(name: str) -> Spec:
    return parse_spec(load_yaml_text(preset_text(name).replace("<agent-user>", "agent")))


def test_status_decodes_to_names_and_reports_what_a_set_still_holds() -> None:
    state = caps.parse_status(STATUS)
    assert state.no_new_privs == 1
    assert "CAP_SYS_ADMIN" not in state.names("CapBnd") and "CAP_CHOWN" in state.names("CapBnd")
    assert state.holding(frozenset({"CAP_SYS_ADMIN", "CAP_NET_ADMIN"})) == {}
    assert state.holding(frozenset({"CAP_CHOWN"})) == {"CapBnd": frozenset({"CAP_CHOWN"})}


def test_status_without_every_set_is_an_error() -> None:
    with pytest.raises(ValueError, match="CapAmb"):
        caps.parse_status(STATUS.replace("CapAmb", "Other"))


def test_a_capability_the_kernel_does_not_know_is_refused_not_skipped() -> None:
    with pytest.raises(StepFailed, match="does not know CAP_PERFMON, CAP_BPF"):
        capdrop.bits_of(frozenset({"CAP_SYS_ADMIN", "CAP_PERFMON", "CAP_BPF"}), top=37)
    assert capdrop.bits_of(frozenset({"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}), top=40) == [12, 21]


SYS_ADMIN = CAPABILITIES["CAP_SYS_ADMIN"][0]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root's full capability sets")
def test_the_read_back_names_every_set_still_holding_a_removed_capability() -> None:
    held = "CapPrm still holds CAP_SYS_ADMIN; CapEff still holds CAP_SYS_ADMIN; CapBnd still holds CAP_SYS_ADMIN"
    with pytest.raises(StepFailed, match=re.escape(f"capabilities not removed: {held}")):
        capdrop.require_removed([SYS_ADMIN])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs CAP_SETPCAP to drop from the bounding set")
def test_the_read_back_needs_no_new_privs_once_the_sets_are_lowered() -> None:
    """In a child (lowering is for good): every set lowered but no_new_privs left off is still refused,
    and setting it is what lets the read-back pass."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        verdicts = []
        capdrop.drop_bounding([SYS_ADMIN])
        capdrop.lower([SYS_ADMIN])
        for step in (lambda: None, capdrop.set_no_new_privs):
            step()
            try:
                capdrop.require_removed([SYS_ADMIN])
                verdicts.append("passed")
            except StepFailed as exc:
                verdicts.append(str(exc))
        os.write(write_end, "\n".join(verdicts).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as verdicts:
        assert verdicts.read().splitlines() == ["no_new_privs is not set", "passed"]
    assert os.waitpid(pid, 0)[1] == 0


def with_launch_file(root: Path, spec: Spec) -> SystemRoot:
    """The jail's launch file written as the plan has it (root-owned, 0600), nothing else applied."""
    system = SystemRoot(root)
    change = next(f for f in make_plan(spec, system).files if f.path == jail_launch_path(spec.name))
    assert change.after is not None
    path = system.host(change.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(change.after)
    path.chmod(change.mode)
    return system


def test_the_launch_file_holds_the_expanded_mounts_and_what_the_launcher_needs(sample_root: Path) -> None:
    system = SystemRoot(sample_root)
    spec = preset("joblet-builder")
    plan = make_plan(spec, system)
    launch = json.loads(next(f.after for f in plan.files if f.path.endswith(".launch.json")) or "")
    assert launch["mounts"] == [{"source": m.source, "target": m.target, "readonly": m.readonly} for m in plan.mounts]
    assert "/opt/joblet/jobs/builder/opt/joblet" not in {m["target"] for m in launch["mounts"]}
    assert launch["remove_capabilities"]["CAP_SYS_ADMIN"] == 21 and launch["workdir"] == "/work"
    assert launchfile._validated(launch, "joblet-builder") == launch


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("format", 2, "format 2"),
        ("name", "joblet-production", "it is the launch file of 'joblet-production'"),
        ("root", "/opt/../etc", "not an absolute, normalised path"),
        ("mounts", [{"source": "/usr", "target": "/usr", "readonly": True}], "not inside the jail root"),
        ("namespaces", ["mount"], "mount and pid are required"),
        ("namespaces", ["mount", "pid", "time"], "distinct names out of"),
        ("remove_capabilities", {"CAP_SYS_ADMIN": 12}, "not a capability and its bit"),
        ("proc", {"options": ["nosuid"], "hidepid": True}, "hidepid 0, 1 or 2"),
        ("per_run_tmp", "yes", "per_run_tmp has the wrong type"),
        ("extra", 1, "missing or unknown"),
    ],
)
def test_a_launch_file_it_does_not_fully_understand_is_refused(field: str, value: object, reason: str) -> None:
    spec = preset("joblet-builder")
    launch = json.loads(launchfile.render_launch(spec, spec.mounts)) | {field: value}
    with pytest.raises(ValueError, match=re.escape(reason)):
        launchfile._validated(launch, "joblet-builder")


LOADS_CASES = [
    *(launchfile.render_launch(preset(name), preset(name).mounts) for name in ("joblet-builder", "awf-host-chroot")),
    '  {"a": 1}',  # whitespace before the document
    '{"a": [1, 2.5e3, -0, true, false, null, "\\u00e9\\ud83d\\ude00"]}\r\n\t ',
    '{"a": NaN, "b": -Infinity}',  # not JSON, but json.loads takes them
    "\ufeff{}",  # a UTF-8 byte order mark, which json.loads skips in bytes
]
LOADS_ERRORS = ['{"format": 1, "mounts": [', '{"a": 1} {"b": 2}', '{"a": 1,}', '{"a": "\x01"}', ""]


@pytest.mark.parametrize("text", LOADS_CASES)
def test_the_launch_file_reader_is_json_loads(text: str) -> None:
    """The fast path (json's C scanner without the json module) gives what json.loads gives..."""
    assert repr(launchfile._loads(text.encode())) == repr(json.loads(text.encode()))


@pytest.mark.parametrize("text", LOADS_ERRORS)
def test_the_launch_file_reader_fails_as_json_loads(text: str) -> None:
    """...and where json.loads refuses, the same error and message (SystemError included: CPython's
    scanner, used without the json module, reports a syntax error so)."""
    with pytest.raises(ValueError) as expected:
        json.loads(text.encode())
    with pytest.raises(ValueError) as got:
        launchfile._loads(text.encode())
    assert (type(got.value), str(got.value)) == (type(expected.value), str(expected.value))


@pytest.mark.skipif(os.geteuid() != 0, reason="a launch file must be root-owned")
def test_prepare_refuses_a_jail_whose_mounts_are_not_live(sample_root: Path) -> None:
    system = with_launch_file(sample_root, preset("joblet-production"))
    with pytest.raises(Refused, match="is not mounted read-only from /bin: apply the jail first"):
        prepare("joblet-production", str(system.root), ["true"])


@pytest.mark.parametrize("kernel", ["openat2", "before 5.6"])
def test_a_path_is_exact_without_a_symlink_on_it(tmp_path: Path, kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the launcher checks of every mount point, in one openat2 call: `realpath(path) == path`. A
    kernel without openat2 (before 5.6) cannot run here: an unknown system call number gets this one's
    ENOSYS, so the realpath fallback is what runs."""
    if kernel == "before 5.6":
        monkeypatch.setattr(launcher, "SYS_OPENAT2", 100_000)
    (tmp_path / "real/dir").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real/last").symlink_to(tmp_path / "real/dir")
    for path, exact in [("real/dir", True), ("link/dir", False), ("real/last", False), ("link", False)]:
        full = str(tmp_path / path)
        assert (os.path.realpath(full) == full) is exact
        fd = launcher._open_exact(full)
        assert (fd is not None) is exact, path
        if fd is not None:
            assert os.path.samestat(os.fstat(fd), os.stat(full))
            os.close(fd)
    with pytest.raises(FileNotFoundError):
        launcher._open_exact(str(tmp_path / "real/missing"))


@pytest.mark.skipif(os.geteuid() != 0, reason="a launch file must be root-owned")
def test_prepare_refuses_a_missing_user(sample_root: Path) -> None:
    system = with_launch_file(sample_root, preset("joblet-production"))
    with pytest.raises(Refused, match="no user 'ghost'"):
        prepare("joblet-production", str(system.root), ["true"], user="ghost")


def test_builder_exclusions_hide_every_joblet_entry_but_the_runtimes_it_mounts(sample_root: Path) -> None:
    mounted = {"/opt/joblet/runtimes", "/opt/hostedtoolcache", "/usr"}
    assert _hidden_paths(preset("joblet-builder"), SystemRoot(sample_root), mounted) == [
        "/opt/joblet/config",
        "/opt/joblet/jobs",
    ]


ORDERS = {
    "options-after-jail": ["exec", "joblet-production", "--root", "{root}"],
    "options-before-jail": ["exec", "--root", "{root}", "joblet-production"],
    "global-root": ["--root", "{root}", "exec", "joblet-production"],
    "global-root=": ["--root={root}", "exec", "joblet-production"],
    "abbreviated --root: the full parser": ["--ro", "{root}", "exec", "joblet-production", "--user", "nobody"],
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_exec_of_an_unapplied_jail_is_refused_in_one_line(sample_root: Path, order: str) -> None:
    args = [arg.format(root=sample_root) for arg in ORDERS[order]]
    marker = sample_root / "ran"
    done = subprocess.run(
        [sys.executable, "-m", "tui_jail", *args, "--", "touch", str(marker)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert f"no applied exec jail named 'joblet-production' ({sample_root}/var/lib/tui-jail" in done.stderr
    assert not marker.exists()


def test_exec_without_a_command_is_refused() -> None:
    done = subprocess.run([sys.executable, "-m", "tui_jail", "exec", "x", "--"], capture_output=True, text=True)
    assert done.returncode == 1 and "no command given" in done.stderr


def test_the_full_parser_still_lists_exec() -> None:
    done = subprocess.run([sys.executable, "-m", "tui_jail", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "run a command inside an exec jail" in done.stdout


QUICK = {
    "contract": ["joblet-production", "--root", "/r", "--", "sh", "-c", "exit 3"],
    "options-first": ["--root", "/r", "joblet-production", "--user", "u", "--", "true", "--root", "x"],
    "equals-forms": ["--root=/r", "--user=u", "joblet-production", "--root", "/s", "--", "true"],
    "last-one-wins": ["joblet-production", "--user", "a", "--user", "b", "--", "true"],
    "global-root-only": ["joblet-production", "--", "true"],
    "no-command": ["joblet-production", "--"],
}


@pytest.mark.parametrize("words", QUICK.values(), ids=QUICK.keys())
@pytest.mark.parametrize("global_root", [None, "/global"])
def test_the_quick_reading_of_exec_words_is_argparses(words: list[str], global_root: str | None) -> None:
    """The words a job runner writes are read without argparse, exactly as argparse reads them."""
    quick = exec_command._quick_parse(words, global_root)
    assert quick is not None
    args = exec_command.parse_args(words, global_root)
    command = exec_command._options_after_jail(args)
    jail, root, user, quick_command = quick
    assert (jail, root and Path(root), user, quick_command) == (
        args.jail,
        args.root and Path(args.root),
        args.user,
        command,
    )


SLOW = {
    "no --": ["joblet-production", "true"],
    "abbreviated": ["joblet-production", "--us", "u", "--", "true"],
    "value like an option": ["joblet-production", "--user", "--", "true"],
    "empty value": ["joblet-production", "--root=", "--", "true"],
    "-- before the jail": ["--", "joblet-production", "true"],
    "two positionals": ["joblet-production", "extra", "--", "true"],
    "help": ["-h"],
}


@pytest.mark.parametrize("words", SLOW.values(), ids=SLOW.keys())
def test_anything_else_is_left_to_argparse(words: list[str]) -> None:
    assert exec_command._quick_parse(words, None) is None


def test_exec_help_still_comes_from_argparse() -> None:
    done = subprocess.run([sys.executable, "-m", "tui_jail", "exec", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage: tui-jail exec" in done.stdout and "-- COMMAND..." in done.stdout


def test_the_elf_reader_finds_the_loader_and_libraries_of_the_hosts_shell() -> None:
    with open("/bin/sh", "rb") as file:
        needs = read_needs(file)
    assert needs.interpreter is not None and "ld-linux" in needs.interpreter
    assert "libc.so.6" in needs.needed
    with open(tui_jail.__file__, "rb") as file, pytest.raises(NotElf):
        read_needs(file)


def test_the_jail_view_follows_the_specs_mounts_before_anything_is_applied() -> None:
    """Read from the host through the spec's mounts alone (the jail root does not exist): the mounts
    screen asks this before an entry is deleted."""
    spec = preset("joblet-production")
    shell = {n.program: n for n in jail_program_needs(spec, SystemRoot("/"))}["/bin/sh"]
    assert shell.missing == [] and {"bin", "lib64"} <= shell.mounts
    data = spec_data(spec)
    data["mounts"] = [m for m in data["mounts"] if m["target"] == "bin"]  # no lib64, lib or usr
    broken = {n.program: n for n in jail_program_needs(parse_spec(data), SystemRoot("/"))}["/bin/sh"]
    assert ("its ELF loader", needs_loader()) in broken.missing and ("the library", "libc.so.6") in broken.missing


def needs_loader() -> str:
    with open("/bin/sh", "rb") as file:
        interpreter = read_needs(file).interpreter
    assert interpreter is not None
    return interpreter


def test_the_cli_asks_an_exec_jail_for_a_job_run_not_a_new_login(sample_root: Path) -> None:
    from tui_jail.commands.apply import pending_message
    from tui_jail.txn.journal import TxnState

    over_ssh = "198.51.100.4 50022 192.0.2.1 22"
    state = TxnState("t1", "joblet-production", "apply", "pending", 0.0, 0.0, 300.0, ssh_connection=over_ssh)
    message = pending_message(state, SystemRoot(sample_root), exec_jail=True)
    assert f"--root {sample_root} exec joblet-production -- true" in message
    assert "changes no sshd config" in message and "from any session" in message
    assert "login" not in message


def test_exec_of_an_sftp_jail_says_it_is_one(sample_root: Path) -> None:
    state = sample_root / "var/lib/tui-jail/jails/rclone-sftp.yaml"
    state.parent.mkdir(parents=True)
    seedbox = preset_text("seedbox-sftp").replace("<media-user>", "media").replace("<seedbox-ip>", "192.0.2.9")
    state.write_text(render_state(parse_spec(load_yaml_text(seedbox))))
    done = subprocess.run(
        [sys.executable, "-m", "tui_jail", "exec", "rclone-sftp", "--root", str(sample_root), "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "rclone-sftp is an sftp jail" in done.stderr and "no applied exec jail" not in done.stderr


def test_root_as_the_specs_exec_user_needs_allow_root() -> None:
    data = spec_data(preset("joblet-production"))
    data["exec"]["user"] = "root"
    with pytest.raises(SpecError, match="exec: user: root runs every job as uid 0 in the jail; say allow_root: true"):
        parse_spec(data)
    data["exec"]["allow_root"] = True
    assert parse_spec(data).exec is not None


def test_a_copy_is_never_written_through_a_bind(sample_root: Path) -> None:
    """A copy below a mount's target would land in the host's source: /etc/passwd over itself here."""
    data = spec_data(preset("joblet-production"))
    data["mounts"].append({"source": "/etc", "target": "etc", "readonly": True})
    with pytest.raises(PlanError, match=r"exec\.copies: /etc/passwd would be written through the bind mount at"):
        make_plan(parse_spec(data), SystemRoot(sample_root))
