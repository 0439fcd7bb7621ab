"""Injected faults: latency, an error status in the API's own envelope, or a dropped connection.

A fault is scoped to one API (and optionally one operation) and applies to the next
`count` matching requests or to a `rate` share of them. Its random choices (which
requests, how much latency within a range) come from its own seeded generator, so a
test that injects the same fault and sends the same requests sees the same outcome.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

MAX_FAULTS = 100
MAX_LATENCY_MS = 60_000
KINDS = ("latency", "status", "drop")


class FaultError(ValueError):
    """A fault description that cannot be used (the control API answers 400)."""


@dataclass
class Fault:
    id: int
    api: str
    operation: str | None
    latency_ms: tuple[int, int] | None  # fixed when both ends are equal
    status: int | None
    drop: bool
    count: int | None  # None: no limit
    rate: float  # share of matching requests affected
    seed: int
    applied: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.applied >= self.count

    def as_dict(self) -> dict[str, Any]:
        latency: Any = None
        if self.latency_ms is not None:
            low, high = self.latency_ms
            latency = low if low == high else [low, high]
        return {
            "id": self.id,
            "api": self.api,
            "operation": self.operation,
            "latencyMs": latency,
            "status": self.status,
            "drop": self.drop,
            "count": self.count,
            "rate": self.rate,
            "seed": self.seed,
            "applied": self.applied,
            "remaining": None if self.count is None else max(self.count - self.applied, 0),
        }


@dataclass(frozen=True, slots=True)
class Effect:
    """What happens to one request."""

    delay_s: float
    status: int | None
    drop: bool


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def __bool__(self) -> bool:
        return bool(self._faults)

    def add(self, spec: Any, known: dict[str, set[str]]) -> Fault:
        """`spec` is the control API's JSON; `known` maps API names to their operations."""
        fault = parse_fault(spec, next(self._ids), known)
        if len(self._faults) >= MAX_FAULTS:
            raise FaultError(f"at most {MAX_FAULTS} faults at once; DELETE /__mock/faults first")
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def listing(self) -> list[dict[str, Any]]:
        return [fault.as_dict() for fault in self._faults]

    def effect_for(self, api: str, operation: str | None) -> Effect | None:
        """The first matching fault that fires for this request, counted; exhausted faults are removed."""
        for fault in self._faults:
            if fault.api != api or (fault.operation is not None and fault.operation != operation):
                continue
            if fault.rate < 1 and fault._random.random() >= fault.rate:
                continue
            fault.applied += 1
            if fault.exhausted:
                self._faults.remove(fault)
            delay = 0.0
            if fault.latency_ms is not None:
                low, high = fault.latency_ms
                delay = (low if low == high else fault._random.randint(low, high)) / 1000
            return Effect(delay, fault.status, fault.drop)
        return None


def parse_fault(spec: Any, fault_id: int, known: dict[str, set[str]]) -> Fault:
    if not isinstance(spec, dict):
        raise FaultError("a fault is a JSON object")
    unknown = set(spec) - {"api", "operation", "latencyMs", "status", "drop", "count", "rate", "seed"}
    if unknown:
        raise FaultError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    api = spec.get("api")
    if api not in known:
        raise FaultError(f"api must be one of: {', '.join(sorted(known))}")
    operation = spec.get("operation")
    if operation is not None and operation not in known[api]:
        raise FaultError(f"operation {operation!r} is not an operation of {api}")
    latency = _latency(spec.get("latencyMs"))
    status = spec.get("status")
    if status is not None and (not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599):
        raise FaultError("status must be an integer from 400 to 599")
    drop = spec.get("drop", False)
    if not isinstance(drop, bool):
        raise FaultError("drop must be true or false")
    if drop and status is not None:
        raise FaultError("a fault either drops the connection or answers with a status, not both")
    if latency is None and status is None and not drop:
        raise FaultError("give at least one of latencyMs, status or drop")
    count = spec.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise FaultError("count must be a positive integer")
    rate = spec.get("rate", 1.0)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 < rate <= 1:
        raise FaultError("rate must be a number in (0, 1]")
    seed = spec.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise FaultError("seed must be an integer")
    return Fault(fault_id, api, operation, latency, status, drop, count, float(rate), seed)


def _latency(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        low = high = value
    elif isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        low, high = value
    else:
        raise FaultError("latencyMs is a number of milliseconds or a [min, max] range")
    if not 0 <= low <= high <= MAX_LATENCY_MS:
        raise FaultError(f"latencyMs must be within 0..{MAX_LATENCY_MS} with min <= max")
    return low, high
