"""bitcain: a FastAPI portfolio service. Its error format, and the stateful sandbox behind it.

Errors are FastAPI's: validation problems are 422 `{"detail": [{"type", "loc", "msg", "input",
"ctx"}]}` exactly as pydantic 2 words them, every other error is `{"detail": "message"}`.

The bearer token's user owns one ledger (balances, cost basis, lots, ingest, value history,
history and performance all derive from it and the shared price history); the portfolio CRUD
routes are scoped by their `user_id` query parameter, as the document has them. Portfolios
are JSON documents in the store, and so is a user's ledger once something was written to it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import orjson

from ...envelopes import Problem, Reply, json_reply, reason
from ...limits import current_limits
from ...sandbox.accounts import identity_rng
from ...sandbox.shares import apportion
from ...sandbox.store import ApiState
from ...security import Identity
from ...validation import Violation
from .. import Call, Vendor
from . import csv_ingest as coinbase_csv
from . import portfolios
from .ledger import (
    BACKFILL_PAGE_SIZE,
    EXCHANGES,
    SUPPORTED_ASSETS,
    Book,
    Entry,
    build_book,
    iso,
    remote_coinbase_ledger,
    seed_entries,
    sort_entries,
)
from .performance import summarize
from .valuation import (
    ZERO,
    Position,
    Timeline,
    daily_instants,
    money,
    position_values,
    price,
    quantity_text,
    sample_instants,
    series,
    text,
    total,
    units,
)

LEDGER = "ledger"
SEQUENCE = "sequence"
SANDBOX_USER = "a169451c-8525-4352-b8ca-070dd449a1a5"  # the document's example user_id: the sandbox token's user
CHALLENGE = "Bearer"  # FastAPI's HTTPBearer challenge, exactly
CSV_FIELD = "file"
MAX_CSV_BYTES = 262_144
MAX_VALUE_USD = Decimal("10000000000000")
REBALANCE_THRESHOLD = 0.05
CURRENCIES = ("USD",)
_USER_NAMESPACE = uuid.UUID("6f1c7d0e-2b8a-4c55-9e3d-0a4b5c6d7e8f")


# --- the FastAPI error format ------------------------------------------------------------------


def fastapi_envelope(problem: Problem) -> Reply:
    """A Problem as FastAPI would answer it."""
    headers = dict(problem.headers)
    status = problem.status
    if status == 401:
        headers["WWW-Authenticate"] = CHALLENGE
        missing = all(v.reason == "missing" for v in problem.violations)
        return detail(401, "Not authenticated" if missing else "Invalid authentication credentials", headers)
    if any(v.keyword == "form" for v in problem.violations):
        return detail(400, "There was an error parsing the body", headers)  # Starlette could not parse the form
    if status == 415:
        return json_reply(422, {"detail": [_unreadable_body(v) for v in problem.violations[:1]]}, headers=headers)
    if status == 422:
        return json_reply(422, {"detail": [pydantic_error(v) for v in in_model_order(problem.violations)]}, headers=headers)
    if status in (404, 405) and any(v.location == "request" for v in problem.violations):
        if status == 405:
            headers["Allow"] = _allow(problem.message, headers.get("Allow", ""))
        return detail(status, reason(status), headers)  # Starlette's own 404 and 405
    if status in (403, 413, 414, 431) or (status == 400 and any(v.reason == "malformed" for v in problem.violations)):
        return detail(status, problem.message, headers)  # refusals whose message says what to change
    return detail(status, reason(status), headers)


# pydantic reports a model's fields in the order the model declares them (the spec's order)
BODY_FIELDS = (
    "name",
    "description",
    "target_allocations",
    "risk_tolerance",
    "is_active",
    "is_default",
    "initial_value_usd",
    "tags",
    CSV_FIELD,
)


def in_model_order(violations: Sequence[Violation]) -> list[Violation]:
    """Parameters first, as the engine lists them; then body problems in the model's field order."""

    def rank(violation: Violation) -> tuple[int, int]:
        if violation.location != "body":
            return 0, 0
        field = violation.name.split("/")[1] if violation.name.count("/") else ""
        return 1, BODY_FIELDS.index(field) if field in BODY_FIELDS else len(BODY_FIELDS)

    return sorted(violations, key=rank)


# Literal routes and their methods. Starlette answers a 405 with the Allow of the first route whose
# path matches, and these come before /{portfolio_id}, whose methods the engine would add.
LITERAL_ROUTES = {
    "health": "GET",
    "balances": "GET",
    "aggregate": "GET",
    "cost-basis": "GET",
    "cost-basis/lots": "GET",
    "cost-basis/lots/rebuild": "POST",
    "ingest/backfill": "POST",
    "ingest/csv": "POST",
    "refresh": "POST",
    "value-history": "GET",
    "history": "GET",
    "history/performance": "GET",
    "history/export": "GET",
}
_METHOD_REFUSED = re.compile(r" is not allowed on \S*/api/v1/portfolio/(\S+?);")


def _allow(message: str, allow: str) -> str:
    match = _METHOD_REFUSED.search(message)
    return LITERAL_ROUTES.get(match.group(1), allow) if match else allow


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, {"detail": message}, headers=headers)


def validation_reply(*items: dict[str, Any]) -> Reply:
    return json_reply(422, {"detail": list(items)})


def value_error(loc: Sequence[str | int], message: str, value: Any) -> dict[str, Any]:
    """What a pydantic validator raising ValueError produces."""
    return {"type": "value_error", "loc": list(loc), "msg": f"Value error, {message}", "input": value, "ctx": {"error": {}}}


def _unreadable_body(violation: Violation) -> dict[str, Any]:
    """FastAPI reads a body it cannot parse as JSON as bytes (a model rejects them), and a form
    endpoint sent something else finds no form fields at all."""
    if "multipart/form-data" in f"{violation.message} {violation.expected}":
        return {"type": "missing", "loc": ["body", CSV_FIELD], "msg": "Field required", "input": None}
    received = violation.value.decode("utf-8", "replace") if isinstance(violation.value, bytes) else violation.value
    return _model_type(["body"], received)


