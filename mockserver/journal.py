"""The request journal: a bounded ring of what the server answered, with secrets redacted.

Redaction happens when an entry is written, so a secret is never held in the ring:
credential headers and query parameters (every one an API's security schemes read,
plus the usual suspects), and body members whose names say they are secret.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

REDACTED = "<redacted>"
MAX_BODY_CHARS = 4096  # the body kept per entry; larger ones are summarized
ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
_SECRET_WORDS = re.compile(r"secret|signature|token|password|passphrase|api[-_]?key|private", re.IGNORECASE)


@lru_cache(maxsize=1024)  # the same few header and field names arrive with every request
def is_secret_name(name: str, credential_fields: frozenset[str] = frozenset()) -> bool:
    lowered = name.lower()
    return lowered in ALWAYS_SECRET or lowered in credential_fields or bool(_SECRET_WORDS.search(name))


def redact_pairs(pairs: Iterable[tuple[str, str]], credential_fields: frozenset[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        kept = REDACTED if is_secret_name(name, credential_fields) else value
        values = out.get(name)
        if values is None:
            out[name] = [kept]
        else:
            values.append(kept)
    return out


def redact_document(value: Any, depth: int = 0) -> Any:
    """A JSON value with every member whose name says it is secret replaced."""
    if depth > 32:
        return "<too deep>"
    if isinstance(value, dict):
        return {k: REDACTED if is_secret_name(str(k)) else redact_document(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_document(item, depth + 1) for item in value]
    return value


def body_summary(content_type: str, raw: bytes) -> Any:
    """What the journal keeps of a request body: redacted JSON when small, else a description."""
    if not raw:
        return None
    media = content_type.split(";")[0].strip().lower()
    if (media == "application/json" or media.endswith("+json")) and len(raw) <= MAX_BODY_CHARS:
        try:
            return redact_document(orjson.loads(raw))
        except orjson.JSONDecodeError:
            return f"<{len(raw)} bytes, not valid JSON>"
    if media.startswith("text/") and len(raw) <= MAX_BODY_CHARS:
        return raw.decode("utf-8", "replace")
    return f"<{len(raw)} bytes of {media or 'unknown type'}>"


@dataclass(slots=True)
class Entry:
    id: int
    time: float  # wall clock (the sandbox clock may be frozen; the journal tells real time)
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, list[str]]
    body: Any
    api: str | None
    operation: str | None
    status: int
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "api": self.api,
            "operation": self.operation,
            "status": self.status,
            "durationMs": round(self.duration_ms, 3),
        }


class Journal:
    """The newest `size` entries; older ones fall off, so memory does not grow with traffic."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: deque[Entry] = deque(maxlen=size)
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._entries)

    def record(
        self,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]],
        headers: Iterable[tuple[str, str]],
        body: Any,
        api: str | None,
        operation: str | None,
        status: int,
        started: float,
        credential_fields: frozenset[str],
    ) -> None:
        if self.size <= 0:
            return
        now = time.time()
        self._entries.append(
            Entry(
                next(self._ids),
                now,
                method,
                path,
                redact_pairs(query, credential_fields),
                redact_pairs(headers, credential_fields),
                body,
                api,
                operation,
                status,
                (time.perf_counter() - started) * 1000,
            )
        )

    def clear(self) -> None:
        self._entries.clear()

    def newest_first(self) -> list[Entry]:
        return list(reversed(self._entries))


@dataclass(frozen=True, slots=True)
class Matcher:
    """Which entries a query or a verification means; every given field must match."""

    api: str | None = None
    operation: str | None = None
    method: str | None = None
    path: str | None = None  # exact path, or a regular expression when it starts with ^
    status: int | None = None
    since: float | None = None  # epoch seconds
    query: Mapping[str, str] | None = None  # name -> value that must be among the parameter's values
    headers: Mapping[str, str] | None = None  # case-insensitive names

    def matches(self, entry: Entry) -> bool:
        if self.api is not None and entry.api != self.api:
            return False
        if self.operation is not None and entry.operation != self.operation:
            return False
        if self.method is not None and entry.method != self.method.upper():
            return False
        if self.status is not None and entry.status != self.status:
            return False
        if self.since is not None and entry.time < self.since:
            return False
        if self.path is not None and not _path_matches(self.path, entry.path):
            return False
        if self.query and any(value not in entry.query.get(name, []) for name, value in self.query.items()):
            return False
        if self.headers:
            lowered = {name.lower(): values for name, values in entry.headers.items()}
            if any(value not in lowered.get(name.lower(), []) for name, value in self.headers.items()):
                return False
        return True


def _path_matches(pattern: str, path: str) -> bool:
    if pattern.startswith("^"):
        try:
            return re.search(pattern, path) is not None
        except re.error:
            return False
    return pattern == path
