"""End to end, for each exec preset: apply it, run probes through `tui-jail exec`, assert every
property the preset claims, and show that exec fails closed (nothing runs) when it cannot comply.

Everything runs inside the suite's private mount namespace. The system root is a tmpfs holding the
sandbox sample system, with the host's real /usr, /bin, /sbin, /lib and /lib64 bound read-only over
the sandbox's sample dirs, so the jails have real binaries to run.

Each jail is applied through the real transaction (journal, watchdog, binds, read-only remounts,
the launch file) and confirmed, exactly as `tui-jail apply` and `tui-jail confirm` do it.
"""

from __future__ import annotations

import builtins
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import nsenv
import pytest
from txn_helpers import wait_watchdogs_gone

import tui_jail
from tui_jail.backends import caps
from tui_jail.core.capabilities import CAPABILITIES
from tui_jail.core.checks import run_checks
from tui_jail.core.launchfile import jail_launch_path
from tui_jail.core.plan import make_plan
from tui_jail.core.spec import Spec, parse_spec, spec_data
from tui_jail.core.yamlio import load_yaml_text
from tui_jail.jailexec import capdrop, launcher
from tui_jail.paths.system import SystemRoot
from tui_jail.presets import preset_text
from tui_jail.sandbox import bind_host_binaries, make_sandbox_root
from tui_jail.txn import transaction
from tui_jail.verify.exec import exec_checks

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
]


def preset_spec(name: str) -> Spec:
    return parse_spec(load_yaml_text(preset_text(name).replace("<agent-user>", "agent")))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Path]:
    yield from exec_world(tmp_path)


