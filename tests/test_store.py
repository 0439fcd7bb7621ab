"""The SQLite state store: documents by kind and id, owners, stable order, transactions, seeding, files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mockserver.errors import LoadError
from mockserver.sandbox.store import ApiState, StateFull, Store

from .state_files import CORRUPT


@pytest.fixture
def store() -> Store:
    return Store()


def test_put_get_replace_delete(store: Store) -> None:
    state = store.for_api("a")
    assert state.get("thing", "1") is None
    state.put("thing", "1", {"n": 1, "nested": {"x": [1, 2]}})
    assert state.get("thing", "1") == {"n": 1, "nested": {"x": [1, 2]}}
    state.put("thing", "1", {"n": 2})
    assert state.get("thing", "1") == {"n": 2}
    assert state.delete("thing", "1") is True
    assert state.delete("thing", "1") is False
    assert state.get("thing", "1") is None


def test_find_keeps_insertion_order_and_updates_keep_their_place(store: Store) -> None:
    state = store.for_api("a")
    for index in range(5):
        state.put("thing", f"id-{index}", {"n": index}, owner="alice" if index % 2 == 0 else "bob")
    state.put("thing", "id-0", {"n": 100}, owner="alice")
    assert [doc["n"] for doc in state.find("thing")] == [100, 1, 2, 3, 4]
    assert [doc["n"] for doc in state.find("thing", owner="alice")] == [100, 2, 4]
    assert [doc["n"] for doc in state.find("thing", owner="bob")] == [1, 3]
    assert state.find("thing", owner="carol") == []
    assert (state.count("thing"), state.count("thing", owner="alice"), state.count("other")) == (5, 3, 0)


def test_apis_and_kinds_are_separate(store: Store) -> None:
    a, b = store.for_api("a"), store.for_api("b")
    a.put("thing", "1", {"api": "a"})
    b.put("thing", "1", {"api": "b"})
    a.put("other", "1", {"kind": "other"})
    assert a.get("thing", "1") == {"api": "a"} and b.get("thing", "1") == {"api": "b"}
    assert a.find("thing") == [{"api": "a"}] and a.find("other") == [{"kind": "other"}]
    a.clear()
    assert a.find("thing") == [] and b.find("thing") == [{"api": "b"}]


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    state = store.for_api("a")
    state.put("thing", "kept", {"n": 1})
    with pytest.raises(RuntimeError), state.transaction():
        state.put("thing", "new", {"n": 2})
        state.put("thing", "kept", {"n": 3})
        with state.transaction():  # nested: part of the outer one
            state.delete("thing", "kept")
        raise RuntimeError("boom")
    assert state.find("thing") == [{"n": 1}]
    with state.transaction():
        state.put("thing", "new", {"n": 2})
    assert state.count("thing") == 2


def test_seed_once_runs_the_seeder_until_cleared(store: Store) -> None:
    calls: list[int] = []

    def seeder(state: ApiState) -> None:
        calls.append(1)
        state.put("thing", "seeded", {"seeded": True})

    store.seed_once("a", seeder)
    store.for_api("a").put("thing", "mine", {"seeded": False})
    store.seed_once("a", seeder)
    assert len(calls) == 1 and store.for_api("a").count("thing") == 2
    store.clear("a")
    store.seed_once("a", seeder)
    assert len(calls) == 2 and store.for_api("a").find("thing") == [{"seeded": True}]


def test_a_file_store_keeps_documents_and_the_seeded_mark(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    first = Store(path)
    first.seed_once("a", lambda state: state.put("thing", "seeded", {"n": 0}))
    first.for_api("a").put("thing", "mine", {"n": 1}, owner="alice")
    first.close()
    second = Store(path)
    second.seed_once("a", lambda state: state.put("thing", "again", {"n": 99}))
    assert second.for_api("a").find("thing") == [{"n": 0}, {"n": 1}]
    assert second.for_api("a").find("thing", owner="alice") == [{"n": 1}]
    second.close()


def test_two_connections_to_one_file_see_each_others_commits(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    one, two = Store(path), Store(path)
    with one.transaction():
        one.for_api("a").put("thing", "1", {"n": 1})
    assert two.for_api("a").get("thing", "1") == {"n": 1}
    one.close()
    two.close()


def test_a_bounded_store_refuses_what_does_not_fit_and_deleting_makes_room() -> None:
    store = Store(max_bytes=64 * 1024)
    state = store.for_api("a")
    stored = 0
    with pytest.raises(StateFull, match=r"of its 65536 bytes \(max_state_bytes\) in use") as refused:
        for stored in range(1000):
            with state.transaction():
                state.put("thing", f"id-{stored}", {"blob": "x" * 2000})
                state.put("count", "n", {"n": stored})
    assert isinstance(refused.value.__cause__, sqlite3.OperationalError)
    assert 10 < stored == state.count("thing") and state.get("count", "n") == {"n": stored - 1}  # the refused one left nothing
    state.clear()
    for index in range(stored):
        state.put("thing", f"again-{index}", {"blob": "x" * 2000})
    assert state.count("thing") == stored
    store.close()


def test_a_bound_below_the_schema_is_refused_when_opening() -> None:
    with pytest.raises(StateFull):
        Store(max_bytes=4096)


@pytest.mark.parametrize("kind", CORRUPT)
def test_an_unusable_state_file_is_refused_when_opening_and_left_alone(tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("missing/state.sqlite" if kind == "in a missing folder" else "state.sqlite")
    make, message = CORRUPT[kind]
    make(path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(LoadError) as refused:
        Store(path)
    assert message in str(refused.value) and str(path) in str(refused.value) and "\n" not in str(refused.value)
    assert (path.read_bytes() if path.is_file() else None) == before
