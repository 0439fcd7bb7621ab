"""Parameters and bodies are coerced and checked; every violation is collected; errors in the API's envelope."""

from __future__ import annotations

from typing import Any

import pytest

AUTH = {"X-Api-Key": "widget-key"}
LIST = "/widgets/v2/widgets"
WIDGET_ID = "4f1e5c1a-8f0e-4e57-9c1e-1f1f1f1f1f1f"


async def problems(response: Any) -> list[tuple[str, str]]:
    body = await response.json()
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body["status"] == response.status
    return [(v["in"], v["name"]) for v in body.get("violations", [])]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "2147483648"}, "limit"),  # beyond int32
        ({"color": "purple"}, "color"),
        ({"tags": "x"}, "tags"),
        ({"ids": "a,b,c,d"}, "ids"),
        ({"active": "yes"}, "active"),
        ({"code": "abcd"}, "code"),
        ({"price": "0"}, "price"),  # exclusive minimum
        ({"price": "free"}, "price"),
        ({"limit": ""}, "limit"),
    ],
)
async def test_invalid_query_parameters_are_400(widgets: Any, query: dict[str, str], name: str) -> None:
    response = await widgets.get(LIST, params=query, headers=AUTH)
    assert response.status == 400
    assert await problems(response) == [("query", name)]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "1"},
        {"limit": "100"},
        {"color": "green"},
        {"active": "TRUE"},
        {"code": "ABC"},
        {"price": "0.01"},
        {"ids": "a,b,c"},
    ],
)
async def test_valid_query_parameters_pass(widgets: Any, query: dict[str, str]) -> None:
    response = await widgets.get(LIST, params=query, headers=AUTH)
    assert response.status == 200


async def test_exploded_array_takes_repeated_values(widgets: Any) -> None:
    assert (await widgets.get(LIST + "?tags=1&tags=2&tags=3", headers=AUTH)).status == 200
    response = await widgets.get(LIST + "?tags=1&tags=two", headers=AUTH)
    assert response.status == 400
    assert "tags" in (await response.json())["detail"]


async def test_all_violations_are_collected(widgets: Any) -> None:
    response = await widgets.get(LIST, params={"limit": "0", "color": "pink", "code": "x"}, headers={**AUTH, "X-Trace": "ab"})
    assert response.status == 400
    assert sorted(await problems(response)) == [("header", "X-Trace"), ("query", "code"), ("query", "color"), ("query", "limit")]


async def test_header_parameter_rules(widgets: Any) -> None:
    assert (await widgets.get(LIST, headers={**AUTH, "X-Trace": "abcd"})).status == 200
    response = await widgets.get(LIST, headers={**AUTH, "X-Trace": "abc"})
    assert await problems(response) == [("header", "X-Trace")]


@pytest.mark.parametrize("widget_id", ["not-a-uuid", "1234", "4f1e5c1a-8f0e-4e57-9c1e-1f1f1f1f1f1"])
async def test_path_parameter_format(widgets: Any, widget_id: str) -> None:
    response = await widgets.get(f"{LIST}/{widget_id}", headers=AUTH)
    assert response.status == 400
    assert await problems(response) == [("path", "widgetId")]


@pytest.mark.parametrize("part", ["abc", "9223372036854775808", "1.5"])
async def test_path_parameter_int64(widgets: Any, part: str) -> None:
    response = await widgets.get(f"{LIST}/{WIDGET_ID}/parts/{part}", params={"api_key": "widget-query-key"})
    assert response.status == 400
    assert await problems(response) == [("path", "partNumber")]


async def test_path_parameter_int64_upper_bound_is_valid(widgets: Any) -> None:
    response = await widgets.get(f"{LIST}/{WIDGET_ID}/parts/9223372036854775807", params={"api_key": "widget-query-key"})
    assert response.status == 200


async def test_json_body_valid(widgets: Any) -> None:
    response = await widgets.post(LIST, json={"name": "Cog", "size": 4, "color": "red", "dimensions": {"width": 1.5}}, headers=AUTH)
    assert response.status == 201


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        ({"size": 4}, ["/"]),
        ({"name": "", "size": 11}, ["/name", "/size"]),
        ({"name": "Cog", "size": "4"}, ["/size"]),
        ({"name": "Cog", "size": 4, "colour": "red"}, ["/"]),
        ({"name": "Cog", "size": 4, "id": WIDGET_ID}, ["/id"]),  # readOnly: not accepted in a request
        ({"name": "Cog", "size": 4, "dimensions": {"width": -1}}, ["/dimensions/width"]),
        ({"name": "Cog", "size": 4, "tags": ["a", 2]}, ["/tags/1"]),
        ({"name": "Cog", "size": 4, "color": None}, ["/color"]),  # OpenAPI 3.0.3: a nullable enum must list null
        ([1, 2], ["/"]),
    ],
)
async def test_json_body_violations(widgets: Any, body: Any, pointers: list[str]) -> None:
    response = await widgets.post(LIST, json=body, headers=AUTH)
    assert response.status == 400
    found = await problems(response)
    assert sorted(name for where, name in found) == sorted(pointers)
    assert {where for where, _ in found} == {"body"}


async def test_malformed_json_is_400(widgets: Any) -> None:
    response = await widgets.post(LIST, data=b'{"name": ', headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400
    assert "not valid JSON" in (await response.json())["detail"]


async def test_invalid_utf8_body_is_400(widgets: Any) -> None:
    response = await widgets.post(LIST, data=b'{"name": "\xff\xfe"}', headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400


async def test_deeply_nested_json_is_400_not_a_crash(widgets: Any) -> None:
    response = await widgets.post(LIST, data=b"[" * 10_000 + b"]" * 10_000, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400


async def test_integer_too_large_for_json_is_400(widgets: Any) -> None:
    response = await widgets.post(
        LIST, data=b'{"name": "a", "size": 1' + b"0" * 40 + b"}", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status == 400


async def test_missing_required_body_is_400(widgets: Any) -> None:
    response = await widgets.post(LIST, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400
    assert await problems(response) == [("body", "")]


async def test_unsupported_content_type_is_415(widgets: Any) -> None:
    response = await widgets.post(LIST, data=b"name=Cog", headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 415
    body = await response.json()
    assert "application/json" in body["detail"]


async def test_json_with_charset_is_accepted(widgets: Any) -> None:
    response = await widgets.post(
        LIST, data=b'{"name": "Cog", "size": 2}', headers={**AUTH, "Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status == 201


async def test_body_over_the_limit_is_413(make_client: Any) -> None:
    from .helpers import TEST_SPECS

    client = await make_client(specs=[TEST_SPECS], fixtures=[TEST_SPECS / "fixtures"], max_body_bytes=100)
    response = await client.post(
        LIST, data=b'{"name": "' + b"x" * 200 + b'", "size": 1}', headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status == 413
    assert (await response.json())["status"] == 413


async def test_non_json_body_passes_through(widgets: Any) -> None:
    response = await widgets.put("/widgets/v2/uploads", data=b"plain text", headers={**AUTH, "Content-Type": "text/plain"})
    assert response.status == 200


async def test_a_scalar_query_parameter_given_twice_is_400(widgets: Any) -> None:
    response = await widgets.get(LIST + "?color=red&color=blue", headers=AUTH)
    assert response.status == 400
    assert await problems(response) == [("query", "color")]
    assert "given once, got 2 values" in (await response.json())["detail"]
