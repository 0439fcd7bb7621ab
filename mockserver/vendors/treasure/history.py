"""Treasure's portfolio history endpoint: the handler of `getPortfolioHistory` and its answer.

A client sees the well-known businesses, the `businesses` of its credentials entry and those a
scenario gives it (scenario.py); the answer is monthly snapshots from the model, serialized once
per (business, its scenario document, range, day).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from ...lru import trimmed
from ...sandbox.caches import weigh_key_and_body
from ...sandbox.shares import apportion
from ...sandbox.world import World
from ...vocabulary import Call, Identity, Problem, Reply
from .errors import fail, treasure_envelope
from .model import PRODUCTS, WELL_KNOWN, Profile, business_profile, snapshots
from .scenario import BUSINESS, client_of, profile_of

HISTORY = "getPortfolioHistory"
_JSON_RANGES = frozenset({"*/*", "application/*", "application/json"})


def accepts_json(accept: str | None) -> bool:
    """Whether an Accept header admits application/json (no header, or an empty one, admits anything)."""
    if not accept or not accept.strip():
        return True
    for media_range in accept.split(","):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        if media_type in _JSON_RANGES and _quality(params) > 0:
            return True
    return False


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 1.0  # a malformed weight is ignored, as if absent
    return 1.0


def visible_businesses(identity: Identity | None) -> frozenset[str]:
    """The well-known businesses and the client's own (lowercase ids)."""
    own = identity.data.get("businesses") if identity is not None else None
    configured = (str(item).lower() for item in own) if isinstance(own, list) else ()
    return frozenset([*WELL_KNOWN, *configured])


def date_rule(call: Call) -> Reply | None:
    """start_date and end_date must be real dates, in order."""
    dates = _date_range(call.params["query"])
    return treasure_envelope(dates) if isinstance(dates, Problem) else None


def accept_rule(call: Call) -> Reply | None:
    """An Accept header that admits no JSON is 406: the API answers application/json only."""
    if accepts_json(call.params["header"].get("Accept")):
        return None
    message = "header 'Accept' admits no JSON; this API answers application/json"
    return treasure_envelope(fail(406, message, "header", "Accept", "unsupported"))


HISTORY_RULES = (date_rule, accept_rule)


def history_handler(call: Call) -> Reply:
    dates = _date_range(call.params["query"])
    assert not isinstance(dates, Problem)  # date_rule refused it before any answer was chosen
    start, end = dates
    business = call.params["path"]["business_id"].lower()
    shaped = call.state.shaped(BUSINESS, business)  # a scenario's business, as stored
    if not _sees(call.identity, business, shaped):
        return treasure_envelope(fail(404, f"business {business} not found", "path", "business_id", "not_found"))
    if shaped is None and business_profile(call.world, business) is None:
        message = f"business {business} has no portfolio history"
        return treasure_envelope(fail(404, message, "path", "business_id", "no_history"))
    return Reply(200, _history_body(call.world, business, shaped or b"", start, end))


def _sees(identity: Identity | None, business: str, shaped: bytes | None) -> bool:
    """Whether the client sees the business: one it sees anyway, or a scenario's for it (or for every client)."""
    if business in visible_businesses(identity):
        return True
    if shaped is None:
        return False
    client = client_of(orjson.loads(shaped))
    return client is None or (identity is not None and identity.values.get("client_id") == client.encode())


def _date_range(query: dict[str, Any]) -> tuple[date, date] | Problem:
    """start_date and end_date, in order. Their format is checked already, but year 0000 passes it and is no date."""
    days = []
    for name in ("start_date", "end_date"):
        try:
            days.append(date.fromisoformat(query[name]))
        except ValueError:
            return fail(400, f"query parameter {name!r}: {query[name]!r} is before 0001-01-01", "query", name, "range")
    start, end = days
    if start > end:
        return fail(400, f"start_date {start} is after end_date {end}", "query", "start_date", "range")
    return start, end


def _history_body(world: World, business: str, shaped: bytes, start: date, end: date) -> bytes:
    """Serialized once per (business, scenario document or b"", range, day) of this world: the answer
    cannot change within that key. At most 1,024 of them and 8 MiB with their keys."""
    cache = world.caches.lru("treasure.history", 1024, 8 << 20, weigh_key_and_body)
    key = (business, shaped, start, end, world.now().date())
    body = cache.get(key)
    if body is None:
        profile = _profile(world, business, shaped)
        days = snapshots(world, profile, start, end, key[-1])
        history = [_snapshot(profile.portfolio_id, day, values) for day, values in days]
        body = trimmed(
            orjson.dumps({"business_id": business, "start_date": start.isoformat(), "end_date": end.isoformat(), "history": history})
        )
        cache.put(key, body)
    return body


def _profile(world: World, business: str, shaped: bytes) -> Profile:
    if shaped:
        return profile_of(orjson.loads(shaped), world.seed)
    profile = business_profile(world, business)
    assert profile is not None  # checked by the handler
    return profile


def _snapshot(portfolio_id: str, day: date, values: tuple[int, ...]) -> dict[str, Any]:
    """One snapshot: the products held, their values (cents -> currency) and percentages (two decimals, summing to 100)."""
    held = [(product, cents) for product, cents in zip(PRODUCTS, values, strict=True) if cents]
    shares = apportion(10_000, [cents for _, cents in held])
    products = [
        {"product": product, "percentage": share / 100, "value": cents / 100} for (product, cents), share in zip(held, shares, strict=True)
    ]
    return {"date": day.isoformat(), "portfolio": {"id": portfolio_id, "products": products, "total_value": sum(values) / 100}}
