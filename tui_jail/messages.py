"""Messages the wizard's workers post back to the UI thread (plan, transaction, verification)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from tui_jail.checks import CheckResult
    from tui_jail.plan import Plan


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
    def __init__(self, results: list[CheckResult]) -> None:
        super().__init__()
        self.results = results


class TransactionChanged(Message):
    """The transaction moved on: applied (pending confirmation), confirmed, rolled back, extended."""

    def __init__(self, event: str, transaction: Any) -> None:
        super().__init__()
        self.event = event
        self.transaction = transaction
