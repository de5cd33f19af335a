"""The errors a command turns into a one-line refusal (exit 1), never a traceback."""

from __future__ import annotations


class Refused(Exception):
    """An action refused for a reason the user can act on (failed preflight, pending transaction…)."""
