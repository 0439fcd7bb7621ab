"""The caches of what a sandbox derives (Mesh portfolios, prices, quotes, ...) belong to the loaded world:
a new app starts with its own, and each is bounded by the bytes it holds, whatever the keys clients send."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any

import mockserver
from mockserver.appkeys import APIS
from mockserver.lru import SizedLru

from .helpers import MESH_AUTH, PORTFOLIO


def _caches(client: Any) -> dict[str, SizedLru[Any, Any]]:
    worlds = {id(api.world): api.world for api in client.app[APIS] if hasattr(api, "world")}
    assert len(worlds) == 1  # every API of one app shares one world
    return dict(next(iter(worlds.values())).caches)


async def test_two_apps_do_not_share_their_caches(make_client: Any) -> None:
    first, second = await make_client(), await make_client()
    response = await first.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    assert response.status == 200
    assert len(_caches(first)["mesh.portfolio"]) == 1
    assert "mesh.portfolio" not in _caches(second)
    again = await second.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    assert await again.read() == await response.read()  # the same answer, worked out by the second app itself
    assert _caches(first)["mesh.portfolio"] is not _caches(second)["mesh.portfolio"]


async def test_the_mesh_cache_holds_at_most_its_bytes_whatever_the_user_ids(make_client: Any) -> None:
    client = await make_client()
    long_id = "u" * 6000  # keys weigh what they hold: 1,024 such ids would be 6 MB of keys alone
    for number in range(40):
        response = await client.get(PORTFOLIO, params={"UserId": f"{long_id}{number}"}, headers=MESH_AUTH)
        assert response.status == 200
    cache = _caches(client)["mesh.portfolio"]
    held = sum(len(body) + len(key[0]) for key, body in cache._items.items())
    assert cache._total >= held  # the accounting covers the keys and bodies it keeps
    assert cache._total <= cache.size
    small = SizedLru(cache.entries, 100_000, cache._size_of)  # the same weighing under a small bound
    for key, body in cache._items.items():
        small.put(key, body)
    assert len(small) < len(cache) and small._total <= 100_000


BITCAIN = "/bitcain/api/v1/portfolio"
BITCAIN_USER = "a169451c-8525-4352-b8ca-070dd449a1a5"


async def test_bitcain_views_are_kept_per_app_and_weighed(make_client: Any) -> None:
    first, second = await make_client(), await make_client()
    active = await first.get(f"{BITCAIN}/", params={"user_id": BITCAIN_USER})
    assert active.status == 200 and len(await active.json()) == 1  # each portfolio's state read: one is inactive
    listed = await first.get(f"{BITCAIN}/", params={"user_id": BITCAIN_USER, "active_only": "false"})
    assert listed.status == 200 and len(await listed.json()) == 2
    caches = _caches(first)
    assert len(caches["bitcain.stored"]) == 2 and len(caches["bitcain.views"]) == 2
    for cache in (caches["bitcain.stored"], caches["bitcain.views"]):
        assert cache._total == sum(cache._size_of(key, value) for key, value in cache._items.items()) <= cache.size
        assert all(cache._size_of(key, value) > len(key if isinstance(key, bytes) else key[0]) for key, value in cache._items.items())
    assert "bitcain.views" not in _caches(second)


# what the market, Bitpanda, Treasure and bitcain work out of the seed: once module-wide, now the world's
DERIVED = ("market.phases", "market.hours", "bitpanda.quotes", "treasure.profiles", "treasure.months", "bitcain.prices", "bitcain.seeded")
GRAPHQL_TOTAL = "{ user { portfolio { items { total { value } } } } }"
TREASURE_HISTORY = "/treasure/v1/businesses/urn:uuid:3f2a9c4e-8d71-4b5a-9e06-7c1d2b3a4f58/portfolio_history"  # a seeded business


async def _derive_everything(client: Any) -> None:
    """Requests whose answers price assets (Mesh), quote them in a fiat currency (Bitpanda), work
    out a seeded business's history (Treasure) and value a seeded ledger (bitcain)."""
    mesh = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    bitpanda = await client.post("/bitpanda/graphql", json={"query": GRAPHQL_TOTAL}, headers={"x-api-key": "mock-api-key"})
    dates = {"start_date": "2024-01-01", "end_date": "2025-06-01"}
    treasure = await client.get(TREASURE_HISTORY, params=dates, headers={"Authorization": "Bearer mock-treasure-token"})
    bitcain = await client.get(
        f"{BITCAIN}/balances", params={"exchange": "coinbase"}, headers={"Authorization": "Bearer mock-bitcain-token"}
    )
    assert (mesh.status, bitpanda.status, treasure.status, bitcain.status) == (200, 200, 200, 200)


async def test_what_the_seed_derives_is_kept_per_app(make_client: Any) -> None:
    first, second = await make_client(), await make_client()
    loaded = _keys(second)  # what loading derives by itself (Bitpanda's holdings price their first transfers)
    await _derive_everything(first)
    assert all(_keys(first)[name] > loaded[name] for name in DERIVED)
    assert _keys(await make_client()) == loaded  # a new app (or a reload) holds nothing of an earlier one's
    await _derive_everything(second)
    for name in DERIVED:
        assert _caches(second)[name] is not _caches(first)[name]


def _keys(client: Any) -> dict[str, set[Any]]:
    caches = _caches(client)
    return {name: set(caches[name]._items) if name in caches else set() for name in DERIVED}


async def test_what_the_seed_derives_is_weighed_with_its_keys(make_client: Any) -> None:
    client = await make_client()
    await _derive_everything(client)
    for name in DERIVED:
        cache = _caches(client)[name]
        assert cache._total == sum(cache._size_of(key, value) for key, value in cache._items.items()) <= cache.size
        assert all(cache._size_of(key, value) > _text_bytes(key) for key, value in cache._items.items())
        small = SizedLru(cache.entries, cache._total // 2, cache._size_of)  # the same weighing under a smaller bound
        for key, value in cache._items.items():
            small.put(key, value)
        assert len(small) < len(cache) and small._total <= cache._total // 2


def _text_bytes(key: Any) -> int:
    parts = key if isinstance(key, tuple) else (key,)
    return sum(len(part) for part in parts if isinstance(part, str | bytes))


def test_no_module_keeps_a_memo_of_its_own() -> None:
    """What is worked out from requests or the seed is kept in a world's caches, which die with it:
    no module of the package keeps a memo (functools' caches) that would outlive reloads and tests."""
    memos = []
    for module_info in pkgutil.walk_packages(mockserver.__path__, "mockserver."):
        module = importlib.import_module(module_info.name)
        for owner in [module, *(value for value in vars(module).values() if isinstance(value, type))]:
            for name, value in vars(owner).items():
                where = f"{module_info.name}.{name}"
                if isinstance(value, functools._lru_cache_wrapper) and value.__module__ == module_info.name:
                    memos.append(where)
    assert memos == []
