"""Testing your code against mockserver with its pytest plugin: copy this file and adapt it.

Installing mockserver registers the plugin. The `mockserver` fixture starts the sandbox
in-process on a free port, once per test run, and gives every test a sandbox session of its own
(its own state, journal, faults, scenarios and clock), so tests never see each other's, under
`pytest -n 4` too; `pytest --mockserver-url http://localhost:8080` uses a running server instead
(the Docker container in CI). Only the standard library is used here; `requests`, `httpx` or
`aiohttp` work the same way.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

PORTFOLIO = "/api/v1/holdings/portfolio"  # Mesh's operation, below the API's base URL


def get(url: str, headers: dict[str, str], **params: str) -> tuple[int, Any]:
    """GET a JSON document: (status, body), error statuses included."""
    request = urllib.request.Request(f"{url}?{urllib.parse.urlencode(params)}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def fetch_portfolio(base_url: str, headers: dict[str, str], user_id: str) -> dict[str, Any]:
    """The code under test: in a real project this lives in your package and takes its base
    URL from configuration, so that tests can point it at mockserver."""
    status, body = get(base_url + PORTFOLIO, headers, UserId=user_id)
    if status != 200:
        raise RuntimeError(f"Mesh answered {status}: {body['message']}")
    return body["content"]


def test_portfolio(mockserver):
    auth = mockserver.credentials("mesh")  # {"headers": {"X-Client-Id": ..., ...}, "query": {}, ...}
    portfolio = fetch_portfolio(mockserver.url("mesh"), auth["headers"], "alice")
    assert portfolio["equitiesValue"] + portfolio["cryptocurrenciesValue"] >= 0


def test_verify_the_requests_made(mockserver):
    auth = mockserver.credentials("mesh")
    fetch_portfolio(mockserver.url("mesh"), auth["headers"], "alice")
    fetch_portfolio(mockserver.url("mesh"), auth["headers"], "bob")

    assert mockserver.count(api="mesh", operation=f"GET {PORTFOLIO}", status=200) == 2
    assert mockserver.count(api="mesh", query={"UserId": "bob"}) == 1
    newest = mockserver.journal(api="mesh")[0]  # newest first; secrets are redacted
    assert newest["query"] == {"UserId": ["bob"]}
    assert newest["headers"]["X-Client-Secret"] == ["<redacted>"]


def test_a_wrong_secret_is_refused(mockserver):
    status, body = get(mockserver.url("mesh") + PORTFOLIO, {"X-Client-Id": "mock-client-id", "X-Client-Secret": "wrong"}, UserId="alice")
    assert status == 401
    assert body["errorType"] == "unauthorized"


def test_an_outage_is_retried(mockserver):
    # the next request gets a 503 in Mesh's own error envelope; the one after is served
    mockserver.fault(api="mesh", status=503, count=1)
    auth = mockserver.credentials("mesh")
    with pytest.raises(RuntimeError, match="503"):
        fetch_portfolio(mockserver.url("mesh"), auth["headers"], "alice")
    assert fetch_portfolio(mockserver.url("mesh"), auth["headers"], "alice")
    assert mockserver.faults() == []  # used up


def test_a_user_shaped_by_the_test(mockserver):
    # a UserId holding exactly these positions, valued at the sandbox's prices like any other
    mockserver.mesh.user(
        "alice", positions=[{"symbol": "BTC", "amount": 0.5, "costBasis": 30000}, {"symbol": "AAPL", "amount": 10, "costBasis": 150}]
    )
    portfolio = fetch_portfolio(mockserver.url("mesh"), mockserver.credentials("mesh")["headers"], "alice")
    assert portfolio["portfolioCostBasis"] == 0.5 * 30000 + 10 * 150
    assert sum(p["portfolioPercentage"] for p in portfolio["equityPositions"] + portfolio["cryptocurrencyPositions"]) == pytest.approx(100)


def test_thirty_days_later(mockserver):
    auth = mockserver.credentials("mesh")
    before = fetch_portfolio(mockserver.url("mesh"), auth["headers"], "alice")
    mockserver.clock.advance(days=30)  # this test's sandbox clock only
    assert fetch_portfolio(mockserver.url("mesh"), auth["headers"], "alice") != before


def test_reset(mockserver):
    fetch_portfolio(mockserver.url("mesh"), mockserver.credentials("mesh")["headers"], "alice")
    mockserver.reset()  # state, journal and faults back to where they started
    assert mockserver.journal() == []


@pytest.mark.mockserver(seed=7)
def test_another_sandbox_world(mockserver):
    # settings in the marker give this test its own server (skipped against a running server)
    auth = mockserver.credentials("mesh")
    assert fetch_portfolio(mockserver.url("mesh"), auth["headers"], "alice")
