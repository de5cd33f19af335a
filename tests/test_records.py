"""paths.records.record gives the rollback's small values what @dataclass(frozen=True) gave them,
without dataclasses: the same construction, equality, hash, repr and refusal to change, checked
side by side with a frozen dataclass of the same fields."""

from __future__ import annotations

import dataclasses

import pytest

from tui_jail.paths.records import record


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
