"""Property-based conformance of the Bitpanda GraphQL mock, with schemathesis, against a real server process.

Bounded, deterministic runs over specs/bitpanda.graphql (its one root field, `Query.user`), with the
sandbox key (seeded, derandomized, no example database):

* positive data: schema-valid documents get a 200 with `data.user` and no `errors`, or field errors
  that are documented rules of the API (`is_tolerated`, ARGUMENT_RULES), each checked against the
  arguments of the field it names. Date and currency arguments come half of the time from DATES and CURRENCIES (the
  documented forms and edges), so that runs reach the data, and otherwise are generated strings;
* negative data: documents whose arguments break the schema (wrong literal types, a missing or null
  required argument, an unknown enum value) get a 400 `ValidationError`, never data;
* malformed requests (a hand-written hypothesis strategy, for what schemathesis does not generate):
  garbled documents, unknown fields, variables of the wrong type, documents nested too deep or too
  long, broken bodies, media types, methods, paths and keys get a 4xx with `errors`, never a 5xx;
  the documented limits' edges (50 fields deep, 1,000 tokens) are run every time, each side.

Every answer, in every run, must be a well-formed GraphQL-over-HTTP response in AppSync's envelope
(`assert_well_formed`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import hypothesis
import orjson
import requests
import schemathesis
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    get_operation_ast,
    parse,
    validate,
    value_from_ast_untyped,
)
from graphql.validation.validate import ValidationAbortedError
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from mockserver.settings import DEFAULT_CLOCK

from .. import fuzzing
from ..helpers import ROOT
from .helpers import KEY, URL

BITPANDA_SPEC = ROOT / "specs" / "bitpanda.graphql"
SCHEMA = build_schema(BITPANDA_SPEC.read_text(encoding="utf-8"))
MAX_EXAMPLES = 120
MALFORMED_EXAMPLES = 150
REQUIRED_CHECKS = ("not_a_server_error", "response_schema_conformance", "negative_data_rejection")

# --- what the SDL and docs/apis/bitpanda.md document ---------------------------------------------------------

LATEST = datetime.fromisoformat(DEFAULT_CLOCK)  # the server runs at the default clock, on the hour
FIAT = ("CHF", "EUR", "GBP", "JPY", "USD")
MAX_DEPTH = 50
MAX_TOKENS = 1_000
MAX_POINTS, MAX_SERIES = 1_000, 200
PERIODS = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY")

DATES = [
    "2021-03-01T12:00:00.000Z",  # the document's
    "2021-02-23T12:00:00.000Z",
    "2021-03-02T12:00:00.000Z",
    "2021-03-01T12:00:00.000+01:00",  # an offset is honoured
    "2021-03-01T12:29:59.999Z",  # rounds down
    "2021-03-01T12:30:00Z",  # rounds up
    "2021-03-01T12:00:00",  # no offset: UTC
    "2021-03-01",  # a date alone: midnight UTC
    "2021-02-15T23:30:00Z",  # rounds to the first hour
    "2021-02-15T23:29:59Z",  # before the data start
    "2020-01-01T00:00:00Z",  # long before it: no items
    "2026-01-15T14:00:00.000Z",  # the hour before the latest
    "2026-01-15T15:00:00.000Z",  # the latest
    "2030-01-01T00:00:00Z",  # after the latest
    "2025-06-01T00:00:00-05:00",
]
CURRENCIES = ["GBP", "USD", "EUR", "CHF", "JPY", "usd", "Eur"]
POSITIVE_DICTIONARIES = {"dates": DATES, "currencies": CURRENCIES}
POSITIVE_BINDINGS = {
    "User.portfolio.startDate": ("dates", 0.5),
    "User.portfolio.endDate": ("dates", 0.5),
    "Amount.in.currency": ("currencies", 0.5),
}


def load_schema(mode: str) -> Any:
    return fuzzing.load_graphql_schema(BITPANDA_SPEC, mode, MAX_EXAMPLES, {"x-api-key": KEY}, POSITIVE_DICTIONARIES, POSITIVE_BINDINGS)


positive = load_schema("positive")
negative = load_schema("negative")


# --- a well-formed answer -----------------------------------------------------------------------

REQUEST_ERROR_KEYS = {"errorType", "message"}  # problems of the HTTP request
DOCUMENT_ERROR_KEYS = {"path", "data", "errorType", "errorInfo", "locations", "message"}  # from the GraphQL document


def header(response: requests.Response | schemathesis.Response, name: str) -> str:
    """One header of either kind of response (schemathesis keeps lists under lower-case names)."""
    if isinstance(response, requests.Response):
        return response.headers.get(name, "")
    values = response.headers.get(name.lower()) or [""]
    return values[0]


def assert_well_formed(response: requests.Response | schemathesis.Response) -> dict[str, Any]:
    """A GraphQL-over-HTTP answer, as AppSync gives it; its body.

    Never a 5xx. A JSON object with `data` and/or `errors` (and nothing else but `extensions`);
    `errors` a non-empty list of AppSync entries: `errorType` and `message`, plus `path`, `data`,
    `errorInfo` and `locations` (each with `sourceName`) for errors from the document. A 200 has
    `data`, and its errors are field errors (with a path); a 4xx has errors and no `data`.
    """
    request = response.request
    where = f"{request.method} {request.url} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.text[:2000]}"
    media_type = header(response, "Content-Type").split(";")[0].strip()
    assert media_type in ("application/json", "application/graphql-response+json"), f"{where}: Content-Type {media_type!r}"
    body = orjson.loads(response.content)
    assert isinstance(body, dict), f"{where}: not a JSON object: {response.text[:500]}"
    assert body.keys() <= {"data", "errors", "extensions"} and ("data" in body or "errors" in body), f"{where}: {response.text[:500]}"
    errors = body.get("errors")
    if "errors" in body:
        assert isinstance(errors, list) and errors, f"{where}: `errors` must be a non-empty list: {response.text[:500]}"
    for error in errors or []:
        assert isinstance(error, dict) and error.keys() in (REQUEST_ERROR_KEYS, DOCUMENT_ERROR_KEYS), f"{where}: {error}"
        assert isinstance(error["message"], str) and error["message"], f"{where}: {error}"
        assert isinstance(error["errorType"], str) and error["errorType"], f"{where}: {error}"
        assert error["errorType"] != "InternalFailure", f"{where}: a server failure: {error}"
        if error.keys() == DOCUMENT_ERROR_KEYS:
            assert error["data"] is None and error["errorInfo"] is None, f"{where}: {error}"
            path, locations = error["path"], error["locations"]
            assert path is None or (isinstance(path, list) and all(isinstance(key, str | int) for key in path)), f"{where}: {error}"
            assert isinstance(locations, list), f"{where}: {error}"
            for location in locations:
                assert location.keys() == {"line", "column", "sourceName"} and location["sourceName"] is None, f"{where}: {error}"
                assert isinstance(location["line"], int) and location["line"] >= 1, f"{where}: {error}"
                assert isinstance(location["column"], int) and location["column"] >= 1, f"{where}: {error}"
    if response.status_code == 200:
        assert "data" in body and (body["data"] is None or isinstance(body["data"], dict)), f"{where}: {response.text[:500]}"
        assert body["data"] is not None or errors, f"{where}: `data: null` without errors"
        for error in errors or []:
            assert error.keys() == DOCUMENT_ERROR_KEYS and isinstance(error["path"], list), f"{where}: not a field error: {error}"
    else:
        assert 400 <= response.status_code < 500, f"{where}: {response.text[:500]}"
        assert "data" not in body and errors, f"{where}: a request error has `errors` and no `data`: {response.text[:500]}"
    return body


# --- documented field errors --------------------------------------------------------------------


def iso_instant(text: str) -> datetime | None:
    """The instant of an ISO 8601 date and time as documented (a date alone is midnight, no
    offset is UTC); None when the text is not one. Independent of the server's parser."""
    stripped = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([Tt].*)?", stripped, re.ASCII):
        return None
    try:
        moment = datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", stripped))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _malformed(name: str) -> Callable[[dict[str, Any]], str | None]:
    def rule(arguments: dict[str, Any]) -> str | None:
        value = arguments.get(name)
        if isinstance(value, str) and iso_instant(value) is None:
            return rf"{name} (['\"]).*\1 is not an ISO 8601 date and time, such as 2021-03-01T12:00:00\.000Z"
        return None

    return rule


