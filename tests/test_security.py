"""Credentials are checked for real: values, not presence; 401 vs 403; no secret echoed."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from .helpers import MESH_AUTH, PORTFOLIO

WIDGET = "/widgets/v2/widgets/4f1e5c1a-8f0e-4e57-9c1e-1f1f1f1f1f1f"
PART = WIDGET + "/parts/7"


def basic(user_password: str) -> str:
    return "Basic " + base64.b64encode(user_password.encode()).decode()


async def test_mesh_valid_credentials_pass(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    assert response.status == 200


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({}, ["X-Client-Secret", "X-Client-Id"]),
        ({"X-Client-Id": "mock-client-id"}, ["X-Client-Secret"]),
        ({"X-Client-Secret": "sk_sand_mock_secret"}, ["X-Client-Id"]),
    ],
)
async def test_mesh_missing_credentials_are_401_naming_the_header(client: Any, headers: dict[str, str], named: list[str]) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=headers)
    body = await response.json()
    assert response.status == 401
    assert body["status"] == "permissionDenied"
    assert body["errorType"] == "unauthorized"
    assert [v["name"] for v in body["errorData"]["violations"]] == named
    for header in named:
        assert header in body["message"]


async def test_mesh_wrong_secret_is_401_and_never_echoed(client: Any) -> None:
    wrong = "sk_sand_WRONG_secret_value"
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "X-Client-Secret": wrong})
    text = await response.text()
    assert response.status == 401
    assert "X-Client-Secret" in text
    assert wrong not in text and "sk_sand_mock_secret" not in text
    assert "X-Client-Id" not in (await response.json())["message"]


async def test_mesh_unknown_client_id_is_401_naming_it(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "X-Client-Id": "someone-else"})
    body = await response.json()
    assert response.status == 401
    assert body["message"] == "X-Client-Id header is not valid"
    assert "someone-else" not in await response.text()


async def test_mesh_header_names_are_case_insensitive(client: Any) -> None:
    headers = {"x-client-id": "mock-client-id", "X-CLIENT-SECRET": "sk_sand_mock_secret"}
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=headers)
    assert response.status == 200


async def test_credentials_are_checked_before_parameters(client: Any) -> None:
    response = await client.get(PORTFOLIO)
    assert response.status == 401


async def test_configured_credentials_replace_the_defaults(make_client: Any) -> None:
    mine = {"X-Client-Id": "my-id", "X-Client-Secret": "my-secret"}
    client = await make_client(credentials={"mesh": [{"Client-Id": "my-id", "Client-Secret": "my-secret"}]})
    assert (await client.get(PORTFOLIO, params={"UserId": "a"}, headers=mine)).status == 200
    assert (await client.get(PORTFOLIO, params={"UserId": "a"}, headers=MESH_AUTH)).status == 401


async def test_a_read_forbidden_key_gets_403(make_client: Any) -> None:
    identities = [
        {"Client-Id": "mock-client-id", "Client-Secret": "sk_sand_mock_secret"},
        {"Client-Id": "no-read", "Client-Secret": "no-read-secret", "forbidden": True},
    ]
    client = await make_client(credentials={"mesh": identities})
    response = await client.get(PORTFOLIO, params={"UserId": "a"}, headers={"X-Client-Id": "no-read", "X-Client-Secret": "no-read-secret"})
    body = await response.json()
    assert response.status == 403
    assert body["status"] == "permissionDenied"
    assert body["errorType"] == "insufficientPermissions"
    assert "no-read-secret" not in await response.text()
    assert (await client.get(PORTFOLIO, params={"UserId": "a"}, headers=MESH_AUTH)).status == 200


async def test_generic_api_key_header(widgets: Any) -> None:
    assert (await widgets.get("/widgets/v2/widgets", headers={"X-Api-Key": "widget-key"})).status == 200
    response = await widgets.get("/widgets/v2/widgets", headers={"X-Api-Key": "nope"})
    body = await response.json()
    assert response.status == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body["status"] == 401 and body["title"] == "Unauthorized"
    assert "X-Api-Key" in body["detail"]


async def test_generic_missing_credentials_is_401_with_challenge(widgets: Any) -> None:
    response = await widgets.get("/widgets/v2/widgets")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="mockserver"'


@pytest.mark.parametrize("scheme_word", ["Bearer", "bearer", "BEARER"])
async def test_bearer_scheme_name_is_case_insensitive(widgets: Any, scheme_word: str) -> None:
    response = await widgets.get("/widgets/v2/widgets", headers={"Authorization": f"{scheme_word} widget-token"})
    assert response.status == 200


async def test_wrong_bearer_token_is_401(widgets: Any) -> None:
    response = await widgets.get("/widgets/v2/widgets", headers={"Authorization": "Bearer not-the-token"})
    assert response.status == 401
    assert "not-the-token" not in await response.text()


async def test_basic_credentials(widgets: Any) -> None:
    assert (await widgets.delete(WIDGET, headers={"Authorization": basic("admin:s3cret")})).status == 204
    assert (await widgets.delete(WIDGET, headers={"Authorization": basic("admin:wrong")})).status == 401
    assert (await widgets.delete(WIDGET, headers={"Authorization": "basic !!not-base64!!"})).status == 401
    missing = await widgets.delete(WIDGET)
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == 'Basic realm="mockserver"'


async def test_basic_scheme_name_is_case_insensitive(widgets: Any) -> None:
    response = await widgets.delete(WIDGET, headers={"Authorization": "BASIC " + basic("admin:s3cret").split()[1]})
    assert response.status == 204


async def test_api_key_in_query(widgets: Any) -> None:
    assert (await widgets.get(PART, params={"api_key": "widget-query-key"})).status == 200
    response = await widgets.get(PART, params={"api_key": "bad"})
    assert response.status == 401
    assert "api_key" in (await response.json())["detail"]


async def test_api_key_in_cookie(widgets: Any) -> None:
    assert (await widgets.get(PART, cookies={"widget_key": "widget-cookie-key"})).status == 200
    assert (await widgets.get(PART, cookies={"widget_key": "bad"})).status == 401


async def test_operation_without_security_is_open(widgets: Any) -> None:
    assert (await widgets.get("/widgets/v2/widgets/search", params={"q": "gear"})).status == 200


async def test_spec_forbidden_identity_gets_403(widgets: Any) -> None:
    response = await widgets.get("/widgets/v2/widgets", headers={"X-Api-Key": "forbidden-key"})
    assert response.status == 403
    assert (await response.json())["title"] == "Forbidden"


async def test_bearer_of_one_alternative_and_bad_key_of_another(widgets: Any) -> None:
    """Any one alternative passing is enough."""
    headers = {"X-Api-Key": "wrong", "Authorization": "Bearer widget-token"}
    assert (await widgets.get("/widgets/v2/widgets", headers=headers)).status == 200
