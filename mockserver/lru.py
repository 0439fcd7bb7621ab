"""A least-recently-used map bounded in entries and in total size, for caches fed by traffic."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SizedLru(Generic[K, V]):
    """Keeps at most `entries` items whose sizes add up to at most `size`.

    An item bigger than a quarter of `size` is not kept: one huge item must not empty the cache."""

    def __init__(self, entries: int, size: int, size_of: Callable[[K, V], int]) -> None:
        self.entries = entries
        self.size = size
        self._size_of = size_of
        self._items: OrderedDict[K, V] = OrderedDict()
        self._total = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def used(self) -> int:
        """The sum of the sizes of the items kept (at most `size`)."""
        return self._total

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        size = self._size_of(key, value)
        if size > self.size // 4 or key in self._items:
            return
        self._items[key] = value
        self._total += size
        while len(self._items) > self.entries or self._total > self.size:
            old_key, old_value = self._items.popitem(last=False)
            self._total -= self._size_of(old_key, old_value)

    def clear(self) -> None:
        self._items.clear()
        self._total = 0


def trimmed(data: bytes) -> bytes:
    """A copy of `data` allocated at its length, to keep in a cache: orjson (3.12 and later)
    returns bytes whose buffer is not trimmed (4 KiB for a few bytes, the next power of two
    for more), and `sys.getsizeof` sees only their length."""
    return bytes(memoryview(data))
