"""The sandbox's global seed and clock, shared by every API, and what is derived from them: the
market's prices, and the caches (`caches.py`) every derived value is kept in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .caches import Caches
from .market import Market


@dataclass(frozen=True)
class World:
    seed: int = 0
    frozen: datetime | None = None  # None: the sandbox follows the wall clock
    caches: Caches = field(default_factory=Caches, compare=False, repr=False)
    market: Market = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "market", Market(self.seed, self.caches))  # a frozen dataclass sets its derived fields so

    def now(self) -> datetime:
        return self.frozen or datetime.now(UTC)
