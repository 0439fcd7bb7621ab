"""The caches of one loaded sandbox: traffic-fed LRUs, each bounded by the bytes it holds.

A `Caches` hangs on the World that `load` builds, so every cache in it dies with that world:
a reload, a reset of the app or a test's new app starts with empty ones, and nothing of an
earlier version stays reachable. A cache is made (with its bounds and the weigher that
counts its entries' bytes, keys included) by the first `lru` call that names it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any

from ..lru import SizedLru

ENTRY_BYTES = 200  # what an entry costs besides its texts: the key tuple, the dict slot, object headers


class Caches:
    """The named caches of one world."""

    def __init__(self) -> None:
        self._lrus: dict[str, SizedLru[Any, Any]] = {}

    def lru(self, name: str, entries: int, size: int, size_of: Callable[[Any, Any], int]) -> SizedLru[Any, Any]:
        """The cache called `name`, made with these bounds on first use."""
        found = self._lrus.get(name)
        if found is None:
            found = self._lrus[name] = SizedLru(entries, size, size_of)
        return found

    def __iter__(self) -> Iterator[tuple[str, SizedLru[Any, Any]]]:
        return iter(self._lrus.items())


def text_bytes(key: tuple[Hashable, ...]) -> int:
    """The bytes of a key's text parts."""
    return sum(len(part) for part in key if isinstance(part, str | bytes))


def weigh_key_and_body(key: tuple[Hashable, ...], body: bytes) -> int:
    """The bytes a cached serialized answer holds: its body, its key's text parts, and a fixed
    overhead per entry."""
    return len(body) + text_bytes(key) + ENTRY_BYTES
