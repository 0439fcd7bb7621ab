"""The sandbox's global seed and clock, shared by every API, and the caches of what they derive from it."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..lru import SizedLru


class Caches:
    """The traffic-fed caches of one loaded sandbox, each bounded by the bytes it holds.

    They hang on the World that `load` builds, so they die with it: a reload (or a test's
    app) starts with empty ones and nothing of an earlier version stays reachable."""

    def __init__(self) -> None:
        self._lrus: dict[str, SizedLru[Any, Any]] = {}

    def lru(self, name: str, entries: int, size: int, size_of: Callable[[Any, Any], int]) -> SizedLru[Any, Any]:
        """The cache called `name`, made with these bounds on first use."""
        found = self._lrus.get(name)
        if found is None:
            found = self._lrus[name] = SizedLru(entries, size, size_of)
        return found

    def __iter__(self) -> Any:
        return iter(self._lrus.items())


@dataclass(frozen=True)
class World:
    seed: int = 0
    frozen: datetime | None = None  # None: the sandbox follows the wall clock
    caches: Caches = field(default_factory=Caches, compare=False, repr=False)

    def now(self) -> datetime:
        return self.frozen or datetime.now(UTC)


def weigh_key_and_body(key: tuple[Hashable, ...], body: bytes) -> int:
    """The bytes a cached serialized answer holds: its body, its key's text parts, and a fixed
    overhead per entry (the key tuple, the dict slot, the bytes object's header)."""
    return len(body) + sum(len(part) for part in key if isinstance(part, str | bytes)) + 200