def _period_without_start(arguments: dict[str, Any]) -> str | None:
    if arguments.get("timePeriod") is not None and arguments.get("startDate") is None:
        return r"timePeriod needs startDate: [^;]+"
    return None


def _start_without_period(arguments: dict[str, Any]) -> str | None:
    if arguments.get("startDate") is not None and arguments.get("timePeriod") is None:
        return r"timePeriod is required with startDate \(HOURLY, DAILY, WEEKLY or MONTHLY\)"
    return None


def _end_before_start(arguments: dict[str, Any]) -> str | None:
    start, end = (iso_instant(arguments.get(name) or "") for name in ("startDate", "endDate"))
    if start is not None and end is not None and end < start:
        return r"endDate \S+ is before startDate \S+"
    return None


def _start_after_latest(arguments: dict[str, Any]) -> str | None:
    start = iso_instant(arguments.get("startDate") or "")
    if arguments.get("endDate") is None and start is not None and start > LATEST:
        return r"startDate \S+ is after the latest available time \S+"
    return None


def _unsupported_currency(arguments: dict[str, Any]) -> str | None:
    currency = arguments.get("currency")
    if isinstance(currency, str) and currency.upper() not in FIAT:
        return rf"Unsupported currency (['\"]).*\1: use one of {', '.join(FIAT)}"
    return None


