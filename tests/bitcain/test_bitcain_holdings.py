"""bitcain over HTTP: the token user's holdings, ingest, and the history and performance derived from them."""

from __future__ import annotations

import csv
import io
import itertools
import math
import statistics
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import aiohttp
import pytest

from mockserver.sandbox.market import round_price

from ..helpers import ROOT, price_usd
from .helpers import AUTH, BASE, CORE, SAMPLE, SANDBOX_USER

CENT = Decimal("0.01")
NOW = datetime(2026, 1, 15, 15, tzinfo=UTC)  # the default sandbox clock
TIMEFRAME_POINTS = {"1D": 25, "1W": 29, "1M": 31, "3M": 91, "1Y": 366}


async def get(client: Any, path: str, **query: Any) -> Any:
    response = await client.get(f"{BASE}/{path}", params={k: str(v) for k, v in query.items()}, headers=AUTH)
    payload = await response.json()
    assert response.status == 200, payload
    return payload


async def post(client: Any, path: str, **query: Any) -> Any:
    response = await client.post(f"{BASE}/{path}", params={k: str(v).lower() for k, v in query.items()}, headers=AUTH)
    payload = await response.json()
    assert response.status == 200, payload
    return payload


def upload(data: bytes, filename: str = "statement.csv", field: str = "file") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(field, data, filename=filename, content_type="text/csv")
    return form


async def ingest(client: Any, data: bytes, dry_run: bool | None = None, status: int = 200) -> Any:
    params = {} if dry_run is None else {"dry_run": str(dry_run).lower()}
    response = await client.post(f"{BASE}/ingest/csv", params=params, data=upload(data), headers=AUTH)
    payload = await response.json()
    assert response.status == status, payload
    return payload


def quantities(balances: dict[str, Any]) -> dict[str, Decimal]:
    return {row["asset"]: Decimal(row["total"]) for row in balances["balances"]}


# --- coherent numbers -------------------------------------------------------------------------


async def test_balances_add_up(client: Any) -> None:
    for exchange in ("binanceus", "coinbase", "kraken"):
        balances = await get(client, "balances", exchange=exchange)
        assert balances["exchange"] == exchange and balances["user_id"] == SANDBOX_USER
        for row in balances["balances"]:
            assert Decimal(row["free"]) + Decimal(row["locked"]) == Decimal(row["total"])
            assert Decimal(row["value_usd"]) == (Decimal(row["total"]) * Decimal(row["price_usd"])).quantize(CENT, ROUND_HALF_EVEN)
            assert float(row["price_usd"]) == round_price(price_usd(row["asset"], NOW, 0))
        assert Decimal(balances["total_value_usd"]) == sum((Decimal(row["value_usd"]) for row in balances["balances"]), Decimal(0))
    assert (await get(client, "balances", exchange="kraken"))["balances"] == []
    assert (await get(client, "balances"))["exchange"] == "binanceus"


async def test_unknown_exchange_is_400(client: Any) -> None:
    response = await client.get(f"{BASE}/balances", params={"exchange": "ftx"}, headers=AUTH)
    assert response.status == 400
    assert await response.json() == {"detail": "Unsupported exchange 'ftx'; supported exchanges: binanceus, coinbase, kraken"}


