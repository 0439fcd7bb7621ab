"""Differential test: the compiled validation path against openapi-core as an oracle.

Every request in the tables below is judged twice: by openapi-core (`iter_request_errors` on a
`MockRequest`) and by the mock over HTTP with valid credentials, so that only validation decides.
Each case also states the verdict it expects, so a regression in either side shows up by name.

Security is left out of the oracle: openapi-core only checks that a credential is present (and
compares the HTTP auth scheme case-sensitively, so `scheme: Basic` never matches), while the mock
compares values; the credentials sent are valid for the mock anyway. Stripping `security` from the
oracle's copy of the spec, rather than filtering SecurityValidationError afterwards, matters because
openapi-core stops validating a request at its first security error.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import openapi_core
import pytest
import yaml
from aiohttp.test_utils import TestClient
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from openapi_core.validation.request.exceptions import SecurityValidationError
from werkzeug.datastructures import MultiDict

import mockserver.schemas

from .helpers import MESH_AUTH, ROOT, TEST_SPECS

SPEC_FILES = {"mesh": ROOT / "specs" / "mesh.yaml", "widgets": TEST_SPECS / "widgets.yaml"}
# statuses the mock uses to say "this request is invalid" (Mesh: its vendor validation status)
REJECTED = {"mesh": {400}, "widgets": {400, 415}}
WIDGET_AUTH = {"X-Api-Key": "widget-key"}
WIDGET_QUERY_KEY = ("api_key", "widget-query-key")  # getPart accepts only the query or cookie key
WIDGET_BASIC = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}
UUID = "4f1e5c1a-8f0e-4e57-9c1e-1f1f1f1f1f1f"
PORTFOLIO = "/api/v1/holdings/portfolio"
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Req:
    """One request, relative to the API's base (the spec path with values filled in)."""

    api: str
    method: str
    path: str
    valid: bool  # the verdict both sides must reach
    query: tuple[tuple[str, str], ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = None


def mesh(valid: bool, *query: tuple[str, str], headers: dict[str, str] | None = None) -> Req:
    return Req("mesh", "GET", PORTFOLIO, valid, query, {**MESH_AUTH, **(headers or {})})


def widgets(valid: bool, method: str, path: str, *query: tuple[str, str], **kwargs: Any) -> Req:
    headers = {**WIDGET_AUTH, **kwargs.pop("headers", {})}
    return Req("widgets", method, path, valid, query, headers, **kwargs)


def listing(valid: bool, *query: tuple[str, str], **kwargs: Any) -> Req:
    return widgets(valid, "GET", "/widgets", *query, **kwargs)


def create(valid: bool, body: Any, content_type: str = "application/json") -> Req:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return widgets(valid, "POST", "/widgets", body=raw, content_type=content_type)


def part(valid: bool, widget_id: str, number: str) -> Req:
    return widgets(valid, "GET", f"/widgets/{widget_id}/parts/{number}", WIDGET_QUERY_KEY)


WIDGET = {"name": "Sprocket", "size": 3}

CASES: dict[str, Req] = {
    # --- Mesh: GET /api/v1/holdings/portfolio -------------------------------------------
    "mesh-userid-present": mesh(True, ("UserId", "user-1")),
    "mesh-userid-unicode": mesh(True, ("UserId", "usér ✓ 1")),
    "mesh-userid-missing": mesh(False),
    "mesh-userid-empty": mesh(False, ("UserId", "")),
    "mesh-offset-valid": mesh(True, ("UserId", "user-1"), ("TimezoneOffset", "3600")),
    "mesh-offset-zero": mesh(True, ("UserId", "user-1"), ("TimezoneOffset", "0")),
    "mesh-offset-negative": mesh(True, ("UserId", "user-1"), ("TimezoneOffset", "-18000")),
    "mesh-offset-plus-sign": mesh(True, ("UserId", "user-1"), ("TimezoneOffset", "+7200")),
    "mesh-offset-non-integer": mesh(False, ("UserId", "user-1"), ("TimezoneOffset", "abc")),
    "mesh-offset-float": mesh(False, ("UserId", "user-1"), ("TimezoneOffset", "1.5")),
    "mesh-offset-float-integral": mesh(False, ("UserId", "user-1"), ("TimezoneOffset", "3600.0")),
    "mesh-offset-empty": mesh(False, ("UserId", "user-1"), ("TimezoneOffset", "")),
    "mesh-offset-beyond-int64": mesh(False, ("UserId", "user-1"), ("TimezoneOffset", str(INT64_MAX + 1))),
    "mesh-offset-below-int64": mesh(False, ("UserId", "user-1"), ("TimezoneOffset", str(-INT64_MAX - 2))),
    "mesh-offset-invalid-userid-missing": mesh(False, ("TimezoneOffset", "abc")),
    "mesh-extra-query-params": mesh(True, ("UserId", "user-1"), ("Unknown", "x"), ("other", "")),
    "mesh-extra-header": mesh(True, ("UserId", "user-1"), headers={"X-Unknown": "y"}),
    # --- widgets: GET /widgets query and header parameters ----------------------------
    "widgets-list-no-params": listing(True),
    "widgets-list-all-params": listing(
        True,
        ("limit", "10"),
        ("color", "red"),
        ("tags", "1"),
        ("tags", "2"),
        ("ids", "a,b,c"),
        ("active", "false"),
        ("code", "ABC"),
        ("price", "9.99"),
        headers={"X-Trace": "trace-1"},
    ),
    "widgets-limit-minimum": listing(True, ("limit", "1")),
    "widgets-limit-maximum": listing(True, ("limit", "100")),
    "widgets-limit-below-minimum": listing(False, ("limit", "0")),
    "widgets-limit-above-maximum": listing(False, ("limit", "101")),
    "widgets-limit-beyond-int32": listing(False, ("limit", str(2**31))),
    "widgets-limit-not-integer": listing(False, ("limit", "ten")),
    "widgets-limit-float": listing(False, ("limit", "1.5")),
    "widgets-color-enum": listing(True, ("color", "blue")),
    "widgets-color-not-in-enum": listing(False, ("color", "pink")),
    "widgets-color-wrong-case": listing(False, ("color", "Red")),
    "widgets-tags-exploded": listing(True, ("tags", "1"), ("tags", "-2"), ("tags", "3")),
    "widgets-tags-single": listing(True, ("tags", "7")),
    "widgets-tags-item-not-integer": listing(False, ("tags", "1"), ("tags", "x")),
    "widgets-tags-comma-joined": listing(False, ("tags", "1,2")),
    "widgets-ids-non-exploded": listing(True, ("ids", "a,b,c")),
    "widgets-ids-single": listing(True, ("ids", "a")),
    "widgets-ids-too-many": listing(False, ("ids", "a,b,c,d")),
    "widgets-active-true": listing(True, ("active", "true")),
    "widgets-active-false": listing(True, ("active", "false")),
    "widgets-active-upper-case": listing(True, ("active", "TRUE")),
    "widgets-active-not-boolean": listing(False, ("active", "maybe")),
    "widgets-code-pattern": listing(True, ("code", "XYZ")),
    "widgets-code-lower-case": listing(False, ("code", "abc")),
    "widgets-code-too-long": listing(False, ("code", "ABCD")),
    "widgets-price-positive": listing(True, ("price", "0.01")),
    "widgets-price-integer": listing(True, ("price", "5")),
    "widgets-price-exclusive-minimum": listing(False, ("price", "0")),
    "widgets-price-negative": listing(False, ("price", "-1")),
    "widgets-price-not-number": listing(False, ("price", "cheap")),
    "widgets-header-min-length": listing(True, headers={"X-Trace": "abcd"}),
    "widgets-header-too-short": listing(False, headers={"X-Trace": "abc"}),
    "widgets-extra-query-param": listing(True, ("unknown", "1")),
    "widgets-search-required-q": widgets(True, "GET", "/widgets/search", ("q", "gear")),
    "widgets-search-missing-q": widgets(False, "GET", "/widgets/search"),
    # --- widgets: path (uuid, int64) and cookie parameters ------------------------------
    "widgets-path-uuid": widgets(True, "GET", f"/widgets/{UUID}"),
    "widgets-path-not-uuid": widgets(False, "GET", "/widgets/not-a-uuid"),
    "widgets-cookie-param": widgets(True, "GET", f"/widgets/{UUID}", cookies={"session": "abc"}),
    "widgets-delete-not-uuid": widgets(False, "DELETE", "/widgets/12", headers=WIDGET_BASIC),
    "widgets-delete-uuid": widgets(True, "DELETE", f"/widgets/{UUID}", headers=WIDGET_BASIC),
    "widgets-part-int64": part(True, UUID, "12"),
    "widgets-part-negative": part(True, UUID, "-12"),
    "widgets-part-int64-max": part(True, UUID, str(INT64_MAX)),
    "widgets-part-beyond-int64": part(False, UUID, str(INT64_MAX + 1)),
    "widgets-part-not-integer": part(False, UUID, "x"),
    "widgets-part-float": part(False, UUID, "1.5"),
    "widgets-part-bad-uuid": part(False, "nope", "1"),
    # --- widgets: JSON request bodies -----------------------------------------------------
    "body-valid": create(True, WIDGET),
    "body-valid-full": create(True, {**WIDGET, "color": "green", "tags": ["a", "b"], "dimensions": {"width": 1.5, "height": 2}}),
    "body-missing-required-field": create(False, {"name": "Sprocket"}),
    "body-size-wrong-type": create(False, {"name": "Sprocket", "size": "3"}),
    "body-name-wrong-type": create(False, {"name": 5, "size": 3}),
    "body-size-above-maximum": create(False, {**WIDGET, "size": 11}),
    "body-name-empty": create(False, {**WIDGET, "name": ""}),
    "body-tags-item-wrong-type": create(False, {**WIDGET, "tags": ["a", 1]}),
    "body-additional-property": create(False, {**WIDGET, "extra": 1}),
    "body-readonly-id": create(False, {**WIDGET, "id": UUID}),
    "body-color-enum": create(True, {**WIDGET, "color": "red"}),
    "body-color-not-in-enum": create(False, {**WIDGET, "color": "pink"}),
    "body-color-null": create(False, {**WIDGET, "color": None}),
    "body-nested-object": create(True, {**WIDGET, "dimensions": {"width": 0, "height": 4.5}}),
    "body-nested-negative": create(False, {**WIDGET, "dimensions": {"width": -1}}),
    "body-nested-wrong-type": create(False, {**WIDGET, "dimensions": {"height": "tall"}}),
    "body-not-an-object": create(False, [WIDGET]),
    "body-not-json": create(False, b"{not json"),
    "body-missing": widgets(False, "POST", "/widgets"),
    "body-wrong-media-type": create(False, b"name=Sprocket", "text/plain"),
    "body-json-charset": create(True, WIDGET, "application/json; charset=utf-8"),
    "upload-text": widgets(True, "PUT", "/uploads", body=b"hello", content_type="text/plain"),
    "upload-json-media-type": widgets(False, "PUT", "/uploads", body=b'"hello"', content_type="application/json"),
}


def without_security(spec: dict[str, Any]) -> dict[str, Any]:
    spec.pop("security", None)
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return spec


def load_spec(api: str) -> dict[str, Any]:
    return yaml.safe_load(SPEC_FILES[api].read_text(encoding="utf-8"))


@functools.cache
def server(api: str) -> tuple[str, str]:
    """The host of the spec's first server URL, and that URL's path."""
    url = urlsplit(load_spec(api)["servers"][0]["url"])
    return f"{url.scheme}://{url.netloc}", url.path.rstrip("/")


@functools.cache
def oracle(api: str) -> OpenAPI:
    """openapi-core for one spec, security left out."""
    return OpenAPI.from_dict(without_security(load_spec(api)))


def oracle_errors(req: Req) -> list[Exception]:
    api, (host, base) = oracle(req.api), server(req.api)
    request = MockRequest(
        host,
        req.method.lower(),
        base + req.path,
        args=MultiDict(list(req.query)),
        headers=req.headers,
        cookies=req.cookies,
        data=req.body or b"",
        content_type=req.content_type or "application/json",
    )
    errors = list(api.iter_request_errors(request))
    assert not any(isinstance(error, SecurityValidationError) for error in errors), "security must not reach the oracle"
    return errors


def mount(api: str) -> str:
    return f"/{api}{server(api)[1]}"


async def send(client: TestClient, req: Req) -> tuple[int, str]:
    headers = dict(req.headers)
    if req.cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in req.cookies.items())
    if req.content_type:
        headers["Content-Type"] = req.content_type
    response = await client.request(req.method, mount(req.api) + req.path, params=list(req.query), headers=headers, data=req.body)
    return response.status, await response.text()


