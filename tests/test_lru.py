"""The bounded cache that traffic feeds: entries, total size, recency."""

from __future__ import annotations

from mockserver.lru import SizedLru


def sized(entries: int = 3, size: int = 100) -> SizedLru[str, bytes]:
    return SizedLru(entries, size, lambda key, value: len(key) + len(value))


def test_least_recently_used_goes_first() -> None:
    cache = sized(entries=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # "a" is now the most recent
    cache.put("c", b"3")
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, b"1", b"3")
    assert (cache.hits, cache.misses) == (3, 1)


def test_total_size_is_bounded() -> None:
    cache = sized(entries=100, size=100)
    for index in range(10):
        cache.put(f"k{index}", b"x" * 20)  # 22 each: four fit in 100
    assert len(cache) == 4 and cache.get("k9") is not None and cache.get("k5") is None


def test_an_item_over_a_quarter_of_the_size_is_not_kept() -> None:
    cache = sized(size=100)
    cache.put("small", b"x")
    cache.put("big", b"x" * 30)
    assert cache.get("big") is None and cache.get("small") == b"x"


def test_clear_empties_it() -> None:
    cache = sized()
    cache.put("a", b"1")
    cache.clear()
    assert len(cache) == 0 and cache.get("a") is None
    cache.put("b", b"2")
    assert len(cache) == 1
