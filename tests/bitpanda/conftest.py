"""Bitpanda's fixtures: apps on the repository's specs (at the default clock, and at the time of
the document's examples), and a real server for a test module."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from ..helpers import ROOT, MakeClient, served_at
from .helpers import URL

DOCUMENT_CLOCK = "2021-03-02T16:05:00Z"  # the latest hour is then the document's 2021-03-02T16:00


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    """The repository's specs folder, named: the answers come from the files the tests read."""
    return await make_client(specs=[ROOT / "specs"])


@pytest.fixture
async def at_document_time(make_client: MakeClient) -> TestClient:
    """As `client`, its clock when the document's examples were taken."""
    return await make_client(specs=[ROOT / "specs"], clock=DOCUMENT_CLOCK)


bitpanda_url = served_at(URL)