# The documented argument errors of each field (the SDL's descriptions, docs/apis/bitpanda.md "Argument errors"
# and "Currencies"): BadRequestException, the field null, every problem of the field in one
# message, "; " between them. Each rule gives the pattern of its problem when it applies.
ARGUMENT_RULES: dict[str, tuple[Callable[[dict[str, Any]], str | None], ...]] = {
    "portfolio": (
        _malformed("startDate"),
        _malformed("endDate"),
        _start_without_period,
        _period_without_start,
        _end_before_start,
        _start_after_latest,
    ),
    "in": (_unsupported_currency,),
}


def fields_named(selection_set: SelectionSetNode | None, key: str, fragments: dict[str, FragmentDefinitionNode]) -> list[FieldNode]:
    """The fields answered under response key `key` in a selection set, through fragments."""
    found: list[FieldNode] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode) and (selection.alias or selection.name).value == key:
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += fields_named(selection.selection_set, key, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            found += fields_named(fragments[selection.name.value].selection_set, key, fragments)
    return found


def field_at(document: DocumentNode, path: list[str | int]) -> FieldNode | None:
    """The field of the document an error's path names (fields merged under one key share their arguments)."""
    operation = get_operation_ast(document)
    fragments = {node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)}
    found: list[Any] = [operation]
    for key in path:
        if isinstance(key, int):
            continue
        found = [node for parent in found for node in fields_named(parent.selection_set, key, fragments)]
        if not found:
            return None
    return found[0] if found and isinstance(found[0], FieldNode) else None


def count_fields(document: DocumentNode, name: str) -> int:
    total = 0

    def visit(selection_set: SelectionSetNode | None) -> None:
        nonlocal total
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode) and selection.name.value == name:
                total += 1
            visit(selection.selection_set if not isinstance(selection, FragmentSpreadNode) else None)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            visit(definition.selection_set)
    return total


