"""bitcain's fixtures: an app on the repository's specs, and a real server for a test module."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from ..helpers import ROOT, MakeClient, served_at
from .helpers import MOUNT


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    """The repository's specs folder, named: the answers come from the files the tests read."""
    return await make_client(specs=[ROOT / "specs"])


bitcain_url = served_at(MOUNT)
