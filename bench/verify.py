"""Benchmark: `tui-jail verify --json` for the seedbox jail against its floor, whole processes.

The seedbox preset (user media, a /24 of seedbox addresses, so both ends of the range are probed) laid
out on a sample root: the plan's files written, its tree made and its binds mounted, in a private mount
namespace of this bench's own (it re-executes itself under unshare). There /run is a fresh tmpfs holding
/run/sshd, as on a host whose sshd runs (without it sshd refuses even -T).

- A: the real console script, `.venv/bin/tui-jail verify --json --spec FILE --root DIR`.
- B, the floor (the baseline): what verify cannot avoid, as one shell script runs it: `sshd -T -C` for
  each connection verify asks about (the ends of the jailed range, an address outside it, the admin's
  own when there is one), one after another, on the same candidate config, then `findmnt` (the live
  mount table).

A and B alternate; the figure is the median of the per-round ratios A/B. Goal (issue 15): ≤ 3x.
Exit 1 only when the goal is missed.

Then where verify's CPU goes, each part a whole process of its own, in turns, medians: the floor (the
same sshd runs, which verify makes too, beside its own work), the interpreter's start (`-c pass`, the
same interpreter), spec loading (`load_spec_file` of the same file, less that start) and the rest
(the CLI's, the plan's and the checks' imports and work): what stands between the figure and the goal.

Run as root: `.venv/bin/python bench/verify.py [ROUNDS]`
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import TUI_JAIL, alternate, in_private_namespace, timed

GOAL = 3.0
ROUNDS = 15
SPEC_LOADING = (
    "import sys; from pathlib import Path; from tui_jail.core.spec import load_spec_file as f; f(Path(sys.argv[1]))"
)


def main(rounds: int) -> int:
    from tui_jail.backends import sshd
    from tui_jail.backends.sshd import Connection
    from tui_jail.core.plan import make_plan
    from tui_jail.core.spec import parse_spec, spec_data
    from tui_jail.core.yamlio import dump_yaml
    from tui_jail.paths.system import SystemRoot
    from tui_jail.presets import preset_document
    from tui_jail.sandbox import make_sandbox_root
    from tui_jail.txn.admin import admin_connection
    from tui_jail.txn.session import adopt_login
    from tui_jail.verify.sshd_answers import outside_address, probe_addresses

    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", "/run"], check=True)
    os.mkdir("/run/sshd", 0o755)
    base = Path(tempfile.mkdtemp(prefix="tui-jail-bench-verify-"))
    try:
        document = preset_document("seedbox-sftp")
        document["sftp"]["users"] = ["media"]
        document["sftp"]["addresses"] = ["203.0.113.0/24"]
        spec = parse_spec(document)
        system = SystemRoot(make_sandbox_root(base / "root"))
        plan = make_plan(spec, system)
        for change in plan.files:
            host = system.host(change.path)
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_text(change.after or "")
        for step in plan.paths:
            host = system.host(step.path)
            if step.kind == "dir":
                host.mkdir(exist_ok=True)
            elif step.device is not None:
                os.mknod(host, stat.S_IFCHR | step.mode, os.makedev(*step.device))
            else:
                host.touch()
        for mount in plan.mounts:
            target = str(system.host(mount.target))
            subprocess.run(["mount", "--bind", str(system.host(mount.source)), target], check=True)
            if mount.readonly:
                subprocess.run(["mount", "-o", "remount,bind,ro", target], check=True)
        spec_file = base / "seedbox.yaml"
        spec_file.write_text(dump_yaml(spec_data(spec)))
        verify = [TUI_JAIL, "verify", "--json", "--spec", str(spec_file), "--root", str(system.root)]

        adopt_login()  # as tui-jail does: the admin's connection is the SSH login this runs under, if any
        assert spec.sftp is not None
        connections = [
            Connection(user, addr, host=addr)
            for user in spec.sftp.users
            for addr in [a for net in spec.sftp.addresses for a in probe_addresses(net)]
            + [a for a in [outside_address(spec.sftp.addresses)] if a]
        ]
        if (admin := admin_connection(os.environ)) is not None:
            connections.append(admin)

        with sshd.candidate_config(system) as config:
            runs = [[sshd.SSHD, "-T", "-f", str(config), "-C", c.spec()] for c in connections] + [["findmnt"]]
            floor = ["sh", "-c", "; ".join(shlex.join(argv) + " >/dev/null" for argv in runs)]
            report = json.loads(subprocess.run(verify, capture_output=True, text=True).stdout)
            statuses = [r["status"] for r in report["results"]]
            pairs = alternate(verify, floor, rounds)
            parts = {
                "verify": verify,
                "floor": floor,
                "start": [sys.executable, "-c", "pass"],
                "spec": [sys.executable, "-c", SPEC_LOADING, str(spec_file)],
            }
            cpu = {name: statistics.median(used for _, used in runs) * 1000 for name, runs in in_turns(parts, rounds)}
    finally:
        subprocess.run(["umount", "-R", str(base / "root/chroot")], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

    print(
        f"seedbox verify: {len(statuses)} checks "
        + ", ".join(f"{statuses.count(s)} {s}" for s in ("pass", "warn", "fail", "skip") if s in statuses)
    )
    print(f"floor: {len(connections)} x sshd -T -C, one after another, then findmnt")
    print(pairs.line("tui-jail verify --json", "floor", GOAL))
    spec_loading = cpu["spec"] - cpu["start"]
    rest = cpu["verify"] - cpu["floor"] - cpu["start"] - spec_loading
    print(
        f"verify's CPU, medians of {rounds} in turns: {cpu['verify']:.0f} ms = floor {cpu['floor']:.0f} + interpreter "
        f"start {cpu['start']:.0f} + spec loading {spec_loading:.0f} (the YAML reader and validation; pydantic only "
        f"for a spec to coerce or refuse) + the rest {rest:.0f} (the CLI, the plan, the checks)"
    )
    return 0 if pairs.ratio <= GOAL else 1


def in_turns(commands: dict[str, list[str]], rounds: int) -> list[tuple[str, list[tuple[float, float]]]]:
    """Each command's (wall, CPU) seconds over `rounds`, the commands run in turns within each round."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            runs[name].append(timed(argv, check=True))
    return list(runs.items())


if __name__ == "__main__":
    in_private_namespace()
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS))
