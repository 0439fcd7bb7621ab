"""The Notes API's request signature: HMAC-SHA256 over METHOD, path, timestamp and body, keyed
with the key's secret, compared in constant time, within 30 s of the server clock."""

import hashlib
import hmac
import time

from mockserver.security import AuthOutcome, AuthRequest, identity_with
from mockserver.vocabulary import Violation, as_sent

KEY, TIMESTAMP, SIGNATURE = "X-Notes-Key", "X-Notes-Timestamp", "X-Notes-Signature"


def sign(secret: bytes, method: str, path: str, timestamp: str, body: bytes) -> str:
    message = b"\n".join([method.encode(), path.encode(), timestamp.encode(), body])
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def authenticate(request: AuthRequest) -> AuthOutcome:
    headers = request.headers
    missing = [name for name in (KEY, TIMESTAMP, SIGNATURE) if not headers.get(name)]
    if missing:
        return _refused(f"missing {', '.join(missing)}")
    timestamp = headers[TIMESTAMP]
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or abs(time.time() - int(timestamp)) > 30:
        return _refused(f"{TIMESTAMP} is not within 30 s of the server clock")
    identity = identity_with(request.identities, "key", as_sent(headers[KEY]))
    secret = identity.values["secret"] if identity is not None else b"\x00unknown"
    expected = sign(secret, request.method, request.path, timestamp, request.body)
    if not hmac.compare_digest(as_sent(headers[SIGNATURE]), expected.encode()) or identity is None:
        return _refused(f"{SIGNATURE} does not match the request")
    return AuthOutcome(identity)


def _refused(why: str) -> AuthOutcome:
    return AuthOutcome(None, 401, why, [Violation("header", SIGNATURE, why)])