async def test_aggregate_balances_and_cost_basis_agree(client: Any) -> None:
    aggregate = await get(client, "aggregate")
    per_exchange = {exchange: await get(client, "balances", exchange=exchange) for exchange in ("binanceus", "coinbase", "kraken")}
    total = sum((Decimal(b["total_value_usd"]) for b in per_exchange.values()), Decimal(0))
    assert Decimal(aggregate["total_value_usd"]) == total
    assert sum(Fraction(str(row["allocation"])) for row in aggregate["assets"]) == 1
    for row in aggregate["assets"]:
        held = {exchange: quantities(b).get(row["asset"]) for exchange, b in per_exchange.items()}
        assert {exchange: Decimal(q) for exchange, q in row["exchanges"].items()} == {e: q for e, q in held.items() if q is not None}
        assert Decimal(row["quantity"]) == sum((Decimal(q) for q in row["exchanges"].values()), Decimal(0))
        values = [Decimal(r["value_usd"]) for b in per_exchange.values() for r in b["balances"] if r["asset"] == row["asset"]]
        assert Decimal(row["value_usd"]) == sum(values, Decimal(0))
    for exchange in aggregate["exchanges"]:
        assert exchange["value_usd"] == per_exchange[exchange["exchange"]]["total_value_usd"]

    basis = await get(client, "cost-basis")
    assert basis["method"] == "FIFO" and basis["total_market_value_usd"] == aggregate["total_value_usd"]
    by_asset = {row["asset"]: row for row in aggregate["assets"]}
    for row in basis["assets"]:
        assert row["quantity"] == by_asset[row["asset"]]["quantity"]
        assert row["market_value_usd"] == by_asset[row["asset"]]["value_usd"]
        assert Decimal(row["unrealized_pnl_usd"]) == Decimal(row["market_value_usd"]) - Decimal(row["cost_basis_usd"])
    assert Decimal(basis["total_cost_basis_usd"]) == sum((Decimal(r["cost_basis_usd"]) for r in basis["assets"]), Decimal(0))
    assert Decimal(basis["total_realized_pnl_usd"]) != 0  # the seeded ledger sold part of a position

    lots = await get(client, "cost-basis/lots")
    assert lots["count"] == len(lots["lots"]) and lots["total_cost_basis_usd"] == basis["total_cost_basis_usd"]
    for row in basis["assets"]:
        mine = [lot for lot in lots["lots"] if lot["asset"] == row["asset"]]
        assert len(mine) == row["lot_count"]
        assert sum((Decimal(lot["remaining_quantity"]) for lot in mine), Decimal(0)) == Decimal(row["quantity"])
        assert sum((Decimal(lot["cost_basis_usd"]) for lot in mine), Decimal(0)) == Decimal(row["cost_basis_usd"])
    acquired = [lot["acquired_at"] for lot in lots["lots"]]
    assert acquired == sorted(acquired)


async def test_the_last_history_point_is_the_current_value(client: Any) -> None:
    aggregate = await get(client, "aggregate")
    for timeframe in (*TIMEFRAME_POINTS, "ALL"):
        points = await get(client, "history", timeframe=timeframe)
        assert points[-1]["recorded_at"] == "2026-01-15T15:00:00Z"
        assert points[-1]["total_value"] == aggregate["total_value_usd"]
    value_history = await get(client, "value-history")
    month = await get(client, "history", timeframe="1M")
    assert [(p["recorded_at"], p["value_usd"]) for p in value_history["points"]] == [(p["recorded_at"], p["total_value"]) for p in month]


@pytest.mark.parametrize(("timeframe", "count"), TIMEFRAME_POINTS.items())
async def test_history_has_regular_points_for_the_timeframe(client: Any, timeframe: str, count: int) -> None:
    points = await get(client, "history", timeframe=timeframe)
    assert len(points) == count
    assert all(p["user_id"] == SANDBOX_USER and p["portfolio_id"] is None and p["currency"] == "USD" for p in points)
    assert len({p["id"] for p in points}) == count
    assert [p["recorded_at"] for p in points] == sorted(p["recorded_at"] for p in points)


async def test_value_history_days(client: Any) -> None:
    history = await get(client, "value-history", days=7)
    assert history["days"] == 7 and len(history["points"]) == 8
    assert [p["date"] for p in history["points"]][-1] == "2026-01-15"
    start, end = Decimal(history["start_value_usd"]), Decimal(history["end_value_usd"])
    assert history["change_usd"] == f"{end - start:f}"
    assert len((await get(client, "value-history", days=365))["points"]) == 366