def value_at(data: Any, path: list[str | int]) -> Any:
    for key in path:
        data = data[key]
    return data


def is_tolerated(error: dict[str, Any], document: DocumentNode, data: dict[str, Any]) -> bool:
    """Whether a field error is one of the documented rules, true of the field it names."""
    path = error["path"]
    node = field_at(document, path)
    if node is None or value_at(data, path) is not None:
        return False
    if error["errorType"] == "LimitExceededException":
        # at most 1,000 balances per request, and a series has at most 200: only six or more
        # `portfolio` fields (aliases) can ask for too many
        return (
            node.name.value == "portfolio"
            and count_fields(document, "portfolio") > MAX_POINTS // MAX_SERIES
            and error["message"].startswith(f"This request asks for more than {MAX_POINTS} portfolio balances in all")
        )
    if error["errorType"] != "BadRequestException":
        return False
    arguments = {argument.name.value: value_from_ast_untyped(argument.value) for argument in node.arguments}
    patterns = [pattern for rule in ARGUMENT_RULES.get(node.name.value, ()) if (pattern := rule(arguments)) is not None]
    if not patterns:
        return False
    problem = "|".join(f"(?:{pattern})" for pattern in patterns)
    return re.fullmatch(f"(?:{problem})(?:; (?:{problem}))*", error["message"], re.DOTALL) is not None


def assert_answered(case: schemathesis.Case, body: dict[str, Any]) -> bool:
    """A schema-valid document is answered: `data.user`, and no errors but documented ones.
    True when it had (documented) field errors."""
    request = f"POST {URL} {case.body!r}"
    data = body.get("data")
    assert isinstance(data, dict) and isinstance(data.get("user"), dict), f"{request}: {body}"
    errors = body.get("errors") or []
    document = parse(case.body)
    unexplained = [error for error in errors if not is_tolerated(error, document, data)]
    assert not unexplained, f"{request}: valid document answered errors: {unexplained}"
    return bool(errors)


@positive.parametrize()
def test_bitpanda_positive_data(case: schemathesis.Case, bitpanda_url: str, session: requests.Session) -> None:
    response = case.call(base_url=bitpanda_url, session=session)
    body = assert_well_formed(response)
    assert response.status_code == 200, f"{case.body!r}: {response.status_code} {response.text}"
    documented = assert_answered(case, body)
    # schemathesis's GraphQL `not_a_server_error` reads a 200 with field errors as a server failure
    # unless each error carries Apollo's `extensions.code` or graphql-java's classification; AppSync
    # puts `errorType` at the top level, so its documented argument errors (checked one by one by
    # assert_answered, 5xx excluded by assert_well_formed) would count as server errors.
    case.validate_response(response, excluded_checks=[not_a_server_error] if documented else None)


@negative.parametrize()
def test_bitpanda_negative_data(case: schemathesis.Case, bitpanda_url: str, session: requests.Session) -> None:
    response = case.call(base_url=bitpanda_url, session=session)
    body = assert_well_formed(response)
    assert response.status_code == 400, f"{case.body!r}: {response.status_code} {response.text}"
    assert {error["errorType"] for error in body["errors"]} == {"ValidationError"}, f"{case.body!r}: {response.text}"
    # schemathesis's GraphQL `not_a_server_error` takes an error entry with a `path` key for an
    # execution failure even when its value is null; AppSync's validation errors carry `"path": null`
    # (docs/apis/bitpanda.md, "Errors"), so every rejection would count as a server error. The 400 and its
    # ValidationError are asserted above, and assert_well_formed excludes a 5xx.
    case.validate_response(response, excluded_checks=[not_a_server_error])


test_required_checks_are_enabled = fuzzing.required_checks_test(REQUIRED_CHECKS, positive=positive, negative=negative)


# --- malformed requests -------------------------------------------------------------------------

Expect = Literal["reject", "answer", "any"]