def _model_type(loc: list[Any], value: Any) -> dict[str, Any]:
    return {
        "type": "model_attributes_type",
        "loc": loc,
        "msg": "Input should be a valid dictionary or object to extract fields from",
        "input": value,
    }


def location(violation: Violation) -> list[str | int]:
    """pydantic's `loc`: where, then the parameter name or the path into the body."""
    if violation.location != "body":
        return [violation.location, violation.name]
    loc: list[str | int] = ["body"]
    if violation.name in ("", "/"):  # the body itself
        return loc
    previous = ""
    for segment in violation.name.split("/")[1:]:
        part = segment.replace("~1", "/").replace("~0", "~")
        loc.append(int(part) if part.isdigit() and previous == "tags" else part)
        previous = part
    return loc


def _number(value: Any) -> str:
    """A limit as pydantic-core writes it in messages (Rust's float display: 1.0 is `1`)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _types(expected: Any) -> list[str]:
    found = [expected] if isinstance(expected, str) else list(expected or [])
    return [kind for kind in found if kind != "null"] or ["string"]


def _choices(options: Sequence[Any]) -> str:
    quoted = [repr(option) for option in options if option is not None]  # null of a nullable enum
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def pydantic_error(violation: Violation) -> dict[str, Any]:
    """One violation as the item pydantic 2 writes for it (FastAPI echoes parameters as received text)."""
    loc = location(violation)
    keyword, expected, value = violation.keyword, violation.expected, violation.value
    if keyword == "required" or violation.reason == "missing":
        parent = value if violation.location == "body" and violation.name else None
        return {"type": "missing", "loc": loc, "msg": "Field required", "input": parent}
    if keyword == "json":
        return _json_invalid(violation)
    if violation.reason == "empty":
        return _empty(loc, violation.name)
    if keyword == "type":
        return _type_error(loc, _types(expected)[0], value)
    if keyword in ("anyOf", "oneOf"):
        return _decimal_error(loc, value)
    bound = _BOUNDS.get(keyword)
    if bound is not None:
        kind, words, key = bound
        return {"type": kind, "loc": loc, "msg": f"Input should be {words} {_number(expected)}", "input": value, "ctx": {key: expected}}
    if keyword in ("maxLength", "minLength"):
        longest = keyword == "maxLength"
        kind, words, key = ("string_too_long", "at most", "max_length") if longest else ("string_too_short", "at least", "min_length")
        return {
            "type": kind,
            "loc": loc,
            "msg": f"String should have {words} {_plural(expected, 'character')}",
            "input": value,
            "ctx": {key: expected},
        }
    if keyword in ("maxItems", "minItems"):
        longest = keyword == "maxItems"
        kind, words, key = ("too_long", "at most", "max_length") if longest else ("too_short", "at least", "min_length")
        count = len(value) if isinstance(value, list) else 0
        message = f"List should have {words} {_plural(expected, 'item')} after validation, not {count}"
        return {
            "type": kind,
            "loc": loc,
            "msg": message,
            "input": value,
            "ctx": {"field_type": "List", key: expected, "actual_length": count},
        }
    if keyword == "enum":
        choices = _choices(expected)
        return {"type": "enum", "loc": loc, "msg": f"Input should be {choices}", "input": value, "ctx": {"expected": choices}}
    if keyword == "pattern":
        return {
            "type": "string_pattern_mismatch",
            "loc": loc,
            "msg": f"String should match pattern '{expected}'",
            "input": value,
            "ctx": {"pattern": expected},
        }
    if keyword == "multipleOf":
        return {
            "type": "multiple_of",
            "loc": loc,
            "msg": f"Input should be a multiple of {expected}",
            "input": value,
            "ctx": {"multiple_of": expected},
        }
    return value_error(loc, violation.message, value)


_BOUNDS = {
    "minimum": ("greater_than_equal", "greater than or equal to", "ge"),
    "maximum": ("less_than_equal", "less than or equal to", "le"),
    "exclusiveMinimum": ("greater_than", "greater than", "gt"),
    "exclusiveMaximum": ("less_than", "less than", "lt"),
}


def _type_error(loc: list[Any], kind: str, value: Any) -> dict[str, Any]:
    if loc == ["body"]:
        if value is None:
            return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}  # a JSON null body
        return _model_type(loc, value)
    if kind == "integer":
        if isinstance(value, str):
            return _typed(loc, "int_parsing", "Input should be a valid integer, unable to parse string as an integer", value)
        if isinstance(value, float):
            return _typed(loc, "int_from_float", "Input should be a valid integer, got a number with a fractional part", value)
        return _typed(loc, "int_type", "Input should be a valid integer", value)
    if kind == "number":
        if isinstance(value, str):
            return _typed(loc, "float_parsing", "Input should be a valid number, unable to parse string as a number", value)
        return _typed(loc, "float_type", "Input should be a valid number", value)
    if kind == "boolean":
        if isinstance(value, (str, int, float)):
            return _typed(loc, "bool_parsing", "Input should be a valid boolean, unable to interpret input", value)
        return _typed(loc, "bool_type", "Input should be a valid boolean", value)
    if kind == "array":
        return _typed(loc, "list_type", "Input should be a valid list", value)
    if kind == "object":
        return _typed(loc, "dict_type", "Input should be a valid dictionary", value)
    return _typed(loc, "string_type", "Input should be a valid string", value)


# Typed query parameters: the engine refuses their empty values before coercion, FastAPI while parsing them
_EMPTY_TYPES = {"limit": "integer", "offset": "integer", "days": "integer", "max_pages": "integer"}
_EMPTY_TYPES |= dict.fromkeys(("active_only", "dry_run", "force"), "boolean")
TIMEFRAMES = ("1D", "1W", "1M", "3M", "1Y", "ALL")


def _empty(loc: list[Any], name: str) -> dict[str, Any]:
    if name == "timeframe":
        choices = _choices(TIMEFRAMES)
        return {"type": "enum", "loc": loc, "msg": f"Input should be {choices}", "input": "", "ctx": {"expected": choices}}
    return _type_error(loc, _EMPTY_TYPES.get(name, "string"), "")


def _typed(loc: list[Any], kind: str, message: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": message, "input": value}


def _decimal_error(loc: list[Any], value: Any) -> dict[str, Any]:
    """The decimal fields accept a number or a numeric string, as pydantic's Decimal does."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return _typed(loc, "decimal_type", "Decimal input should be an integer, float, string or Decimal object", value)
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        return _typed(loc, "decimal_parsing", "Input should be a valid decimal", value)
    if number.is_finite() and number < 0:
        return {
            "type": "greater_than_equal",
            "loc": loc,
            "msg": "Input should be greater than or equal to 0",
            "input": value,
            "ctx": {"ge": 0},
        }
    return _typed(loc, "decimal_parsing", "Input should be a valid decimal", value)


