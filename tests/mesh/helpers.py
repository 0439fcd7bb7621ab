"""What Mesh's tests share: the aggregated portfolio's request, its positions, and the rules its
numbers follow."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ..helpers import MESH_AUTH, PORTFOLIO


async def get_portfolio(client: Any, **query: str) -> tuple[int, dict[str, Any]]:
    response = await client.get(PORTFOLIO, params=query, headers=MESH_AUTH)
    return response.status, await response.json()


def positions(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [*content["equityPositions"], *content["cryptocurrencyPositions"]]


def assert_coherent(content: dict[str, Any]) -> None:
    for position in positions(content):
        assert position["marketValue"] == pytest.approx(position["amount"] * position["lastPrice"], abs=1e-3)
        paid = position["amount"] * position["costBasis"]
        assert position["totalReturn"] == pytest.approx(position["marketValue"] - paid, abs=1e-3)
        assert position["returnPercentage"] == pytest.approx((position["marketValue"] - paid) / paid * 100, abs=1e-3)
        opened = position["lastPrice"] - position["totalDailyReturn"] / position["amount"]
        assert position["dailyReturnPercentage"] == pytest.approx((position["lastPrice"] / opened - 1) * 100, abs=0.05)
    assert content["equitiesValue"] == pytest.approx(sum(p["marketValue"] for p in content["equityPositions"]), abs=1e-3)
    assert content["cryptocurrenciesValue"] == pytest.approx(sum(p["marketValue"] for p in content["cryptocurrencyPositions"]), abs=1e-3)
    if positions(content):
        assert sum(Decimal(str(p["portfolioPercentage"])) for p in positions(content)) == Decimal(100)
        total = content["equitiesValue"] + content["cryptocurrenciesValue"] + content["nftsValue"]
        for position in positions(content):
            assert position["portfolioPercentage"] == pytest.approx(position["marketValue"] / total * 100, abs=1e-3)
        cost = sum(p["amount"] * p["costBasis"] for p in positions(content))
        assert content["portfolioCostBasis"] == pytest.approx(cost, abs=0.01)
        assert content["actualPortfolioPerformance"] == pytest.approx((total - cost) / cost * 100, abs=0.01)