def exec_world(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs system root: the sandbox sample system with the host's binaries bound in read-only."""
    root = tmp_path / "root"
    root.mkdir()
    nsenv.tmpfs_over(str(root))
    make_sandbox_root(root, host_keys=False)
    bind_host_binaries(root)
    yield root
    wait_watchdogs_gone(root)  # a watchdog keeps its log under the root open until it exits
    subprocess.run(["umount", "-R", str(root)], check=True)


def applied(world: Path, spec: Spec) -> SystemRoot:
    system = SystemRoot(world)
    txn = transaction.apply(make_plan(spec, system), system, timeout=60, environ={})
    assert transaction.confirm(world, txn.id, {}).status == "confirmed"
    assert not make_plan(spec, SystemRoot(world)).has_changes
    return SystemRoot(world)


def jail_exec(
    world: Path, name: str, *command: str, user: str | None = None, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """`tui-jail exec NAME --root WORLD [--user U] -- COMMAND...`, as a user types it."""
    argv = [sys.executable, "-m", "tui_jail", "exec", name, "--root", str(world)]
    argv += ["--user", user] if user else []
    return subprocess.run([*argv, "--", *command], capture_output=True, text=True, timeout=60, preexec_fn=preexec)


def assert_refused(result: subprocess.CompletedProcess[str], reason: str, marker: Path) -> None:
    """Refused before running: exit 1, one line naming the reason, and the command left no trace."""
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and reason in result.stderr, result.stderr
    assert "the command did not run" in result.stderr
    assert not marker.exists()


EXPECTED_CHECKS = {
    "joblet-production": {
        "loader and libraries",
        "capability sets",
        "no_new_privs",
        "PID 1 of a new PID namespace",
        "namespaces",
        "system dirs read-only",
        "work dir and /tmp writable by the job",
        "fresh /proc",
    },
    "joblet-builder": {
        "loader and libraries",
        "capability sets",
        "no_new_privs",
        "PID 1 of a new PID namespace",
        "namespaces",
        "system dirs read-only",
        "writable mounts",
        "work dir and /tmp writable by the job",
        "excluded paths hidden",
        "fresh /proc",
    },
    "awf-host-chroot": {
        "loader and libraries",
        "capability sets",
        "no_new_privs",
        "PID 1 of a new PID namespace",
        "namespaces",
        "system dirs read-only",
        "writable mounts",
        "masked paths are the null device",
        "fresh /proc",
    },
}


@pytest.mark.parametrize("preset", list(EXPECTED_CHECKS))
def test_every_property_holds_inside_each_preset(world: Path, preset: str) -> None:
    spec = preset_spec(preset)
    results = run_checks(exec_checks(spec, applied(world, spec)))
    assert {r.name.removeprefix("exec: ") for r in results} == EXPECTED_CHECKS[preset]
    assert [r for r in results if r.status != "pass"] == []
    details = {r.name.removeprefix("exec: "): r.detail for r in results}
    assert "/usr" in details["system dirs read-only"] and "/bin" in details["system dirs read-only"]
    if preset == "joblet-builder":
        assert "/opt/joblet/jobs" in details["excluded paths hidden"]
        assert "/opt/joblet/runtimes" in details["writable mounts"]
    if preset == "awf-host-chroot":
        assert "/var/run/docker.sock" in details["masked paths are the null device"]
    assert not list((world / "tmp").glob("job-*")), "the per-run tmp must be removed afterwards"


def test_raw_view_from_inside_production(world: Path) -> None:
    """The same facts, read directly rather than through the checks: an independent witness."""
    spec = preset_spec("joblet-production")
    applied(world, spec)
    script = (
        "echo pid=$$; grep -E '^(Cap|NoNewPrivs)' /proc/self/status; set -- /proc/[0-9]*; echo $*; "
        "touch /usr/x /bin/x 2>&1; id -u; ls /opt 2>&1"
    )
    result = jail_exec(world, "joblet-production", "/bin/sh", "-c", script)
    assert result.returncode == 2, result.stderr  # ls's own status passes through
    lines = result.stdout.splitlines()
    assert lines[0] == "pid=1"
    state = caps.parse_status("\n".join(lines[1:7]))
    assert state.no_new_privs == 1
    assert spec.exec is not None
    removed = spec.exec.capabilities.removed | capdrop.CHROOT_BREAKING
    assert all(not state.names(which) & removed for which in caps.SETS)
    assert state.masks["CapEff"] == 0
    assert state.names("CapBnd") == caps.read_status().names("CapBnd") - removed
    assert lines[7] == "/proc/1"  # only the jail's processes: the shell itself, PID 1
    assert lines[8].endswith("Read-only file system") and lines[9].endswith("Read-only file system")
    assert lines[10] == "65534"
    assert "No such file or directory" in lines[11]  # nothing of /opt (or /opt/joblet) inside


def test_exit_status_passes_through_and_tmp_is_per_run(world: Path) -> None:
    spec = preset_spec("joblet-production")
    applied(world, spec)
    first = jail_exec(world, "joblet-production", "/bin/sh", "-c", "echo $TUI_JAIL_JOB_ID; touch /tmp/mine; exit 7")
    assert first.returncode == 7
    second = jail_exec(world, "joblet-production", "/bin/sh", "-c", "ls -A /tmp; echo $TUI_JAIL_JOB_ID")
    assert second.returncode == 0
    assert second.stdout.strip() != first.stdout.strip()  # a fresh, empty /tmp with another id
    assert "mine" not in second.stdout
    assert not list((world / "tmp").glob("job-*"))


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        # gone from the bounding set, root's exec cannot regain it: the kernel refuses PR_CAPBSET_DROP
        ("CAP_SETPCAP", "from the bounding set: Operation not permitted"),
        # without it exec cannot unshare: refused before anything is forked
        ("CAP_SYS_ADMIN", "unshare(mount, pid, ipc, uts, net): Operation not permitted"),
    ],
    ids=["cannot-drop-caps", "cannot-unshare"],
)
def test_refuses_when_started_without_a_capability_it_needs(world: Path, missing: str, reason: str) -> None:
    """Exec started without a capability it needs stops there — never runs the command with less
    isolation — and the per-run tmp it had made is gone again."""
    applied(world, preset_spec("joblet-production"))
    marker = world / "opt/joblet/jobs/production/work/ran"
    bit = CAPABILITIES[missing][0]
    result = jail_exec(
        world, "joblet-production", "/bin/touch", "/work/ran", preexec=lambda: capdrop.drop_bounding([bit])
    )
    assert_refused(result, reason, marker)
    assert not list((world / "tmp").glob("job-*"))


