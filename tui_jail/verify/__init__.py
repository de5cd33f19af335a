"""Verification, the last step of the flow (spec → plan → transaction → verify): every backend's checks.

`checks_for(spec, system, admin=...)` gathers the checks that prove an applied jail works: the tree and
the mounts for every jail, then the kind's own — sshd's view and the account for an sftp jail, probes
from inside for an exec jail (`tui_jail.verify.exec`, imported only when needed). The expected state is
the plan of the same spec: on an applied system it has no changes, and what it describes is what must
be live. Run the list with `tui_jail.core.checks.run_checks`, which streams each result as it is ready.

This package imports nothing at the top: `tui-jail verify` imports `tui_jail.verify.sshd_answers` to
start sshd's runs before pydantic and the plan are imported, and those imports run beside sshd.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from tui_jail.backends.sshd import Connection
    from tui_jail.core.checks import Check
    from tui_jail.core.spec import Spec
    from tui_jail.paths.system import SystemRoot
    from tui_jail.verify.sshd_answers import SshdAnswers


def checks_for(
    spec: Spec, system: SystemRoot, *, admin: Connection | None, answers: SshdAnswers | None = None
) -> list[Check]:
    """Every check for `spec` on `system`. `admin` is the admin's own connection (see tui_jail.txn.admin);
    `answers`, sshd's answers for an sftp jail when the caller started asking already."""
    from tui_jail.core.checks import Check, CheckResult
    from tui_jail.core.plan import PlanError, make_plan
    from tui_jail.verify.mounts import mount_checks
    from tui_jail.verify.tree import chain_result, tree_checks

    try:
        plan = make_plan(spec, system)
    except PlanError as exc:
        # the planner refuses a root chain it may not change; the chain check names that cause itself
        chain = chain_result(spec.root, system, spec.kind)
        if chain.status == "fail":
            return [Check(chain.name, lambda: chain)]
        failure = CheckResult("plan", "fail", str(exc), "fix what the plan names, then apply the jail")
        return [Check("plan", lambda: failure)]
    checks = tree_checks(spec, system, plan) + mount_checks(spec, system, plan)
    if spec.kind == "sftp":
        from tui_jail.verify.sftp import sftp_checks

        checks += sftp_checks(spec, system, plan, admin, answers)
    else:
        from tui_jail.verify.exec import exec_checks

        checks += exec_checks(spec, system)
    return checks
