"""Handlers that write the token user's ledger: backfill from Coinbase, CSV ingest, refresh.

Each runs in one state transaction. Backfill and CSV ingest merge what is new (entries
already known by ID are skipped) and store it unless `dry_run`, then report the holdings
and lots after; refresh only marks the ledger refreshed. The CSV upload is parsed by
`csv_ingest`; what Coinbase reports comes from `ledger.remote_coinbase_ledger`.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from ...vocabulary import Call, Reply, json_reply
from . import clock, csv_ingest
from .errors import validation_reply
from .ledger import BACKFILL_PAGE_SIZE, EXCHANGES, SUPPORTED_ASSETS, Book, build_book, iso, remote_coinbase_ledger
from .own_settings import MAX_LEDGER_ENTRIES
from .rules import upload_input, uploaded
from .user_ledger import Ledger, seeded_entries
from .validation_errors import CSV_FIELD, value_error
from .valuation import ZERO, quantity_text, text, total


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
        remote = remote_coinbase_ledger(ledger.world, ledger.user, seeded_entries(ledger.world, ledger.user))
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


def ingest_csv(call: Call) -> Reply:
    upload = uploaded(call)  # a Coinbase export within the limit (rules.upload_rule)
    loc = ["body", CSV_FIELD]
    dry_run = call.params["query"].get("dry_run", False)
    now = clock.now(call)
    parsed = csv_ingest.parse(upload.data, now)
    with call.state.transaction():
        ledger = Ledger(call)
        known = {entry.id for entry in ledger.entries}
        seen_lines = {line for line, entry in parsed.entries if entry.id in known}
        skipped = [
            *parsed.skipped,
            *({"line": line, "id": _row_id(parsed, line), "reason": "already imported"} for line in sorted(seen_lines)),
        ]
        fresh = [(line, entry) for line, entry in parsed.entries if line not in seen_lines]
        most = call.settings[MAX_LEDGER_ENTRIES]  # per user, so the state stays bounded
        if len(ledger.entries) + len(fresh) > most and not dry_run:
            message = f"the ledger would hold more than {most} transactions; POST /__mock/reset starts it afresh"
            return validation_reply(value_error(loc, message, upload_input(upload)))
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


def _row_id(parsed: csv_ingest.Parsed, line: int) -> str:
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