def test_refuses_a_missing_mount_source(world: Path) -> None:
    """The builder's runtimes source is gone (and so no longer mounted): nothing runs."""
    spec = preset_spec("joblet-builder")
    applied(world, spec)
    subprocess.run(["umount", str(world / "opt/joblet/jobs/builder/opt/joblet/runtimes")], check=True)
    shutil.rmtree(world / "opt/joblet/runtimes")
    marker = world / "opt/joblet/jobs/builder/work/ran"
    result = jail_exec(world, "joblet-builder", "/bin/touch", "/work/ran")
    assert_refused(result, "mount source /opt/joblet/runtimes", marker)


def test_refuses_a_system_dir_that_is_no_longer_read_only(world: Path) -> None:
    spec = preset_spec("joblet-production")
    applied(world, spec)
    usr = world / "opt/joblet/jobs/production/usr"
    subprocess.run(["mount", "-o", "remount,bind,rw", str(usr)], check=True)
    marker = world / "opt/joblet/jobs/production/work/ran"
    assert_refused(jail_exec(world, "joblet-production", "/bin/touch", "/work/ran"), "not mounted read-only", marker)
    results = {r.name: r for r in run_checks(exec_checks(spec, SystemRoot(world)))}
    assert results["exec: system dirs read-only"].status == "fail"


def unmount(mount_point: Path) -> None:
    subprocess.run(["umount", str(mount_point)], check=True)


def symlink_to_its_source(mount_point: Path) -> None:
    """The same inode and the same read-only file system at the path, but through a symlink, not a mount."""
    unmount(mount_point)
    mount_point.rmdir()
    mount_point.symlink_to(mount_point.parents[4] / "usr")


@pytest.mark.parametrize("damage", [unmount, symlink_to_its_source])
def test_refuses_a_system_dir_that_is_not_its_mount(world: Path, damage: Callable[[Path], None]) -> None:
    applied(world, preset_spec("joblet-production"))
    damage(world / "opt/joblet/jobs/production/usr")
    marker = world / "opt/joblet/jobs/production/work/ran"
    reason = "/opt/joblet/jobs/production/usr is not mounted read-only from /usr: apply the jail first"
    assert_refused(jail_exec(world, "joblet-production", "/bin/touch", "/work/ran"), reason, marker)


# `tui-jail exec` as the console script runs it, noting the caller's waits once the launch has begun
WAITS = """
import os, sys
from tui_jail import cli
from tui_jail.core import launchfile
from tui_jail.jailexec import launcher
waits, launched = [], []
run, waitpid, read_all = launcher.run, os.waitpid, launchfile.read_all
launcher.run = lambda launch: launched.append(1) or run(launch)
os.waitpid = lambda *args: waits.append("child") or waitpid(*args)
launchfile.read_all = lambda fd: (launched and waits.append("pipe")) or read_all(fd)
code = cli.main(sys.argv[1:])
print(*waits, code)
"""


def test_the_caller_waits_once_for_a_job(world: Path) -> None:
    """Without --pty the caller waits for the child's end and only then reads its reason, which the pipe
    keeps: one wake-up per job. Reading first woke it at the command's exec (the pipe closing) and
    again at its end."""
    spec = preset_spec("joblet-production")
    applied(world, spec)
    argv = [sys.executable, "-c", WAITS, "exec", spec.name, "--root", str(world), "--"]
    ran = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=60)
    assert ran.stdout.split() == ["child", "pipe", "0"], ran.stderr
    refused = subprocess.run([*argv, "/no/such/command"], capture_output=True, text=True, timeout=60)
    assert refused.stdout.split() == ["child", "pipe", "1"], refused.stderr
    assert "running /no/such/command in the jail: No such file or directory" in refused.stderr


