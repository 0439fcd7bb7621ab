"""Managed treasury portfolios: one monthly return series per product, and each business's monthly history.

A product's return for a month is a pure function of (seed, product, month): a money
market rate moving over an eight-year cycle, plus the product's spread and seeded
noise, shared by every business. A business's portfolio opens on the 1st of a month
with an amount split by a target allocation; each month its products grow by their
returns, deposits and withdrawals come and go (seeded ones, or a scenario's: scenario.py),
and scheduled rebalances reset the split; a withdrawal takes at most what the portfolio
holds. Amounts are integer cents, so every figure adds up exactly, and the whole history
is computed from the opening month on: two ranges agree on the months they share.
Profiles and histories are kept in the world's caches, so they die with the world.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from dataclasses import dataclass
from datetime import date

from ...sandbox.accounts import identity_rng
from ...sandbox.caches import ENTRY_BYTES
from ...sandbox.shares import apportion
from ...sandbox.world import World
from ...seeding import stable_seed

PRODUCTS = ("managed_money_market", "managed_treasuries", "managed_income")
# (annual return over the money market rate, typical monthly deviation)
_PRODUCT_TERMS = {"managed_money_market": (0.0, 0.0001), "managed_treasuries": (0.003, 0.003), "managed_income": (0.015, 0.01)}
_RATE_MEAN, _RATE_SWING, _RATE_CYCLE_MONTHS = 0.025, 0.022, 96
_PPM = 1_000_000

Weights = tuple[int, ...]  # target percent per product, in PRODUCTS order

# target allocations a seeded business picks from
_TEMPLATES: tuple[Weights, ...] = ((100, 0, 0), (50, 50, 0), (40, 40, 20), (30, 50, 20), (20, 60, 20), (0, 70, 30), (60, 30, 10))
_FIRST_OPENING, _OPENING_MONTHS = date(2019, 1, 1), 78  # seeded businesses open between 2019-01 and 2025-06
_HORIZON_MONTHS = 1200  # seeded rebalances are scheduled this far ahead of the opening
_PROFILE_BOUNDS = (1024, 8 << 20)  # about 10 KB each, nearly all their scheduled allocations
_HISTORY_BOUNDS = (256, 4 << 20)
_ALLOCATION_BYTES = 100  # one scheduled (month, weights): its tuple and month (the weights are shared templates)
_SNAPSHOT_BYTES = 160  # one month's values: a tuple of three ints (tracemalloc: about 150)


def month_index(day: date) -> int:
    """Months since year 0: consecutive months have consecutive indexes."""
    return day.year * 12 + day.month - 1


def month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Profile:
    """What decides a business's history; with the seed, its whole history."""

    business_id: str
    portfolio_id: str
    opened: int  # month index of the first snapshot
    opening_cents: int
    allocations: tuple[tuple[int, Weights], ...]  # (month index, target weights), the first at `opened`
    flows: tuple[tuple[int, int], ...] | None = None  # (month index, cents) a scenario gives (None: seeded ones)


DOCUMENT_BUSINESS = "urn:uuid:9b397b0d-69bc-b09f-9d82-0e02637042fc"
UNFUNDED_BUSINESS = "urn:uuid:e7c0a1d2-0b5f-4c3e-8a9d-6f4b2e1c0d37"
# well-known businesses every client sees; None: a business without a portfolio
WELL_KNOWN: dict[str, Profile | None] = {
    # the reference's example: 100,000.00 split evenly on 2022-01-01, managed_income added at 45/45/10 on 2022-06-01
    DOCUMENT_BUSINESS: Profile(
        DOCUMENT_BUSINESS,
        "urn:uuid:portfolio-123",
        month_index(date(2022, 1, 1)),
        10_000_000,
        ((month_index(date(2022, 1, 1)), (50, 50, 0)), (month_index(date(2022, 6, 1)), (45, 45, 10))),
    ),
    UNFUNDED_BUSINESS: None,
}


def _unit(seed: int, *parts: object) -> float:
    """A stable number in [-1, 1)."""
    return stable_seed(seed, "treasury", *parts) / 2**63 - 1.0


def monthly_return_ppm(product: str, month: int, seed: int) -> int:
    """The product's return over one month, in parts per million (the same for every business)."""
    spread, deviation = _PRODUCT_TERMS[product]
    phase = _RATE_CYCLE_MONTHS * (_unit(seed, "rate-phase") + 1) / 2
    rate = max(0.0005, _RATE_MEAN + _RATE_SWING * math.sin(2 * math.pi * (month - phase) / _RATE_CYCLE_MONTHS))
    return round(((rate + spread) / 12 + deviation * _unit(seed, product, month)) * _PPM)


def business_profile(world: World, business_id: str) -> Profile | None:
    """The profile of a business id (lowercase): a well-known one, or one seeded from the id."""
    if business_id in WELL_KNOWN:
        return WELL_KNOWN[business_id]
    profiles = world.caches.lru("treasure.profiles", *_PROFILE_BOUNDS, _weigh_profile)
    profile = profiles.get(business_id)
    if profile is None:
        profile = _seeded_profile(business_id, world.seed)
        profiles.put(business_id, profile)
    return profile


