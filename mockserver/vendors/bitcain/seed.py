"""bitcain's seeded state: the sandbox user's two portfolios, stored at first start and after a reset.

The sandbox user is the document's example `user_id`, which the sandbox token carries. Ledgers
are not stored here: until something is written for a user, theirs is derived from the seed
(`user_ledger`).
"""

from __future__ import annotations

from typing import Any

from ...sandbox.store import ApiState
from . import portfolios

SANDBOX_USER = "a169451c-8525-4352-b8ca-070dd449a1a5"  # the document's example user_id: the sandbox token's user

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
