"""Parameters and bodies are coerced and checked; every violation is collected; errors in the API's envelope."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from mockserver.schemas import SchemaBook
from mockserver.validation import BodyChecker, ParamChecker
from mockserver.vocabulary import Violation

AUTH = {"X-Api-Key": "widget-key"}
LIST = "/widgets/v2/widgets"
WIDGET_ID = "4f1e5c1a-8f0e-4e57-9c1e-1f1f1f1f1f1f"


async def problems(response: Any) -> list[tuple[str, str]]:
    body = await response.json()
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body["status"] == response.status
    return [(v["in"], v["name"]) for v in body.get("violations", [])]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "2147483648"}, "limit"),  # beyond int32
        ({"color": "purple"}, "color"),
        ({"tags": "x"}, "tags"),
        ({"ids": "a,b,c,d"}, "ids"),
        ({"active": "yes"}, "active"),
        ({"code": "abcd"}, "code"),
        ({"price": "0"}, "price"),  # exclusive minimum
        ({"price": "free"}, "price"),
        ({"limit": ""}, "limit"),
        ({"limit": "9" * 4301}, "limit"),  # beyond the digits Python converts to an int at all
        ({"price": "-" + "9" * 5000}, "price"),
        ({"tags": "1" * 4301}, "tags"),
    ],
)
async def test_invalid_query_parameters_are_400(widgets: Any, query: dict[str, str], name: str) -> None:
    response = await widgets.get(LIST, params=query, headers=AUTH)
    assert response.status == 400
    assert await problems(response) == [("query", name)]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "1"},
        {"limit": "100"},
        {"color": "green"},
        {"active": "TRUE"},
        {"code": "ABC"},
        {"price": "0.01"},
        {"ids": "a,b,c"},
    ],
)
async def test_valid_query_parameters_pass(widgets: Any, query: dict[str, str]) -> None:
    response = await widgets.get(LIST, params=query, headers=AUTH)
    assert response.status == 200


async def test_exploded_array_takes_repeated_values(widgets: Any) -> None:
    assert (await widgets.get(LIST + "?tags=1&tags=2&tags=3", headers=AUTH)).status == 200
    response = await widgets.get(LIST + "?tags=1&tags=two", headers=AUTH)
    assert response.status == 400
    assert "tags" in (await response.json())["detail"]


async def test_all_violations_are_collected(widgets: Any) -> None:
    response = await widgets.get(LIST, params={"limit": "0", "color": "pink", "code": "x"}, headers={**AUTH, "X-Trace": "ab"})
    assert response.status == 400
    assert sorted(await problems(response)) == [("header", "X-Trace"), ("query", "code"), ("query", "color"), ("query", "limit")]


async def test_header_parameter_rules(widgets: Any) -> None:
    assert (await widgets.get(LIST, headers={**AUTH, "X-Trace": "abcd"})).status == 200
    response = await widgets.get(LIST, headers={**AUTH, "X-Trace": "abc"})
    assert await problems(response) == [("header", "X-Trace")]


@pytest.mark.parametrize("widget_id", ["not-a-uuid", "1234", "4f1e5c1a-8f0e-4e57-9c1e-1f1f1f1f1f1"])
async def test_path_parameter_format(widgets: Any, widget_id: str) -> None:
    response = await widgets.get(f"{LIST}/{widget_id}", headers=AUTH)
    assert response.status == 400
    assert await problems(response) == [("path", "widgetId")]


@pytest.mark.parametrize("part", ["abc", "9223372036854775808", "1.5", "9" * 4301])
async def test_path_parameter_int64(widgets: Any, part: str) -> None:
    response = await widgets.get(f"{LIST}/{WIDGET_ID}/parts/{part}", params={"api_key": "widget-query-key"})
    assert response.status == 400
    assert await problems(response) == [("path", "partNumber")]


async def test_path_parameter_int64_upper_bound_is_valid(widgets: Any) -> None:
    response = await widgets.get(f"{LIST}/{WIDGET_ID}/parts/9223372036854775807", params={"api_key": "widget-query-key"})
    assert response.status == 200


async def test_json_body_valid(widgets: Any) -> None:
    response = await widgets.post(LIST, json={"name": "Cog", "size": 4, "color": "red", "dimensions": {"width": 1.5}}, headers=AUTH)
    assert response.status == 201


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        ({"size": 4}, ["/name"]),  # a missing member is named itself
        ({"name": "", "size": 11}, ["/name", "/size"]),
        ({"name": "Cog", "size": "4"}, ["/size"]),
        ({"name": "Cog", "size": 4, "colour": "red"}, ["/"]),
        ({"name": "Cog", "size": 4, "id": WIDGET_ID}, ["/id"]),  # readOnly: not accepted in a request
        ({"name": "Cog", "size": 4, "dimensions": {"width": -1}}, ["/dimensions/width"]),
        ({"name": "Cog", "size": 4, "tags": ["a", 2]}, ["/tags/1"]),
        ({"name": "Cog", "size": 4, "color": None}, ["/color"]),  # OpenAPI 3.0.3: a nullable enum must list null
        ([1, 2], ["/"]),
    ],
)
async def test_json_body_violations(widgets: Any, body: Any, pointers: list[str]) -> None:
    response = await widgets.post(LIST, json=body, headers=AUTH)
    assert response.status == 400
    found = await problems(response)
    assert sorted(name for where, name in found) == sorted(pointers)
    assert {where for where, _ in found} == {"body"}


async def test_malformed_json_is_400(widgets: Any) -> None:
    response = await widgets.post(LIST, data=b'{"name": ', headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400
    assert "not valid JSON" in (await response.json())["detail"]


async def test_invalid_utf8_body_is_400(widgets: Any) -> None:
    response = await widgets.post(LIST, data=b'{"name": "\xff\xfe"}', headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400


async def test_deeply_nested_json_is_400_not_a_crash(widgets: Any) -> None:
    response = await widgets.post(LIST, data=b"[" * 10_000 + b"]" * 10_000, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400


async def test_integer_too_large_for_json_is_400(widgets: Any) -> None:
    response = await widgets.post(
        LIST, data=b'{"name": "a", "size": 1' + b"0" * 40 + b"}", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status == 400


async def test_missing_required_body_is_400(widgets: Any) -> None:
    response = await widgets.post(LIST, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400
    assert await problems(response) == [("body", "")]


async def test_unsupported_content_type_is_415(widgets: Any) -> None:
    response = await widgets.post(LIST, data=b"name=Cog", headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 415
    body = await response.json()
    assert "application/json" in body["detail"]


async def test_json_with_charset_is_accepted(widgets: Any) -> None:
    response = await widgets.post(
        LIST, data=b'{"name": "Cog", "size": 2}', headers={**AUTH, "Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status == 201


async def test_body_over_the_limit_is_413(make_client: Any) -> None:
    from .helpers import TEST_SPECS

    client = await make_client(specs=[TEST_SPECS], fixtures=[TEST_SPECS / "fixtures"], max_body_bytes=100)
    response = await client.post(
        LIST, data=b'{"name": "' + b"x" * 200 + b'", "size": 1}', headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status == 413
    assert (await response.json())["status"] == 413


async def test_non_json_body_passes_through(widgets: Any) -> None:
    response = await widgets.put("/widgets/v2/uploads", data=b"plain text", headers={**AUTH, "Content-Type": "text/plain"})
    assert response.status == 200


async def test_a_scalar_query_parameter_given_twice_is_400(widgets: Any) -> None:
    response = await widgets.get(LIST + "?color=red&color=blue", headers=AUTH)
    assert response.status == 400
    assert await problems(response) == [("query", "color")]
    assert "given once, got 2 values" in (await response.json())["detail"]


UPLOADS = "/widgets/v2/uploads"


def _form(**fields: Any) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        if isinstance(value, bytes):
            form.add_field(name, value, filename=f"{name}.csv", content_type="text/csv")
        else:
            form.add_field(name, value)
    return form


async def test_multipart_form_is_parsed_and_accepted(widgets: Any) -> None:
    response = await widgets.post(UPLOADS, data=_form(file=b"a,b\n1,2\n", copies="2", note="hi"), headers=AUTH)
    assert response.status == 200


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"copies": "2"}, "/file"),  # the required file part is missing
        ({"file": b"x", "copies": "two"}, "/copies"),  # form text is coerced to the schema's type
        ({"file": b"x", "copies": "0"}, "/copies"),
        ({"file": b"x", "note": "far too long a note"}, "/note"),
        ({"file": b"x", "copies": "9" * 4301}, "/copies"),
    ],
)
async def test_multipart_form_violations(widgets: Any, fields: dict[str, Any], pointer: str) -> None:
    response = await widgets.post(UPLOADS, data=_form(**fields), headers=AUTH)
    assert response.status == 400
    assert await problems(response) == [("body", pointer)]


def _one_part(boundary: bytes) -> bytes:
    """A form of one file part, well made for `boundary`."""
    return b'--%s\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nx\r\n--%s--\r\n' % (boundary, boundary)


async def test_the_first_of_a_repeated_form_field_counts(widgets: Any) -> None:
    """Strictly read, a repeated field is its first part (bitcain, a FastAPI service, keeps the last)."""
    body = b"".join(
        b'--xx\r\nContent-Disposition: form-data; name="%s"%s\r\n\r\n%s\r\n'
        % (name, b'; filename="a.csv"' if name == b"file" else b"", value)
        for name, value in ((b"file", b"x"), (b"note", b"short"), (b"note", b"far too long a note"))
    )
    response = await widgets.post(UPLOADS, data=body + b"--xx--\r\n", headers={**AUTH, "Content-Type": "multipart/form-data; boundary=xx"})
    assert response.status == 200, await response.text()


async def test_a_boundary_of_256_bytes_and_one_beyond_latin1_are_read(widgets: Any) -> None:
    """The boundary is the header's bytes (as Starlette reads them), whatever their encoding."""
    for boundary in ("b" * 256, "€-ÿ"):
        headers = {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        response = await widgets.post(UPLOADS, data=_one_part(boundary.encode()), headers=headers)
        assert response.status == 200, await response.text()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=xx", b"not a multipart body"),
        ("multipart/form-data", b'--xx\r\nContent-Disposition: form-data; name="file"\r\n\r\nx\r\n--xx--\r\n'),  # no boundary
        ("multipart/form-data; boundary=xx", b"--xx\r\nContent-Type: text/plain\r\n\r\nx\r\n--xx--\r\n"),  # part without a name
        *((f"multipart/form-data; boundary={'b' * size}", _one_part(b"b" * size)) for size in (257, 5000)),  # over the parser's 256
        ('multipart/form-data; boundary=""', _one_part(b"")),  # an empty boundary
        ("multipart/form-data; boundary=xx", b"--xx--\r\n"),  # no parts
        ("multipart/form-data; boundary=xx", _one_part(b"xx")[: -len(b"--xx--\r\n")]),  # no closing boundary
    ],
)
async def test_malformed_multipart_is_400(widgets: Any, content_type: str, body: bytes) -> None:
    response = await widgets.post(UPLOADS, data=body, headers={**AUTH, "Content-Type": content_type})
    assert response.status == 400
    assert await problems(response) == [("body", "")]
    assert "multipart/form-data" in (await response.json())["detail"]