def _json_invalid(violation: Violation) -> dict[str, Any]:
    """FastAPI's own item for a body that is not JSON: the position and message of Python's parser."""
    position, message = violation.expected, violation.message.rpartition(": ")[2]
    raw = violation.value
    if isinstance(raw, (str, bytes)):
        try:
            json.loads(raw)
        except json.JSONDecodeError as exc:
            position, message = exc.pos, exc.msg
        except UnicodeDecodeError as exc:
            position, message = exc.start, str(exc)
    else:
        message = re.sub(r":? line \d+ column \d+ \(char \d+\)$", "", violation.message.partition("not valid JSON: ")[2]) or message
    return {
        "type": "json_invalid",
        "loc": ["body", position if isinstance(position, int) else 0],
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": message},
    }


# --- users and their ledger --------------------------------------------------------------------


def user_of(identity: Identity | None) -> str:
    """The token's user: its configured `user_id`, or a UUID derived from the identity's name."""
    if identity is None:
        return ""
    configured = identity.data.get("user_id")
    return str(configured) if configured else str(uuid.uuid5(_USER_NAMESPACE, identity.name))


@lru_cache(maxsize=256)
def _seeded(seed: int, user: str) -> tuple[Entry, ...]:
    return tuple(seed_entries(seed, user))


