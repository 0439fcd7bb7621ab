"""The request journal: a bounded ring of what the server answered, with secrets redacted.

Writing an entry costs next to nothing: it keeps the request's own URL and headers objects
(the parser built them already) and the answer's body bytes (when small: a larger one is kept
as its size). Everything read out of an entry is redacted, worked out on its first read:
credential headers and query parameters (every one an API's security schemes read, plus the
usual suspects), and header bytes that were not UTF-8 shown as U+FFFD. Request body members
whose names say they are secret are redacted when the entry is written, as a body is
summarized then anyway; the answer's body is summarized (and its secret members redacted, a
token answer's `access_token`) each time it is read, so that the hot path never parses it.

A matcher's path pattern is an RE2 regular expression: any client can plant paths, so no
pattern may backtrack over them (RE2 matches in time linear in the path).
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import re2
from multidict import CIMultiDictProxy
from yarl import URL

REDACTED = "<redacted>"
MAX_BODY_CHARS = 4096  # the body kept per entry; larger ones are summarized
ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_WORDS = "secret|signature|token|password|passphrase|key|private"
_IN_LOWERED_ASCII = re.compile(_SECRET_WORDS)  # a case-blind search is 3x slower, and every JSON member name is checked
_IN_ANY_CASE = re.compile(_SECRET_WORDS, re.IGNORECASE)  # Unicode's case rules (a long s matches s) for other names
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_secret_name(name: str, credential_fields: frozenset[str] = frozenset()) -> bool:
    """Whether a header, parameter or member name says its value is a credential: one an API's
    security schemes read, Authorization, Cookie, or a name containing secret, token,
    signature, password, passphrase, key or private."""
    lowered = name.lower()
    if lowered in ALWAYS_SECRET or lowered in credential_fields:
        return True
    return bool(_IN_LOWERED_ASCII.search(lowered) if name.isascii() else _IN_ANY_CASE.search(name))


def readable(value: str) -> str:
    """A header value as JSON can carry it: bytes that were not UTF-8, which the HTTP parser keeps
    as lone surrogates, become U+FFFD."""
    return value if value.isascii() else _SURROGATE.sub("\ufffd", value)


def redact_pairs(pairs: Iterable[tuple[str, str]], credential_fields: frozenset[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        kept = REDACTED if is_secret_name(name, credential_fields) else readable(value)
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
    """What the journal shows of a body: redacted JSON when small, else a description."""
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
    return _described(media, raw)


def _described(media: str, raw: bytes) -> str:
    return f"<{len(raw)} bytes of {media or 'unknown type'}>"


def kept_answer(content_type: str, raw: bytes | None) -> bytes | str | None:
    """What an entry keeps of the answer's body: the bytes themselves (already made, so keeping them
    costs nothing) when small enough to be shown, else their description."""
    if raw is None or len(raw) <= MAX_BODY_CHARS:
        return raw
    return _described(content_type.split(";")[0].strip().lower(), raw)


@dataclass(slots=True)
class Entry:
    id: int
    time: float  # wall clock (the sandbox clock may be frozen; the journal tells real time)
    method: str
    url: URL  # the request's own path and query, as the server read them
    request_headers: CIMultiDictProxy[str]  # as received: read them through `headers`, which is redacted
    body: Any
    api: str | None
    operation: str | None
    status: int
    duration_ms: float
    credential_fields: frozenset[str]
    answer_type: str  # the answer's Content-Type
    answer: bytes | str | None  # its body as `kept_answer` keeps it: read it through `answer_body`, which is redacted
    _query: dict[str, list[str]] | None = None
    _headers: dict[str, list[str]] | None = None
    weight: int = 0  # the bytes it holds (entry_weight)

    @property
    def path(self) -> str:
        return self.url.path

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters, credentials redacted."""
        if self._query is None:
            self._query = redact_pairs(self.url.query.items(), self.credential_fields)
        return self._query

    @property
    def headers(self) -> dict[str, list[str]]:
        """Headers, credentials redacted."""
        if self._headers is None:
            self._headers = redact_pairs(self.request_headers.items(), self.credential_fields)
        return self._headers

    @property
    def answer_body(self) -> Any:
        """The answer's body as `body_summary` shows it (not kept: a journal is read far less often than written)."""
        return body_summary(self.answer_type, self.answer) if isinstance(self.answer, bytes) else self.answer

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
            "responseType": self.answer_type or None,
            "responseBody": self.answer_body,
            "durationMs": round(self.duration_ms, 3),
        }


ENTRY_OVERHEAD = 600  # an entry's slots, its time and id, the URL object, the headers' proxy
HEADER_OVERHEAD = 120  # per header: its name and value objects and the multidict's item
PARSED_FACTOR = 8  # a JSON body kept parsed takes up to this many times its text


