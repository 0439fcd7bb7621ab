"""Serving: an API on its own port at production paths, and live reload of specs and fixtures."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import requests

from .helpers import MESH_AUTH, PORTFOLIO, TEST_SPECS, running_server

WIDGET_AUTH = {"X-Api-Key": "widget-key"}


def test_api_on_its_own_port_serves_production_paths_and_shares_the_journal() -> None:
    banner: list[str] = []
    with running_server("--api-port", "mesh=0", "--api-port", "omniex=0", banner=banner) as base:
        own = dict(re.findall(r"^\s+(\w+)\s+http://\S+\n\s+also at (http://\S+)", "".join(banner), re.MULTILINE))
        assert set(own) == {"mesh", "omniex"}
        direct = requests.get(own["mesh"] + "/api/v1/holdings/portfolio", params={"UserId": "cex-example"}, headers=MESH_AUTH, timeout=10)
        assert direct.status_code == 200
        prefixed = requests.get(base + PORTFOLIO, params={"UserId": "cex-example"}, headers=MESH_AUTH, timeout=10)
        assert direct.json() == prefixed.json()
        assert requests.get(own["mesh"] + PORTFOLIO, headers=MESH_AUTH, timeout=10).status_code == 404  # no /mesh prefix there
        unsigned = requests.get(own["omniex"] + "/edge/v1beta/portfolios", timeout=10)  # the server URL's path stays
        assert unsigned.status_code == 401
        journal = requests.get(base + "/__mock/requests", params={"api": "mesh"}, timeout=10).json()
        assert [(entry["path"], entry["status"]) for entry in journal["requests"]] == [
            (PORTFOLIO, 404),
            (PORTFOLIO, 200),
            ("/api/v1/holdings/portfolio", 200),
        ]


def test_api_port_for_an_unknown_api_fails_at_start() -> None:
    try:
        with running_server("--api-port", "nope=0", timeout=10):
            raise AssertionError("the server started")
    except RuntimeError as exc:
        assert "no such API to serve on its own port" in str(exc)


def _wait_for(check: object, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_watch_reloads_changed_specs_and_keeps_the_last_good_version(tmp_path: Path) -> None:
    specs, fixtures = tmp_path / "specs", tmp_path / "fixtures"
    shutil.copytree(TEST_SPECS, specs, ignore=shutil.ignore_patterns("fixtures"))
    shutil.copytree(TEST_SPECS / "fixtures", fixtures)
    spec = specs / "widgets.yaml"
    original = spec.read_text()
    log = tmp_path / "server.log"
    with running_server("--specs", str(specs), "--fixtures", str(fixtures), "--watch", log_path=log) as base:
        url = base + "/widgets/v2/widgets"
        assert requests.get(url, headers=WIDGET_AUTH, timeout=10).status_code == 200
        requests.post(base + "/__mock/faults", json={"api": "widgets", "latencyMs": 1}, timeout=10)

        spec.write_text(original.replace("/widgets:\n", "/gadgets:\n", 1))
        assert _wait_for(lambda: requests.get(base + "/widgets/v2/gadgets", headers=WIDGET_AUTH, timeout=10).status_code == 200)
        assert requests.get(url, headers=WIDGET_AUTH, timeout=10).status_code == 404
        faults = requests.get(base + "/__mock/faults", timeout=10).json()["faults"]
        assert len(faults) == 1  # faults and the journal outlive a reload

        spec.write_text("openapi: 3.0.3\npaths: [this is not valid\n")
        assert _wait_for(lambda: "reload failed" in log.read_text())
        assert "still serving the previous version" in log.read_text()
        assert requests.get(base + "/widgets/v2/gadgets", headers=WIDGET_AUTH, timeout=10).status_code == 200

        spec.write_text(original)
        assert _wait_for(lambda: requests.get(url, headers=WIDGET_AUTH, timeout=10).status_code == 200)
