"""The sandbox's clock: every "now" of a sandbox (the default one, or a session's) reads it.

It is frozen at an instant, or it runs at real speed from an instant (an offset from the wall
clock; no offset: real time). `/__mock/clock` sets, advances, freezes it or makes it follow real
time again. A clock is plain data (`as_state`/`from_state`), so a session's clock can live in the
shared store and every worker reads the same time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any


class Clock:
    __slots__ = ("_frozen", "_frozen_minute", "_offset")

    def __init__(self, frozen: datetime | None = None, offset: timedelta = timedelta(0)) -> None:
        self._frozen = frozen
        self._offset = offset
        self._frozen_minute: tuple[datetime | None, int] = (None, 0)

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC) + self._offset

    def minute(self) -> int:
        """The clock's minute since the epoch: a cheap key for what changes once a minute (no datetime
        is made while the clock stays frozen at the same instant)."""
        frozen = self._frozen
        if frozen is None:
            return int(time.time() + self._offset.total_seconds()) // 60
        if self._frozen_minute[0] is not frozen:
            self._frozen_minute = (frozen, int(frozen.timestamp()) // 60)
        return self._frozen_minute[1]

    @property
    def frozen(self) -> datetime | None:
        """The instant it is frozen at; None while it runs."""
        return self._frozen

    def set(self, instant: datetime, running: bool = False) -> None:
        """Frozen at `instant`, or running from it at real speed."""
        if running:
            self._frozen, self._offset = None, instant - datetime.now(UTC)
        else:
            self._frozen, self._offset = instant, timedelta(0)

    def advance(self, delta: timedelta) -> None:
        """Moved by `delta` (backwards when negative), frozen or running as it was."""
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def freeze(self) -> None:
        self._frozen = self.now()

    def run(self) -> None:
        """Running again from where it stands."""
        if self._frozen is not None:
            self.set(self._frozen, running=True)

    def follow_real_time(self) -> None:
        self._frozen, self._offset = None, timedelta(0)

    def copy_from(self, other: Clock) -> None:
        self._frozen, self._offset = other._frozen, other._offset

    def as_state(self) -> dict[str, Any]:
        """What the store keeps of it."""
        return {"frozen": self._frozen.isoformat() if self._frozen else None, "offset_s": self._offset.total_seconds()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Clock:
        frozen = state.get("frozen")
        return cls(datetime.fromisoformat(frozen) if frozen else None, timedelta(seconds=float(state.get("offset_s", 0))))

    def describe(self) -> dict[str, Any]:
        """What /__mock/clock shows."""
        now = self.now()
        return {
            "now": now.isoformat().replace("+00:00", "Z"),
            "frozen": self._frozen is not None,
            "offsetSeconds": round((now - datetime.now(UTC)).total_seconds(), 3) if self._frozen is None else None,
            "realTime": self._frozen is None and not self._offset,
        }