def recompute(values: list[str]) -> dict[str, Any]:
    """The performance figures from the points, as the spec defines them (independently of the server's code)."""
    exact = [Fraction(v) for v in values]
    start, end = exact[0], exact[-1]

    def rounded(x: Fraction, places: int) -> str:
        exact = round(x, places)  # Fraction rounds half to even
        return str((Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal(1).scaleb(-places)))

    def two(x: Fraction) -> str:
        return rounded(x, 2)

    peak, worst = Fraction(0), Fraction(0)
    for value in exact:
        peak = max(peak, value)
        worst = max(worst, (peak - value) / peak * 100) if peak else worst
    returns = [float(b / a - 1) for a, b in itertools.pairwise(exact) if a]
    return {
        "starting_value": values[0],
        "ending_value": values[-1],
        "current_value": values[-1],
        "highest_value": max(values, key=Fraction),
        "lowest_value": min(values, key=Fraction),
        "absolute_change": str(Decimal(values[-1]) - Decimal(values[0])),
        "percentage_change": two((end - start) / start * 100),
        "return_rate": rounded((end - start) / start, 6),
        "max_drawdown": two(worst),
        "volatility": statistics.stdev(returns) * 100 if len(returns) > 1 else 0.0,
        "is_profitable": end > start,
        "total_data_points": len(values),
    }


@pytest.mark.parametrize("timeframe", [*TIMEFRAME_POINTS, "ALL"])
async def test_performance_is_recomputable_from_the_history_points(client: Any, timeframe: str) -> None:
    points = await get(client, "history", timeframe=timeframe)
    performance = await get(client, "history/performance", timeframe=timeframe)
    expected = recompute([p["total_value"] for p in points])
    volatility = expected.pop("volatility")
    assert math.isclose(float(performance["volatility"]), volatility, abs_tol=0.005 + 1e-9)
    assert {key: performance[key] for key in expected} == expected
    assert performance["absolute_gain"] == performance["absolute_change"]
    assert performance["percentage_gain"] == performance["percentage_change"]
    assert performance["period_start"] == points[0]["recorded_at"] and performance["period_end"] == points[-1]["recorded_at"]
    assert performance["timeframe"] == timeframe and performance["currency"] == "USD"


async def test_performance_defaults_to_a_month(client: Any) -> None:
    assert (await get(client, "history/performance"))["total_data_points"] == 31


async def test_portfolio_history_follows_its_positions(client: Any) -> None:
    points = await get(client, "history", timeframe="3M", portfolio_id=CORE)
    assert len(points) == 91 and all(p["portfolio_id"] == CORE for p in points)
    core = await (await client.get(f"{BASE}/{CORE}")).json()
    assert points[-1]["total_value"] == core["total_value_usd"]
    everything = await get(client, "history", timeframe="ALL", portfolio_id=CORE)
    assert everything[0]["recorded_at"] >= "2025-06-02T09:30:00Z"
    performance = await get(client, "history/performance", timeframe="3M", portfolio_id=CORE)
    assert performance["ending_value"] == core["total_value_usd"]


async def test_a_new_portfolio_has_one_point(client: Any) -> None:
    body = {"name": "fresh", "target_allocations": {"BTC": 1}, "initial_value_usd": "500"}
    created = await (await client.post(f"{BASE}/", params={"user_id": SANDBOX_USER}, json=body, headers=AUTH)).json()
    points = await get(client, "history", timeframe="1W", portfolio_id=created["portfolio_id"])
    assert [p["total_value"] for p in points] == [created["total_value_usd"]]
    performance = await get(client, "history/performance", timeframe="1W", portfolio_id=created["portfolio_id"])
    assert performance["total_data_points"] == 1 and performance["volatility"] == "0.00" and performance["max_drawdown"] == "0.00"


