"""The escapes a hostile exec job tried, each shown working with its protection switched off (the
positive control: the attack is real, and the test would see it) and then held.

1. an inherited descriptor naming a host directory (fd 3, 10, 251, and an `O_PATH` stdin);
2. TIOCSTI into the admin's interactive root shell, on a real pty;
3. copies of secrets (/etc/shadow, a host key): modes and owners in the applied tree, never printed;
4. root in the jail reading the host through `open_by_handle_at` on the /usr bind ("shocker").

The switch is `tui_jail.jailexec.launcher.UNPROTECTED`, a test-only module attribute set in the exec process
itself (`exec_with`): there is no option or environment variable that turns a protection off.
"""

from __future__ import annotations

import ctypes
import json
import os
import pty
import select
import shlex
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_exec_jails import applied, exec_world, preset_spec

from tui_jail.core.plan import PlanError, make_plan
from tui_jail.core.render import plan_text
from tui_jail.core.spec import Spec, parse_spec, spec_data
from tui_jail.paths.system import SystemRoot

pytestmark = [
    pytest.mark.ns,
    pytest.mark.skipif(
        os.geteuid() != 0 or not __import__("nsenv").in_private_mount_ns(), reason="needs root in a private mount ns"
    ),
]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Path]:
    yield from exec_world(tmp_path)


# `tui-jail exec ...` with some protections switched off in its own process (test-only)
RUNNER = (
    "import sys; from tui_jail import cli; from tui_jail.jailexec import launcher; "
    "launcher.UNPROTECTED = frozenset(sys.argv[1].split(',')) - {''}; sys.exit(cli.main(sys.argv[2:]))"
)


def exec_argv(
    world: Path, name: str, command: list[str], *, unprotected: str = "", user: str | None = None
) -> list[str]:
    argv = [sys.executable, "-c", RUNNER, unprotected, "exec", name, "--root", str(world)]
    return [*argv, *(["--user", user] if user else []), "--", *command]


def exec_with(
    world: Path,
    name: str,
    command: list[str],
    *,
    unprotected: str = "",
    preexec: Callable[[], None] | None = None,
    stdin: int | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        exec_argv(world, name, command, unprotected=unprotected),
        capture_output=True,
        stdin=stdin,
        text=True,
        timeout=60,
        preexec_fn=preexec,
        close_fds=preexec is None,
    )


# --- 1. inherited descriptors ------------------------------------------------------------------------

FD_PROBE = (
    "cat /proc/self/fd/3/secret 2>/dev/null; echo x > /proc/self/fd/3/written 2>/dev/null; "
    "for fd in 10 251; do [ -e /proc/$$/fd/$fd ] && echo fd$fd; done; echo end"
)


def test_descriptors_of_the_caller_do_not_reach_the_job(world: Path, tmp_path: Path) -> None:
    applied(world, preset_spec("joblet-production"))
    host = tmp_path / "host-dir"  # outside the jail; the job user (nobody) could write it if it got there
    host.mkdir()
    host.chmod(0o777)
    (host / "secret").write_text("host secret\n")
    directory = os.open(host, os.O_RDONLY | os.O_DIRECTORY)

    def pass_directory() -> None:  # `3</host-dir 10</host-dir 251</host-dir`, as a shell passes them
        for fd in (3, 10, 251):
            os.dup2(directory, fd)

    try:
        escaped = exec_with(
            world, "joblet-production", ["/bin/sh", "-c", FD_PROBE], preexec=pass_directory, unprotected="descriptors"
        )
        assert escaped.stdout.split() == ["host", "secret", "fd10", "fd251", "end"], escaped
        assert (host / "written").read_text() == "x\n"
        (host / "written").unlink()

        held = exec_with(world, "joblet-production", ["/bin/sh", "-c", FD_PROBE], preexec=pass_directory)
        assert held.returncode == 0, held.stderr
        assert held.stdout.split() == ["end"]
        assert not (host / "written").exists()
    finally:
        os.close(directory)