def _book() -> SchemaBook:
    return SchemaBook({"openapi": "3.0.3", "components": {"schemas": {}}}, "request")


@pytest.mark.parametrize(
    ("schema", "raw", "reason", "keyword", "expected", "value"),
    [
        ({"type": "integer", "minimum": 1}, "0", "invalid", "minimum", 1, "0"),
        ({"type": "integer", "maximum": 100}, "101", "invalid", "maximum", 100, "101"),
        ({"type": "integer"}, "ten", "type", "type", "integer", "ten"),
        ({"type": "boolean"}, "yes", "type", "type", "boolean", "yes"),
        ({"type": "string", "enum": ["a", "b"]}, "c", "invalid", "enum", ["a", "b"], "c"),
        ({"type": "string", "maxLength": 2}, "abc", "invalid", "maxLength", 2, "abc"),
        ({"type": "string"}, "", "empty", "minLength", 1, ""),
        ({"type": "string"}, None, "missing", "required", "q", None),
    ],
)
def test_parameter_violations_describe_the_rule(
    schema: dict[str, Any], raw: Any, reason: str, keyword: str, expected: Any, value: Any
) -> None:
    """Envelopes that describe the rule (FastAPI's) need the keyword, its value and the input."""
    checker = ParamChecker({"name": "q", "in": "query", "required": True, "schema": schema}, _book())
    found: list[Violation] = []
    checker.check(raw, {}, found)
    assert [(v.reason, v.keyword, v.expected, v.value) for v in found] == [(reason, keyword, expected, value)]


def test_body_violations_describe_the_rule() -> None:
    schema = {"type": "object", "required": ["name"], "properties": {"size": {"type": "integer", "maximum": 5}, "tag": {"type": "string"}}}
    checker = BodyChecker({"content": {"application/json": {"schema": schema}}}, _book())
    found: list[Violation] = []
    checker.check(checker.media["application/json"], "application/json", b'{"size": 9, "tag": 3}', found)
    assert sorted((v.name, v.reason, v.keyword, v.expected, v.value) for v in found) == [
        ("/name", "missing", "required", "name", {"size": 9, "tag": 3}),  # the object that lacks it
        ("/size", "invalid", "maximum", 5, 9),
        ("/tag", "type", "type", "string", 3),
    ]
    malformed: list[Violation] = []
    checker.check(checker.media["application/json"], "application/json", b'{"size": ', malformed)
    assert [(v.reason, v.keyword, v.expected) for v in malformed] == [("malformed", "json", 9)]
