"""Messages the wizard's workers post back to the UI thread (plan, transaction, verification)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from tui_jail.core.checks import CheckResult
    from tui_jail.core.plan import Plan


class PlanReady(Message):
    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan


class WorkFailed(Message):
    """Any worker's expected failure, as the one line the user reads (never a traceback); `field` is
    the spec's top-level field that would fix it, when the failure names one."""

    def __init__(self, what: str, reason: str, field: str | None = None) -> None:
        super().__init__()
        self.what = what
        self.reason = reason
        self.field = field


class CheckDone(Message):
    """One preflight or verification check has finished."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__()
        self.result = result


class ChecksFinished(Message):
    """Every check has a result: `what` ran them (preflight, or the live checks of verify)."""

    def __init__(self, results: list[CheckResult], what: str = "verify") -> None:
        super().__init__()
        self.results = results
        self.what = what


class TransactionChanged(Message):
    """The transaction moved on: applied (pending confirmation), confirmed, rolled back, extended."""

    def __init__(self, event: str, transaction: Any) -> None:
        super().__init__()
        self.event = event
        self.transaction = transaction


class DriftFound(Message):
    """A quick verify of one applied jail (home screen): "in sync", "drifted: …" or "unknown: …"."""

    def __init__(self, jail: str, drift: str) -> None:
        super().__init__()
        self.jail = jail
        self.drift = drift