def _seeded_profile(business_id: str, seed: int) -> Profile:
    rng = identity_rng(seed, "treasure", business_id)
    opened = month_index(_FIRST_OPENING) + rng.randrange(_OPENING_MONTHS)
    allocations = [(opened, rng.choice(_TEMPLATES))]
    while allocations[-1][0] < opened + _HORIZON_MONTHS:
        allocations.append((allocations[-1][0] + rng.randint(6, 18), rng.choice(_TEMPLATES)))
    return Profile(business_id, portfolio_id_of(seed, business_id), opened, rng.randrange(25, 5000) * 100_000, tuple(allocations))


def portfolio_id_of(seed: int, business_id: str) -> str:
    """The portfolio id of a business that is not given one: a UUID URN derived from the seed and the id."""
    digest = hashlib.blake2b(f"{seed}|treasure-portfolio|{business_id}".encode(), digest_size=16).digest()
    return uuid.UUID(bytes=digest, version=4).urn


def _weigh_profile(business_id: str, profile: Profile) -> int:
    return len(business_id) + _profile_bytes(profile) + ENTRY_BYTES


def _profile_bytes(profile: Profile) -> int:
    changes = len(profile.allocations) + len(profile.flows or ())
    return len(profile.business_id) + len(profile.portfolio_id) + _ALLOCATION_BYTES * changes


def _seeded_flow_cents(profile: Profile, seed: int, month: int, total: int) -> int:
    """A deposit (positive) or withdrawal (negative) at the start of `month`: about one month in four."""
    rng = random.Random(stable_seed(seed, "treasure-flow", profile.business_id, month))
    if rng.random() >= 0.25:
        return 0
    share = rng.uniform(0.01, 0.08)
    return round(total * share) if rng.random() < 0.7 else -round(total * share)


def _grown(cents: int, ppm: int) -> int:
    return (cents * (_PPM + ppm) + _PPM // 2) // _PPM


def _grown_values(seed: int, month: int, values: list[int]) -> list[int]:
    """The values at the start of `month + 1`, from those at the start of `month`, before any flow."""
    return [_grown(cents, monthly_return_ppm(product, month, seed)) for product, cents in zip(PRODUCTS, values, strict=True)]


def _with_flow(values: list[int], cents: int, weights: Weights) -> list[int]:
    """A deposit (positive) split by the target weights, or a withdrawal (negative) taken from what each
    product holds, so no product goes below zero (and no more than the whole portfolio)."""
    if cents > 0:
        return [held + part for held, part in zip(values, apportion(cents, weights), strict=True)]
    if cents < 0:
        return [held - part for held, part in zip(values, apportion(min(-cents, sum(values)), values), strict=True)]
    return values


def history(world: World, profile: Profile, last: int) -> tuple[tuple[int, ...], ...]:
    """Product values in cents (PRODUCTS order) on the 1st of every month from `profile.opened` to `last`."""
    histories = world.caches.lru("treasure.months", *_HISTORY_BOUNDS, _weigh_history)
    key = (profile, last)  # a business id has a generated profile and perhaps a scenario's
    found = histories.get(key)
    if found is None:
        found = _history(profile, world.seed, last)
        histories.put(key, found)
    return found


def _history(profile: Profile, seed: int, last: int) -> tuple[tuple[int, ...], ...]:
    targets = dict(profile.allocations)
    given = dict(profile.flows) if profile.flows is not None else None
    weights = targets[profile.opened]
    values = apportion(profile.opening_cents, weights)
    snapshots = [tuple(values)]
    for month in range(profile.opened, last):
        values = _grown_values(seed, month, values)
        flow = _seeded_flow_cents(profile, seed, month + 1, sum(values)) if given is None else given.get(month + 1, 0)
        values = _with_flow(values, flow, weights)
        if month + 1 in targets:  # rebalance to the new target allocation
            weights = targets[month + 1]
            values = apportion(sum(values), weights)
        snapshots.append(tuple(values))
    return tuple(snapshots)


def _weigh_history(key: tuple[Profile, int], months: tuple[tuple[int, ...], ...]) -> int:
    """A seeded profile is weighed where it is kept (treasure.profiles); a scenario's is kept by its key here."""
    profile = key[0]
    held = _profile_bytes(profile) if profile.flows is not None else len(profile.business_id)
    return held + _SNAPSHOT_BYTES * len(months) + ENTRY_BYTES


def snapshots(world: World, profile: Profile, start: date, end: date, today: date) -> list[tuple[date, tuple[int, ...]]]:
    """Monthly snapshots (the 1st of each month) from `start` to `end` inclusive, none after `today`."""
    first = max(month_index(start) + (start.day > 1), profile.opened)
    last = min(month_index(end), month_index(today))
    if first > last:
        return []
    values = history(world, profile, last)
    return [(month_start(month), values[month - profile.opened]) for month in range(first, last + 1)]
