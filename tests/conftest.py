from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestClient

from mockserver.app import create_app
from mockserver.settings import Settings, load_settings

from .helpers import TEST_SPECS, MakeClient

# remembered OpenAPI checks (mockserver/passed_specs.py) go to a folder of this run, for every
# server the tests start, in-process or as a subprocess: nothing is written to the home folder
if "MOCKSERVER_CACHE_DIR" not in os.environ:
    os.environ["MOCKSERVER_CACHE_DIR"] = tempfile.mkdtemp(prefix="mockserver-test-cache-")
    atexit.register(shutil.rmtree, os.environ["MOCKSERVER_CACHE_DIR"], True)


@pytest.fixture
def make_client(aiohttp_client: Any) -> MakeClient:
    """A client for an app built from settings (keyword arguments as on the command line)."""

    async def make(**cli: Any) -> TestClient:
        settings: Settings = load_settings(cli, environ={})
        return await aiohttp_client(create_app(settings))

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    """The bundled specs and fixtures, default settings."""
    return await make_client()


@pytest.fixture
async def widgets(make_client: MakeClient) -> TestClient:
    """The generic test spec (no vendor module): problem+json errors, bodies, every security scheme."""
    return await make_client(specs=[TEST_SPECS], fixtures=[TEST_SPECS / "fixtures"])


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One HTTP session per module, for the schemathesis runs against a real server."""
    with requests.Session() as http:
        yield http