class Ledger:
    """The token user's entries (stored, or the seeded ones) and their FIFO book as of now."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.user = user_of(call.identity)
        self.now = _now(call)
        self.seed = call.world.seed
        self.doc = call.state.get(LEDGER, self.user)
        self.entries = [Entry.from_doc(item) for item in self.doc["entries"]] if self.doc else list(_seeded(self.seed, self.user))
        self.book: Book = build_book(self.entries, self.now)

    def save(self, entries: list[Entry] | None = None, **marks: str) -> None:
        """Store the ledger (materializing the seeded one on its first write), with its lots rebuilt."""
        if entries is not None:
            self.entries = sort_entries(entries)
            self.book = build_book(self.entries, self.now)
        doc = dict(self.doc or {"user_id": self.user})
        doc.update(marks)
        doc["entries"] = [entry.to_doc() for entry in self.entries]
        doc["lots"] = [lot.to_doc() for lot in self.book.lots]
        doc["updated_at"] = iso(self.now)
        self.call.state.put(LEDGER, self.user, doc, owner=self.user)
        self.doc = doc

    def values(self) -> dict[Position, Decimal]:
        return position_values(self.book.holdings(), self.now, self.seed)


def _ordered(positions: Sequence[Position] | Mapping[Position, Any]) -> list[Position]:
    order = {asset: index for index, asset in enumerate(SUPPORTED_ASSETS)}
    return sorted(positions, key=lambda p: (order.get(p[0], len(order)), p[0], EXCHANGES.index(p[1]) if p[1] in EXCHANGES else 9))


def _locked(seed: int, user: str, exchange: str, asset: str, quantity: Decimal) -> Decimal:
    """Part of a balance held by an open order: about one balance in four has one."""
    rng = identity_rng(seed, "bitcain-open-orders", f"{user}|{exchange}|{asset}")
    if rng.random() >= 0.25:
        return ZERO
    return units(quantity * Decimal(rng.randint(5, 30)) / 100)


# --- handlers: health, balances, aggregate, cost basis, lots -----------------------------------


def health(call: Call) -> Reply:
    return json_reply(200, {"status": "healthy", "service": "portfolio", "timestamp": iso(_now(call))})


def balances(call: Call) -> Reply:
    exchange = call.params["query"].get("exchange", "binanceus")
    if exchange not in EXCHANGES:
        return detail(400, f"Unsupported exchange {exchange!r}; supported exchanges: {', '.join(EXCHANGES)}")
    ledger = Ledger(call)
    held = ledger.book.holdings()
    values = ledger.values()
    rows = []
    for asset, venue in _ordered([p for p in held if p[1] == exchange and held[p] > 0]):
        quantity = held[(asset, venue)]
        locked = _locked(ledger.seed, ledger.user, venue, asset, quantity)
        rows.append(
            {
                "asset": asset,
                "free": quantity_text(quantity - locked),
                "locked": quantity_text(locked),
                "total": quantity_text(quantity),
                "price_usd": text(price(asset, ledger.now, ledger.seed)),
                "value_usd": text(values[(asset, venue)]),
            }
        )
    body = {
        "exchange": exchange,
        "user_id": ledger.user,
        "balances": rows,
        "total_value_usd": text(total(values[(row["asset"], exchange)] for row in rows)),
        "as_of": iso(ledger.now),
    }
    return json_reply(200, body)


def _asset_values(values: Mapping[Position, Decimal]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for (asset, _), value in values.items():
        found[asset] = found.get(asset, ZERO) + value
    return found


def aggregate(call: Call) -> Reply:
    ledger = Ledger(call)
    held = ledger.book.holdings()
    values = ledger.values()
    by_asset = _asset_values(values)
    worth = total(values.values())
    assets = list(dict.fromkeys(asset for asset, _ in _ordered(values)))
    shares = apportion(10_000, [int(by_asset[asset] * 100) for asset in assets])
    rows = [
        {
            "asset": asset,
            "quantity": quantity_text(sum((held[p] for p in values if p[0] == asset), ZERO)),
            "price_usd": text(price(asset, ledger.now, ledger.seed)),
            "value_usd": text(by_asset[asset]),
            "allocation": share / 10_000,
            "exchanges": {venue: quantity_text(held[(a, venue)]) for a, venue in _ordered(values) if a == asset},
        }
        for asset, share in zip(assets, shares, strict=True)
    ]
    exchanges = [
        {
            "exchange": exchange,
            "value_usd": text(total(v for p, v in values.items() if p[1] == exchange)),
            "asset_count": sum(1 for p in values if p[1] == exchange),
        }
        for exchange in EXCHANGES
    ]
    body = {
        "user_id": ledger.user,
        "total_value_usd": text(worth),
        "asset_count": len(rows),
        "assets": rows,
        "exchanges": exchanges,
        "last_refreshed_at": (ledger.doc or {}).get("refreshed_at"),
        "as_of": iso(ledger.now),
    }
    return json_reply(200, body)


def _percent(part: Decimal, whole: Decimal) -> str:
    return text((part / whole * 100).quantize(Decimal("0.01"))) if whole else "0.00"


def cost_basis(call: Call) -> Reply:
    ledger = Ledger(call)
    by_asset = _asset_values(ledger.values())
    realized = ledger.book.realized_usd
    rows = []
    for asset in dict.fromkeys([*(lot.asset for lot in ledger.book.open_lots), *realized]):
        lots = [lot for lot in ledger.book.open_lots if lot.asset == asset]
        quantity = sum((lot.remaining for lot in lots), ZERO)
        cost = total(money(lot.remaining_cost) for lot in lots)
        market = by_asset.get(asset, ZERO)
        rows.append(
            {
                "asset": asset,
                "quantity": quantity_text(quantity),
                "cost_basis_usd": text(cost),
                "average_cost_usd": text((cost / quantity).quantize(Decimal("0.00000001"))) if quantity else "0",
                "market_value_usd": text(market),
                "unrealized_pnl_usd": text(market - cost),
                "unrealized_pnl_percentage": _percent(market - cost, cost),
                "realized_pnl_usd": text(money(realized.get(asset, ZERO))),
                "lot_count": len(lots),
            }
        )
    rows.sort(key=lambda row: SUPPORTED_ASSETS.index(row["asset"]) if row["asset"] in SUPPORTED_ASSETS else 99)
    cost_total = total(Decimal(row["cost_basis_usd"]) for row in rows)
    market_total = total(Decimal(row["market_value_usd"]) for row in rows)
    body = {
        "user_id": ledger.user,
        "method": "FIFO",
        "currency": "USD",
        "assets": rows,
        "total_cost_basis_usd": text(cost_total),
        "total_market_value_usd": text(market_total),
        "total_unrealized_pnl_usd": text(market_total - cost_total),
        "total_unrealized_pnl_percentage": _percent(market_total - cost_total, cost_total),
        "total_realized_pnl_usd": text(total(Decimal(row["realized_pnl_usd"]) for row in rows)),
        "as_of": iso(ledger.now),
    }
    return json_reply(200, body)


def _lot_view(lot: Any) -> dict[str, Any]:
    return {
        "lot_id": lot.lot_id,
        "asset": lot.asset,
        "exchange": lot.exchange,
        "acquired_at": iso(lot.acquired_at),
        "quantity": quantity_text(lot.quantity),
        "remaining_quantity": quantity_text(lot.remaining),
        "unit_cost_usd": text(lot.unit_cost.quantize(Decimal("0.00000001"))),
        "cost_basis_usd": text(money(lot.remaining_cost)),
        "source": lot.source,
    }


def lots(call: Call) -> Reply:
    ledger = Ledger(call)
    rows = [_lot_view(lot) for lot in ledger.book.open_lots]
    body = {
        "user_id": ledger.user,
        "method": "FIFO",
        "lots": rows,
        "count": len(rows),
        "total_cost_basis_usd": text(total(Decimal(row["cost_basis_usd"]) for row in rows)),
        "rebuilt_at": (ledger.doc or {}).get("rebuilt_at"),
    }
    return json_reply(200, body)


def rebuild_lots(call: Call) -> Reply:
    with call.state.transaction():
        ledger = Ledger(call)
        before = (ledger.doc or {}).get("lots")
        ledger.save(ledger.entries, rebuilt_at=iso(ledger.now))
        after = ledger.doc["lots"] if ledger.doc else []
    body = {
        "status": "completed",
        "user_id": ledger.user,
        "method": "FIFO",
        "entries_processed": sum(1 for entry in ledger.entries if entry.at <= ledger.now),
        "lots_before": len(before) if before is not None else None,
        "lots_after": len(after),
        "open_lots": len(ledger.book.open_lots),
        "changed": before != after,
        "unmatched": [{"entry_id": entry_id, "quantity": quantity_text(quantity)} for entry_id, quantity in ledger.book.shortfalls],
        "rebuilt_at": iso(ledger.now),
    }
    return json_reply(200, body)


# --- handlers: ingest and refresh -------------------------------------------------------------


def _holdings_by_asset(book: Book) -> dict[str, str]:
    found: dict[str, Decimal] = {}
    for (asset, _), quantity in book.holdings().items():
        found[asset] = found.get(asset, ZERO) + quantity
    return {asset: quantity_text(found[asset]) for asset in sorted(found, key=lambda a: SUPPORTED_ASSETS.index(a))}


def backfill(call: Call) -> Reply:
    query = call.params["query"]
    source = query.get("source", "trade_history_sync")
    dry_run = query.get("dry_run", False)
    max_pages = query.get("max_pages", 3)
    with call.state.transaction():
        ledger = Ledger(call)
        known = {entry.id for entry in ledger.entries}
        remote = remote_coinbase_ledger(ledger.seed, ledger.user, _seeded(ledger.seed, ledger.user))
        currencies, new = [], []
        for currency, entries in remote.items():
            available = [entry for entry in entries if entry.at <= ledger.now]
            fetched = available[: max_pages * BACKFILL_PAGE_SIZE]
            fresh = [entry for entry in fetched if entry.id not in known]
            new.extend(replace(entry, source=source) for entry in fresh)
            currencies.append(
                {
                    "currency": currency,
                    "pages_fetched": max(1, -(-len(fetched) // BACKFILL_PAGE_SIZE)),
                    "entries_fetched": len(fetched),
                    "imported": len(fresh),
                    "duplicates": len(fetched) - len(fresh),
                    "has_more": len(available) > len(fetched),
                }
            )
        if new and not dry_run:
            ledger.save([*ledger.entries, *new], backfilled_at=iso(ledger.now))
        after = build_book([*ledger.entries, *new], ledger.now) if dry_run else ledger.book
    body = {
        "status": "completed",
        "source": source,
        "dry_run": dry_run,
        "max_pages": max_pages,
        "page_size": BACKFILL_PAGE_SIZE,
        "currencies": currencies,
        "entries_fetched": sum(item["entries_fetched"] for item in currencies),
        "imported": len(new),
        "duplicates": sum(item["duplicates"] for item in currencies),
        "holdings_after": _holdings_by_asset(after),
        "completed_at": iso(ledger.now),
    }
    return json_reply(200, body)


def _upload_input(upload: Any) -> dict[str, Any]:
    return {"filename": upload.filename, "content_type": upload.content_type, "size": len(upload.data)}


def ingest_csv(call: Call) -> Reply:
    upload = (call.body or {}).get(CSV_FIELD) if isinstance(call.body, dict) else None
    loc = ["body", CSV_FIELD]
    if upload is None:
        return validation_reply({"type": "missing", "loc": loc, "msg": "Field required", "input": None})
    if not hasattr(upload, "data"):
        return validation_reply(value_error(loc, f"Expected UploadFile, received: {type(upload)}", upload))
    if len(upload.data) > MAX_CSV_BYTES:
        message = f"the file is {len(upload.data)} bytes; the limit is {MAX_CSV_BYTES} bytes"
        return validation_reply(value_error(loc, message, _upload_input(upload)))
    dry_run = call.params["query"].get("dry_run", False)
    now = _now(call)
    try:
        parsed = coinbase_csv.parse(upload.data, now)
    except coinbase_csv.CsvError as exc:
        return validation_reply(value_error(loc, str(exc), _upload_input(upload)))
    with call.state.transaction():
        ledger = Ledger(call)
        known = {entry.id for entry in ledger.entries}
        seen_lines = {line for line, entry in parsed.entries if entry.id in known}
        skipped = [
            *parsed.skipped,
            *({"line": line, "id": _row_id(parsed, line), "reason": "already imported"} for line in sorted(seen_lines)),
        ]
        fresh = [(line, entry) for line, entry in parsed.entries if line not in seen_lines]
        most = current_limits().max_ledger_entries_per_user  # per user, so the state stays bounded
        if len(ledger.entries) + len(fresh) > most and not dry_run:
            message = f"the ledger would hold more than {most} transactions; POST /__mock/reset starts it afresh"
            return validation_reply(value_error(loc, message, _upload_input(upload)))
        merged = [*ledger.entries, *(entry for _, entry in fresh)]
        if fresh and not dry_run:
            ledger.save(merged, ingested_at=iso(now))
            after = ledger.book
        else:
            after = build_book(merged, now)
    line_of = {entry.id: line for line, entry in fresh}
    change: dict[str, Decimal] = {}
    for _, entry in fresh:
        change[entry.asset] = change.get(entry.asset, ZERO) + entry.signed_quantity
    imported_rows = sorted({line for line, _ in fresh})
    body = {
        "filename": upload.filename,
        "dry_run": dry_run,
        "rows_total": parsed.rows,
        "rows_imported": len(imported_rows),
        "rows_skipped": len(skipped),
        "rows_rejected": len(parsed.rejected),
        "rejected": parsed.rejected,
        "skipped": sorted(skipped, key=lambda item: int(str(item["line"]))),
        "unmatched": [
            {"line": line_of[entry_id], "id": entry_id, "quantity": quantity_text(quantity)}
            for entry_id, quantity in after.shortfalls
            if entry_id in line_of
        ],
        "quantity_change": {asset: quantity_text(quantity) for asset, quantity in change.items()},
        "holdings_after": _holdings_by_asset(after),
        "lots_after": len(after.open_lots),
    }
    return json_reply(200, body)


def _row_id(parsed: coinbase_csv.Parsed, line: int) -> str:
    """The ID of a row (a Convert row's second entry has the ID with `-in` appended)."""
    return next(entry.id for found, entry in parsed.entries if found == line)


def refresh(call: Call) -> Reply:
    with call.state.transaction():
        ledger = Ledger(call)
        ledger.save(refreshed_at=iso(ledger.now))
    values = ledger.values()
    exchanges = [
        {
            "exchange": exchange,
            "asset_count": sum(1 for p in values if p[1] == exchange),
            "value_usd": text(total(v for p, v in values.items() if p[1] == exchange)),
        }
        for exchange in EXCHANGES
    ]
    body = {
        "status": "completed",
        "user_id": ledger.user,
        "exchanges": exchanges,
        "total_value_usd": text(total(values.values())),
        "refreshed_at": iso(ledger.now),
    }
    return json_reply(200, body)


# --- handlers: value history, history, performance, export -------------------------------------


def value_history(call: Call) -> Reply:
    days = call.params["query"].get("days", 30)
    ledger = Ledger(call)
    timeline = ledger.book.timeline
    points = series(timeline, daily_instants(days, ledger.now, timeline.inception), ledger.seed)
    start = points[0][1] if points else ZERO
    end = points[-1][1] if points else ZERO
    body = {
        "user_id": ledger.user,
        "days": days,
        "currency": "USD",
        "points": [{"date": at.date().isoformat(), "recorded_at": iso(at), "value_usd": text(value)} for at, value in points],
        "start_value_usd": text(start),
        "end_value_usd": text(end),
        "change_usd": text(end - start),
        "change_percentage": _percent(end - start, start),
    }
    return json_reply(200, body)


def _history(call: Call) -> tuple[str, str | None, list[tuple[datetime, Decimal]], str] | Reply:
    """(user, portfolio id, points, timeframe) for the history routes, or an error reply."""
    query = call.params["query"]
    timeframe, currency, portfolio_id = query.get("timeframe", "1M"), query.get("currency", "USD"), query.get("portfolio_id")
    if currency not in CURRENCIES:
        return detail(400, f"Unsupported currency {currency!r}; supported currencies: {', '.join(CURRENCIES)}")
    user = user_of(call.identity)
    now, seed = _now(call), call.world.seed
    timeline: Timeline
    if portfolio_id is not None:
        doc = call.state.get(portfolios.KIND, portfolio_id)
        if doc is None or doc["user_id"] != user:
            return detail(404, "Portfolio not found")
        timeline = portfolios.timeline(doc)
    else:
        timeline = Ledger(call).book.timeline
    points = series(timeline, sample_instants(timeframe, now, timeline.inception), seed)
    return user, portfolio_id, points, timeframe


def _history_items(
    user: str, portfolio_id: str | None, points: list[tuple[datetime, Decimal]], timeframe: str, seed: int
) -> list[dict[str, Any]]:
    return [
        {
            "id": portfolios.stable_uuid(seed, "bitcain-history", user, portfolio_id, iso(at)),
            "user_id": user,
            "portfolio_id": portfolio_id,
            "total_value": text(value),
            "currency": "USD",
            "recorded_at": iso(at),
            "created_at": iso(at),
            "metadata": {"source": "price_history", "timeframe": timeframe},
        }
        for at, value in points
    ]


def history(call: Call) -> Reply:
    found = _history(call)
    if isinstance(found, Reply):
        return found
    return json_reply(200, _history_items(*found, call.world.seed))


def performance(call: Call) -> Reply:
    found = _history(call)
    if isinstance(found, Reply):
        return found
    _, _, points, timeframe = found
    figures = summarize([value for _, value in points])
    now = iso(_now(call))
    body = {
        "period_start": iso(points[0][0]) if points else now,
        "period_end": iso(points[-1][0]) if points else now,
        "timeframe": timeframe,
        "starting_value": text(figures.starting_value),
        "ending_value": text(figures.ending_value),
        "current_value": text(figures.ending_value),
        "highest_value": text(figures.highest_value),
        "lowest_value": text(figures.lowest_value),
        "absolute_change": text(figures.absolute_change),
        "absolute_gain": text(figures.absolute_change),
        "percentage_change": text(figures.percentage_change),
        "percentage_gain": text(figures.percentage_change),
        "is_profitable": figures.is_profitable,
        "return_rate": text(figures.return_rate),
        "max_drawdown": text(figures.max_drawdown),
        "volatility": text(figures.volatility),
        "total_data_points": figures.total_data_points,
        "currency": "USD",
    }
    return json_reply(200, body)


def wants_csv(accept: str | None) -> bool:
    """Whether the Accept header prefers text/csv to JSON (ties go to the one listed first)."""
    best: tuple[float, int, str] | None = None
    for index, media_range in enumerate((accept or "").split(",")):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        if media_type not in ("text/csv", "application/json", "*/*", "application/*", "text/*"):
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 1.0
        kind = "csv" if media_type in ("text/csv", "text/*") else "json"
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, index, kind)
    return best is not None and best[2] == "csv"


