"""Mounting and routing: prefixes, 404 and 405 in the API's envelope, CORS, health."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.vendors import mesh

from .helpers import MESH_AUTH, PORTFOLIO

AUTH = {"X-Api-Key": "widget-key"}


async def test_health(client: Any) -> None:
    response = await client.get("/__mock/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert {"mesh", "omniex"} <= set(body["apis"])


async def test_server_path_of_the_spec_is_part_of_the_mount(widgets: Any) -> None:
    """widgets.yaml's server is https://widgets.example.com/v2: the host is ignored, the path kept."""
    assert (await widgets.get("/widgets/v2/widgets", headers=AUTH)).status == 200
    assert (await widgets.get("/widgets/widgets", headers=AUTH)).status == 404


async def test_unknown_path_under_an_api_is_404_in_its_envelope(client: Any) -> None:
    response = await client.get("/mesh/api/v1/holdings/nothing", headers=MESH_AUTH)
    body = await response.json()
    assert response.status == 404
    assert body["status"] == "notFound"
    assert body["errorType"] == "notFound"


async def test_wrong_method_is_405_with_allow(client: Any) -> None:
    response = await client.post(PORTFOLIO, headers=MESH_AUTH)
    body = await response.json()
    assert response.status == 405
    assert response.headers["Allow"] == "GET"
    assert "POST" in body["message"]


async def test_405_lists_every_method_of_the_path(widgets: Any) -> None:
    response = await widgets.patch("/widgets/v2/widgets/4f1e5c1a-8f0e-4e57-9c1e-1f1f1f1f1f1f")
    assert response.status == 405
    assert response.headers["Allow"] == "DELETE, GET"
    assert response.headers["Content-Type"] == "application/problem+json"


async def test_literal_segment_wins_over_a_path_variable(widgets: Any) -> None:
    """/widgets/search must not be taken by /widgets/{widgetId} (which would reject 'search' as a uuid)."""
    response = await widgets.get("/widgets/v2/widgets/search", params={"q": "x"})
    assert response.status == 200


async def test_path_outside_every_api_is_problem_json_404(client: Any) -> None:
    response = await client.get("/elsewhere")
    body = await response.json()
    assert response.status == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "/mesh" in body["detail"]


async def test_mount_prefix_is_not_a_string_prefix(client: Any) -> None:
    response = await client.get("/meshy/api/v1/holdings/portfolio")
    assert response.status == 404
    assert response.headers["Content-Type"] == "application/problem+json"


async def test_cors_preflight(client: Any) -> None:
    response = await client.options(
        PORTFOLIO,
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-client-id, x-client-secret",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Allow-Methods"] == "GET"
    assert response.headers["Access-Control-Allow-Headers"] == "x-client-id, x-client-secret"
    assert "Access-Control-Max-Age" in response.headers


async def test_cors_on_answers_echoes_origin_and_exposes_headers(widgets: Any) -> None:
    response = await widgets.get("/widgets/v2/widgets", headers={**AUTH, "X-Trace": "fixture-trace", "Origin": "https://app.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "X-Fixture" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers.getall("Vary")


async def test_cors_on_errors_too(client: Any) -> None:
    response = await client.get(PORTFOLIO, headers={"Origin": "http://localhost:5173"})
    assert response.status == 401
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"


async def test_no_cors_headers_without_origin(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "a"}, headers=MESH_AUTH)
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_options_without_preflight_headers_is_405(client: Any) -> None:
    response = await client.options(PORTFOLIO)
    assert response.status == 405


@pytest.mark.parametrize(
    "path",
    [
        "/mesh/api/v1/holdings/portfolio/../portfolio",
        "/mesh/%2e%2e/%2e%2e/etc/passwd",
        "/mesh/api/v1/holdings/portfolio%00",
        "/mesh/" + "a" * 4000,
    ],
)
async def test_odd_paths_get_a_clear_4xx(client: Any, path: str) -> None:
    response = await client.get(path, headers=MESH_AUTH)
    assert 400 <= response.status < 500


async def test_very_long_query_is_handled(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "u" * 6000}, headers=MESH_AUTH)
    assert response.status == 200


async def test_a_failing_handler_answers_500_in_the_apis_envelope_and_the_server_goes_on(
    make_client: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(call: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setitem(mesh.VENDOR.handlers, mesh.PORTFOLIO, broken)
    client = await make_client()
    for _ in range(2):  # the second time from a remembered verdict: the handler still runs, and fails
        response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
        assert response.status == 500
        body = await response.json()
        assert body["status"] == "serverFailure"
        assert body["message"] == "the mock server failed to handle this request"
        assert "a bug" not in await response.text()
    assert "unhandled error in GET /api/v1/holdings/portfolio" in caplog.text
    assert (await client.get("/__mock/health")).status == 200