@dataclass(frozen=True)
class Request:
    """One HTTP request to the endpoint, and what it must get: `reject` a 4xx with `errors`,
    `answer` a 200 with `data` and no `errors`, `any` whatever is well-formed."""

    what: str
    expect: Expect
    method: str = "POST"
    path: str = URL
    headers: dict[str, str] = field(default_factory=lambda: {"x-api-key": KEY, "Content-Type": "application/json"})
    body: bytes | None = None
    params: dict[str, str] | None = None


def post(what: str, expect: Expect, payload: Any) -> Request:
    # the standard library writes integers of any size (orjson stops at 64 bits)
    return Request(what, expect, body=json.dumps(payload).encode())


def document_problem(query: str) -> str | None:
    """Why graphql-core refuses the document against the SDL (syntax, the documented limit of
    tokens, validation); None when it is valid. The documents checked here are shallow."""
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        return f"syntax: {error.message}"
    errors = [error for error in validate(SCHEMA, document) if not isinstance(error, ValidationAbortedError)]
    if errors:  # graphql-core gives up on documents too costly to check: they are not invalid (see test_many_fields_of_one_name_are_answered_or_refused_with_a_reason)
        return f"validation: {errors[0].message}"
    return None


def expect_for(query: str) -> Expect:
    return "reject" if document_problem(query) is not None else "any"


LATEST_QUERY = "query UserPortfolioQuery { user { portfolio { items { timestamp total { value timestamp currency } balances { items { amount { currency timestamp value } asset { name } } } } } } }"
SERIES_QUERY = (
    'query Series { user { portfolio(startDate: "2021-02-23T12:00:00.000Z", endDate: "2021-03-02T12:00:00.000Z", timePeriod: WEEKLY)'
    ' { items { timestamp total { value currency in(currency: "USD") { value currency timestamp } } } } } }'
)
BASE_QUERIES = (
    LATEST_QUERY,
    SERIES_QUERY,
    "{ user { portfolio { items { balances { nextToken items { asset { symbol chain decimalPlace } } } } } } }",
)
NAME = st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,12}", fullmatch=True)
GRAPHQL_TEXT = st.text(
    alphabet=st.sampled_from(list('{}()[]:$!@"=.,#\n ') + list("abcuserportfolioitems0123")) | st.characters(), max_size=30
)


@st.composite
def garbled_documents(draw: st.DrawFn) -> Request:
    """A known query with a span deleted, replaced or repeated: mostly refused, sometimes still valid."""
    query = draw(st.sampled_from(BASE_QUERIES))
    start = draw(st.integers(0, len(query) - 1))
    end = draw(st.integers(start + 1, min(len(query), start + 20)))
    middle = draw(st.sampled_from(["", query[start:end] * 2]) | GRAPHQL_TEXT.filter(lambda text: text != query[start:end]))
    garbled = query[:start] + middle + query[end:]
    if not garbled.strip():
        return post("empty document", "reject", {"query": garbled})
    return post("garbled document", expect_for(garbled), {"query": garbled})


@st.composite
def unknown_fields(draw: st.DrawFn) -> Request:
    """A field no type of the schema has, at any level of a known query."""
    name = draw(NAME.filter(lambda name: not name.startswith("__")))
    query = draw(st.sampled_from(BASE_QUERIES))
    braces = [index for index, char in enumerate(query) if char == "{"]
    at = draw(st.sampled_from(braces)) + 1
    changed = query[:at] + f" {name} " + query[at:]
    return post(f"unknown field {name}", expect_for(changed), {"query": changed})


def deep_document(levels: int, currency: str = "USD") -> Request:
    """`in` nested `levels` deep: answered up to the documented depth of 50 fields, refused beyond."""
    inner = "value"
    for _ in range(levels):
        inner = f'in(currency: "{currency}") {{ {inner} }}'
    query = f"{{ user {{ portfolio {{ items {{ total {{ {inner} }} }} }} }} }}"
    depth = 4 + levels + 1  # user, portfolio, items, total, the `in`s, value
    return post(f"{depth} fields deep", "reject" if depth > MAX_DEPTH else "answer", {"query": query})