def export(call: Call) -> Reply:
    found = _history(call)
    if isinstance(found, Reply):
        return found
    items = _history_items(*found, call.world.seed)
    if not wants_csv(call.params["header"].get("Accept")):
        return json_reply(200, items)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "recorded_at", "total_value", "currency", "portfolio_id"])
    for item in items:
        writer.writerow([item["id"], item["recorded_at"], item["total_value"], item["currency"], item["portfolio_id"] or ""])
    disposition = f'attachment; filename="portfolio-history-{found[3]}.csv"'
    return Reply(200, out.getvalue().encode(), "text/csv; charset=utf-8", {"Content-Disposition": disposition})


# --- handlers: portfolio CRUD and analytics ----------------------------------------------------


def _now(call: Call) -> datetime:
    """bitcain's clock, in whole seconds like every timestamp it writes: values read twice within
    a second are the same, so a portfolio's serialized view is kept for that second."""
    return call.world.now().replace(microsecond=0)


def _owned_raw(call: Call, portfolio_id: str, user_id: str | None) -> bytes | None:
    """The stored portfolio (its JSON bytes) when it exists and, with `user_id`, belongs to that user."""
    raw = call.state.get_raw(portfolios.KIND, portfolio_id)
    if raw is None or (user_id is not None and portfolios.stored(call.world, raw).user_id != user_id):
        return None
    return raw


