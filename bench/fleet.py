"""Benchmark: the safe fleet rollout against the plain Ansible play of the same change.

Five hosts on this machine (tests/fleet.py: one sshd per host in its own mount namespace, on 127.0.N.x),
the same `serial: [1, 2, 2]` for both, each whole `ansible-playbook` run timed on a fresh fleet:

- safe: the collection's `tui_jail.fleet.rollout` with the seedbox spec — per host a tui-jail apply
  (preflight with `sshd -T -C` for the admin's connection, `sshd -t`, findmnt --verify, journal,
  watchdog, mounts, device nodes, files, sshd reload), `meta: reset_connection`, the confirm on a new
  login, and `tui-jail verify`;
- plain: what a hand-written play does for the same jail — `file` for the jail root and mount points,
  `ansible.posix.mount` for the four binds (fstab and live), `blockinfile` of the Match block into
  sshd_config with `validate: sshd -t -f %s`, and a reload handler. No preflight for the admin's own
  connection, no rollback, no proof of a new login.

Both runs end with a real sftp from the seedbox address to one host, so both made the same jail work.
Goal: safe/plain <= 2. Exit 1 only when the goal is missed. Needs root; it re-executes itself in a
private mount namespace; needs the full `ansible` package (ansible.posix): pip install -e '.[bench]'.

Run: .venv/bin/python bench/fleet.py
Measured on the 2-core machine under a load average near 10 (eight sessions at work): plain 97.7 s,
safe 71.6 s, ratio 0.73 — the plain play runs more tasks (a loop item is one module run each).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

RUNS = 3
SERIAL = [1, 2, 2]
GOAL = 2.0

PLAIN = """\
- name: Plain seedbox jail
  hosts: all
  serial: {serial}
  gather_facts: false
  tasks:
    - name: Jail root and mount points
      ansible.builtin.file:
        path: "{{{{ item }}}}"
        state: directory
        owner: root
        group: root
        mode: "0755"
      loop: {dirs}
    - name: Bind the staging dirs (fstab and live)
      ansible.posix.mount:
        src: "/srv/tank/{{{{ item }}}}"
        path: "{root}/{{{{ item }}}}"
        fstype: none
        opts: bind,nofail
        state: mounted
      loop: {staging}
    - name: The Match block
      ansible.builtin.blockinfile:
        path: /etc/ssh/sshd_config
        marker: "# {{mark}} plain jail"
        block: |
          Match Address {seedbox} User {user}
              ChrootDirectory {root}
              ForceCommand internal-sftp
              AllowTcpForwarding no
              X11Forwarding no
              PermitTTY no
        validate: /usr/sbin/sshd -t -f %s
      notify: Reload sshd
  handlers:
    - name: Reload sshd
      ansible.builtin.shell: kill -HUP "$(cat /run/sshd.pid)"
"""


def main() -> int:
    import fleet as fleetlib

    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    shared = fleetlib.shared_world(work)
    spec = work / "rclone-sftp.yaml"
    spec.write_text(fleetlib.seedbox_spec(shared.media.name))
    with fleetlib.running(shared, work / "install", count=1) as installer:
        done = installer.install()
        if done.returncode != 0:
            raise SystemExit(f"install role failed:\n{done}")
    plain = work / "plain.yml"
    staging = list(fleetlib.STAGING)
    dirs = ["/srv/chroot", fleetlib.JAIL_ROOT, *(f"{fleetlib.JAIL_ROOT}/{name}" for name in staging)]
    plain.write_text(
        PLAIN.format(
            serial=SERIAL,
            dirs=dirs,
            staging=staging,
            root=fleetlib.JAIL_ROOT,
            seedbox=fleetlib.SEEDBOX,
            user=shared.media.name,
        )
    )

    def timed(kind: str, n: int) -> float:
        with fleetlib.running(shared, work / f"{kind}{n}") as fleet:
            started = time.perf_counter()
            if kind == "safe":
                done = fleet.rollout(spec, rollout_serial=SERIAL, jail_confirm_timeout=60)
            else:
                done = fleet.playbook(plain)
            took = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"{kind} run failed:\n{done}")
            seen = fleet.host("h5").sftp(shared.media, "ls -1 /incomingmovies")
            if "from-h5.mkv" not in seen.stdout:
                raise SystemExit(f"{kind} run: the seedbox does not see the jail on h5:\n{seen.stderr}")
        return took

    safe, unsafe = [], []
    try:
        for n in range(RUNS):  # alternating, so a change in the machine's load hits both alike
            unsafe.append(timed("plain", n))
            safe.append(timed("safe", n))
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the fleets are stopped: their namespaces are gone
    s, p = statistics.median(safe), statistics.median(unsafe)
    print(f"plain play (file, ansible.posix.mount, blockinfile + sshd -t): {p:6.1f} s median of {RUNS}")
    print(f"safe rollout (apply, reset_connection, confirm, verify):      {s:6.1f} s median of {RUNS}")
    print(f"ratio safe/plain: {s / p:.2f} (goal <= {GOAL:g}), 5 hosts, serial {SERIAL}")
    return 0 if s / p <= GOAL else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        raise SystemExit("bench/fleet.py needs root (it starts sshd servers in private mount namespaces)")
    if os.environ.get("TUI_JAIL_BENCH_NS") != "1":
        env = {**os.environ, "TUI_JAIL_BENCH_NS": "1"}
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, __file__], env)
    sys.exit(main())