async def test_history_of_another_users_portfolio_is_404(client: Any) -> None:
    body = {"name": "theirs", "target_allocations": {"BTC": 1}}
    created = await (await client.post(f"{BASE}/", params={"user_id": "someone-else"}, json=body, headers=AUTH)).json()
    for path in ("history", "history/performance", "history/export"):
        for portfolio_id in (created["portfolio_id"], "nope"):
            response = await client.get(f"{BASE}/{path}", params={"portfolio_id": portfolio_id}, headers=AUTH)
            assert response.status == 404 and await response.json() == {"detail": "Portfolio not found"}


async def test_only_usd_is_supported(client: Any) -> None:
    response = await client.get(f"{BASE}/history", params={"currency": "EUR"}, headers=AUTH)
    assert response.status == 400
    assert await response.json() == {"detail": "Unsupported currency 'EUR'; supported currencies: USD"}


async def test_export_returns_the_history_points_as_json_or_csv(client: Any) -> None:
    points = await get(client, "history", timeframe="1W")
    assert await get(client, "history/export", timeframe="1W") == points
    response = await client.get(f"{BASE}/history/export", params={"timeframe": "1W"}, headers={**AUTH, "Accept": "text/csv"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="portfolio-history-1W.csv"'
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["id"], r["recorded_at"], r["total_value"], r["currency"], r["portfolio_id"]) for r in rows] == [
        (p["id"], p["recorded_at"], p["total_value"], p["currency"], "") for p in points
    ]
    for accept in ("application/json", "text/csv;q=0.5, application/json", "*/*", "text/html"):
        response = await client.get(f"{BASE}/history/export", params={"timeframe": "1W"}, headers={**AUTH, "Accept": accept})
        assert response.content_type == "application/json", accept


# --- ingest -----------------------------------------------------------------------------------


async def test_csv_ingest_reports_every_row_and_updates_balances(client: Any) -> None:
    before = quantities(await get(client, "balances", exchange="coinbase"))
    lots_before = (await get(client, "cost-basis/lots"))["count"]
    report = await ingest(client, SAMPLE.read_bytes())
    assert report["filename"] == "statement.csv" and report["dry_run"] is False
    assert (report["rows_total"], report["rows_imported"], report["rows_skipped"], report["rows_rejected"]) == (14, 11, 1, 2)
    assert report["rejected"] == [
        {
            "line": 5,
            "id": "6862f0e3b2c94a0012d4e8a1",
            "reason": "unsupported asset 'GRT' (the sandbox prices BTC, ETH, SOL, DOGE, ADA, LINK, UNI, ARB, USDC)",
        },
        {
            "line": 8,
            "id": "67514944a3f9bf34890d80b4",
            "reason": "unsupported asset 'XRP' (the sandbox prices BTC, ETH, SOL, DOGE, ADA, LINK, UNI, ARB, USDC)",
        },
    ]
    assert report["skipped"] == [{"line": 15, "id": "664b9a3be8091a0012b8e53b", "reason": "fiat cash movements are not tracked"}]
    assert report["unmatched"] == []
    change = {asset: Decimal(q) for asset, q in report["quantity_change"].items()}
    assert change == {
        "BTC": Decimal("0.015"),
        "ETH": Decimal("0.35099069"),  # 0.5 + 0.00061234 - 0.1 - 0.05 + 0.00037835 (quantities kept to 8 decimals)
        "SOL": Decimal("2"),
        "LINK": Decimal("25"),
        "USDC": Decimal("298.744567"),
    }
    after = quantities(await get(client, "balances", exchange="coinbase"))
    for asset in set(before) | set(after):
        assert after.get(asset, Decimal(0)) == before.get(asset, Decimal(0)) + change.get(asset, Decimal(0)), asset
    lots = await get(client, "cost-basis/lots")
    csv_lots = [lot for lot in lots["lots"] if lot["source"] == "coinbase_csv"]
    assert lots["count"] == report["lots_after"] and lots["count"] > lots_before
    link = next(lot for lot in csv_lots if lot["asset"] == "LINK")
    assert link == {
        "lot_id": "lot-66e70a40c4b5a60016d2e3f7",
        "asset": "LINK",
        "exchange": "coinbase",
        "acquired_at": "2024-09-15T16:20:00Z",
        "quantity": "25.00000000",
        "remaining_quantity": "25.00000000",
        "unit_cost_usd": "10.42000000",
        "cost_basis_usd": "260.50",
        "source": "coinbase_csv",
    }
    basis = await get(client, "cost-basis")
    assert next(row for row in basis["assets"] if row["asset"] == "LINK")["cost_basis_usd"] == "260.50"
    holdings = {asset: Decimal(q) for asset, q in report["holdings_after"].items()}
    aggregate = await get(client, "aggregate")
    assert holdings == {row["asset"]: Decimal(row["quantity"]) for row in aggregate["assets"]}


