"""The sandbox's global seed and clock, shared by every API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class World:
    seed: int = 0
    frozen: datetime | None = None  # None: the sandbox follows the wall clock

    def now(self) -> datetime:
        return self.frozen or datetime.now(UTC)
