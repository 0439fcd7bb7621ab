"""What the request alone decides of an operation's answer, remembered per request.

Once a request is authenticated, everything its operation works out before the sandbox
handler runs (the parameters, the Prefer header) and every answer that needs no handler (a
validation error, a Prefer-chosen, fixture or spec example answer) depends only on the
request target, the identity and a few named headers: an API's fixtures, examples and seed
are fixed for the life of the application (a reload builds a new one). So for a request
without a body, to an operation that takes none, that verdict is kept in a bounded LRU keyed
by (operation, raw target, identity, the values of those headers), and a repeated request
goes straight to its handler, or to its finished answer. The handler itself still runs every
time: it reads the clock and the API's state.

Authentication is not remembered: credentials are checked, in constant time, on every
request, and the key names the identity they matched (its position among the API's
identities) instead of the credential values. The headers kept as sent are the operation's
header parameters, Prefer, those its fixtures match on and Cookie when it has a cookie
parameter: a credential is in the key only if the spec also declares it as one of those,
and then only after it was checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .lru import SizedLru
from .responses import Preferences
from .vocabulary import Identity, Reply

MEMO_ENTRIES = 2048  # per API
MEMO_BYTES = 2 << 20  # per API: keys, finished bodies and parsed parameters together (roughly, see _weight)
ANONYMOUS = "-"  # the identity part of the key for an open operation
OBJECT_BYTES = 64  # what one Python object is counted as


@dataclass(frozen=True, slots=True)
class Validated:
    """A request that passed every check and needs the sandbox handler for its answer."""

    identity: Identity | None
    params: dict[str, dict[str, Any]]  # shared by every request with this key: read it, never change it
    body: Any  # None when remembered: requests with a body are not
    preferences: Preferences
    path_values: Mapping[str, str]


Verdict = Reply | Validated
MemoKey = tuple[object, ...]


class RequestMemo:
    """The verdicts of one API's operations, keyed by operation, raw target, identity and deciding headers."""

    def __init__(self, identities: Sequence[Identity], entries: int = MEMO_ENTRIES, size: int = MEMO_BYTES) -> None:
        self._positions = {id(identity): str(position) for position, identity in enumerate(identities)}
        self._verdicts: SizedLru[MemoKey, Verdict] = SizedLru(entries, size, _size_of)

    def __len__(self) -> int:
        return len(self._verdicts)

    def key(self, operation: object, headers: tuple[str, ...], request: web.Request, identity: Identity | None) -> MemoKey | None:
        """None for an identity that is not one of the API's own (nothing is remembered for it).

        `operation` stands for the operation while the memo lives (its plan's id). Every header an
        operation reads is read with `get` (its first value), so the first values decide."""
        who = self._positions.get(id(identity), None) if identity is not None else ANONYMOUS
        if who is None:
            return None
        return (operation, request.raw_path, who, *map(request.headers.get, headers))

    def get(self, key: MemoKey) -> Verdict | None:
        return self._verdicts.get(key)

    def put(self, key: MemoKey, verdict: Verdict) -> None:
        self._verdicts.put(key, verdict)


def _size_of(key: MemoKey, verdict: Verdict) -> int:
    size = sum(map(_weight, key))
    return size + (len(verdict.body) if isinstance(verdict, Reply) else _weight(verdict.params))


def _weight(value: Any) -> int:
    """Roughly the bytes a key part or a parsed parameter value holds (a long query can parse into many objects)."""
    if isinstance(value, dict):
        return OBJECT_BYTES + sum(_weight(name) + _weight(item) for name, item in value.items())
    if isinstance(value, (list, tuple)):
        return OBJECT_BYTES + sum(map(_weight, value))
    return OBJECT_BYTES + (len(value) if isinstance(value, (str, bytes)) else 0)