# Python itself will not start with a directory or an O_PATH descriptor as a standard stream (it dies
# in init_sys_streams): `tui-jail exec ... 0</dir` never gets to run anything, and the first test below
# says so. The launcher still replaces such a descriptor for any caller that gets past that (the API,
# or a process that swaps its stdin after start-up): the runner here puts it on fd 0 after Python has
# started, as such a caller would.
STDIN_FROM_FD_3 = "import os; os.dup2(3, 0); os.close(3); " + RUNNER


def directory_descriptor(path: Path, how: str) -> int:
    return os.open(path, os.O_PATH if how == "O_PATH" else os.O_RDONLY | os.O_DIRECTORY)


@pytest.mark.parametrize("how", ["O_PATH", "directory"])
def test_the_cli_does_not_start_with_a_directory_as_stdin(world: Path, tmp_path: Path, how: str) -> None:
    spec = preset_spec("joblet-production")
    applied(world, spec)
    stdin = directory_descriptor(tmp_path, how)  # `0</tmp-path`
    try:
        result = exec_with(world, spec.name, ["/bin/sh", "-c", "touch /work/ran"], stdin=stdin)
    finally:
        os.close(stdin)
    assert result.returncode != 0 and "init_sys_streams" in result.stderr
    assert not (world / spec.jail_path("work/ran").lstrip("/")).exists()


@pytest.mark.parametrize("how", ["O_PATH", "directory"])
def test_a_standard_descriptor_naming_a_host_directory_becomes_dev_null(world: Path, tmp_path: Path, how: str) -> None:
    applied(world, preset_spec("joblet-production"))
    host = tmp_path / "host-dir"
    host.mkdir()
    (host / "secret").write_text("host secret\n")
    directory = directory_descriptor(host, how)
    probe = ["/bin/sh", "-c", "cat /proc/self/fd/0/secret; stat -L -c %F:%t:%T /proc/self/fd/0"]

    def run(unprotected: str) -> subprocess.CompletedProcess[str]:
        argv = exec_argv(world, "joblet-production", probe, unprotected=unprotected)
        argv[2] = STDIN_FROM_FD_3
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=60, preexec_fn=lambda: os.dup2(directory, 3), close_fds=False
        )

    try:
        escaped = run("descriptors")
        assert escaped.stdout == "host secret\ndirectory:0:0\n", escaped
        held = run("")
        assert held.stdout == "character special file:1:3\n", held
        assert "Not a directory" in held.stderr
    finally:
        os.close(directory)


# --- 2. TIOCSTI into the admin's shell ---------------------------------------------------------------

INJECTOR = (
    "import fcntl, sys, termios\n"
    "try:\n"
    "    for byte in sys.argv[1].encode(): fcntl.ioctl(0, termios.TIOCSTI, bytes([byte]))\n"
    "    print('INJECT' + 'ED')\n"
    "except OSError as exc:\n"
    "    print('INJECT' + '-' + exc.__class__.__name__)\n"
)