def _owned(call: Call, portfolio_id: str, user_id: str | None) -> dict[str, Any] | None:
    raw = _owned_raw(call, portfolio_id, user_id)
    return orjson.loads(raw) if raw is not None else None


def _allocation_reply(targets: Mapping[str, float]) -> Reply | None:
    problems = portfolios.allocation_problems(targets, SUPPORTED_ASSETS)
    if problems:
        return validation_reply(value_error(["body", "target_allocations"], problems[0], dict(targets)))
    return None


def _name_taken(call: Call, user_id: str, name: str, portfolio_id: str | None = None) -> Reply | None:
    folded = name.casefold()
    for doc in call.state.find(portfolios.KIND, owner=user_id):
        if doc["name"].casefold() == folded and doc["portfolio_id"] != portfolio_id:
            return detail(409, f"A portfolio named {name!r} already exists for this user")
    return None


def _decimal_value(raw: Any) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def list_portfolios(call: Call) -> Reply:
    query = call.params["query"]
    active_only, limit, offset = query.get("active_only", True), query.get("limit", 50), query.get("offset", 0)
    now = _now(call)
    raws = call.state.find_raw(portfolios.KIND, owner=query["user_id"])
    shown = [raw for raw in raws if not active_only or portfolios.stored(call.world, raw).is_active]
    page = b",".join(portfolios.view_json(call.world, raw, now) for raw in shown[offset : offset + limit])
    return Reply(200, b"[" + page + b"]", headers={"X-Total-Count": str(len(shown))})


