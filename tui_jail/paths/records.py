"""`record`: a frozen value class made from its annotated fields, as `@dataclass(frozen=True)` makes
one (positional or keyword construction with defaults, equality and hash by the fields, a repr,
no assignment after; `vars()` of one is its fields, in order), without importing `dataclasses`,
which brings `inspect` and compiles each class's methods at import. The small values a rollback
goes through — a mount, a bind's identity, an fstab line, an account — are records: `tui-jail
rollback` is typed with a rollback's clock running (issue 15; tests/test_cli_imports.py). Here,
below the core, because both the path layer and the core (which builds on it) use it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from typing_extensions import dataclass_transform

    T = TypeVar("T")

    @dataclass_transform(frozen_default=True)
    def record(cls: type[T]) -> type[T]: ...

    @dataclass_transform(frozen_default=True, kw_only_default=True)
    def keyword_record(cls: type[T]) -> type[T]: ...

else:

    def record(cls):
        """Give `cls` (annotated fields, defaults as class attributes) a dataclass's methods."""
        return _made(cls)

    def keyword_record(cls):
        """A record made by name only (`@dataclass(frozen=True, kw_only=True)`): its fields keep the
        order they are written in, defaults or not."""
        return _made(cls, keyword_only=True)


def replace(value: T, **changes: Any) -> T:
    """A copy of the record `value` with `changes` to its fields (`dataclasses.replace`)."""
    return type(value)(**{**vars(value), **changes})


class FrozenRecord(AttributeError):
    """An assignment to a record's field (dataclasses' FrozenInstanceError is an AttributeError too)."""


def _constructor(qualname: str, names: tuple[str, ...], defaults: dict[str, Any], keyword_only: bool) -> Any:
    """An __init__ taking exactly the fields (positional or by name, defaults last), compiled from its
    source as dataclasses compile theirs: built by a generic loop, each record cost twice as much to
    make (mountinfo makes one a line). The names are the class's own annotations: identifiers."""
    parameters = ", ".join(f"{name}=_defaults[{name!r}]" if name in defaults else name for name in names)
    if keyword_only and names:
        parameters = f"*, {parameters}"
    body = "".join(f"\n    _set(self, {name!r}, {name})" for name in names) or "\n    pass"
    namespace: dict[str, Any] = {"_defaults": defaults, "_set": object.__setattr__}
    exec(f"def __init__(self, {parameters}):{body}", namespace)  # our own field names only
    namespace["__init__"].__qualname__ = f"{qualname}.__init__"
    return namespace["__init__"]


def _made(cls: type, keyword_only: bool = False) -> type:
    names = tuple(vars(cls).get("__annotations__", {}))
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    title = cls.__name__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        """Compiles the record's own __init__ at its first construction, and hands over to it: a
        compile is 70-130 us, and of the eight records a rollback's modules define it builds one or
        two (a mount's statx, an fstab line); the rest are the planner's and the checks'."""
        compiled = _constructor(cls.__qualname__, names, defaults, keyword_only)
        cls.__init__ = compiled  # type: ignore[misc]
        compiled(self, *args, **kwargs)

    def fields(self: Any) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in names)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(fields(self) == fields(other))

    def __hash__(self: Any) -> int:
        return hash(fields(self))

    def __repr__(self: Any) -> str:
        return f"{title}({', '.join(f'{name}={value!r}' for name, value in zip(names, fields(self), strict=True))})"

    def __setattr__(self: Any, name: str, value: Any) -> None:
        raise FrozenRecord(f"cannot assign to field {name!r} of {title}")

    def __delattr__(self: Any, name: str) -> None:
        raise FrozenRecord(f"cannot delete field {name!r} of {title}")

    methods = {
        "__init__": __init__,
        "__eq__": __eq__,
        "__hash__": __hash__,
        "__repr__": __repr__,
        "__setattr__": __setattr__,
        "__delattr__": __delattr__,
    }
    for name, method in methods.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    return cls
