"""What Treasure's tests share: its mount, the sandbox client's credentials and token, the document's
business and dates, getting a history and a token, and reading an error."""

from __future__ import annotations

from typing import Any

MOUNT = "/treasure"
CLIENT = {"client_id": "mock-treasure-client", "client_secret": "mock-treasure-secret"}
TOKEN = "mock-treasure-token"  # pre-issued to the sandbox client
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOKEN_URL = "/treasure/v1/oauth/token"
DOCUMENT_BUSINESS = "urn:uuid:9b397b0d-69bc-b09f-9d82-0e02637042fc"
DOCUMENT_RANGE = {"start_date": "2022-01-01", "end_date": "2023-02-01"}
ERROR_KEYS = {"error_code", "error_message", "details"}
DETAIL_KEYS = {"target_type", "target", "message", "reason_code"}


def history_url(business: str = DOCUMENT_BUSINESS) -> str:
    return f"/treasure/v1/businesses/{business}/portfolio_history"


async def get_history(client: Any, business: str = DOCUMENT_BUSINESS, headers: dict[str, str] | None = None, **query: str) -> Any:
    return await client.get(history_url(business), params=query or DOCUMENT_RANGE, headers=AUTH if headers is None else headers)


async def history_of(client: Any, business: str = DOCUMENT_BUSINESS, **query: str) -> list[dict[str, Any]]:
    response = await get_history(client, business, **query)
    assert response.status == 200, await response.text()
    return (await response.json())["history"]


async def history_of_with(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await get_history(client, headers=headers)
    assert response.status == 200, await response.text()
    return (await response.json())["history"]


async def error_of(response: Any, status: int, code: str) -> list[dict[str, str]]:
    """The details of an error answer, after checking its status, code and envelope shape."""
    body = await response.json()
    assert response.status == status, body
    assert set(body) == ERROR_KEYS
    assert body["error_code"] == code
    assert body["details"] and all(set(detail) == DETAIL_KEYS for detail in body["details"])
    return body["details"]


async def new_token(client: Any, credentials: dict[str, str] = CLIENT) -> str:
    response = await client.post(TOKEN_URL, json=credentials)
    assert response.status == 200, await response.text()
    return (await response.json())["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