def mock_verdict(req: Req, status: int, text: str) -> bool:
    if 200 <= status < 300:
        return True
    assert status in REJECTED[req.api], f"neither accepted nor rejected as invalid: {status} {text}"
    return False


def case_params() -> list[Any]:
    params = []
    for name, req in CASES.items():
        params.append(pytest.param(req, id=name))
    return params


@pytest.fixture
async def clients(client: TestClient, widgets: TestClient) -> dict[str, TestClient]:
    return {"mesh": client, "widgets": widgets}


@pytest.mark.parametrize("req", case_params())
async def test_same_verdict_as_openapi_core(req: Req, clients: dict[str, TestClient]) -> None:
    errors = oracle_errors(req)
    status, text = await send(clients[req.api], req)
    oracle_valid, mock_valid = not errors, mock_verdict(req, status, text)
    assert oracle_valid == req.valid, f"oracle: {errors!r} {[e.__cause__ for e in errors]!r}"
    assert mock_valid == oracle_valid, f"mock answered {status} {text}; openapi-core: {errors!r}"


# The mock's coercion of parameter strings is deliberately stricter than openapi-core's
# (see mockserver/validation.py): integers are ASCII digits with an optional sign, numbers
# must be finite, booleans are `true`/`false` in any case. openapi-core accepts all of the
# values below (Python's int()/float() accept "1_000", " 5 ", "nan" and "inf"; its boolean
# caster accepts "yes"/"1"/"on"), so they are not part of the differential set above.
STRICTER_THAN_OPENAPI_CORE: dict[str, Req] = {
    "mesh-offset-underscore": mesh(False, ("UserId", "user-1"), ("TimezoneOffset", "1_000")),
    "mesh-offset-spaces": mesh(False, ("UserId", "user-1"), ("TimezoneOffset", " 5 ")),
    "mesh-offset-unicode-digits": mesh(False, ("UserId", "user-1"), ("TimezoneOffset", "\u0663")),
    "widgets-limit-underscore": listing(False, ("limit", "1_0")),
    "widgets-limit-spaces": listing(False, ("limit", " 5 ")),
    "widgets-part-underscore": part(False, UUID, "1_2"),
    "widgets-price-nan": listing(False, ("price", "nan")),
    "widgets-price-inf": listing(False, ("price", "inf")),
    "widgets-price-infinity": listing(False, ("price", "Infinity")),
    "widgets-active-yes": listing(False, ("active", "yes")),
    "widgets-active-one": listing(False, ("active", "1")),
    "widgets-active-on": listing(False, ("active", "on")),
}


