"""A test-only switch that kills (or stops) the process at a numbered step boundary.

`TUI_JAIL_FAULT=apply@K` sends SIGKILL to this process at the K-th boundary of an apply (counted
from 0); `rollback@K` does the same in a rollback; `path@K` at the K-th point where the path layer
has resolved a path and is about to act on it (the race harness swaps components there); a `:stop`
suffix sends SIGSTOP instead (to hold the lock while a test looks, or a user races it). The fault
tests walk K upwards until a run completes untouched.
"""

from __future__ import annotations

import os

ENV = "TUI_JAIL_FAULT"
_counters: dict[str, int] = {}


def point(phase: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    count = _counters.get(phase, 0)
    _counters[phase] = count + 1
    target, _, mode = wanted.partition(":")
    if target == f"{phase}@{count}":
        import signal  # only when a test asked: its enums cost every short command's start-up otherwise

        os.kill(os.getpid(), signal.SIGSTOP if mode == "stop" else signal.SIGKILL)
