"""Exec pieces that need no namespace: capability parsing, the kernel-bits guard, prepare's refusals,
the CLI's refusals and argument order, and which paths the builder's exclusions must hide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tui_jail.backends import caps
from tui_jail.errors import Refused
from tui_jail.launcher import prepare
from tui_jail.presets import preset_text
from tui_jail.spec import Spec, parse_spec
from tui_jail.system import SystemRoot
from tui_jail.verify.exec import _hidden_paths
from tui_jail.yamlio import load_yaml_text

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
    with pytest.raises(caps.CapabilityError, match="does not know CAP_PERFMON, CAP_BPF"):
        caps.bits_of(frozenset({"CAP_SYS_ADMIN", "CAP_PERFMON", "CAP_BPF"}), top=37)
    assert caps.bits_of(frozenset({"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}), top=40) == [12, 21]


def test_prepare_refuses_a_jail_whose_mounts_are_not_live(sample_root: Path) -> None:
    with pytest.raises(Refused, match="is not mounted read-only from /bin: apply the jail first"):
        prepare(preset("joblet-production"), SystemRoot(sample_root), ["true"])


def test_prepare_refuses_a_missing_user(sample_root: Path) -> None:
    with pytest.raises(Refused, match="no user 'ghost'"):
        prepare(preset("joblet-production"), SystemRoot(sample_root), ["true"], user="ghost")


def test_builder_exclusions_hide_every_joblet_entry_but_the_runtimes_it_mounts(sample_root: Path) -> None:
    mounted = {"/opt/joblet/runtimes", "/opt/hostedtoolcache", "/usr"}
    assert _hidden_paths(preset("joblet-builder"), SystemRoot(sample_root), mounted) == [
        "/opt/joblet/config",
        "/opt/joblet/jobs",
    ]


@pytest.mark.parametrize("order", ["options-after-jail", "options-before-jail"])
def test_exec_of_an_unapplied_jail_is_refused_in_one_line(sample_root: Path, order: str) -> None:
    options = ["--root", str(sample_root)]
    args = (
        ["exec", "joblet-production", *options]
        if order == "options-after-jail"
        else ["exec", *options, "joblet-production"]
    )
    marker = sample_root / "ran"
    done = subprocess.run(
        [sys.executable, "-m", "tui_jail", *args, "--", "touch", str(marker)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert f"no applied jail named 'joblet-production' ({sample_root}/var/lib/tui-jail" in done.stderr
    assert not marker.exists()


def test_exec_without_a_command_is_refused() -> None:
    done = subprocess.run([sys.executable, "-m", "tui_jail", "exec", "x", "--"], capture_output=True, text=True)
    assert done.returncode == 1 and "no command given" in done.stderr