def long_document(fields: int) -> Request:
    """Many tokens (aliased fields, three tokens each): answered up to the documented 10,000, refused beyond."""
    query = "{ " + " ".join(f"a{index}: __typename" for index in range(fields)) + " }"
    tokens = 3 * fields + 2
    return post(f"{tokens} tokens", "reject" if tokens > MAX_TOKENS else "answer", {"query": query})


deep_documents = st.builds(deep_document, st.integers(1, 120), st.sampled_from(FIAT))
long_documents = st.sampled_from([1_000, MAX_TOKENS // 3 + 50]).map(long_document)
# the limits' edges, in every run
EDGES = (deep_document(MAX_DEPTH - 5), deep_document(MAX_DEPTH - 4), long_document(MAX_TOKENS // 3 - 1), long_document(MAX_TOKENS // 3))


@st.composite
def repeated_fields(draw: st.DrawFn) -> Request:
    """One field asked for many times under one name: a valid document (see test_many_fields_of_one_name_are_answered_or_refused_with_a_reason)."""
    count = draw(st.integers(2, 1_200))
    return post(f"__typename {count} times", "any", {"query": "{ " + "__typename " * count + "}"})


VARIABLES_QUERY = (
    "query Vars($start: String, $period: TimePeriod, $currency: String!) { user {"
    " portfolio(startDate: $start, timePeriod: $period) { items { total { in(currency: $currency) { value } } } } } }"
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
NOT_A_STRING = JSON_VALUES.filter(lambda value: not isinstance(value, str) and value is not None)


@st.composite
def wrong_variables(draw: st.DrawFn) -> Request:
    """Variables of the wrong type (or a required one missing): a 400, before execution."""
    good: dict[str, Any] = {"start": "2021-03-01T00:00:00Z", "period": "DAILY", "currency": "USD"}
    name = draw(st.sampled_from(sorted(good)))
    if name == "period":
        wrong = draw(JSON_VALUES.filter(lambda value: value is not None and value not in PERIODS))
    elif name == "currency":
        wrong = draw(st.one_of(st.none(), NOT_A_STRING))
    else:
        wrong = draw(NOT_A_STRING)
    variables = {**good, name: wrong}
    if name == "currency" and wrong is None and draw(st.booleans()):
        del variables["currency"]  # missing rather than null
    return post(f"variable {name} = {wrong!r}", "reject", {"query": VARIABLES_QUERY, "variables": variables})


def not_json(raw: bytes) -> Request:
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Request("body not JSON", "reject", body=raw)
    return Request("body not JSON", "reject" if not isinstance(decoded, dict) or "query" not in decoded else "any", body=raw)


NOT_AN_OBJECT = JSON_VALUES.filter(lambda value: value is not None and not isinstance(value, dict))
FULL = orjson.dumps({"query": LATEST_QUERY})
JSON_HEADERS = {"Content-Type": "application/json"}

# the JSON body's problems: not JSON, not an object, no or a non-string `query`, bad `variables`,
# `operationName` or `extensions`, an unknown operation
BROKEN_BODIES = (
    st.binary(max_size=40).map(not_json),
    JSON_VALUES.filter(lambda value: not isinstance(value, dict)).map(lambda body: post("body not an object", "reject", body)),
    st.fixed_dictionaries({}, optional={"query": NOT_A_STRING, "variables": JSON_VALUES}).map(
        lambda body: post("no string query", "reject", body)
    ),
    NOT_AN_OBJECT.map(lambda variables: post("variables not an object", "reject", {"query": LATEST_QUERY, "variables": variables})),
    NOT_A_STRING.map(lambda name: post("operationName not a string", "reject", {"query": LATEST_QUERY, "operationName": name})),
    NOT_AN_OBJECT.map(lambda extensions: post("extensions not an object", "reject", {"query": LATEST_QUERY, "extensions": extensions})),
    NAME.filter(lambda name: name != "UserPortfolioQuery").map(
        lambda name: post(f"unknown operation {name}", "reject", {"query": LATEST_QUERY, "operationName": name})
    ),
)
# the HTTP request's problems: the key, the media type, the method, the path
BROKEN_TRANSPORT = (
    st.just(Request("no key", "reject", headers=JSON_HEADERS, body=FULL)),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30)
    .filter(lambda key: key != KEY)
    .map(lambda key: Request("unknown key", "reject", headers={"x-api-key": key, **JSON_HEADERS}, body=FULL)),
    st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "application/graphql", "multipart/form-data", ""]).map(
        lambda media_type: Request(
            f"Content-Type {media_type!r}", "reject", headers={"x-api-key": KEY, "Content-Type": media_type}, body=FULL
        )
    ),
    st.sampled_from(["PUT", "PATCH", "DELETE"]).map(lambda method: Request(method, "reject", method=method, body=FULL)),
    st.from_regex(r"/[a-z0-9/_.-]{0,20}", fullmatch=True)
    .filter(lambda tail: tail != "/graphql")
    .map(lambda tail: Request(f"path {tail}", "reject", path="/bitpanda" + tail, body=FULL)),
)


@st.composite
def get_requests(draw: st.DrawFn) -> Request:
    """A query over GET, its document and variables in the URL."""
    query = draw(st.one_of(st.sampled_from(BASE_QUERIES), GRAPHQL_TEXT))
    params = {"query": query}
    expect: Expect = expect_for(query) if query.strip() else "reject"
    if draw(st.booleans()):
        params["variables"] = variables = draw(st.text(max_size=20))
        if variables.strip():
            try:
                if not isinstance(orjson.loads(variables), dict | None):
                    expect = "reject"
            except orjson.JSONDecodeError:
                expect = "reject"
    return Request("GET", expect, method="GET", headers={"x-api-key": KEY}, params=params)


MALFORMED = st.one_of(
    garbled_documents(),
    unknown_fields(),
    deep_documents,
    long_documents,
    repeated_fields(),
    wrong_variables(),
    get_requests(),
    *BROKEN_BODIES,
    *BROKEN_TRANSPORT,
)


def test_bitpanda_malformed_requests(bitpanda_url: str, session: requests.Session) -> None:
    base = bitpanda_url.removesuffix(URL)

    @hypothesis.given(MALFORMED)
    @hypothesis.settings(
        max_examples=MALFORMED_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.filter_too_much],
    )
    def check(request: Request) -> None:
        response = session.request(request.method, base + request.path, headers=request.headers, data=request.body, params=request.params)
        body = assert_well_formed(response)
        where = f"{request.what}: {request.method} {request.path} {request.body[:300] if request.body else request.params}"
        if request.expect == "reject":
            assert 400 <= response.status_code < 500, f"{where} -> {response.status_code} {response.text[:500]}"
        elif request.expect == "answer":
            assert response.status_code == 200 and "errors" not in body, f"{where} -> {response.status_code} {response.text[:500]}"

    for edge in EDGES:
        check = hypothesis.example(edge)(check)
    check()


def test_many_fields_of_one_name_are_answered_or_refused_with_a_reason(bitpanda_url: str, session: requests.Session) -> None:
    # 800 tokens, nesting 1: inside every documented limit. graphql-core 3.3 spends a budget of
    # 500,000 comparisons on OverlappingFieldsCanBeMerged (n fields of one name cost about n^2)
    # and aborts past it; the server then says why (docs/apis/bitpanda.md).
    response = session.post(bitpanda_url, headers={"x-api-key": KEY}, json={"query": "{ " + "__typename " * 800 + "}"})
    body = assert_well_formed(response)
    if response.status_code == 400:
        assert body["errors"][0]["message"] != "Validation aborted.", body
    else:
        assert body == {"data": {"__typename": "Query"}}, body