@pytest.mark.parametrize("req", [pytest.param(req, id=name) for name, req in STRICTER_THAN_OPENAPI_CORE.items()])
async def test_mock_is_deliberately_stricter(req: Req, clients: dict[str, TestClient]) -> None:
    status, text = await send(clients[req.api], req)
    assert status in REJECTED[req.api], f"expected the mock to reject it, got {status} {text}"


class Counter:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, func: Any) -> Any:
        @functools.wraps(func)
        def counting(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return func(*args, **kwargs)

        return counting


# 20 requests, valid and invalid, across both APIs and every parameter location and body check
HOT_PATH_CASES = (
    "mesh-userid-present",
    "mesh-userid-missing",
    "mesh-offset-negative",
    "mesh-offset-float",
    "mesh-offset-beyond-int64",
    "widgets-list-all-params",
    "widgets-limit-beyond-int32",
    "widgets-tags-item-not-integer",
    "widgets-ids-too-many",
    "widgets-header-too-short",
    "widgets-cookie-param",
    "widgets-path-not-uuid",
    "widgets-part-int64",
    "widgets-part-beyond-int64",
    "body-valid-full",
    "body-readonly-id",
    "body-additional-property",
    "body-not-json",
    "body-wrong-media-type",
    "upload-text",
)


async def test_hot_path_does_not_use_openapi_core(clients: dict[str, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    """The apps are built (fixtures); from here on, serving must use only the compiled plans."""
    counter = Counter()
    for name in ("unmarshal_request", "validate_request", "iter_request_errors", "unmarshal_response", "validate_response"):
        monkeypatch.setattr(OpenAPI, name, counter.wrap(f"OpenAPI.{name}", getattr(OpenAPI, name)))
    for name in ("unmarshal_request", "validate_request", "unmarshal_response", "validate_response"):
        monkeypatch.setattr(openapi_core, name, counter.wrap(f"openapi_core.{name}", getattr(openapi_core, name)))
    monkeypatch.setattr(OpenAPI, "from_dict", counter.wrap("OpenAPI.from_dict", OpenAPI.from_dict))
    for name in ("Draft202012Validator", "Draft7Validator", "Draft4Validator", "validator_for"):
        monkeypatch.setattr(mockserver.schemas.jsonschema_rs, name, counter.wrap(f"jsonschema_rs.{name}", getattr(jsonschema_rs, name)))
    monkeypatch.setattr(mockserver.schemas.SchemaBook, "compile", counter.wrap("SchemaBook.compile", mockserver.schemas.SchemaBook.compile))

    served = [CASES[name] for name in HOT_PATH_CASES]
    assert len(served) == 20
    for req in served:
        status, text = await send(clients[req.api], req)
        assert mock_verdict(req, status, text) == req.valid, f"{req}: {status} {text}"
    assert counter.calls == {}, f"the hot path called: {counter.calls}"
    # the spies do count when called (so an empty count above means something)
    tiny = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}
    OpenAPI.from_dict(tiny)
    mockserver.schemas.SchemaBook(tiny, "request").compile({"type": "string"})
    assert counter.calls == {"OpenAPI.from_dict": 1, "SchemaBook.compile": 1, "jsonschema_rs.Draft202012Validator": 1}