def create_portfolio(call: Call) -> Reply:
    user_id = call.params["query"]["user_id"]
    body: dict[str, Any] = call.body
    targets = body["target_allocations"]
    refused = _allocation_reply(targets)
    if refused is not None:
        return refused
    initial = _decimal_value(body.get("initial_value_usd", "0"))
    if initial is None or initial > MAX_VALUE_USD:
        message = f"initial_value_usd must be a decimal between 0 and {MAX_VALUE_USD}"
        return validation_reply(value_error(["body", "initial_value_usd"], message, body.get("initial_value_usd")))
    now, seed = _now(call), call.world.seed
    with call.state.transaction():
        taken = _name_taken(call, user_id, body["name"])
        if taken is not None:
            return taken
        most = current_limits().max_portfolios_per_user
        if call.state.count(portfolios.KIND, owner=user_id) >= most:
            return detail(409, f"A user may have at most {most} portfolios; delete one first")
        counter = call.state.get(SEQUENCE, user_id) or {"next": 1}
        portfolio_id = portfolios.new_portfolio_id(seed, user_id, counter["next"])
        call.state.put(SEQUENCE, user_id, {"next": counter["next"] + 1}, owner=user_id)
        positions = portfolios.fund(money(initial), targets, now, seed)
        doc = {
            "portfolio_id": portfolio_id,
            "user_id": user_id,
            "name": body["name"],
            "description": body.get("description"),
            "target_allocations": targets,
            "risk_tolerance": body.get("risk_tolerance", "moderate"),
            "is_active": body.get("is_active", True),
            "is_default": body.get("is_default", False),
            "tags": body.get("tags") or [],
            "initial_value_usd": text(money(initial)),
            "status": "created",
            "created_at": iso(now),
            "updated_at": iso(now),
            "last_rebalanced_at": None,
            "positions": positions,
            "position_history": [{"at": iso(now), "positions": positions}],
        }
        if doc["is_default"]:
            _demote_default(call, user_id, now)
        call.state.put(portfolios.KIND, portfolio_id, doc, owner=user_id)
    return json_reply(201, portfolios.view(doc, now, seed))


def _demote_default(call: Call, user_id: str, now: datetime) -> None:
    """A new default portfolio takes the flag from the user's previous one."""
    for other in call.state.find(portfolios.KIND, owner=user_id):
        if other["is_default"]:
            other["is_default"] = False
            other["updated_at"] = iso(now)
            call.state.put(portfolios.KIND, other["portfolio_id"], other, owner=user_id)


def get_portfolio(call: Call) -> Reply:
    raw = _owned_raw(call, call.params["path"]["portfolio_id"], call.params["query"].get("user_id"))
    if raw is None:
        return detail(404, "Portfolio not found")
    return Reply(200, portfolios.view_json(call.world, raw, _now(call)))


def update_portfolio(call: Call) -> Reply:
    user_id = call.params["query"]["user_id"]
    changes = {name: value for name, value in (call.body or {}).items() if value is not None and name in _UPDATABLE}
    if "target_allocations" in changes:
        refused = _allocation_reply(changes["target_allocations"])
        if refused is not None:
            return refused
    now, seed = _now(call), call.world.seed
    with call.state.transaction():
        doc = _owned(call, call.params["path"]["portfolio_id"], user_id)
        if doc is None:
            return detail(404, "Portfolio not found")
        if "name" in changes:
            taken = _name_taken(call, user_id, changes["name"], doc["portfolio_id"])
            if taken is not None:
                return taken
        changed = {name: value for name, value in changes.items() if doc.get(name) != value}
        if changed:
            doc.update(changed)
            if "is_active" in changed:
                doc["status"] = "active" if doc["is_active"] else "paused"
            if "target_allocations" in changed and doc["is_active"] and portfolios.holds_assets(doc):
                portfolios.rebalance(doc, now, seed)
                doc["status"] = "active"
            doc["updated_at"] = iso(now)
            call.state.put(portfolios.KIND, doc["portfolio_id"], doc, owner=user_id)
    return json_reply(200, portfolios.view(doc, now, seed))


_UPDATABLE = ("name", "description", "target_allocations", "risk_tolerance", "is_active", "tags")


