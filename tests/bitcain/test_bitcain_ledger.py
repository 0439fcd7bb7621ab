"""The sandbox pieces behind bitcain: FIFO lots, the Coinbase CSV reader, series statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mockserver.sandbox.world import World
from mockserver.vendors.bitcain import csv_ingest as coinbase_csv
from mockserver.vendors.bitcain import ledger
from mockserver.vendors.bitcain.ledger import Entry, build_book
from mockserver.vendors.bitcain.performance import summarize

T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 15, 15, tzinfo=UTC)


def seed_entries(seed: int, user: str) -> list[Entry]:
    """The seeded ledger of a user in a world of this seed."""
    return ledger.seed_entries(World(seed), user)


def entry(name: str, days: int, kind: str, quantity: str, price: str, fee: str = "0", exchange: str = "coinbase") -> Entry:
    return Entry(name, T0 + timedelta(days=days), kind, "BTC", Decimal(quantity), Decimal(price), Decimal(fee), exchange, "test")


def test_fifo_takes_the_oldest_lots_first_and_realizes_the_gain() -> None:
    book = build_book(
        [
            entry("b1", 0, "buy", "1", "100", "1"),
            entry("b2", 1, "buy", "1", "200"),
            entry("s1", 2, "sell", "1.5", "300", "3"),
        ],
        NOW,
    )
    [first, second] = book.lots
    assert (first.remaining, second.remaining) == (Decimal(0), Decimal("0.5"))
    assert second.remaining_cost == Decimal(100)
    # proceeds 1.5 x 300 - 3 = 447; cost 101 + 100 = 201
    assert book.realized_usd == {"BTC": Decimal(246)}
    assert book.holdings() == {("BTC", "coinbase"): Decimal("0.5")}
    assert book.timeline.quantities_at(T0 + timedelta(days=1, hours=1)) == {("BTC", "coinbase"): Decimal(2)}
    assert book.timeline.quantities_at(NOW) == {("BTC", "coinbase"): Decimal("0.5")}


def test_venues_are_separate_and_a_short_sale_is_a_shortfall() -> None:
    book = build_book([entry("b1", 0, "buy", "1", "100", exchange="binanceus"), entry("s1", 1, "send", "2", "100")], NOW)
    assert book.holdings() == {("BTC", "binanceus"): Decimal(1)}
    assert book.shortfalls == [("s1", Decimal(2))] and book.realized_usd == {}


def test_entries_after_the_clock_do_not_count_yet() -> None:
    book = build_book([entry("b1", 0, "buy", "1", "100")], T0 - timedelta(days=1))
    assert book.lots == [] and book.timeline.inception is None


def test_the_seeded_ledger_is_stable_per_seed_and_user() -> None:
    assert seed_entries(0, "u") == seed_entries(0, "u")
    assert seed_entries(0, "u") != seed_entries(0, "v") and seed_entries(1, "u") != seed_entries(0, "u")
    assert not build_book(seed_entries(0, "u"), NOW).shortfalls


def test_a_convert_row_becomes_a_disposal_and_an_acquisition() -> None:
    data = (
        b"ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,Subtotal,"
        b"Total (inclusive of fees and/or spread),Fees and/or Spread,Notes\n"
        b'c1,2024-08-02 11:11:11 UTC,Convert,ETH,0.1,USD,$2990.00,$297.51,$299.00,$1.49,"Converted 0.1 ETH to 1,297.51 USDC"\n'
    )
    parsed = coinbase_csv.parse(data, NOW)
    [(line, out), (_, into)] = parsed.entries
    assert line == 2 and (out.kind, out.asset, out.quantity) == ("convert_out", "ETH", Decimal("0.1"))
    assert (into.id, into.kind, into.asset, into.quantity) == ("c1-in", "convert_in", "USDC", Decimal("1297.51"))
    assert out.quantity * out.price_usd == Decimal("297.51")  # the subtotal is what both sides are worth
    assert abs(into.quantity * into.price_usd - Decimal("297.51")) < Decimal("1e-20")


@pytest.mark.parametrize(
    ("text", "value"),
    [("$1,234.56", Decimal("1234.56")), ("-$597.49", Decimal("-597.49")), ("€0.12", Decimal("0.12")), ("", None), ("1e3", Decimal(1000))],
)
def test_amounts_read_signs_symbols_and_separators(text: str, value: Decimal | None) -> None:
    assert coinbase_csv.amount(text, "x") == value


@pytest.mark.parametrize("text", ["abc", "NaN", "1e99", "$$", "1e999999999", "-1E+999999999"])
def test_amounts_that_are_not_numbers(text: str) -> None:
    with pytest.raises(coinbase_csv.RowError):
        coinbase_csv.amount(text, "x")


def test_performance_of_a_known_series() -> None:
    figures = summarize([Decimal(v) for v in ("100", "120", "90", "110")])
    assert (figures.starting_value, figures.ending_value, figures.highest_value, figures.lowest_value) == (100, 110, 120, 90)
    assert figures.absolute_change == 10 and figures.percentage_change == Decimal("10.00") and figures.return_rate == Decimal("0.100000")
    assert figures.max_drawdown == Decimal("25.00")  # 120 -> 90
    # returns 0.2, -0.25, 0.2222...: sample standard deviation 0.26645... -> 26.65%
    assert figures.volatility == Decimal("26.65") and figures.is_profitable and figures.total_data_points == 4


def test_performance_of_degenerate_series() -> None:
    assert summarize([]).total_data_points == 0
    single = summarize([Decimal("5.00")])
    assert (single.volatility, single.max_drawdown, single.percentage_change) == (0, 0, 0)
    from_zero = summarize([Decimal(0), Decimal(10), Decimal(12)])
    assert from_zero.percentage_change == 0 and from_zero.volatility == 0  # one return only: 10 -> 12
