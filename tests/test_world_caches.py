"""The caches of what a sandbox derives (Mesh portfolios, ...) belong to the loaded world: a new app
starts with its own, and each is bounded by the bytes it holds, whatever the keys clients send."""

from __future__ import annotations

from typing import Any

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
