"""systemd, where it runs the root: `systemctl reload` of sshd's unit, the transient rollback timer,
a daemon-reload after every fstab change, and stopping the mount units it generated from an fstab
that is being rolled back.

Only where DIR is `/` and systemd is the running manager (`/run/systemd/system`): under `--root DIR`
the systemd that runs is the host's, not DIR's, so nothing here reaches it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    import subprocess

RUNNING = "/run/systemd/system"


class SystemdError(RuntimeError):
    pass


def manages(root: str | os.PathLike[str]) -> bool:
    """systemd runs the system whose root is `root` (only `/` can be: DIR's systemd is not running)."""
    return os.path.abspath(root) == "/" and os.path.isdir(RUNNING)


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    # only here: `confirm` and `rollback` ask `manages` on every root, and under --root DIR run nothing
    import subprocess

    result = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", check=False
    )
    if check and result.returncode != 0:
        why = (result.stderr or result.stdout).strip().replace("\n", " ") or f"exit status {result.returncode}"
        raise SystemdError(f"{' '.join(argv[:3])}: {why}")
    return result


def systemctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(["systemctl", *args], check)


def daemon_reload(root: str | os.PathLike[str]) -> str:
    """After an fstab change: systemd generates mount units from fstab and keeps the old ones until
    reloaded (findmnt then warns that systemd still uses the old version)."""
    if not manages(root):
        return ""
    systemctl("daemon-reload")
    return "systemctl daemon-reload: systemd reads the new /etc/fstab"


def service_of(pid: int) -> str:
    """The service unit a process runs in, from its cgroup ('' when it is in none)."""
    try:
        with open(f"/proc/{pid}/cgroup") as file:
            lines = file.read().splitlines()
    except OSError:
        return ""
    path = next((line[3:] for line in lines if line.startswith("0::")), "")
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name if name.endswith(".service") else ""


# --- the transient rollback timer ------------------------------------------------------------------


def transient_unit(txn_id: str) -> str:
    """The name of a transaction's timer and of the service it starts (without the suffix)."""
    return f"tui-jail-{txn_id}"


def start_timer(txn_id: str, seconds: int, argv: list[str], env: dict[str, str]) -> str:
    """`systemd-run` a timer that runs `argv` once, `seconds` from now."""
    unit = transient_unit(txn_id)
    if systemctl("is-active", "--quiet", f"{unit}.service", check=False).returncode == 0:
        return f"{unit}.service is watching already"  # fired before an extension: it reads the new deadline
    options = [
        f"--unit={unit}",
        f"--description=tui-jail: roll back {txn_id} unless it is confirmed",
        f"--on-active={seconds}",
        "--timer-property=AccuracySec=1s",
        "--timer-property=RemainAfterElapse=no",  # an elapsed timer unloads: nothing left behind
        *(f"--setenv={name}={value}" for name, value in env.items()),
    ]
    _run(["systemd-run", "--quiet", *options, *argv])
    return f"systemd timer {unit}.timer armed"


def stop_timer(txn_id: str) -> None:
    """Disarm the timer (absent already, it is fine)."""
    systemctl("stop", f"{transient_unit(txn_id)}.timer", check=False)


# --- mounts systemd made from fstab ----------------------------------------------------------------


def stop_mounts(targets: list[str]) -> str:
    """Stop the mount units of `targets`: unmounted if mounted, their queued start jobs cancelled
    (a daemon-reload does not cancel a job already queued)."""
    if not targets:
        return ""
    units = _run(["systemd-escape", "--path", "--suffix=mount", *targets]).stdout.split()
    systemctl("stop", *units)
    return f"stopped {', '.join(units)}"
