"""fast_init keeps a frozen slots dataclass's constructor contract: signature, defaults, errors, immutability."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from core.frozen import fast_init


@dataclasses.dataclass(frozen=True, slots=True)
class Plain:
    name: str
    count: int = 0
    tags: frozenset[str] = dataclasses.field(default_factory=frozenset)


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class Fast:
    name: str
    count: int = 0
    tags: frozenset[str] = dataclasses.field(default_factory=frozenset)


def test_the_signature_and_the_values_are_those_of_the_generated_init() -> None:
    assert str(inspect.signature(Fast)) == str(inspect.signature(Plain)).replace("<factory>", "frozenset()")
    assert dataclasses.astuple(Fast("a")) == dataclasses.astuple(Plain("a")) == ("a", 0, frozenset())
    assert dataclasses.astuple(Fast("a", 2, frozenset({"x"}))) == ("a", 2, frozenset({"x"}))
    assert Fast(count=3, name="b") == Fast("b", 3)


def test_missing_and_unknown_arguments_raise_as_before() -> None:
    with pytest.raises(TypeError, match="name"):
        Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        Fast("a", colour="red")  # type: ignore[call-arg]
