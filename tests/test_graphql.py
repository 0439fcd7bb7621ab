"""GraphQL over HTTP (mockserver/graphql.py) with an SDL and no vendor module: the transport,
its errors in the standard format, the document cache, limits, generated data, vendor hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.aiohttp import AIOHTTPTransport
from graphql import build_schema, parse

from mockserver import app as app_module
from mockserver import graphql as transport
from mockserver import vendors
from mockserver.appkeys import APIS
from mockserver.cli import main
from mockserver.errors import LoadError
from mockserver.graphql import MAX_TOKENS, DocumentCache, FieldError, GraphQLVendor, Limits, shape_of
from mockserver.vendors import GENERIC, Vendor

SDL = """
"Things, to try the transport on."
type Query {
  thing(id: ID!): Thing
  things(kind: Kind): [Thing!]!
  hello(name: String = "world"): String
  node: Node
  count: Int
}

interface Node { id: ID! }

type Thing implements Node {
  id: ID!
  name: String
  count: Int
  score: Float
  active: Boolean
  kind: Kind
  child: Thing
}

enum Kind { RED GREEN BLUE }

type Mutation {
  rename(id: ID!, name: String!): Thing
}
"""
URL = "/things/graphql"
JSON = {"Content-Type": "application/json"}
THINGS = "{ things { id name count score active kind child { name } } }"


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    (tmp_path / "things.graphql").write_text(SDL)
    return tmp_path


@pytest.fixture
async def client(make_client: Any, specs: Path) -> Any:
    return await make_client(specs=[specs])


async def answer(client: Any, body: Any, status: int = 200) -> dict[str, Any]:
    response = await client.post(URL, json=body)
    payload = await response.json()
    assert response.status == status, payload
    assert response.headers["Content-Type"] == "application/json"
    return payload


async def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    payload = await response.json()
    assert response.status == status, payload
    assert "data" not in payload
    [error] = payload["errors"]
    assert error["extensions"] == {"code": code}
    return error


# --- queries --------------------------------------------------------------------------------------


async def test_post_query_gets_generated_data(client: Any) -> None:
    payload = await answer(client, {"query": THINGS})
    assert set(payload) == {"data"}
    things = payload["data"]["things"]
    assert len(things) == 2
    for thing in things:
        assert isinstance(thing["id"], str) and isinstance(thing["count"], int) and isinstance(thing["score"], float)
        assert isinstance(thing["active"], bool) and thing["kind"] in ("RED", "GREEN", "BLUE")
        assert thing["name"].startswith("name-") and isinstance(thing["child"]["name"], str)


async def test_generated_data_is_deterministic(make_client: Any, specs: Path) -> None:
    first = await answer(await make_client(specs=[specs]), {"query": THINGS})
    second = await answer(await make_client(specs=[specs]), {"query": THINGS})
    assert first == second
    assert await answer(await make_client(specs=[specs], seed=3), {"query": THINGS}) != first


async def test_abstract_types_resolve_to_an_object_type(client: Any) -> None:
    payload = await answer(client, {"query": "{ node { __typename id ... on Thing { name } } }"})
    assert payload["data"]["node"]["__typename"] == "Thing"


async def test_get_query_equals_post(client: Any) -> None:
    response = await client.get(URL, params={"query": THINGS})
    assert response.status == 200
    assert await response.json() == await answer(client, {"query": THINGS})


async def test_get_with_variables_and_operation_name(client: Any) -> None:
    query = "query A($id: ID!) { thing(id: $id) { id } } query B { count }"
    response = await client.get(URL, params={"query": query, "operationName": "A", "variables": '{"id": "7"}'})
    assert response.status == 200
    assert set((await response.json())["data"]) == {"thing"}


async def test_operation_name_chooses_the_operation(client: Any) -> None:
    query = "query A { count } query B { hello }"
    assert set((await answer(client, {"query": query, "operationName": "B"}))["data"]) == {"hello"}
    assert set((await answer(client, {"query": query, "operationName": "A", "variables": None}))["data"]) == {"count"}


async def test_mutation_over_post_runs_and_over_get_is_405(client: Any) -> None:
    mutation = 'mutation { rename(id: "1", name: "x") { id } }'
    assert (await answer(client, {"query": mutation}))["data"]["rename"]["id"]
    response = await client.get(URL, params={"query": mutation})
    error = await error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "POST"
    assert "mutation" in error["message"]


async def test_get_chooses_the_named_query_beside_a_mutation(client: Any) -> None:
    query = 'query Q { count } mutation M { rename(id: "1", name: "x") { id } }'
    assert (await client.get(URL, params={"query": query, "operationName": "Q"})).status == 200
    assert (await client.get(URL, params={"query": query, "operationName": "M"})).status == 405


async def test_subscription_is_refused(client: Any) -> None:
    response = await client.post(URL, json={"query": "subscription { count }"})
    error = await error_of(response, 400, "GRAPHQL_VALIDATION_FAILED")
    assert "subscription" in error["message"]


# --- request errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "headers", "status", "words"),
    [
        (b"{not json", JSON, 400, "not valid JSON"),
        (b"\xff\xfe", JSON, 400, "not valid JSON"),
        (b"[]", JSON, 400, "not an array"),
        (b'"{ count }"', JSON, 400, "not a string"),
        (b"{}", JSON, 400, "no `query`"),
        (b'{"query": null}', JSON, 400, "no `query`"),
        (b'{"query": ["{ count }"]}', JSON, 400, "`query` must be a string, not an array"),
        (b'{"query": "   "}', JSON, 400, "`query` is empty"),
        (b'{"query": "{ count }", "variables": [1]}', JSON, 400, "`variables` must be a JSON object or null, not an array"),
        (b'{"query": "{ count }", "variables": "{}"}', JSON, 400, "`variables` must be a JSON object or null, not a string"),
        (b'{"query": "{ count }", "variables": 3}', JSON, 400, "not a number"),
        (b'{"query": "{ count }", "operationName": 3}', JSON, 400, "`operationName` must be a string"),
        (b'{"query": "{ count }", "extensions": true}', JSON, 400, "`extensions` must be a JSON object"),
        (b"", JSON, 400, "empty"),
        (b"   ", JSON, 400, "empty"),
        (b'{"query": "{ count }"}', {"Content-Type": "text/plain"}, 415, "'text/plain' is not supported"),
        (b'{"query": "{ count }"}', {"Content-Type": "application/graphql"}, 415, "application/json"),
        (b'{"query": "{ count }"}', {}, 415, "Content-Type"),
    ],
)
async def test_malformed_requests_are_400_or_415(client: Any, data: bytes, headers: dict[str, str], status: int, words: str) -> None:
    response = await client.post(URL, data=data, headers=headers)
    error = await error_of(response, status, "UNSUPPORTED_MEDIA_TYPE" if status == 415 else "BAD_REQUEST")
    assert words in error["message"]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/graphql-response+json"])
async def test_json_media_types_are_accepted(client: Any, content_type: str) -> None:
    response = await client.post(URL, data=b'{"query": "{ count }"}', headers={"Content-Type": content_type})
    assert response.status == 200


async def test_unknown_members_are_ignored(client: Any) -> None:
    assert (await answer(client, {"query": "{ count }", "extensions": {"persistedQuery": {}}, "id": 1}))["data"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({}, "no `query`"),
        ({"query": ""}, "`query` is empty"),
        ({"query": "{ count }", "variables": "{not json"}, "`variables` is not valid JSON"),
        ({"query": "{ count }", "variables": "[1, 2]"}, "`variables` must be a JSON object"),
        ({"query": "{ count }", "extensions": "nope"}, "`extensions` is not valid JSON"),
    ],
)
async def test_malformed_get_parameters_are_400(client: Any, params: dict[str, str], words: str) -> None:
    error = await error_of(await client.get(URL, params=params), 400, "BAD_REQUEST")
    assert words in error["message"]


async def test_repeated_get_parameter_is_400(client: Any) -> None:
    error = await error_of(await client.get(URL + "?query={count}&query={hello}"), 400, "BAD_REQUEST")
    assert "'query' is given more than once" in error["message"]


async def test_oversized_body_is_413(make_client: Any, specs: Path) -> None:
    client = await make_client(specs=[specs], max_body_bytes=64)
    response = await client.post(URL, json={"query": "{ count }", "padding": "x" * 100})
    error = await error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert "64 bytes" in error["message"]
    chunked = await client.post(URL, data=_chunks(b'{"query": "{ count }", "padding": "' + b"x" * 200 + b'"}'), headers=JSON)
    await error_of(chunked, 413, "PAYLOAD_TOO_LARGE")


async def _chunks(data: bytes) -> Any:
    for start in range(0, len(data), 32):
        yield data[start : start + 32]


# --- document errors ------------------------------------------------------------------------------


async def test_syntax_error_is_400_with_its_location(client: Any) -> None:
    response = await client.post(URL, json={"query": "{\n  things { id \n"})
    error = await error_of(response, 400, "GRAPHQL_PARSE_FAILED")
    assert error["message"].startswith("Syntax Error: Expected Name, found <EOF>.")
    assert error["locations"] == [{"line": 3, "column": 1}]


async def test_every_validation_error_is_listed_with_locations(client: Any) -> None:
    response = await client.post(URL, json={"query": "{ nothing things { colour } thing { id } }"})
    payload = await response.json()
    assert response.status == 400 and "data" not in payload
    messages = [error["message"] for error in payload["errors"]]
    assert "Cannot query field 'nothing' on type 'Query'. Did you mean 'thing' or 'things'?" in messages
    assert "Cannot query field 'colour' on type 'Thing'." in messages
    assert "Argument 'Query.thing(id:)' of type 'ID!' is required, but it was not provided." in messages
    assert all(error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"} and error["locations"] for error in payload["errors"])


async def test_variables_that_do_not_fit_are_400(client: Any) -> None:
    query = "query Q($id: ID!, $kind: Kind) { thing(id: $id) { id } things(kind: $kind) { id } }"
    response = await client.post(URL, json={"query": query, "variables": {"kind": "PURPLE"}})
    payload = await response.json()
    assert response.status == 400 and "data" not in payload
    assert {error["extensions"]["code"] for error in payload["errors"]} == {"BAD_USER_INPUT"}
    assert any("$id" in error["message"] for error in payload["errors"])
    assert any("PURPLE" in error["message"] for error in payload["errors"])
    ok = await answer(client, {"query": query, "variables": {"id": "1", "kind": "RED"}})
    assert ok["data"]["thing"]["id"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"query": "query A { count } query B { hello }"}, "give `operationName` (one of A, B)"),
        ({"query": "query A { count }", "operationName": "C"}, "Unknown operation named 'C'"),
        ({"query": "fragment F on Thing { id }"}, ""),
    ],
)
async def test_unknown_or_ambiguous_operation_is_400(client: Any, body: dict[str, Any], words: str) -> None:
    response = await client.post(URL, json=body)
    payload = await response.json()
    assert response.status == 400, payload
    assert words in payload["errors"][0]["message"]


async def test_too_many_tokens_is_a_syntax_error(client: Any) -> None:
    response = await client.post(URL, json={"query": "{ " + "count " * MAX_TOKENS + "}"})
    error = await error_of(response, 400, "GRAPHQL_PARSE_FAILED")
    assert f"more than {MAX_TOKENS} tokens" in error["message"]


async def test_deep_queries_are_refused(client: Any) -> None:
    deep = "{ thing(id: 1) { " + "child { " * 60 + "id" + " }" * 61 + " }"
    error = await error_of(await client.post(URL, json={"query": deep}), 400, "GRAPHQL_VALIDATION_FAILED")
    assert "nested 62 fields deep" in error["message"] and "limit is 50" in error["message"]
    chain = " ".join(f"fragment F{n} on Thing {{ child {{ ...F{n + 1} }} }}" for n in range(60)) + " fragment F60 on Thing { id }"
    error = await error_of(await client.post(URL, json={"query": "{ thing(id: 1) { ...F0 } } " + chain}), 400, "GRAPHQL_VALIDATION_FAILED")
    assert "fragments included" in error["message"]
    nested = await client.post(URL, json={"query": "{ thing(id: 1) { " + "child { " * 40 + "id" + " }" * 41 + " }"})
    assert nested.status == 200


def test_depth_counts_fields_through_fragments() -> None:
    def depth(query: str) -> int:
        return shape_of(parse(query), Limits()).depth

    assert depth("{ a { b { c } } d }") == 3
    assert depth("{ a { ... on T { b { c } } } }") == 3
    assert depth("{ a { ...F ...F } } fragment F on T { b { ...G } } fragment G on T { c }") == 3
    assert depth("{ a { ...F } } fragment F on T { b { ...F } }") == 2  # a cycle is walked once (validation reports it)


def test_fragments_that_multiply_stop_the_count_at_its_limit() -> None:
    wide = (
        " ".join(f"fragment F{n} on T {{ x: a {{ ...F{n + 1} }} y: a {{ ...F{n + 1} }} }}" for n in range(40)) + " fragment F40 on T { z }"
    )
    limits = Limits()
    shape = shape_of(parse("{ ...F0 } " + wide), limits)  # 2**40 fields once spread: the walk stops, it does not expand them
    assert limits.selections < shape.selections <= limits.selections + 2
    assert "more than 1000 selections" in (shape.refusal(limits) or "")


# --- the document cache ---------------------------------------------------------------------------


async def test_repeated_query_is_parsed_and_validated_once(client: Any) -> None:
    [api] = client.app[APIS]
    cache = api.documents
    before = (cache.hits, cache.misses)
    await answer(client, {"query": THINGS})
    await answer(client, {"query": THINGS})
    assert (await client.get(URL, params={"query": THINGS})).status == 200
    assert (cache.hits - before[0], cache.misses - before[1]) == (2, 1)
    await client.post(URL, json={"query": "{ nothing }"})
    await client.post(URL, json={"query": "{ nothing }"})
    assert cache.misses - before[1] == 2  # invalid documents are remembered too


def test_document_cache_is_bounded() -> None:
    cache = DocumentCache(build_schema(SDL), entries=2, size=24_000)
    for query in ("{ count }", "{ hello }", "{ count }", "{ node { id } }"):
        cache.get(query)
    assert len(cache) == 2 and cache.hits == 1 and cache.misses == 3
    assert cache.get("{ count }").document is not None and cache.hits == 2  # used recently: kept
    cache.get("{ hello }")
    assert cache.misses == 4  # the least recently used was evicted
    cache.get("{ " + "count " * 100 + "}")  # too long for a quarter of the budget: answered, not kept
    assert len(cache) == 2


# --- routing and the mount ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "HEAD"])
async def test_other_methods_are_405_with_allow(client: Any, method: str) -> None:
    response = await client.request(method, URL)
    assert response.status == 405
    assert response.headers["Allow"] == "GET, POST"
    if method != "HEAD":
        await error_of(response, 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("path", ["/things", "/things/", "/things/graphiql", "/things/graphql/extra"])
async def test_other_paths_under_the_mount_are_404(client: Any, path: str) -> None:
    error = await error_of(await client.post(path, json={"query": "{ count }"}), 404, "NOT_FOUND")
    assert URL in error["message"]


async def test_cors_preflight_and_origin(client: Any) -> None:
    preflight = await client.options(
        URL,
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-api-key",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type, x-api-key"
    response = await client.post(URL, json={"query": "{ count }"}, headers={"Origin": "http://localhost:3000"})
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


async def test_introspection_with_a_graphql_client(client: Any) -> None:
    transport = AIOHTTPTransport(url=str(client.make_url(URL)))
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        result = await session.execute(gql("{ things(kind: RED) { id kind } }"))
        assert len(result["things"]) == 2
        schema = session.client.schema
        assert schema is not None and set(schema.get_type("Kind").values) == {"RED", "GREEN", "BLUE"}
        assert schema.query_type.description == "Things, to try the transport on."


def test_routes_and_check(specs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "--specs", str(specs)]) == 0
    out = capsys.readouterr().out
    assert "GET     /things/graphql" in out and "POST    /things/graphql" in out
    assert main(["check", "--specs", str(specs)]) == 0
    assert "ok    things: GraphQL, 5 query fields, 1 mutations" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("sdl", "words"),
    [
        ("type Query { a: Nope }", "Unknown type 'Nope'"),
        ("type Query {", "Syntax Error"),
        ("type Query { a: String } type Query { b: String }", "There can be only one type named 'Query'"),
        ("type Thing { a: String }", "Query root type must be provided"),
        ("interface I { a: String } type Query implements I { b: String }", "Interface field I.a expected but Query does not provide it"),
    ],
)
def test_a_broken_schema_stops_check_with_its_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], sdl: str, words: str) -> None:
    (tmp_path / "broken.graphql").write_text(sdl)
    assert main(["check", "--specs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "broken.graphql" in err and words in err


# --- vendor modules -------------------------------------------------------------------------------


def _with_vendor(monkeypatch: pytest.MonkeyPatch, vendor: GraphQLVendor) -> None:
    things = Vendor(graphql=lambda setup: vendor)
    monkeypatch.setattr(app_module, "vendor_for", lambda description: things if description.name == "things" else GENERIC)


async def test_vendor_resolvers_and_errors(make_client: Any, specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def hello(root: Any, info: Any, name: str) -> str:
        if name == "nobody":
            raise FieldError("nobody is not welcome", "NotWelcome")
        if name == "bug":
            raise KeyError("internal detail /etc/secret")
        return f"hello {name}"

    _with_vendor(monkeypatch, GraphQLVendor(resolvers={"Query": {"hello": hello}}))
    client = await make_client(specs=[specs])
    assert (await answer(client, {"query": "{ hello }"}))["data"] == {"hello": "hello world"}
    assert (await answer(client, {"query": "{ count }"}))["data"] == {"count": None}  # no generated data with a vendor
    refused = await answer(client, {"query": '{ hello(name: "nobody") }'})
    assert refused == {
        "data": {"hello": None},
        "errors": [
            {
                "message": "nobody is not welcome",
                "locations": [{"line": 1, "column": 3}],
                "path": ["hello"],
                "extensions": {"code": "NotWelcome"},
            }
        ],
    }
    broken = await answer(client, {"query": '{ hello(name: "bug") }'})
    assert broken["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert broken["errors"][0]["message"] == "the mock server failed to resolve this field"
    assert "secret" not in str(broken)


async def test_vendor_authentication(make_client: Any, specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def authenticate(request: transport.GraphQLRequest) -> Any:
        if request.headers.get("Authorization") != "Bearer ok":
            return transport.Refusal(401, (transport.Fault("UNAUTHENTICATED", "who are you?"),), {"WWW-Authenticate": "Bearer"})
        return {"user": "me"}

    _with_vendor(
        monkeypatch, GraphQLVendor(resolvers={"Query": {"hello": lambda root, info, name: info.context["user"]}}, authenticate=authenticate)
    )
    client = await make_client(specs=[specs])
    response = await client.post(URL, json={"query": "{ hello }"})
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await error_of(response, 401, "UNAUTHENTICATED"))["message"] == "who are you?"
    response = await client.post(URL, json={"query": "{ hello }"}, headers={"Authorization": "Bearer ok"})
    assert (await response.json())["data"] == {"hello": "me"}


def test_vendor_resolving_an_unknown_field_stops_start_up(make_client: Any, specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver.app import load
    from mockserver.settings import load_settings

    _with_vendor(monkeypatch, GraphQLVendor(resolvers={"Query": {"goodbye": lambda root, info: None}}))
    with pytest.raises(LoadError, match=r"Query\.goodbye"):
        load(load_settings({"specs": [specs]}, environ={}))
    _with_vendor(monkeypatch, GraphQLVendor(resolvers={"Kind": {"RED": lambda root, info: None}}))
    with pytest.raises(LoadError, match="'Kind'"):
        load(load_settings({"specs": [specs]}, environ={}))


def test_vendor_module_lookup() -> None:
    assert vendors._bundled("bitpanda") is not None
    assert vendors._bundled("no-such-api") is None
    assert vendors._bundled("no.such.api") is None