async def test_importing_the_same_file_twice_changes_nothing(client: Any) -> None:
    await ingest(client, SAMPLE.read_bytes())
    aggregate = await get(client, "aggregate")
    again = await ingest(client, SAMPLE.read_bytes())
    assert again["rows_imported"] == 0 and again["quantity_change"] == {}
    assert again["rows_skipped"] == 12 and {item["reason"] for item in again["skipped"]} == {
        "already imported",
        "fiat cash movements are not tracked",
    }
    assert await get(client, "aggregate") == aggregate


async def test_dry_run_reports_without_writing(client: Any) -> None:
    aggregate = await get(client, "aggregate")
    report = await ingest(client, SAMPLE.read_bytes(), dry_run=True)
    assert report["dry_run"] is True and report["rows_imported"] == 11
    assert await get(client, "aggregate") == aggregate
    assert (await ingest(client, SAMPLE.read_bytes()))["holdings_after"] == report["holdings_after"]


async def test_rows_with_problems_are_rejected_with_their_line(client: Any) -> None:
    text = (
        "ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,Subtotal,"
        "Total (inclusive of fees and/or spread),Fees and/or Spread,Notes\n"
        "a1,2024-01-01 10:00:00 UTC,Buy,BTC,0.1,USD,$40000,$4000,$4010,$10,ok\n"
        "a2,yesterday,Buy,BTC,0.1,USD,$40000,$4000,$4010,$10,\n"
        "a3,2024-01-02 10:00:00 UTC,Airdrop,BTC,0.1,USD,$40000,$4000,$4010,$10,\n"
        "a4,2024-01-03 10:00:00 UTC,Buy,BTC,lots,USD,$40000,$4000,$4010,$10,\n"
        "a5,2024-01-04 10:00:00 UTC,Buy,BTC,0.1,EUR,€40000,€4000,€4010,€10,\n"
        "a6,2030-01-04 10:00:00 UTC,Buy,BTC,0.1,USD,$40000,$4000,$4010,$10,\n"
        "a1,2024-01-01 10:00:00 UTC,Buy,BTC,0.1,USD,$40000,$4000,$4010,$10,repeated\n"
        "a7,2024-01-05 10:00:00 UTC,Sell,ETH,-500,USD,$2000,$1000000,$990000,$10000,too much\n"
    )
    report = await ingest(client, text.encode())
    assert [(item["line"], item["reason"]) for item in report["rejected"]] == [
        (3, "Timestamp 'yesterday' is not a date and time like '2024-01-05 14:03:11 UTC'"),
        (4, "unsupported Transaction Type 'Airdrop'"),
        (5, "Quantity Transacted 'lots' is not a number"),
        (6, "Price Currency 'EUR' is not supported; the sandbox values everything in USD"),
        (7, "Timestamp '2030-01-04 10:00:00 UTC' is in the future"),
    ]
    assert report["skipped"] == [{"line": 8, "id": "a1", "reason": "duplicate of an earlier row in this file"}]
    assert report["rows_imported"] == 2
    [unmatched] = report["unmatched"]
    assert unmatched["line"] == 9 and unmatched["id"] == "a7" and Decimal(unmatched["quantity"]) > 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"  \n\n", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "the file is not a CSV text file: it contains binary data"),
        (b"\xff\xfeI\xe9", "the file is not a CSV text file: it is not UTF-8 (invalid byte at position 0)"),
        (
            b"name,amount\nbob,3\n",
            "the file is not a Coinbase 'Transaction history' CSV: no header row with the columns Timestamp, Transaction Type, Asset, Quantity Transacted",
        ),
        (b"x" * 262_145, "the file is 262145 bytes; the limit is 262144 bytes"),
    ],
)
async def test_unusable_files_are_422_naming_the_problem(client: Any, data: bytes, message: str) -> None:
    report = await ingest(client, data, status=422)
    assert report == {
        "detail": [
            {
                "type": "value_error",
                "loc": ["body", "file"],
                "msg": f"Value error, {message}",
                "input": {"filename": "statement.csv", "content_type": "text/csv", "size": len(data)},
                "ctx": {"error": {}},
            }
        ]
    }


