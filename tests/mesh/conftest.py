"""Mesh's fixtures: its tests use the shared `client`; the schemathesis run gets a real server."""

from __future__ import annotations

from ..helpers import served_at

mesh_url = served_at("/mesh")