def test_a_jobs_checks_read_plainly_and_resolve_only_the_root(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """prepare runs on every job's start-up: the launch file, passwd, group and cap_last_cap are read
    without file objects (a buffered reader, its fstat, isatty and seeks for each), and each mount
    point is checked by one openat2, not by realpath's lstat per component in Python (together ~0.5 ms
    of a job's CPU). Only the system root given is resolved."""
    spec = preset_spec("joblet-production")
    applied(world, spec)
    resolved: list[str] = []
    realpath = os.path.realpath

    def counted(path: str) -> str:
        resolved.append(path)
        return realpath(path)

    def no_file_object(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a file object for {args[0]!r}")

    with monkeypatch.context() as patched:
        patched.setattr(os.path, "realpath", counted)
        patched.setattr(builtins, "open", no_file_object)
        patched.setattr(os, "fdopen", no_file_object)
        launch = launcher.prepare(spec.name, str(world), ["true"])
    assert resolved == [str(world)]
    assert launch.root == str(world / "opt/joblet/jobs/production") and launch.uid == 65534


def test_refuses_a_missing_user(world: Path) -> None:
    spec = preset_spec("awf-host-chroot")
    applied(world, spec)
    marker = world / "home/agent/ran"
    result = jail_exec(world, "awf-host-chroot", "/bin/touch", "/home/agent/ran", user="ghost")
    assert_refused(result, "no user 'ghost'", marker)


def test_refuses_when_a_mask_cannot_be_applied(world: Path) -> None:
    """The docker socket's mount point is gone: the mask would silently not apply, so nothing runs."""
    spec = preset_spec("awf-host-chroot")
    applied(world, spec)
    (world / "host/run/docker.sock").unlink()
    marker = world / "home/agent/ran"
    result = jail_exec(world, "awf-host-chroot", "/bin/touch", "/home/agent/ran")
    assert_refused(result, "masking", marker)


def test_refuses_a_mount_point_that_is_a_symlink(world: Path) -> None:
    """A symlinked /proc in the jail would point the fresh procfs somewhere on the host."""
    spec = preset_spec("joblet-production")
    applied(world, spec)
    proc = world / "opt/joblet/jobs/production/proc"
    proc.rmdir()
    proc.symlink_to(world / "etc")
    marker = world / "opt/joblet/jobs/production/work/ran"
    result = jail_exec(world, "joblet-production", "/bin/touch", "/work/ran")
    assert_refused(result, f"refusing to mount over {proc}: it resolves to {world / 'etc'}", marker)


def test_refuses_a_command_missing_in_the_jail(world: Path) -> None:
    spec = preset_spec("joblet-production")
    applied(world, spec)
    result = jail_exec(world, "joblet-production", "/no/such/command")
    assert result.returncode == 1
    assert "running /no/such/command in the jail: No such file or directory" in result.stderr


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda launch: launch.unlink(), "does not exist); apply or re-apply it"),
        (lambda launch: launch.write_text('{"format": 1, "mounts": ['), "is not a valid launch file"),
        (lambda launch: launch.write_text(launch.read_text().replace('"format": 1', '"format": 2')), "format 2"),
        (lambda launch: launch.chmod(0o620), "must be root-owned and not group/world-writable"),
        (lambda launch: os.chown(launch, 1002, 0), "is owned by uid 1002"),
    ],
    ids=["missing", "corrupt", "other-format", "group-writable", "not-root-owned"],
)
def test_refuses_a_launch_file_it_cannot_trust(world: Path, damage: Callable[[Path], None], reason: str) -> None:
    """The launch file is what the launcher acts on as root: missing, unreadable as a launch file, or
    writable by someone other than root, and nothing runs."""
    spec = preset_spec("joblet-production")
    applied(world, spec)
    damage(world / jail_launch_path(spec.name).lstrip("/"))
    marker = world / "opt/joblet/jobs/production/work/ran"
    assert_refused(jail_exec(world, "joblet-production", "/bin/touch", "/work/ran"), reason, marker)


