"""The check API of verification: each backend contributes checks; each yields one result.

A `Check` is a name and a function; running it gives a `CheckResult` (pass/fail/warn/skip, a
one-line detail and, on failure, the fix in one sentence). `run_checks` runs independent checks
concurrently and hands each result to its consumer (CLI or wizard) as soon as it is ready.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable

from tui_jail.paths.records import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from typing import Any, Literal

    Status = Literal["pass", "fail", "warn", "skip"]


# records, not dataclasses: `tui-jail verify` imports these before it starts sshd's runs, and
# dataclasses (with the inspect it brings) cost more than starting them
@record
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@record
class Check:
    name: str
    run: Callable[[], CheckResult]


def run_check(check: Check) -> CheckResult:
    """A check that raises is a failed check, never a crash of the whole verification."""
    try:
        return check.run()
    except Exception as exc:  # noqa: BLE001 — report, don't crash
        return CheckResult(
            check.name,
            "fail",
            f"the check itself failed: {type(exc).__name__}: {exc}",
            "look at the detail; this is a bug if it persists",
        )


def run_checks(
    checks: Iterable[Check],
    on_result: Callable[[CheckResult], None] | None = None,
    *,
    concurrent: bool = True,
    max_workers: int = 8,
) -> list[CheckResult]:
    """Run every check; results come back in the checks' order, `on_result` sees them as they finish.
    Concurrently on plain threads: concurrent.futures would bring logging along, a tenth of a verify."""
    checks = list(checks)
    results: dict[int, CheckResult] = {}
    if not concurrent:
        for index, check in enumerate(checks):
            results[index] = run_check(check)
            if on_result:
                on_result(results[index])
        return [results[i] for i in range(len(checks))]
    todo = iter(enumerate(checks))
    take = threading.Lock()
    finished: queue.SimpleQueue[int] = queue.SimpleQueue()

    def work() -> None:
        while True:
            with take:
                item = next(todo, None)
            if item is None:
                return
            index, check = item
            results[index] = run_check(check)
            finished.put(index)

    workers = [threading.Thread(target=work, name=f"check-{n}") for n in range(min(max_workers, len(checks)))]
    for worker in workers:
        worker.start()
    for _ in checks:
        index = finished.get()
        if on_result:
            on_result(results[index])
    for worker in workers:
        worker.join()
    return [results[i] for i in range(len(checks))]
