"""Omniex's fixtures: its tests use the shared `client`; the schemathesis run gets a real server."""

from __future__ import annotations

from ..helpers import served_at
from .helpers import BASE

# a wide signature window: schemathesis may sign an example well before it sends it (the window
# itself is tested in test_omniex.py)
omniex_url = served_at(BASE, "--signature-window", "86400")
