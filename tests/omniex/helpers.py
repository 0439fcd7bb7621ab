"""What Omniex's tests share: the mount, the spec and its error codes, the reference's master fund,
the reference's request signature, a signed GET and checking an error answer."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import yaml

from ..helpers import ROOT

BASE = "/omniex/edge/v1beta"
SPEC = yaml.safe_load((ROOT / "specs" / "omniex.yaml").read_text())
MASTER_ID = "6b372483-a80f-4c32-8d23-e6b9397ee6d6"  # the reference's master fund
ERROR_CODES = set(SPEC["components"]["schemas"]["ErrorList"]["properties"]["errors"]["items"]["properties"]["error"]["enum"])


def signed(
    method: str,
    path: str,
    *,
    key: str = "mock-onx-key",
    secret: str = "mock-onx-secret",
    timestamp: str | None = None,
    body: bytes = b"",
    sign_path: str | None = None,
) -> dict[str, str]:
    """Headers exactly as the Omniex reference describes: HMAC-SHA384 of METHOD+PATH+BODY+TIMESTAMP."""
    timestamp = timestamp or str(int(time.time() * 1000))
    message = method + (sign_path or path).split("?")[0] + body.decode() + timestamp
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha384).hexdigest()
    return {"ONX-API-KEY": key, "ONX-API-TIMESTAMP": timestamp, "ONX-API-SIGNATURE": digest}


async def get(client: Any, target: str, **signing: Any) -> tuple[int, dict[str, Any]]:
    response = await client.get(target, headers=signed("GET", target, **signing))
    return response.status, await response.json()


def assert_error(status: int, body: dict[str, Any], expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert body["meta"] == {}
    assert [e["error"] for e in body["errors"]] == [code]
    assert all(e["error"] in ERROR_CODES for e in body["errors"])
