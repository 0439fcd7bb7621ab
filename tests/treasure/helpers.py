"""What Treasure's tests share: its mount and the sandbox client's credentials and token."""

from __future__ import annotations

MOUNT = "/treasure"
CLIENT = {"client_id": "mock-treasure-client", "client_secret": "mock-treasure-secret"}
TOKEN = "mock-treasure-token"  # pre-issued to the sandbox client
AUTH = {"Authorization": f"Bearer {TOKEN}"}
