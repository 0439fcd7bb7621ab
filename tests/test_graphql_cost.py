"""What a GraphQL document may cost (mockserver/graphql.py): the pre-count refuses a costly
document before graphql-core validates it, each limit exactly at its edge, and the document
and answer caches hold at most their bytes and die with their app."""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from graphql import build_schema, parse, validate
from graphql.language import Lexer, Source, TokenKind

import mockserver.graphql
from mockserver.app import create_app
from mockserver.appkeys import APIS
from mockserver.graphql import (
    ANSWER_BYTES,
    CACHE_BYTES,
    MAX_DEFINITIONS,
    MAX_DEPTH,
    MAX_OVERLAPS,
    MAX_QUERY_CHARS,
    MAX_SELECTIONS,
    MAX_TOKENS,
    GraphQLApi,
)
from mockserver.lru import SizedLru
from mockserver.settings import load_settings

from .helpers import ROOT

URL = "/bitpanda/graphql"
AUTH = {"x-api-key": "mock-api-key"}
SCHEMA = build_schema((ROOT / "specs" / "bitpanda.graphql").read_text())
NESTED = "portfolio { items { timestamp } }"  # three fields, three response paths under `user`
ISSUE_DOCUMENT = "{ user { " + (NESTED + " ") * 500 + "} }"  # 17 KB: 1.0-1.3 s in graphql-core's validate


