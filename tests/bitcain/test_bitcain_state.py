"""bitcain state across restarts: with --state FILE nothing a user created is lost; reset restores the seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from mockserver.vendors.bitcain.portfolios import new_portfolio_id

from ..helpers import running_server
from .helpers import AUTH, BASE, SAMPLE, SANDBOX_USER, SEEDED

BODY = {"name": "Kept", "target_allocations": {"BTC": 0.7, "ETH": 0.3}, "initial_value_usd": "1500", "tags": ["restart"]}


def listed(base: str, user: str) -> list[dict[str, Any]]:
    response = requests.get(f"{base}{BASE}/", params={"user_id": user, "active_only": "false"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def aggregate(base: str) -> dict[str, Any]:
    response = requests.get(f"{base}{BASE}/aggregate", headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_portfolios_and_ingested_holdings_survive_a_restart(tmp_path: Path) -> None:
    state = str(tmp_path / "state.sqlite")
    with running_server("--state", state) as base:
        seeded_aggregate = aggregate(base)
        created = requests.post(f"{base}{BASE}/", params={"user_id": "alice"}, json=BODY, headers=AUTH, timeout=10).json()
        url = f"{base}{BASE}/{created['portfolio_id']}"
        updated = requests.put(url, params={"user_id": "alice"}, json={"description": "after restart too"}, headers=AUTH, timeout=10).json()
        with SAMPLE.open("rb") as sample:
            report = requests.post(f"{base}{BASE}/ingest/csv", files={"file": sample}, headers=AUTH, timeout=10).json()
        assert report["rows_imported"] == 11
        requests.delete(f"{base}{BASE}/{SEEDED[1]}", params={"user_id": SANDBOX_USER, "force": "true"}, headers=AUTH, timeout=10)
        ingested = aggregate(base)
        assert ingested != seeded_aggregate
    with running_server("--state", state) as base:
        assert listed(base, "alice") == [updated]
        assert [p["portfolio_id"] for p in listed(base, SANDBOX_USER)] == SEEDED[:1]  # not seeded again
        assert aggregate(base) == ingested
        again = requests.post(f"{base}{BASE}/", params={"user_id": "alice"}, json={**BODY, "name": "Next"}, headers=AUTH, timeout=10)
        assert again.json()["portfolio_id"] == new_portfolio_id(0, "alice", 2)  # the id sequence survives too
        assert requests.post(f"{base}/__mock/reset", json={}, timeout=10).status_code == 200
        assert listed(base, "alice") == []
        assert [p["portfolio_id"] for p in listed(base, SANDBOX_USER)] == SEEDED
        assert aggregate(base) == seeded_aggregate
    with running_server("--state", state) as base:
        assert listed(base, "alice") == []
        assert [p["portfolio_id"] for p in listed(base, SANDBOX_USER)] == SEEDED


def test_without_state_a_restart_starts_from_the_seed() -> None:
    with running_server() as base:
        requests.post(f"{base}{BASE}/", params={"user_id": "alice"}, json=BODY, headers=AUTH, timeout=10)
        first = listed(base, "alice")
        assert len(first) == 1
    with running_server() as base:
        assert listed(base, "alice") == []
        created = requests.post(f"{base}{BASE}/", params={"user_id": "alice"}, json=BODY, headers=AUTH, timeout=10).json()
        assert [created] == first  # same requests, same answers