HEAVY_MODULES = (
    *("pydantic", "ruamel", "rich", "textual", "tui_jail.core.spec", "tui_jail.core.plan", "tui_jail.commands.common"),
    # SystemRoot and the mountinfo parser (pathlib, dataclasses), and the standard modules that each cost
    # a job milliseconds: the launcher calls libc through _ctypes (ctypes' Python half is ~5 ms) and reads
    # the launch file with json's C scanner (the json module imports re and enum)
    *("tui_jail.paths.system", "tui_jail.paths.mountinfo", "tui_jail.backends", "argparse", "pathlib", "dataclasses"),
    *("inspect", "typing", "signal", "shutil", "subprocess", "fcntl", "socket", "json", "re", "enum"),
    *("ctypes", "struct"),
    # `from __future__ import annotations` in any module on the path loads __future__ (~0.3 ms of a ~17 ms
    # interpreter start): those modules quote the annotations that name what only a type checker imports
    "__future__",
)
# the CLI's own path, with no site: the venv's .pth files (an editable install's finder imports pathlib,
# and with it re) are the interpreter's start-up, not exec's
EXEC_WITHOUT_SITE = "import sys; sys.path.insert(0, sys.argv.pop(1)); from tui_jail import cli; cli.main()"


def imported_by(*args: str) -> set[str]:
    """The modules `python -X importtime ARGS` imports."""
    result = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}


def test_exec_imports_nothing_heavy(world: Path) -> None:
    """A job's start-up: no spec validation, no planner, no UI library, no argparse, pathlib, json, re or
    ctypes' Python half — the launch file and libc through _ctypes. What the interpreter itself imports
    at start-up (site and the venv's `.pth` files) is not exec's doing: measured without site."""
    spec = preset_spec("joblet-production")
    applied(world, spec)
    package_parent = str(Path(tui_jail.__file__).parent.parent)
    words = ["exec", "--root", str(world), spec.name, "--", "true"]
    imported = imported_by("-S", "-c", EXEC_WITHOUT_SITE, package_parent, *words)
    assert "tui_jail.jailexec.launcher" in imported
    imported -= imported_by("-S", "-c", "pass")
    heavy = [m for m in imported if any(m == h or m.startswith((f"{h}.", f"{h}_")) for h in HEAVY_MODULES)]
    assert sorted(heavy) == []


def test_verify_names_the_missing_loader_and_the_mount_that_brings_it(world: Path) -> None:
    """/lib64 dropped from the mounts: /bin/sh has no ELF loader in the jail, so no probe can start.
    verify says which file is missing and what to add, not 'run exec by hand'."""
    data = spec_data(preset_spec("joblet-production"))
    data["mounts"] = [m for m in data["mounts"] if m["target"] != "lib64"]
    spec = parse_spec(data)
    results = {r.name: r for r in run_checks(exec_checks(spec, applied(world, spec)))}
    loads = results["exec: loader and libraries"]
    assert loads.status == "fail"
    assert "/bin/sh cannot run in the jail: missing its ELF loader /lib64/ld-linux-x86-64.so.2" in loads.detail
    assert loads.fix == "add to mounts: {source: /lib64, target: lib64, readonly: true}"
    probed = results["exec: no_new_privs"]
    assert probed.status == "fail" and probed.fix == loads.fix and "ELF loader" in probed.detail
    # and it is so: exec cannot start even /bin/true there
    assert jail_exec(world, spec.name, "/bin/true").returncode != 0
