"""What Bitpanda's tests share: the GraphQL endpoint and the sandbox key, the default seed's market,
keys configured for a few users, the document's latest query, and running a query."""

from __future__ import annotations

from typing import Any

from mockserver.sandbox.world import World

URL = "/bitpanda/graphql"
KEY = "mock-api-key"
AUTH = {"x-api-key": KEY}
MARKET = World().market  # the default seed's prices
CONFIGURED = {
    "bitpanda": [
        {"x-api-key": "key-alice", "name": "alice"},
        {"x-api-key": "key-bob", "name": "bob"},
        {"x-api-key": "key-locked", "name": "locked", "forbidden": True},
    ]
}
AMOUNT = "amount { currency timestamp value }"
# the first of the document's four queries: the latest point
LATEST_QUERY = f"""query UserPortfolioQuery {{
  user {{ portfolio {{ items {{ timestamp total {{ value timestamp currency }}
    balances {{ items {{ {AMOUNT} asset {{ name }} }} }} }} }} }}
}}"""


async def run(client: Any, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    response = await client.post(URL, json=body, headers=AUTH if headers is None else headers)
    payload = await response.json()
    assert response.status == 200, payload
    assert response.headers["Content-Type"].startswith("application/json")
    return payload


async def items_of(
    client: Any, arguments: str = "", fields: str = "timestamp", headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    payload = await run(client, f"{{ user {{ portfolio{arguments} {{ items {{ {fields} }} }} }} }}", headers=headers)
    assert "errors" not in payload, payload
    return payload["data"]["user"]["portfolio"]["items"]


async def timestamps(client: Any, arguments: str = "") -> list[str]:
    return [item["timestamp"] for item in await items_of(client, arguments)]