def delete_portfolio(call: Call) -> Reply:
    query = call.params["query"]
    with call.state.transaction():
        doc = _owned(call, call.params["path"]["portfolio_id"], query["user_id"])
        if doc is None:
            return detail(404, "Portfolio not found")
        held = [asset for asset, quantity in doc.get("positions", {}).items() if Decimal(quantity) > 0]
        if held and not query.get("force", False):
            return detail(409, f"Portfolio still holds assets ({', '.join(held)}); pass force=true to delete it anyway")
        call.state.delete(portfolios.KIND, doc["portfolio_id"])
    return Reply(204, b"", "")


def analytics(call: Call) -> Reply:
    doc = _owned(call, call.params["path"]["portfolio_id"], call.params["query"]["user_id"])
    if doc is None:
        return detail(404, "Portfolio not found")
    now, seed = _now(call), call.world.seed
    shown = portfolios.view(doc, now, seed)
    values = portfolios.value_now(doc, now, seed)
    current = shown["current_allocations"]
    targets = doc["target_allocations"]
    positions = []
    for asset in current:
        quantity = Decimal(doc["positions"].get(asset, "0"))
        drift = round(current[asset] - float(targets.get(asset, 0.0)), 4)
        positions.append(
            {
                "asset": asset,
                "quantity": quantity_text(quantity),
                "price_usd": text(price(asset, now, seed)) if asset in SUPPORTED_ASSETS else "0",
                "value_usd": text(values.get(asset, ZERO)),
                "current_allocation": current[asset],
                "target_allocation": float(targets.get(asset, 0.0)),
                "drift": drift,
            }
        )
    max_drift = max((abs(p["drift"]) for p in positions), default=0.0)
    timeline = portfolios.timeline(doc)
    month = summarize([value for _, value in series(timeline, sample_instants("1M", now, timeline.inception), seed)])
    body = {
        "portfolio_id": doc["portfolio_id"],
        "user_id": doc["user_id"],
        "as_of": iso(now),
        "total_value_usd": shown["total_value_usd"],
        "initial_value_usd": doc["initial_value_usd"],
        "total_return": shown["total_return"],
        "total_return_percentage": shown["total_return_percentage"],
        "risk_tolerance": doc["risk_tolerance"],
        "positions": positions,
        "max_drift": max_drift,
        "rebalance_threshold": REBALANCE_THRESHOLD,
        "needs_rebalance": max_drift > REBALANCE_THRESHOLD,
        "performance_30d": {
            "starting_value": text(month.starting_value),
            "ending_value": text(month.ending_value),
            "percentage_change": text(month.percentage_change),
            "max_drawdown": text(month.max_drawdown),
            "volatility": text(month.volatility),
            "total_data_points": month.total_data_points,
        },
    }
    return json_reply(200, body)


# --- the seeded state -------------------------------------------------------------------------

SEEDED_PORTFOLIOS: tuple[dict[str, Any], ...] = (
    {
        "portfolio_id": "5555717d-15c7-408a-aad2-f3155d61ff77",
        "user_id": SANDBOX_USER,
        "name": "Long-Term Core",
        "description": "Bitcoin and Ether core holdings with a stablecoin buffer",
        "target_allocations": {"BTC": 0.6, "ETH": 0.3, "USDC": 0.1},
        "risk_tolerance": "moderate",
        "is_active": True,
        "is_default": True,
        "tags": ["core", "long-term"],
        "initial_value_usd": "25000.00",
        "status": "active",
        "created_at": "2025-06-02T09:30:00Z",
        "updated_at": "2025-06-02T09:30:00Z",
        "last_rebalanced_at": "2025-06-02T09:30:00Z",
        "positions": {"BTC": "0.24499875", "ETH": "1.91668796", "USDC": "2500.00000000"},  # 25,000 USD at the seed-0 prices of the day
    },
    {
        "portfolio_id": "8b2e4c1a-3f5d-4e7b-9a1c-2d6e8f0a4b3c",
        "user_id": SANDBOX_USER,
        "name": "Altcoin Satellite",
        "description": None,
        "target_allocations": {"SOL": 0.5, "LINK": 0.25, "UNI": 0.25},
        "risk_tolerance": "aggressive",
        "is_active": False,
        "is_default": False,
        "tags": ["satellite"],
        "initial_value_usd": "5000.00",
        "status": "paused",
        "created_at": "2025-09-15T14:00:00Z",
        "updated_at": "2025-11-03T08:15:00Z",
        "last_rebalanced_at": None,
        "positions": {"SOL": "11.51914481", "LINK": "132.41525423", "UNI": "119.50286806"},
    },
)


def seed_state(state: ApiState) -> None:
    """The sandbox user's two portfolios: an active default one and a paused one."""
    for portfolio in SEEDED_PORTFOLIOS:
        doc = {**portfolio, "position_history": [{"at": portfolio["created_at"], "positions": portfolio["positions"]}]}
        state.put(portfolios.KIND, doc["portfolio_id"], doc, owner=doc["user_id"])


VENDOR = Vendor(
    envelope=fastapi_envelope,
    validation_status=422,
    handlers={
        "portfolio_health": health,
        "get_portfolio_balances": balances,
        "get_portfolio_aggregate": aggregate,
        "get_portfolio_cost_basis": cost_basis,
        "get_account_cost_basis_lots": lots,
        "rebuild_account_cost_basis_lots": rebuild_lots,
        "backfill_ingest": backfill,
        "ingest_coinbase_csv": ingest_csv,
        "refresh_portfolio": refresh,
        "get_holdings_value_history": value_history,
        "list_portfolios": list_portfolios,
        "create_portfolio": create_portfolio,
        "get_portfolio": get_portfolio,
        "delete_portfolio": delete_portfolio,
        "update_portfolio": update_portfolio,
        "get_portfolio_analytics": analytics,
        "get_portfolio_history": history,
        "get_portfolio_performance": performance,
        "export_portfolio_history": export,
    },
    seed_state=seed_state,
)