class Terminal:
    """An interactive root bash on a real pty, read until a marker shows up in its output."""

    def __init__(self) -> None:
        env = {"PATH": os.environ["PATH"], "TERM": "dumb", "PS1": "$ ", "HISTFILE": "/dev/null"}
        self.pid, self.master = pty.fork()
        if self.pid == 0:
            os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "--noediting", "-i"], env)
        self.output = b""

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def wait_for(self, marker: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while marker.encode() not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"{marker!r} never came: {self.output.decode(errors='replace')}"
            if select.select([self.master], [], [], left)[0]:
                self.output += os.read(self.master, 65536)

    def close(self) -> None:
        self.type("exit")
        os.waitpid(self.pid, 0)
        os.close(self.master)


@pytest.mark.parametrize("unprotected", ["tty", ""], ids=["keeping-the-tty", "protected"])
def test_a_job_cannot_type_into_the_admins_terminal(world: Path, tmp_path: Path, unprotected: str) -> None:
    applied(world, preset_spec("joblet-production"))
    pwned = tmp_path / "PWNED"
    job = ["/usr/bin/python3", "-I", "-S", "-c", INJECTOR, f"id > {pwned}\n"]
    terminal = Terminal()
    try:
        # the arithmetic makes each marker appear in the output only, never in the echo of the typed line
        terminal.type(
            shlex.join(exec_argv(world, "joblet-production", job, unprotected=unprotected)) + "; echo EXEC-$((6*7))"
        )
        terminal.wait_for("EXEC-42")
        terminal.type("echo DONE-$((2*3))")  # anything pushed by the job was read (and run) before this
        terminal.wait_for("DONE-6")
    finally:
        terminal.close()
    if unprotected:  # the positive control: this kernel lets a job with the caller's tty inject
        assert b"INJECTED" in terminal.output
        assert pwned.read_text().startswith("uid=0(root)")
    else:
        assert b"INJECT-PermissionError" in terminal.output, terminal.output
        assert not pwned.exists()


def test_with_its_own_pty_a_job_injects_only_into_that_one(world: Path, tmp_path: Path) -> None:
    """--pty: the job leads a session on a new pty (an interactive shell works); TIOCSTI now succeeds,
    into the job's own terminal, and the admin's shell runs nothing."""
    applied(world, preset_spec("joblet-production"))
    pwned = tmp_path / "PWNED"
    job = ["/usr/bin/python3", "-I", "-S", "-c", INJECTOR, f"id > {pwned}\n"]
    argv = exec_argv(world, "joblet-production", job)
    argv.insert(argv.index("--"), "--pty")
    terminal = Terminal()
    try:
        terminal.type(shlex.join(argv) + "; echo EXEC-$((6*7))")
        terminal.wait_for("EXEC-42")
        terminal.type("echo DONE-$((2*3))")
        terminal.wait_for("DONE-6")
    finally:
        terminal.close()
    assert b"INJECTED" in terminal.output  # relayed from the job's own terminal
    assert not pwned.exists()


def test_with_its_own_pty_a_job_reads_piped_input_to_its_end(world: Path) -> None:
    applied(world, preset_spec("joblet-production"))
    argv = exec_argv(world, "joblet-production", ["/bin/cat"])
    argv.insert(argv.index("--"), "--pty")
    done = subprocess.run(argv, input="piped line\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    assert done.stdout.count("piped line") == 2  # the terminal's echo, then cat's copy


# --- 3. copies of secrets ----------------------------------------------------------------------------

SECRETS = {"/etc/shadow": (0o640, 0, 42), "/etc/ssh/ssh_host_ed25519_key": (0o600, 0, 0)}


def spec_with_copies(*copies: str) -> Spec:
    data = spec_data(preset_spec("joblet-production"))
    data["exec"]["copies"] = [*data["exec"]["copies"], *copies]
    return parse_spec(data)


def test_copies_keep_their_sources_mode_and_owner_and_secrets_are_never_printed(world: Path) -> None:
    key = world / "etc/ssh/ssh_host_ed25519_key"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret key material\n")
    for path, (mode, uid, gid) in SECRETS.items():
        os.chown(world / path.lstrip("/"), uid, gid)
        os.chmod(world / path.lstrip("/"), mode)
    spec = spec_with_copies(*SECRETS)
    plan = make_plan(spec, SystemRoot(world))
    printed = plan_text(plan) + json.dumps(plan.to_json())  # the review shows the same diff()
    for path in SECRETS:
        content = (world / path.lstrip("/")).read_text()
        assert content.splitlines()[1] not in printed
        assert f"b{spec.jail_path(path.lstrip('/'))}: content not shown" in printed
    # the positive control: a world-readable copy is printed, so the check above would see a secret
    assert "nameserver 192.0.2.53" in printed

    applied(world, spec)
    for path, (mode, uid, gid) in SECRETS.items():
        st = (world / spec.jail_path(path.lstrip("/")).lstrip("/")).stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (mode, uid, gid), path
    job = exec_with(
        world, "joblet-production", ["/bin/sh", "-c", "cat /etc/shadow /etc/ssh/ssh_host_ed25519_key; cat /etc/hosts"]
    )
    assert "secret key material" not in job.stdout and "root:" not in job.stdout
    assert job.stderr.count("Permission denied") == 2 and "localhost" in job.stdout


def test_an_older_copy_with_the_wrong_mode_is_fixed_in_place(world: Path) -> None:
    spec = spec_with_copies("/etc/shadow")
    applied(world, spec)
    copy = world / spec.jail_path("etc/shadow").lstrip("/")
    os.chmod(copy, 0o644)  # what an older tui-jail left
    plan = make_plan(spec, SystemRoot(world))
    assert [(p.path, p.action, oct(p.mode)) for p in plan.path_changes] == [
        (str(copy)[len(str(world)) :], "fix", "0o640")
    ]
    applied(world, spec)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o640


@pytest.mark.parametrize("source", ["/etc/null", "/etc/ssh", "/etc/fifo"])
def test_a_copy_that_is_not_a_regular_file_is_refused(world: Path, source: str) -> None:
    os.mkfifo(world / "etc/fifo")
    os.mknod(world / "etc/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    with pytest.raises(PlanError, match=f"exec.copies: {source} is not a regular file"):
        make_plan(spec_with_copies(source), SystemRoot(world))


# --- 4. root in the jail -----------------------------------------------------------------------------

SHOCKER = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "handle = ctypes.create_string_buffer(bytes.fromhex(sys.argv[1]))\n"
    "usr = os.open('/usr', os.O_RDONLY)\n"
    "fd = libc.open_by_handle_at(usr, handle, os.O_RDONLY)\n"
    "print(os.read(fd, 100).decode().strip() if fd >= 0 else 'open_by_handle_at: ' + os.strerror(ctypes.get_errno()))\n"
)


def file_handle(path: Path) -> str:
    """name_to_handle_at(2) of `path` on the host: struct file_handle, as hex."""
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(8 + 128)
    ctypes.c_uint.from_buffer(buffer).value = 128
    mount_id = ctypes.c_int()
    assert libc.name_to_handle_at(-100, os.fsencode(path), buffer, ctypes.byref(mount_id), 0) == 0
    size = 8 + ctypes.c_uint.from_buffer(buffer).value
    return buffer.raw[:size].hex()


def root_spec() -> Spec:
    data = spec_data(preset_spec("joblet-production"))
    data["exec"] |= {"user": "root", "allow_root": True}
    return parse_spec(data)


def test_root_in_an_allow_root_jail_cannot_open_the_host_by_handle(world: Path, tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("read from the host\n")
    if os.stat(secret).st_dev != os.stat("/usr").st_dev:
        pytest.skip("the shocker needs a host file on /usr's file system")
    spec = root_spec()
    assert any("allow_root" in w for w in make_plan(spec, SystemRoot(world)).warnings)
    applied(world, spec)
    job = ["/usr/bin/python3", "-I", "-S", "-c", SHOCKER, file_handle(secret)]
    escaped = exec_with(world, spec.name, job, unprotected="chroot_breaking")
    assert escaped.stdout == "read from the host\n", escaped
    held = exec_with(world, spec.name, job)
    assert held.stdout == "open_by_handle_at: Operation not permitted\n", held


def test_root_is_refused_unless_the_spec_allows_it(world: Path) -> None:
    spec = preset_spec("joblet-production")
    applied(world, spec)
    marker = world / spec.jail_path("work/ran").lstrip("/")
    command = ["/bin/sh", "-c", "touch /work/ran"]
    result = subprocess.run(exec_argv(world, spec.name, command, user="root"), capture_output=True, text=True)
    assert result.returncode == 1, result
    assert "root is uid 0" in result.stderr and "exec.allow_root: true" in result.stderr
    assert "the command did not run" in result.stderr
    assert not marker.exists()
    # the same jail runs the same command as its own user: the refusal is about root alone
    as_user = exec_with(world, spec.name, command)
    assert as_user.returncode == 0 and marker.exists(), as_user