@pytest.fixture
async def client(make_client: Any) -> Any:
    return await make_client()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times the server calls graphql-core's parse and validate from here on."""
    counted = {"parse": 0, "validate": 0}

    def spy(name: str) -> Callable[..., Any]:
        real = getattr(mockserver.graphql, name)

        def counting(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return real(*args, **kwargs)

        return counting

    for name in counted:
        monkeypatch.setattr(mockserver.graphql, name, spy(name))
    return counted


def tokens(query: str) -> int:
    """The document's tokens as graphql-core's lexer counts them."""
    lexer, count = Lexer(Source(query)), 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def api_of(client: Any) -> GraphQLApi:
    [api] = [api for api in client.app[APIS] if isinstance(api, GraphQLApi)]
    return api


async def answered(client: Any, query: str, operation: str | None = None) -> dict[str, Any]:
    response = await client.post(URL, json={"query": query, "operationName": operation}, headers=AUTH)
    body = await response.json()
    assert response.status == 200 and "errors" not in body, body
    return body


async def refused(client: Any, query: str, error_type: str = "ValidationError") -> str:
    """The AppSync error entry of a refused document; its message."""
    response = await client.post(URL, json={"query": query}, headers=AUTH)
    body = await response.json()
    assert response.status == 400, body
    [error] = body["errors"]
    assert error["errorType"] == error_type and error["locations"][0]["line"] == 1, error
    assert set(error) == {"path", "data", "errorType", "errorInfo", "locations", "message"}
    return str(error["message"])


# --- the pre-count: refused before validation -------------------------------------------------


async def test_the_issues_document_is_refused_before_it_is_lexed(client: Any, calls: dict[str, int]) -> None:
    message = await refused(client, ISSUE_DOCUMENT, "InvalidSyntax")
    assert f"the limit is {MAX_QUERY_CHARS}" in message
    assert calls == {"parse": 0, "validate": 0}


async def test_its_copies_without_blanks_are_refused_while_they_are_parsed(client: Any, calls: dict[str, int]) -> None:
    compact = "{user{" + "portfolio{items{timestamp}}" * 500 + "}}"
    assert len(compact) < MAX_QUERY_CHARS and tokens(compact) > MAX_TOKENS
    assert f"more than {MAX_TOKENS} tokens" in await refused(client, compact, "InvalidSyntax")
    assert calls == {"parse": 1, "validate": 0}


async def test_copies_of_one_field_are_counted_in_pairs_and_refused_unvalidated(client: Any, calls: dict[str, int]) -> None:
    copies = 27  # 3 paths x 27 x 26 / 2 = 1,053 pairs; valid for graphql-core, and costly to validate
    query = "{ user { " + (NESTED + " ") * copies + "} }"
    assert validate(SCHEMA, parse(query)) == []
    message = await refused(client, query)
    assert "it asks for `user.portfolio` 27 times under one name" in message and f"more than {MAX_OVERLAPS} pairs" in message
    assert calls == {"parse": 1, "validate": 0}
    assert (await answered(client, "{ user { " + (NESTED + " ") * 26 + "} }"))["data"]["user"]["portfolio"]["items"]  # 975 pairs
    assert calls == {"parse": 2, "validate": 1}


async def test_fragments_spread_side_by_side_are_pairs_too(client: Any, calls: dict[str, int]) -> None:
    fragments = " ".join(f"fragment F{n} on Portfolio {{ a{n}: timestamp }}" for n in range(46))
    spreads = " ".join(f"...F{n}" for n in range(46))  # 46 x 45 / 2 = 1,035 pairs of fragments for validation to compare
    message = await refused(client, f"{{ user {{ portfolio {{ items {{ {spreads} }} }} }} }} {fragments}")
    assert "it spreads 46 fragments in `user.portfolio.items`" in message
    assert calls["validate"] == 0


async def test_fragments_are_counted_wherever_they_are_spread(client: Any, calls: dict[str, int]) -> None:
    pair = 'a: in(currency: "USD") {{ ...F{next} }} b: in(currency: "USD") {{ ...F{next} }}'
    doubling = " ".join(f"fragment F{n} on Amount {{ " + pair.format(next=n + 1) + " }" for n in range(30))
    query = "{ user { portfolio { items { total { ...F0 } } } } } " + doubling + " fragment F30 on Amount { value }"
    assert tokens(query) < MAX_TOKENS  # 2**30 fields once spread, in 30 short fragments
    assert f"more than {MAX_SELECTIONS} selections" in await refused(client, query)
    assert calls["validate"] == 0


# --- each limit at its edge: the limit passes, one more is refused ------------------------------


async def test_length_edge(client: Any, calls: dict[str, int]) -> None:
    query = "{ user { portfolio { items { timestamp } } } }"
    padded = query + " " * (MAX_QUERY_CHARS - len(query))
    await answered(client, padded)
    assert f"is {MAX_QUERY_CHARS + 1} characters long" in await refused(client, padded + " ", "InvalidSyntax")
    assert calls == {"parse": 1, "validate": 1}
    assert len(api_of(client).documents) == 1  # the refused text is not kept


async def test_tokens_edge(client: Any, calls: dict[str, int]) -> None:
    aliases = " ".join(f"a{n}: __typename" for n in range(332))
    query = "{ " + aliases + " __typename __typename }"
    assert tokens(query) == MAX_TOKENS
    assert len((await answered(client, query))["data"]) == 333
    assert f"more than {MAX_TOKENS} tokens" in await refused(client, query.replace(" }", " __typename }"), "InvalidSyntax")
    assert calls == {"parse": 2, "validate": 1}


async def test_definitions_edge(client: Any, calls: dict[str, int]) -> None:
    def operations(count: int) -> str:
        return " ".join(f"query Q{n} {{ __typename }}" for n in range(count))

    assert (await answered(client, operations(MAX_DEFINITIONS), "Q99"))["data"] == {"__typename": "Query"}
    message = await refused(client, operations(MAX_DEFINITIONS + 1))
    assert message == f"The document has {MAX_DEFINITIONS + 1} operations and fragments; the limit is {MAX_DEFINITIONS}."
    assert calls == {"parse": 2, "validate": 1}


def _selections(users: int, fields: int) -> str:
    """`users` aliased `user` fields spreading one fragment of `fields` aliased fields:
    users x (fields + 2) selections once the fragment is spread."""
    spread = " ".join(f"u{n}: user {{ ...G }}" for n in range(users))
    return f"{{ {spread} }} fragment G on User {{ " + " ".join(f"f{n}: __typename" for n in range(fields)) + " }"


async def test_selections_edge(client: Any, calls: dict[str, int]) -> None:
    assert 10 * (98 + 2) == MAX_SELECTIONS
    body = await answered(client, _selections(10, 98))
    assert len(body["data"]) == 10 and len(body["data"]["u0"]) == 98
    assert 11 * (89 + 2) == MAX_SELECTIONS + 1
    assert f"more than {MAX_SELECTIONS} selections" in await refused(client, _selections(11, 89))
    assert calls == {"parse": 2, "validate": 1}


async def test_overlaps_edge(client: Any, calls: dict[str, int]) -> None:
    base = "__typename " * 45 + "user { " + "__typename " * 5 + "}"  # 45 x 44 / 2 + 5 x 4 / 2 = 1,000 pairs
    assert 45 * 44 // 2 + 5 * 4 // 2 == MAX_OVERLAPS
    assert (await answered(client, "{ " + base + " }"))["data"]["user"] == {"__typename": "User"}
    message = await refused(client, "{ " + base + " x: user { __typename __typename } }")
    assert "it asks for `__typename` 45 times under one name" in message
    assert calls == {"parse": 2, "validate": 1}


async def test_depth_edge(client: Any, calls: dict[str, int]) -> None:
    def nested(levels: int) -> str:  # user, portfolio, items, total, the `in`s, value
        inner = "value"
        for _ in range(levels):
            inner = f'in(currency: "USD") {{ {inner} }}'
        return f"{{ user {{ portfolio {{ items {{ total {{ {inner} }} }} }} }} }}"

    await answered(client, nested(MAX_DEPTH - 5))
    message = await refused(client, nested(MAX_DEPTH - 4))
    assert message == f"The query is nested {MAX_DEPTH + 1} fields deep (fragments included); the limit is {MAX_DEPTH}."
    assert calls == {"parse": 2, "validate": 1}


async def test_a_refusal_is_remembered(client: Any, calls: dict[str, int]) -> None:
    query = "{ user { " + (NESTED + " ") * 27 + "} }"
    assert await refused(client, query) == await refused(client, query)
    assert calls == {"parse": 1, "validate": 0}


# --- bounded caches ----------------------------------------------------------------------------


def held_by(cache: SizedLru[Any, Any]) -> int:
    """The bytes tracemalloc sees freed when the cache lets go of what it keeps."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    cache.clear()
    gc.collect()
    return before - tracemalloc.get_traced_memory()[0]


@pytest.fixture
def traced() -> Any:
    tracemalloc.start()
    yield
    tracemalloc.stop()


async def test_the_document_cache_weighs_parsed_documents(client: Any, traced: None) -> None:
    cache = api_of(client).documents.items
    for number in range(50):  # 50 documents of about 1,000 tokens: about 600 KB each once parsed
        aliases = " ".join(f"d{number}_{n}: timestamp" for n in range(325))
        await answered(client, f"{{ user {{ portfolio {{ items {{ {aliases} }} }} }} }}")
    assert 20 < len(cache) < 50 and cache.used <= CACHE_BYTES
    accounted = cache.used
    held = held_by(cache)
    assert held <= accounted <= 2 * held, (held, accounted)


async def test_the_answer_cache_weighs_the_variables_of_its_keys(client: Any, traced: None) -> None:
    cache = api_of(client).answers
    query = "query In($currency: String!) { user { portfolio { items { total { in(currency: $currency) { value } } } } } }"
    for number in range(120):  # a field error each, under 50 KB of variables each
        variables = {"currency": f"{number:03}" + "x" * 50_000}
        response = await client.post(URL, json={"query": query, "variables": variables}, headers=AUTH)
        assert response.status == 200 and (await response.json())["errors"][0]["errorType"] == "BadRequestException"
    assert 40 < len(cache) < 120 and cache.used <= ANSWER_BYTES
    accounted = cache.used
    held = held_by(cache)
    assert held <= accounted <= 2 * held, (held, accounted)


async def test_variables_the_operation_does_not_declare_are_not_kept(client: Any) -> None:
    cache = api_of(client).answers
    query = "{ user { portfolio { items { timestamp } } } }"
    for number in range(10):  # 900 KB of variables each, none declared: one answer, kept once and small
        response = await client.post(URL, json={"query": query, "variables": {"unused": f"{number}" + "x" * 900_000}}, headers=AUTH)
        assert response.status == 200
    assert len(cache) == 1 and cache.used < 2_000


async def test_the_caches_die_with_their_app() -> None:
    client = TestClient(TestServer(create_app(load_settings({}, environ={}))))
    await client.start_server()
    await answered(client, "{ user { portfolio { items { timestamp } } } }")
    api = api_of(client)
    assert len(api.documents) == 1 and len(api.answers) == 1
    documents, answers = weakref.ref(api.documents), weakref.ref(api.answers)
    await client.close()
    del client, api
    gc.collect()
    assert documents() is None and answers() is None