async def test_too_many_rows_is_422(client: Any) -> None:
    header = "Timestamp,Transaction Type,Asset,Quantity Transacted,Spot Price Currency,Spot Price at Transaction\n"
    data = (header + "2024-01-01T00:00:00Z,Buy,BTC,0.0001,USD,40000\n" * 5001).encode()
    report = await ingest(client, data, status=422)
    assert report["detail"][0]["msg"] == "Value error, the file has more than 5000 transaction rows; split it into several uploads"


async def test_the_older_export_without_ids_is_read(client: Any) -> None:
    data = b"Timestamp,Transaction Type,Asset,Quantity Transacted,Spot Price Currency,Spot Price at Transaction,Subtotal,Total (inclusive of fees),Fees,Notes\n2021-03-01T12:00:00Z,Buy,ETH,1.5,USD,1500.00,2250.00,2265.00,15.00,Bought\n"
    report = await ingest(client, data)
    assert report["rows_imported"] == 1 and report["quantity_change"] == {"ETH": "1.50000000"}
    assert (await ingest(client, data))["rows_imported"] == 0  # the row's id is a hash of its content


async def test_missing_or_wrong_file_field(client: Any) -> None:
    response = await client.post(f"{BASE}/ingest/csv", data=upload(b"x", field="other"), headers=AUTH)
    assert (await response.json())["detail"] == [{"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": None}]
    form = aiohttp.FormData()
    form.add_field("file", "just text")
    form.add_field("other", b"x", filename="x.csv")
    response = await client.post(f"{BASE}/ingest/csv", data=form, headers=AUTH)
    assert response.status == 422
    assert (await response.json())["detail"] == [
        {
            "type": "value_error",
            "loc": ["body", "file"],
            "msg": "Value error, Expected UploadFile, received: <class 'str'>",
            "input": "just text",
            "ctx": {"error": {}},
        }
    ]
    response = await client.post(f"{BASE}/ingest/csv", json={"file": "x"}, headers=AUTH)
    assert response.status == 422
    assert (await response.json())["detail"] == [{"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": None}]


