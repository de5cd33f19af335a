"""Benchmark: the seedbox apply, whole process, against the same change made by an Ansible play.

Each run gets a fresh copy of a sample root (`tui_jail.sandbox`: Debian's fstab and sshd_config with
its `Include /etc/ssh/sshd_config.d/*.conf`, host keys, the staging dirs under /tank) and a real
`sshd -D` of its own, on a free port, whose /etc/ssh is the root's (bound over a scratch /etc, all in
this bench's private mount namespace; the daemon is stopped by its pid). Then one of:

- tui-jail: `tui-jail apply --root ROOT --spec seedbox.yaml --yes` (the venv's console script, a
  whole process): preflight (`sshd -t`, `findmnt --verify`, sources, the ownership chain, the logins
  to protect), journal with backups, the detached watchdog armed, the jail's directories, the four
  bind mounts and their check, /dev/null and /dev/zero, the fstab block, the sshd drop-in, a
  `sshd -t` of the installed config and a SIGHUP of the root's sshd;
- Ansible: `ansible-playbook -c local` of a play with `ansible.builtin.file` (the same directories),
  `ansible.posix.mount` `state: mounted` (the same four binds, into the root's fstab and live),
  `ansible.builtin.blockinfile` of the same Match block into the root's sshd_config with
  `validate: /usr/sbin/sshd -t -f %s`, and a handler that sends the same SIGHUP to the same sshd.

What differs: tui-jail also journals every step and file (fsynced), arms a watchdog that rolls it all
back unless confirmed, runs its preflight, makes the two device nodes (the play makes none) and checks
the mounts it made; it writes in-root paths into fstab and a drop-in where the play writes the
root's absolute paths and appends to sshd_config; and it returns only once the reloaded sshd listens
again (a new login made at once is served), where the play's handler returns once the signal is sent
(as `systemctl reload` would). So the figure is, if anything, unfair to tui-jail.

Ansible comes from PyPI (`ansible`, which bundles ansible.posix), installed on first run into a venv
of its own, bench/.ansible-venv (gitignored). Runs alternate A and B (which goes first alternates
too); the figure is the median of the ten pair-by-pair ratios. Goal: tui-jail >= 20x faster. Exit 1
only when the goal is missed. Needs root; re-executes itself under `unshare -m --propagation private`.

Run: .venv/bin/python bench/apply_vs_ansible.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import timing

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH.parent / "tests"))

GOAL = 20.0
ANSIBLE_VENV = BENCH / ".ansible-venv"
JAIL = "/chroot/rclone-sftp"
STAGING = ["incomingmovies", "IncomingMovies_staging", "IncomingTV", "IncomingTV_staging"]
SEEDBOX, USER = "203.0.113.7", "media"

PLAY = """\
- name: Seedbox jail, by hand
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Jail root, mount points and dev
      ansible.builtin.file:
        path: "{{{{ item }}}}"
        state: directory
        owner: root
        group: root
        mode: "0755"
      loop: {dirs}
    - name: Bind the staging dirs (fstab and live)
      ansible.posix.mount:
        src: "{root}/tank/{{{{ item }}}}"
        path: "{root}{jail}/{{{{ item }}}}"
        fstype: none
        opts: bind,nofail
        state: mounted
        fstab: "{root}/etc/fstab"
      loop: {staging}
    - name: The Match block
      ansible.builtin.blockinfile:
        path: "{root}/etc/ssh/sshd_config"
        marker: "# {{mark}} seedbox jail"
        block: |
          Match Address {seedbox} User {user}
              ChrootDirectory {jail}
              ForceCommand internal-sftp
              AllowTcpForwarding no
              X11Forwarding no
        validate: /usr/sbin/sshd -t -f %s
      notify: Reload sshd
  handlers:
    - name: Reload sshd
      ansible.builtin.shell: kill -HUP "$(cat {root}/run/sshd.pid)"
