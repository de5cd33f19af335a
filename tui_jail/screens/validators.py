"""Textual validators that ask the spec's own types, so a field says what the model would say, as typed."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from textual.validation import ValidationResult, Validator

from tui_jail.screens.wizard_state import split_list

Extra = Callable[[str], str | None]


@cache
def _adapter(kind: str) -> Any:
    from pydantic import TypeAdapter

    from tui_jail.core import spec_model as spec

    return TypeAdapter({"abs": spec.AbsPath, "rel": spec.RelPath, "address": spec.Address, "user": spec.UserName}[kind])


def _problem(kind: str, value: str) -> str | None:
    from pydantic import ValidationError

    try:
        _adapter(kind).validate_python(value)
    except ValidationError as exc:
        return "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
    return None


class SpecValue(Validator):
    """One value of a spec type (`abs`, `rel`, `address`, `user`), then an optional extra check."""

    def __init__(self, kind: str, extra: Extra | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.extra = extra

    def validate(self, value: str) -> ValidationResult:
        problem = _problem(self.kind, value) if value else "required"
        if problem is None and self.extra is not None:
            problem = self.extra(value)
        return self.failure(problem) if problem else self.success()


class SpecList(Validator):
    """A comma- or space-separated list of spec values: at least one, none twice."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def validate(self, value: str) -> ValidationResult:
        items = split_list(value)
        if not items:
            return self.failure("at least one is required")
        for item in items:
            problem = _problem(self.kind, item)
            if problem:
                return self.failure(problem)
        if len(set(items)) != len(items):
            return self.failure("a value is listed twice")
        return self.success()
