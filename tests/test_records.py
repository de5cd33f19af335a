"""paths.records.record gives the rollback's small values what @dataclass(frozen=True) gave them,
without dataclasses: the same construction, equality, hash, repr and refusal to change, checked
side by side with a frozen dataclass of the same fields."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from tui_jail.paths.records import keyword_record, record, replace


@record
class Mount:
    target: str
    source: str | None = None
    readonly: bool = False


@dataclasses.dataclass(frozen=True)
class Reference:
    target: str
    source: str | None = None
    readonly: bool = False


CALLS = [(("/t",), {}), (("/t", "/s"), {}), (("/t",), {"readonly": True}), ((), {"target": "/t", "source": "/s"})]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_a_record_is_built_compared_and_shown_as_a_dataclass(args: tuple[str, ...], kwargs: dict[str, object]) -> None:
    mine, theirs = Mount(*args, **kwargs), Reference(*args, **kwargs)  # type: ignore[arg-type]
    assert repr(mine).removeprefix("Mount") == repr(theirs).removeprefix("Reference")
    assert list(vars(mine).items()) == list(dataclasses.asdict(theirs).items())  # what AppliedMount.identity reads
    assert mine == Mount(*args, **kwargs) and hash(mine) == hash(Mount(*args, **kwargs))  # type: ignore[arg-type]
    assert mine != Mount("/other") and mine != theirs
    assert len({mine, Mount(*args, **kwargs)}) == 1  # type: ignore[arg-type]


def test_a_record_refuses_a_wrong_call_and_any_change() -> None:
    with pytest.raises(TypeError):
        Mount()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Mount("/t", target="/u")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Mount("/t", "/s", True, "extra")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Mount("/t", bogus=1)  # type: ignore[call-arg]
    mount = Mount("/t")
    with pytest.raises(AttributeError):
        mount.target = "/u"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del mount.target  # type: ignore[misc]
    assert mount.target == "/t"


FIRST_CONSTRUCTION = """
import sys
compiles = []
sys.addaudithook(lambda event, args: event == "compile" and compiles.append(args))
from tui_jail.paths.records import record
before = len(compiles)
@record
class Mount:
    target: str
    readonly: bool = False
defined = len(compiles)
Mount("/t")
Mount("/u", readonly=True)
print(defined - before, len(compiles) - defined, Mount("/v") == Mount(target="/v", readonly=False))
"""


def test_a_records_constructor_is_compiled_at_its_first_construction() -> None:
    """Defining a record compiles nothing (a rollback's modules define eight and build one or two: a
    compile is 70-130 us); its first construction compiles its __init__, once (the audit hook's
    `compile` event counts them)."""
    result = subprocess.run([sys.executable, "-c", FIRST_CONSTRUCTION], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["0", "1", "True"], result.stdout + result.stderr


@keyword_record
class Named:
    version: int = 1
    name: str  # no default after one with a default: made by name only, as kw_only dataclasses are
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class NamedReference:
    version: int = 1
    name: str
    tags: tuple[str, ...] = ()


def test_a_keyword_record_is_a_kw_only_dataclass_and_replace_is_dataclasses() -> None:
    mine, theirs = Named(name="a"), NamedReference(name="a")
    assert repr(mine).removeprefix("Named") == repr(theirs).removeprefix("NamedReference")
    assert list(vars(mine).items()) == list(dataclasses.asdict(theirs).items())  # the fields in written order
    with pytest.raises(TypeError):
        Named("a")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Named()  # type: ignore[call-arg]
    changed = replace(mine, tags=("x",))
    assert vars(changed) == dataclasses.asdict(dataclasses.replace(theirs, tags=("x",)))
    assert mine == Named(name="a") and changed != mine
    with pytest.raises(TypeError):
        replace(mine, bogus=1)