async def test_backfill_imports_once(client: Any) -> None:
    dry = await post(client, "ingest/backfill", dry_run=True, max_pages=1)
    assert dry["dry_run"] is True and dry["imported"] > 0
    untouched = await post(client, "ingest/backfill", dry_run=True, max_pages=1)
    assert untouched["imported"] == dry["imported"]
    first = await post(client, "ingest/backfill", max_pages=25)
    assert first["source"] == "trade_history_sync" and first["max_pages"] == 25 and first["page_size"] == 10
    assert all(not c["has_more"] and c["duplicates"] == 0 for c in first["currencies"])
    assert first["imported"] == first["entries_fetched"] == sum(c["imported"] for c in first["currencies"])
    aggregate = await get(client, "aggregate")
    assert first["holdings_after"] == {row["asset"]: row["quantity"] for row in aggregate["assets"]}
    second = await post(client, "ingest/backfill", source="manual", max_pages=25)
    assert second["imported"] == 0 and second["duplicates"] == first["entries_fetched"]
    lots = await get(client, "cost-basis/lots")
    assert {lot["source"] for lot in lots["lots"]} >= {"seed", "trade_history_sync"}


async def test_backfill_pages(client: Any) -> None:
    one = await post(client, "ingest/backfill", max_pages=1, dry_run=True)
    every = await post(client, "ingest/backfill", max_pages=25, dry_run=True)
    for small, large in zip(one["currencies"], every["currencies"], strict=True):
        assert small["entries_fetched"] == min(10, large["entries_fetched"]) and small["pages_fetched"] == 1
        assert small["has_more"] == (large["entries_fetched"] > 10) and not large["has_more"]
        assert large["pages_fetched"] == max(1, math.ceil(large["entries_fetched"] / 10))
    assert any(currency["has_more"] for currency in one["currencies"])


async def test_refresh_and_rebuild_report_what_they_did(client: Any) -> None:
    assert (await get(client, "aggregate"))["last_refreshed_at"] is None
    refreshed = await post(client, "refresh")
    assert refreshed["status"] == "completed" and refreshed["refreshed_at"] == "2026-01-15T15:00:00Z"
    aggregate = await get(client, "aggregate")
    assert aggregate["last_refreshed_at"] == "2026-01-15T15:00:00Z"
    assert refreshed["total_value_usd"] == aggregate["total_value_usd"]
    assert (await get(client, "cost-basis/lots"))["rebuilt_at"] is None
    rebuilt = await post(client, "cost-basis/lots/rebuild")
    assert rebuilt["status"] == "completed" and rebuilt["lots_before"] == rebuilt["lots_after"] and not rebuilt["changed"]
    assert rebuilt["open_lots"] == (await get(client, "cost-basis/lots"))["count"]
    assert (await get(client, "cost-basis/lots"))["rebuilt_at"] == "2026-01-15T15:00:00Z"


async def test_reset_forgets_the_ingested_ledger(client: Any) -> None:
    seeded = await get(client, "aggregate")
    await ingest(client, SAMPLE.read_bytes())
    assert await get(client, "aggregate") != seeded
    assert (await client.post("/__mock/reset", json={})).status == 200
    assert await get(client, "aggregate") == seeded


async def test_the_sandbox_clock_decides_what_is_held(make_client: Any) -> None:
    early = await make_client(specs=[ROOT / "specs"], clock="2023-01-01T00:00:00Z")
    assert (await get(early, "aggregate"))["assets"] == []
    assert await get(early, "history") == []
    performance = await get(early, "history/performance")
    assert performance["total_data_points"] == 0 and performance["starting_value"] == "0"


@pytest.mark.parametrize("quantity", ["1e999999999", "-1E+999999999", "1e-999999999"])
async def test_a_quantity_beyond_the_decimal_context_is_a_rejected_row(client: Any, quantity: str) -> None:
    text = (
        "ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,Subtotal,"
        "Total (inclusive of fees and/or spread),Fees and/or Spread,Notes\n"
        f"x1,2024-01-02 10:00:00 UTC,Buy,BTC,{quantity},USD,$40000,$4000,$4010,$10,\n"
    )
    report = await ingest(client, text.encode())
    assert report["rows_total"] == 1
    assert report["rows_rejected"] + report["rows_imported"] == 1
    if quantity != "1e-999999999":
        assert report["rejected"] == [{"line": 2, "id": "x1", "reason": f"Quantity Transacted {quantity!r} is too large"}]
