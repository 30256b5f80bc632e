"""Optimistic read-modify-write of one state record, retried on conflict a bounded number of times."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from core.errors import StateConflictError
from core.state.base import Item, Store, get_one

T = TypeVar("T")
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What applying a batch's events to one record produced."""

    value: Mapping[str, Any] | None  # the new record, or None when nothing needs writing
    expires_at: datetime | None
    result: T


Apply = Callable[[Mapping[str, Any] | None], Outcome[T]]


def commit(store: Store, key: str, current: Item | None, apply: Apply[T]) -> tuple[T, Item | None]:
    """Apply, write if needed, and on a lost race re-read and apply again. Returns the result and the stored item."""
    for _ in range(MAX_ATTEMPTS):
        outcome = apply(current.value if current else None)
        if outcome.value is None or outcome.expires_at is None:
            return outcome.result, current
        version = current.version if current else None
        if store.put(key, outcome.value, expires_at=outcome.expires_at, version=version):
            return outcome.result, Item(outcome.value, (version or 0) + 1, outcome.expires_at)
        current = get_one(store, key)
    raise StateConflictError(
        f"state key {key!r} kept changing under concurrent writers ({MAX_ATTEMPTS} attempts); "
        "the batch will be retried by the platform"
    )