"""


def ansible_playbook() -> Path:
    """The ansible-playbook of the bench's own venv, installed from PyPI on first use."""
    program = ANSIBLE_VENV / "bin" / "ansible-playbook"
    if not program.exists():
        print(f"installing ansible into {ANSIBLE_VENV} (first run only)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True)
        subprocess.run([str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", "ansible"], check=True)
    return program


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in this namespace, deepest first."""
    points = []
    with open("/proc/self/mountinfo") as table:
        for line in table:
            point = line.split()[4].replace("\\040", " ")
            if point == str(path) or point.startswith(f"{path}/"):
                points.append(point)
    return sorted(points, key=lambda p: -p.count("/"))


class Site:
    """A fresh copy of the sample root with its own sshd reading the root's /etc/ssh."""

    def __init__(self, template: Path, root: Path) -> None:
        import nsenv

        subprocess.run(["cp", "-a", str(template), str(root)], check=True)
        (root / "run").mkdir(exist_ok=True)
        self.root = root
        subprocess.run(["mount", "--bind", str(root / "etc/ssh"), "/etc/ssh"], check=True)
        self.sshd = nsenv.SshServer(Path("/etc/ssh/sshd_config"), nsenv.free_port())
        self.sshd.pid_file = root / "run/sshd.pid"  # the config's default PidFile, as the root sees it
        self.sshd.start()

    def close(self) -> None:
        self.sshd.cleanup()
        subprocess.run(["umount", "/etc/ssh"], check=True)
        for point in mounts_under(self.root):
            subprocess.run(["umount", point], check=True)
        if mounts_under(self.root):
            raise SystemExit(f"{self.root}: still mounted, left in place")
        shutil.rmtree(self.root)


def main(runs: int) -> int:
    import nsenv
    from txn_helpers import seedbox_text, wait_watchdogs_gone

    from tui_jail.sandbox import make_sandbox_root

    playbook = ansible_playbook()
    work = Path(tempfile.mkdtemp(prefix="bench-ansible-"))
    nsenv.private_world(work / "world")  # scratch /etc, /run with /run/sshd, /var/log
    template = make_sandbox_root(work / "template")
    spec = work / "seedbox.yaml"
    spec.write_text(seedbox_text(user=USER, address=SEEDBOX))
    tui_jail = Path(sys.executable).with_name("tui-jail")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "ANSIBLE_"))}
    ansible_env = {**env, "ANSIBLE_HOME": str(work / "ansible-home"), "ANSIBLE_NOCOLOR": "1"}
    ansible_env["ANSIBLE_PYTHON_INTERPRETER"] = str(ANSIBLE_VENV / "bin" / "python")
    ansible_env["ANSIBLE_LOCALHOST_WARNING"] = "False"

    def timed(kind: str, n: int) -> tuple[float, float]:
        site = Site(template, work / f"{kind}{n}")
        root = site.root
        try:
            if kind == "tui-jail":
                argv = [str(tui_jail), "apply", "--root", str(root), "--spec", str(spec), "--yes"]
                argv += ["--confirm-timeout", "600"]
                run_env = env
            else:
                play = work / f"play{n}.yml"
                dirs = [f"{root}/chroot", f"{root}{JAIL}", *(f"{root}{JAIL}/{d}" for d in [*STAGING, "dev"])]
                play.write_text(
                    PLAY.format(dirs=dirs, root=root, jail=JAIL, staging=STAGING, seedbox=SEEDBOX, user=USER)
                )
                argv = [str(playbook), "-i", "localhost,", str(play)]
                run_env = ansible_env
            took = timing.timed(argv, run_env, check=True)  # wall and CPU seconds
            live = mounts_under(root / JAIL.lstrip("/"))
            if len(live) != len(STAGING):
                raise SystemExit(f"{kind}: {len(live)} mounts under the jail, not {len(STAGING)}: {live}")
            if kind == "tui-jail":
                back = subprocess.run([str(tui_jail), "rollback", "--root", str(root)], capture_output=True, text=True)
                if back.returncode != 0:
                    raise SystemExit(f"rollback failed:\n{back.stderr}")
                wait_watchdogs_gone(root)
        finally:
            site.close()
        return took

    timing.compile_package()  # as installed: pip compiles ansible's venv, PYTHONDONTWRITEBYTECODE may be set
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    try:
        for n in range(runs):  # alternating, and which goes first alternates too
            for kind in ("tui-jail", "ansible") if n % 2 == 0 else ("ansible", "tui-jail"):
                (ours if kind == "tui-jail" else theirs).append(timed(kind, n))
    finally:
        if not mounts_under(work):  # every site is closed: what is left is plain files (the scratch /etc too)
            shutil.rmtree(work, ignore_errors=True)
    ratios = [a[0] / t[0] for t, a in zip(ours, theirs, strict=True)]
    ratio = statistics.median(ratios)
    cpu = statistics.median(a[1] / t[1] for t, a in zip(ours, theirs, strict=True))
    for what, runs_of in (("tui-jail apply (whole process)", ours), ("ansible-playbook -c local", theirs)):
        took, used = (statistics.median(run[i] for run in runs_of) * 1000 for i in (0, 1))
        print(f"{what:32} {took:7.0f} ms (CPU {used:6.0f} ms), medians of {runs}")
    spread = f"pair ratios {min(ratios):.1f}-{max(ratios):.1f}"
    print(f"tui-jail is {ratio:.1f}x faster than Ansible (median of the {spread}; CPU {cpu:.1f}x); goal >= {GOAL:g}x")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    if os.geteuid() != 0:
        raise SystemExit("bench/apply_vs_ansible.py needs root (mounts, sshd in a private mount namespace)")
    if os.environ.get("TUI_JAIL_BENCH_NS") != "1":
        ansible_playbook()  # before the namespace: nothing of pip's work needs it
        env = {**os.environ, "TUI_JAIL_BENCH_NS": "1"}
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv], env)
    sys.exit(main(runs))
