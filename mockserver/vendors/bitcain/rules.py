"""bitcain's rules that its description cannot state, checked before any answer is chosen (so
`Prefer`, a fixture or an example never skips them; vendors.Rule): a portfolio's target
allocations and initial value, the supported exchanges and currencies, and a CSV upload that
is a readable Coinbase export within the size limit.

Each sees only the call; a handler then works with what its rules let through.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ...vocabulary import Call, Reply
from . import clock, csv_ingest
from .errors import detail, validation_reply
from .ledger import EXCHANGES, SUPPORTED_ASSETS
from .portfolios import allocation_problems
from .validation_errors import CSV_FIELD, value_error

# pydantic's Decimal takes any finite value; the sandbox funds a portfolio only within this bound, so
# that its holdings keep every digit (valuation._ROUNDING); a negative value funds nothing
MAX_VALUE_USD = Decimal("1e24")
MAX_CSV_BYTES = 262_144
CURRENCIES = ("USD",)


def initial_value(raw: Any) -> Decimal:
    """`initial_value_usd` as its schema let it through: a number, or a decimal string (lax.py writes
    the ones pydantic reads, `1e3` or ` 1_000 `, plainly)."""
    return Decimal(str(raw))


def new_portfolio_rule(call: Call) -> Reply | None:
    body: dict[str, Any] = call.body
    refused = _allocation_rule(body["target_allocations"])
    if refused is not None:
        return refused
    raw = body.get("initial_value_usd", "0")
    if abs(initial_value(raw)) > MAX_VALUE_USD:
        message = f"initial_value_usd must be within -{MAX_VALUE_USD:f} and {MAX_VALUE_USD:f}"
        return validation_reply(value_error(["body", "initial_value_usd"], message, raw))
    return None


def portfolio_update_rule(call: Call) -> Reply | None:
    targets = (call.body or {}).get("target_allocations")
    return _allocation_rule(targets) if targets is not None else None


def _allocation_rule(targets: Mapping[str, float]) -> Reply | None:
    """Weights of supported assets that sum to 1.0."""
    problems = allocation_problems(targets, SUPPORTED_ASSETS)
    if problems:
        return validation_reply(value_error(["body", "target_allocations"], problems[0], dict(targets)))
    return None


def exchange_rule(call: Call) -> Reply | None:
    exchange = call.params["query"].get("exchange", "binanceus")
    if exchange in EXCHANGES:
        return None
    return detail(400, f"Unsupported exchange {exchange!r}; supported exchanges: {', '.join(EXCHANGES)}")


def currency_rule(call: Call) -> Reply | None:
    currency = call.params["query"].get("currency", "USD")
    if currency in CURRENCIES:
        return None
    return detail(400, f"Unsupported currency {currency!r}; supported currencies: {', '.join(CURRENCIES)}")


def upload_rule(call: Call) -> Reply | None:
    """A `file` part that is a file, within MAX_CSV_BYTES, that parses as a Coinbase export."""
    upload = uploaded(call)
    loc = ["body", CSV_FIELD]
    if upload is None:
        return validation_reply({"type": "missing", "loc": loc, "msg": "Field required", "input": None})
    if not hasattr(upload, "data"):
        return validation_reply(value_error(loc, f"Expected UploadFile, received: {type(upload)}", upload))
    if len(upload.data) > MAX_CSV_BYTES:
        message = f"the file is {len(upload.data)} bytes; the limit is {MAX_CSV_BYTES} bytes"
        return validation_reply(value_error(loc, message, upload_input(upload)))
    try:
        csv_ingest.parse(upload.data, clock.now(call))
    except csv_ingest.CsvError as exc:
        return validation_reply(value_error(loc, str(exc), upload_input(upload)))
    return None


def uploaded(call: Call) -> Any:
    """The request's `file` part, if any."""
    return (call.body or {}).get(CSV_FIELD) if isinstance(call.body, dict) else None


def upload_input(upload: Any) -> dict[str, Any]:
    """What an error quotes of an upload: its name, type and size (never its content)."""
    return {"filename": upload.filename, "content_type": upload.content_type, "size": len(upload.data)}
