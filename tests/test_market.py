"""The shared price history: deterministic, positive, smooth, seed-dependent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mockserver.sandbox.market import ASSETS, round_price

from .helpers import price_usd

MOMENT = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("symbol", sorted(ASSETS))
def test_prices_are_deterministic_and_positive(symbol: str) -> None:
    assert price_usd(symbol, MOMENT) == price_usd(symbol, MOMENT)
    for days in range(0, 2000, 37):
        assert price_usd(symbol, MOMENT - timedelta(days=days)) > 0


@pytest.mark.parametrize("symbol", sorted(ASSETS))
def test_prices_move_smoothly_hour_to_hour(symbol: str) -> None:
    for hour in range(0, 24 * 30, 5):
        now = MOMENT - timedelta(hours=hour)
        change = price_usd(symbol, now) / price_usd(symbol, now - timedelta(hours=1)) - 1
        assert abs(change) < 0.03  # crypto rarely moves more in an hour


def test_prices_stay_near_their_base() -> None:
    for symbol, asset in ASSETS.items():
        price = price_usd(symbol, MOMENT)
        assert asset.base_usd / 4 < price < asset.base_usd * 4, symbol


def test_stablecoin_stays_at_a_dollar() -> None:
    for days in range(0, 900, 11):
        assert round_price(price_usd("USDC", MOMENT - timedelta(days=days))) == pytest.approx(1.0, abs=0.01)


def test_seed_changes_the_history() -> None:
    assert price_usd("BTC", MOMENT, seed=0) != price_usd("BTC", MOMENT, seed=1)


@pytest.mark.parametrize(("value", "rounded"), [(1234.5678, 1234.57), (1.0, 1.0), (0.0597712, 0.0597712), (0.123456789, 0.123457)])
def test_round_price(value: float, rounded: float) -> None:
    assert round_price(value) == rounded
