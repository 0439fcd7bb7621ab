"""What bitcain's tests share: where the API is, the sandbox token and user, the sandbox user's
seeded portfolios, a Coinbase statement, and making and listing portfolios."""

from __future__ import annotations

from typing import Any

from ..helpers import ROOT

MOUNT = "/bitcain"
BASE = "/bitcain/api/v1/portfolio"
TOKEN = "mock-bitcain-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SANDBOX_USER = "a169451c-8525-4352-b8ca-070dd449a1a5"
CORE = "5555717d-15c7-408a-aad2-f3155d61ff77"
SATELLITE = "8b2e4c1a-3f5d-4e7b-9a1c-2d6e8f0a4b3c"
SEEDED = [CORE, SATELLITE]  # the sandbox user's portfolios, in the order they are listed
SAMPLE = ROOT / "fixtures" / "bitcain" / "coinbase-transaction-history.csv"
NEW = {"name": "Growth", "target_allocations": {"BTC": 0.5, "ETH": 0.3, "SOL": 0.2}, "initial_value_usd": "10000"}  # what `create` sends


async def create(client: Any, user: str = "alice", body: dict[str, Any] | None = None, status: int = 201) -> dict[str, Any]:
    response = await client.post(f"{BASE}/", params={"user_id": user}, json=NEW if body is None else body, headers=AUTH)
    payload = await response.json()
    assert response.status == status, payload
    return payload


async def listed(client: Any, **query: Any) -> tuple[list[dict[str, Any]], Any]:
    response = await client.get(
        f"{BASE}/", params={key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in query.items()}
    )
    payload = await response.json()
    assert response.status == 200, payload
    return payload, response
