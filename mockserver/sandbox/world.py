"""The sandbox's global seed and clock, shared by every API, and what is derived from them: the
market's prices, and the caches (`caches.py`) every derived value is kept in. A session's world
(`with_clock`) shares the seed, the market and the caches, and reads its own clock."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from .caches import Caches
from .clock import Clock
from .market import Market


@dataclass(frozen=True)
class World:
    seed: int = 0
    frozen: datetime | None = None  # where the clock starts: frozen there; None: it follows the wall clock
    caches: Caches = field(default_factory=Caches, compare=False, repr=False)
    market: Market = field(init=False, compare=False, repr=False)
    clock: Clock = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # a frozen dataclass sets its derived fields so
        object.__setattr__(self, "market", Market(self.seed, self.caches))
        object.__setattr__(self, "clock", Clock(self.frozen))

    def now(self) -> datetime:
        return self.clock.now()

    def with_clock(self, clock: Clock) -> World:
        """This world (seed, market, caches) as `clock` tells its time."""
        view = copy.copy(self)
        object.__setattr__(view, "clock", clock)
        return view
