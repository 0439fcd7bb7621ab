"""What Omniex's tests share: the mount and the reference's request signature."""

from __future__ import annotations

import hashlib
import hmac
import time

BASE = "/omniex/edge/v1beta"


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
