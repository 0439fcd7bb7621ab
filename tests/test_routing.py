"""Paths aiohttp's router does not take although an operation's path matches them (routing.py):
a segment holding `{` or `}` is a value like any other, answered by the operation; never a 405
that allows the very method it refuses."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from .omniex.helpers import BASE as OMNIEX
from .omniex.helpers import assert_error, signed


async def test_a_braced_segment_is_checked_like_any_other_id(client: TestClient) -> None:
    target = OMNIEX + "/portfolios/%7Bid%7D"
    response = await client.get(target, headers=signed("GET", target))
    body = await response.json()
    assert_error(response.status, body, 400, "PARAMETER_VALUE_INVALID")
    assert body["errors"][0]["message"] == 'path parameter \'id\': "{id}" is not a "uuid"'


async def test_a_braced_segment_is_authenticated_like_any_other(client: TestClient) -> None:
    response = await client.get("/treasure/v1/businesses/%7Bbusiness_id%7D/portfolio_history")
    assert response.status == 401
    assert (await response.json())["error_code"] == "NOT_AUTHENTICATED"


async def test_a_braced_segment_where_no_operation_has_a_parameter_is_a_404(client: TestClient) -> None:
    response = await client.get("/mesh/api/v1/holdings/%7Bid%7D", headers={"X-Client-Id": "mock-client-id"})
    assert response.status == 404
    body = await response.json()
    assert body["status"] == "notFound"
    assert "holdings/{id}" in body["message"]


async def test_an_encoded_slash_names_no_operation_outside_fastapi(client: TestClient) -> None:
    target = OMNIEX + "/portfolios%2Fx"
    response = await client.get(target, headers=signed("GET", target))
    assert response.status == 404
    assert "not allowed" not in await response.text()


async def test_a_braced_segment_reaches_fastapis_operation(client: TestClient) -> None:
    """Starlette's `{portfolio_id}` matches any segment, braces included (the oracle's FastAPI app
    answers its own operation there): a portfolio this user does not have."""
    response = await client.get(
        "/bitcain/api/v1/portfolio/%7Bportfolio_id%7D",
        params={"user_id": "a169451c-8525-4352-b8ca-070dd449a1a5"},
        headers={"Authorization": "Bearer mock-bitcain-token"},
    )
    assert response.status == 404
    assert await response.json() == {"detail": "Portfolio not found"}