def entry_weight(url: URL, headers: CIMultiDictProxy[str], body: Any, answer_type: str, answer: bytes | str | None) -> int:
    """The bytes an entry holds: the target (its text, and its parts once parsed), each header (and its
    redacted copy, made when read out), the body as kept (parsed JSON weighs more than its text), the
    answer's type and body as kept."""
    weight = ENTRY_OVERHEAD + 3 * len(url.raw_path_qs) + len(answer_type) + (len(answer) if answer is not None else 0)
    weight += sum(2 * (len(name) + len(value)) + HEADER_OVERHEAD for name, value in headers.items())
    if isinstance(body, str):
        weight += len(body)
    elif body is not None:
        weight += PARSED_FACTOR * len(orjson.dumps(body))
    return weight


class Journal:
    """The newest `size` entries that fit in `max_bytes`; older ones fall off, so memory does not grow
    with traffic, however large the requests (a full entry holds up to about 200 KB: 64 KiB of headers
    counted twice, an 8 KiB target, a parsed 4 KiB body, a 4 KiB answer)."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._entries: deque[Entry] = deque()
        self._bytes = 0
        self._ids = itertools.count(1)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def record(
        self,
        method: str,
        url: URL,
        headers: CIMultiDictProxy[str],
        body: Any,
        api: str | None,
        operation: str | None,
        status: int,
        started: float,
        credential_fields: frozenset[str],
        answer_type: str = "",
        answer: bytes | None = None,
    ) -> None:
        """`answer`: the body of what was sent back (None: none, or one not held in memory)."""
        if self.size <= 0:
            return
        duration_ms = (time.perf_counter() - started) * 1000
        kept = kept_answer(answer_type, answer)
        weight = entry_weight(url, headers, body, answer_type, kept)
        entry = Entry(
            next(self._ids),
            time.time(),
            method,
            url,
            headers,
            body,
            api,
            operation,
            status,
            duration_ms,
            credential_fields,
            answer_type,
            kept,
        )
        entry.weight = weight
        self._entries.append(entry)
        self._bytes += weight
        while len(self._entries) > self.size or self._bytes > self.max_bytes:
            self._bytes -= self._entries.popleft().weight

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def newest_first(self) -> list[Entry]:
        return list(reversed(self._entries))


MAX_PATTERN_CHARS = 256
# RE2 takes time linear in the path, times the size of its program: the bound keeps a scan of
# a full journal of long paths short, whatever the pattern
MAX_PATTERN_PROGRAM = 400
_PATTERN_OPTIONS = re2.Options()
_PATTERN_OPTIONS.log_errors = False  # RE2 would print the pattern it refuses
_PATTERN_OPTIONS.never_capture = True
_PATTERN_OPTIONS.max_mem = 64 << 10  # re2 keeps the patterns it compiled (128 at most): 8 MiB at most


def path_pattern(pattern: str) -> Any:
    """A path pattern compiled by RE2, which matches in linear time (no backtracking a client's
    path could make exponential); ValueError, saying why, for one RE2 refuses or one too large."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"path: a regular expression is at most {MAX_PATTERN_CHARS} characters")
    try:
        compiled = re2.compile(pattern, _PATTERN_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"path: RE2 refuses this regular expression ({reason}); it has no backreferences or lookaround") from None
    if compiled.programsize > MAX_PATTERN_PROGRAM:
        raise ValueError(
            f"path: the regular expression is too complex ({compiled.programsize} RE2 instructions, at most {MAX_PATTERN_PROGRAM})"
        )
    return compiled


@dataclass(frozen=True, slots=True)
class Matcher:
    """Which entries a query or a verification means; every given field must match.
    ValueError, saying why, for a path pattern that cannot be used."""

    api: str | None = None
    operation: str | None = None
    method: str | None = None
    path: str | None = None  # exact path, or an RE2 regular expression when it starts with ^
    status: int | None = None
    since: float | None = None  # epoch seconds
    query: Mapping[str, str] | None = None  # name -> value that must be among the parameter's values
    headers: Mapping[str, str] | None = None  # case-insensitive names
    path_regex: Any = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.path is not None and self.path.startswith("^"):
            object.__setattr__(self, "path_regex", path_pattern(self.path))

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
        if self.path is not None and not self._path_matches(entry.path):
            return False
        if self.query and any(value not in entry.query.get(name, []) for name, value in self.query.items()):
            return False
        if self.headers:
            lowered = {name.lower(): values for name, values in entry.headers.items()}
            if any(value not in lowered.get(name.lower(), []) for name, value in self.headers.items()):
                return False
        return True

    def _path_matches(self, path: str) -> bool:
        if self.path_regex is None:
            return self.path == path
        return self.path_regex.search(path) is not None
