"""Treasure business portfolio history: tokens, the document's example and rules, Treasure's error envelope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import urllib.request
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest
import yaml

from mockserver.appkeys import APIS
from mockserver.sandbox.shares import apportion
from mockserver.vendors.treasure.errors import CODE_BY_STATUS
from mockserver.vendors.treasure.tokens import issue_token
from mockserver.vocabulary import Identity

from ..helpers import ROOT, SANDBOX_NOW, running_server
from .helpers import (
    AUTH,
    CLIENT,
    DOCUMENT_BUSINESS,
    DOCUMENT_RANGE,
    TOKEN_URL,
    bearer,
    error_of,
    get_history,
    history_of,
    history_of_with,
    history_url,
    new_token,
)

SPEC = yaml.safe_load((ROOT / "specs" / "treasure.yaml").read_text())
OPERATION = SPEC["paths"]["/v1/businesses/{business_id}/portfolio_history"]["get"]
DOCUMENT_EXAMPLE = OPERATION["responses"]["200"]["content"]["application/json"]["examples"]["Document example"]["value"]
ERROR_CODES = set(SPEC["components"]["schemas"]["Error"]["properties"]["error_code"]["enum"])

SANDBOX_BUSINESS = "urn:uuid:3f2a9c4e-8d71-4b5a-9e06-7c1d2b3a4f58"
UNFUNDED_BUSINESS = "urn:uuid:e7c0a1d2-0b5f-4c3e-8a9d-6f4b2e1c0d37"
UNKNOWN_BUSINESS = "urn:uuid:00000000-0000-0000-0000-000000000000"
CONFIGURED_BUSINESS = "urn:uuid:5c4b3a29-1807-4f6e-8d5c-4b3a29180706"
SANDBOX_CLIENT = Identity.from_config(SPEC["x-mock"]["credentials"][0], 0)
OTHER_CLIENTS = {
    "treasure": [
        {"client_id": "client-a", "client_secret": "secret-a", "bearerAuth": "token-a", "businesses": [SANDBOX_BUSINESS]},
        {"client_id": "client-b", "client_secret": "secret-b", "bearerAuth": "token-b", "businesses": [CONFIGURED_BUSINESS]},
        {"client_id": "client-c", "client_secret": "secret-c", "bearerAuth": "token-c", "forbidden": True},
    ]
}


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def assert_adds_up(history: list[dict[str, Any]]) -> None:
    for snapshot in history:
        portfolio = snapshot["portfolio"]
        products = portfolio["products"]
        assert products
        assert sum(Decimal(str(p["value"])) for p in products) == Decimal(str(portfolio["total_value"]))
        assert sum(Decimal(str(p["percentage"])) for p in products) == 100
        for product in products:
            assert product["product"] in ("managed_money_market", "managed_treasuries", "managed_income")
            assert product["value"] > 0
            assert product["percentage"] == pytest.approx(product["value"] / portfolio["total_value"] * 100, abs=0.01)


def assert_monthly(history: list[dict[str, Any]], start: str, end: str) -> None:
    """Snapshots on the 1st of consecutive months, in order, inside the range."""
    days = [date.fromisoformat(snapshot["date"]) for snapshot in history]
    assert all(day.day == 1 for day in days)
    assert all(date.fromisoformat(start) <= day <= date.fromisoformat(end) for day in days)
    assert all((b.year * 12 + b.month) - (a.year * 12 + a.month) == 1 for a, b in itertools.pairwise(days))


# --- tokens -------------------------------------------------------------------------------------


async def test_token_endpoint_issues_a_bearer_token_for_a_day(client: Any) -> None:
    before = SANDBOX_NOW
    response = await client.post(TOKEN_URL, json=CLIENT)
    body = await response.json()
    assert response.status == 200
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    payload = claims(body["access_token"])
    assert payload["sub"] == "mock-treasure-client"
    assert before + 86400 <= payload["exp"] <= SANDBOX_NOW + 86400
    assert "mock-treasure-secret" not in await response.text()


async def test_issued_token_reads_history(client: Any) -> None:
    token = await new_token(client)
    assert len(await history_of_with(client, bearer(token))) == 14


async def test_token_endpoint_ignores_other_members(client: Any) -> None:
    assert await new_token(client, {**CLIENT, "grant_type": "client_credentials"})


@pytest.mark.parametrize(
    ("credentials", "target"),
    [
        ({**CLIENT, "client_secret": "not-the-secret"}, "/client_secret"),
        ({**CLIENT, "client_id": "someone-else"}, "/client_id"),
        ({"client_id": "someone-else", "client_secret": "not-the-secret"}, "/client_id"),
    ],
)
async def test_wrong_client_credentials_are_401_naming_the_field(client: Any, credentials: dict[str, str], target: str) -> None:
    response = await client.post(TOKEN_URL, json=credentials)
    details = await error_of(response, 401, "NOT_AUTHENTICATED")
    assert details == [{"target_type": "body", "target": target, "message": details[0]["message"], "reason_code": "INVALID_CREDENTIALS"}]
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    text = await response.text()
    assert "not-the-secret" not in text and "mock-treasure-secret" not in text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"client_id": "mock-treasure-client"}', "REQUIRED"),
        (b'{"client_id": "", "client_secret": ""}', "INVALID_VALUE"),
        (b'{"client_id": 7, "client_secret": "mock-treasure-secret"}', "INVALID_TYPE"),
        (b"[]", "INVALID_TYPE"),
        (b"{not json", "MALFORMED"),
        (b"", "REQUIRED"),
    ],
)
async def test_token_request_without_both_strings_is_400(client: Any, body: bytes, reason: str) -> None:
    response = await client.post(TOKEN_URL, data=body, headers={"Content-Type": "application/json"})
    details = await error_of(response, 400, "INVALID_PARAMS")
    assert {detail["target_type"] for detail in details} == {"body"}
    assert reason in {detail["reason_code"] for detail in details}


@pytest.mark.parametrize("secret", [["very-secret-value"], {"value": "very-secret-value"}, 12345678])
async def test_malformed_client_secret_is_400_without_echoing_it(client: Any, secret: Any) -> None:
    response = await client.post(TOKEN_URL, json={"client_id": "mock-treasure-client", "client_secret": secret})
    details = await error_of(response, 400, "INVALID_PARAMS")
    assert details == [
        {
            "target_type": "body",
            "target": "/client_secret",
            "message": "client_secret must be a non-empty string",
            "reason_code": "INVALID_TYPE",
        }
    ]
    text = await response.text()
    assert "very-secret-value" not in text and "12345678" not in text


async def test_token_request_must_be_json(client: Any) -> None:
    response = await client.post(TOKEN_URL, data="client_id=mock-treasure-client&client_secret=mock-treasure-secret")
    details = await error_of(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert details[0]["target"] == "Content-Type"


async def test_token_endpoint_takes_post_only(client: Any) -> None:
    response = await client.get(TOKEN_URL)
    details = await error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "POST"
    assert details[0]["target_type"] == "request"


async def test_missing_token_is_401_with_a_challenge(client: Any) -> None:
    response = await get_history(client, headers={})
    details = await error_of(response, 401, "NOT_AUTHENTICATED")
    assert details == [
        {
            "target_type": "header",
            "target": "Authorization",
            "message": "Missing Authorization header (Bearer token)",
            "reason_code": "REQUIRED",
        }
    ]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="mockserver"'


@pytest.mark.parametrize("authorization", ["Basic bW9jay10cmVhc3VyZS10b2tlbg==", "Bearer", "mock-treasure-token", ""])
async def test_no_bearer_token_is_401_required(client: Any, authorization: str) -> None:
    details = await error_of(await get_history(client, headers={"Authorization": authorization}), 401, "NOT_AUTHENTICATED")
    assert details[0]["reason_code"] == "REQUIRED"


@pytest.mark.parametrize(
    "token",
    ["unknown-token", "mock-treasure-token-2", "a.b.c", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA", "ü-token"],
)
async def test_unknown_token_is_401_and_never_echoed(client: Any, token: str) -> None:
    response = await get_history(client, headers=bearer(token))
    details = await error_of(response, 401, "NOT_AUTHENTICATED")
    assert details[0]["reason_code"] == "INVALID_TOKEN"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="mockserver", error="invalid_token"'
    assert token not in await response.text()


async def test_bearer_scheme_name_is_case_insensitive(client: Any) -> None:
    assert await history_of_with(client, {"Authorization": "bearer mock-treasure-token"})


async def test_expired_token_is_401_expired(client: Any) -> None:
    token = issue_token(SANDBOX_CLIENT, 0, SANDBOX_NOW - 86400 - 5)
    response = await get_history(client, headers=bearer(token))
    details = await error_of(response, 401, "NOT_AUTHENTICATED")
    assert details[0]["reason_code"] == "EXPIRED"
    assert "expired" in details[0]["message"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert token not in await response.text()


async def test_token_is_accepted_until_it_expires(client: Any) -> None:
    token = issue_token(SANDBOX_CLIENT, 0, SANDBOX_NOW - 86400 + 60)
    assert await history_of_with(client, bearer(token))


async def test_tampered_token_is_401(client: Any) -> None:
    header, payload, signature = (await new_token(client)).split(".")
    later = base64.urlsafe_b64encode(orjson.dumps({**claims(f"{header}.{payload}.x"), "exp": 4102444800})).rstrip(b"=").decode()
    details = await error_of(await get_history(client, headers=bearer(f"{header}.{later}.{signature}")), 401, "NOT_AUTHENTICATED")
    assert details[0]["reason_code"] == "INVALID_TOKEN"


def resigned(claims: dict[str, Any], secret: str = CLIENT["client_secret"], seed: int = 0) -> str:
    """A token with these claims signed as the sandbox signs its own (HS256, keyed with HMAC-SHA256 of the
    seed under the client's secret): what any client that knows its secret can make."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    key = hmac.new(secret.encode(), f"treasure-access-token|{seed}".encode(), hashlib.sha256).digest()
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def sound_claims() -> dict[str, Any]:
    now = SANDBOX_NOW
    return {"iss": "treasure-sandbox", "sub": CLIENT["client_id"], "iat": now, "nbf": now - 5, "exp": now + 60}


async def test_a_resigned_token_with_sound_times_is_accepted(client: Any) -> None:
    assert await history_of_with(client, bearer(resigned(sound_claims())))


class _Absent:
    """A claim the re-signed token leaves out (its repr names it, so test ids are the same in every process)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


@pytest.mark.parametrize(
    "times",
    [
        *({"exp": value} for value in (-(10**18), -(10**19), -(10**11), -1, 10**18, 2**64 - 1, 10**30, 1.7e9, "4102444800", True, None)),
        {"exp": ABSENT},
        *({"iat": value} for value in (-(10**18), -1, 10**18, 2**64, 1.7e9, "now", None)),
        *({"nbf": value} for value in (-(10**18), -1, 10**18, 2**64, 1.7e9, "now", None)),
    ],
    ids=repr,
)
async def test_a_resigned_token_with_times_beyond_1970_to_9999_is_401(client: Any, times: dict[str, Any]) -> None:
    """exp, iat and nbf are integer seconds a date can be written for; anything else is an invalid token."""
    claims = {name: value for name, value in {**sound_claims(), **times}.items() if value is not ABSENT}
    details = await error_of(await get_history(client, headers=bearer(resigned(claims))), 401, "NOT_AUTHENTICATED")
    assert details[0]["reason_code"] == "INVALID_TOKEN"


async def test_a_token_before_its_nbf_is_401(client: Any) -> None:
    claims = {**sound_claims(), "nbf": SANDBOX_NOW + 3600}
    details = await error_of(await get_history(client, headers=bearer(resigned(claims))), 401, "NOT_AUTHENTICATED")
    assert details[0]["reason_code"] == "INVALID_TOKEN" and "not valid before" in details[0]["message"]


async def test_an_expired_token_says_when_it_expired(client: Any) -> None:
    details = await error_of(await get_history(client, headers=bearer(resigned({**sound_claims(), "exp": 0}))), 401, "NOT_AUTHENTICATED")
    assert details[0]["reason_code"] == "EXPIRED" and "1970-01-01T00:00:00Z" in details[0]["message"]


async def test_tokens_outlive_the_server_but_not_the_seed_or_secret(make_client: Any) -> None:
    token = await new_token(await make_client(specs=[ROOT / "specs"]))
    assert await history_of_with(await make_client(specs=[ROOT / "specs"]), bearer(token))
    reseeded = await make_client(specs=[ROOT / "specs"], seed=7)
    assert (await get_history(reseeded, headers=bearer(token))).status == 401
    rotated = [{**CLIENT, "client_secret": "rotated-secret"}]
    changed = await make_client(specs=[ROOT / "specs"], credentials={"treasure": rotated})
    assert (await get_history(changed, headers=bearer(token))).status == 401


async def test_forbidden_client_gets_a_token_but_403(make_client: Any) -> None:
    client = await make_client(specs=[ROOT / "specs"], credentials=OTHER_CLIENTS)
    token = await new_token(client, {"client_id": "client-c", "client_secret": "secret-c"})
    for headers in (bearer(token), bearer("token-c")):
        details = await error_of(await get_history(client, headers=headers), 403, "NOT_AUTHORIZED")
        assert details[0]["reason_code"] == "NOT_AUTHORIZED"


# --- the document's example and its rules ------------------------------------------------------


async def test_document_query_answers_every_month_and_starts_as_the_example(client: Any) -> None:
    response = await get_history(client)
    body = await response.json()
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert {k: body[k] for k in ("business_id", "start_date", "end_date")} == {
        k: DOCUMENT_EXAMPLE[k] for k in ("business_id", "start_date", "end_date")
    }
    history = body["history"]
    assert len(history) == 14  # 2022-01-01 to 2023-02-01, monthly
    assert history[0] == DOCUMENT_EXAMPLE["history"][0]
    assert_monthly(history, "2022-01-01", "2023-02-01")
    assert_adds_up(history)


async def test_document_business_adds_managed_income_at_45_45_10_in_june_2022(client: Any) -> None:
    history = await history_of(client, start_date="2022-05-01", end_date="2022-06-01")
    assert [p["product"] for p in history[0]["portfolio"]["products"]] == ["managed_money_market", "managed_treasuries"]
    june = history[1]["portfolio"]["products"]
    assert [(p["product"], p["percentage"]) for p in june] == [
        ("managed_money_market", 45),
        ("managed_treasuries", 45),
        ("managed_income", 10),
    ]


async def test_prefer_example_returns_the_document_example_verbatim(client: Any) -> None:
    response = await get_history(client, headers={**AUTH, "Prefer": "example=Document example"})
    assert response.status == 200
    assert await response.json() == DOCUMENT_EXAMPLE


@pytest.mark.parametrize(
    ("status", "code"), [(429, "RATE_LIMIT_EXCEEDED"), (503, "SERVICE_TEMPORARILY_UNAVAILABLE"), (403, "NOT_AUTHORIZED")]
)
async def test_prefer_code_answers_the_documented_error(client: Any, status: int, code: str) -> None:
    response = await get_history(client, headers={**AUTH, "Prefer": f"code={status}"})
    body = await response.json()
    assert response.status == status
    assert body["error_code"] == code


def test_every_error_code_is_documented_in_the_spec() -> None:
    assert set(CODE_BY_STATUS.values()) | {"INVALID_PATH"} == ERROR_CODES


async def test_every_known_business_history_adds_up(client: Any) -> None:
    for business in (DOCUMENT_BUSINESS, SANDBOX_BUSINESS):
        history = await history_of(client, business, start_date="2000-01-01", end_date="2030-12-31")
        assert len(history) > 12
        assert_monthly(history, "2000-01-01", "2026-01-01")  # nothing after the sandbox clock's date
        assert_adds_up(history)


async def test_overlapping_ranges_agree_on_shared_dates(client: Any) -> None:
    for business in (DOCUMENT_BUSINESS, SANDBOX_BUSINESS):
        one = await history_of(client, business, start_date="2021-01-01", end_date="2024-12-31")
        two = await history_of(client, business, start_date="2023-06-15", end_date="2025-06-01")
        shared = {s["date"]: s for s in one}
        common = [s for s in two if s["date"] in shared]
        assert len(common) == 18  # 2023-07 to 2024-12
        assert all(shared[s["date"]] == s for s in common)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2020-01-01", "2021-12-31"), ("2021-12-02", "2021-12-31"), ("2026-02-01", "2027-01-01"), ("2022-01-02", "2022-01-31")],
)
async def test_range_without_snapshots_is_an_empty_history(client: Any, start: str, end: str) -> None:
    response = await get_history(client, start_date=start, end_date=end)
    assert response.status == 200
    assert await response.json() == {"business_id": DOCUMENT_BUSINESS, "start_date": start, "end_date": end, "history": []}


async def test_single_day_range_on_the_first_holds_one_snapshot(client: Any) -> None:
    history = await history_of(client, start_date="2023-03-01", end_date="2023-03-01")
    assert [s["date"] for s in history] == ["2023-03-01"]


async def test_history_starts_when_the_business_opened(client: Any) -> None:
    history = await history_of(client, start_date="2019-05-17", end_date="2022-03-15")
    assert [s["date"] for s in history] == ["2022-01-01", "2022-02-01", "2022-03-01"]


async def test_history_stops_at_the_sandbox_clock(make_client: Any) -> None:
    client = await make_client(specs=[ROOT / "specs"], clock="2023-03-10T09:00:00Z")
    history = await history_of(client, start_date="2022-11-01", end_date="2030-01-01")
    assert [s["date"] for s in history] == ["2022-11-01", "2022-12-01", "2023-01-01", "2023-02-01", "2023-03-01"]


async def test_same_request_same_answer(client: Any) -> None:
    first, second = await get_history(client), await get_history(client)
    assert await first.read() == await second.read()


async def test_seed_moves_values_but_not_the_opening(make_client: Any) -> None:
    default = await history_of(await make_client(specs=[ROOT / "specs"]))
    seeded = await history_of(await make_client(specs=[ROOT / "specs"], seed=7))
    assert default[0] == seeded[0] == DOCUMENT_EXAMPLE["history"][0]
    assert default[1:] != seeded[1:]
    assert_adds_up(seeded)


def test_identical_across_restarts_and_tokens_survive_them() -> None:
    """Two server processes: a token from the first works on the second, with byte-identical answers."""
    bodies = []
    token = ""
    for _ in range(2):
        with running_server() as base:
            if not token:
                request = urllib.request.Request(base + TOKEN_URL, data=orjson.dumps(CLIENT), headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request) as response:
                    token = orjson.loads(response.read())["access_token"]
            query = "?start_date=2022-01-01&end_date=2023-02-01"
            with urllib.request.urlopen(urllib.request.Request(base + history_url() + query, headers=bearer(token))) as response:
                bodies.append(response.read())
    assert bodies[0] == bodies[1]


# --- dates ---------------------------------------------------------------------------------------


async def test_start_after_end_is_400_naming_start_date(client: Any) -> None:
    response = await get_history(client, start_date="2023-02-01", end_date="2022-01-01")
    details = await error_of(response, 400, "INVALID_PARAMS")
    assert details == [
        {
            "target_type": "query_param",
            "target": "start_date",
            "message": "start_date 2023-02-01 is after end_date 2022-01-01",
            "reason_code": "INVALID_RANGE",
        }
    ]


@pytest.mark.parametrize(
    "value", ["2022-13-01", "2022-02-30", "2022/01/01", "20220101", "2022-1-1", "01-01-2022", "2022-01-01T00:00:00Z", "soon"]
)
@pytest.mark.parametrize("name", ["start_date", "end_date"])
async def test_malformed_date_is_400_naming_the_parameter(client: Any, name: str, value: str) -> None:
    response = await get_history(client, **{**DOCUMENT_RANGE, name: value})
    details = await error_of(response, 400, "INVALID_PARAMS")
    assert [(d["target_type"], d["target"], d["reason_code"]) for d in details] == [("query_param", name, "INVALID_FORMAT")]
    assert name in (await response.json())["error_message"]


@pytest.mark.parametrize(
    ("query", "reason"), [({"end_date": "2023-02-01"}, "REQUIRED"), ({"start_date": "", "end_date": "2023-02-01"}, "EMPTY")]
)
async def test_missing_or_empty_date_is_400(client: Any, query: dict[str, str], reason: str) -> None:
    details = await error_of(await get_history(client, **query), 400, "INVALID_PARAMS")
    assert [(d["target"], d["reason_code"]) for d in details] == [("start_date", reason)]


async def test_every_date_problem_is_reported(client: Any) -> None:
    details = await error_of(await get_history(client, start_date="2022-13-01", end_date="x"), 400, "INVALID_PARAMS")
    assert [d["target"] for d in details] == ["start_date", "end_date"]


# --- businesses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "business",
    [
        "9b397b0d-69bc-b09f-9d82-0e02637042fc",  # a bare UUID
        "urn:uuid:portfolio-123",
        "urn:uuid:9b397b0d69bcb09f9d820e02637042fc",
        "URN:UUID:9b397b0d-69bc-b09f-9d82-0e02637042fc",
        "urn:uuid:9b397b0d-69bc-b09f-9d82-0e02637042fc0",
    ],
)
async def test_malformed_business_id_is_400_invalid_path(client: Any, business: str) -> None:
    details = await error_of(await get_history(client, business), 400, "INVALID_PATH")
    assert [(d["target_type"], d["target"], d["reason_code"]) for d in details] == [("path_param", "business_id", "INVALID_FORMAT")]


async def test_path_and_query_problems_together_are_invalid_path_listing_both(client: Any) -> None:
    response = await get_history(client, "not-a-urn", start_date="2022-13-01", end_date="2023-01-01")
    details = await error_of(response, 400, "INVALID_PATH")
    assert [(d["target_type"], d["target"]) for d in details] == [("path_param", "business_id"), ("query_param", "start_date")]


async def test_unknown_business_is_404(client: Any) -> None:
    details = await error_of(await get_history(client, UNKNOWN_BUSINESS), 404, "NOT_FOUND")
    assert details == [
        {
            "target_type": "path_param",
            "target": "business_id",
            "message": f"business {UNKNOWN_BUSINESS} not found",
            "reason_code": "NOT_FOUND",
        }
    ]


async def test_business_without_a_portfolio_is_404_no_history(client: Any) -> None:
    details = await error_of(await get_history(client, UNFUNDED_BUSINESS), 404, "NOT_FOUND")
    assert details[0]["reason_code"] == "NO_PORTFOLIO_HISTORY"


async def test_hex_case_does_not_matter_and_the_answer_is_lowercase(client: Any) -> None:
    upper = "urn:uuid:" + DOCUMENT_BUSINESS.removeprefix("urn:uuid:").upper()
    response = await get_history(client, upper)
    body = await response.json()
    assert response.status == 200
    assert body["business_id"] == DOCUMENT_BUSINESS
    assert body["history"] == await history_of(client)


async def test_percent_encoded_business_id_is_the_same_business(client: Any) -> None:
    response = await get_history(client, DOCUMENT_BUSINESS.replace(":", "%3A"))
    assert response.status == 200
    assert (await response.json())["history"] == await history_of(client)


async def test_configured_businesses_belong_to_their_client(make_client: Any) -> None:
    client = await make_client(specs=[ROOT / "specs"], credentials=OTHER_CLIENTS)
    owner, other = bearer("token-a"), bearer("token-b")
    for headers in (owner, other):  # the well-known businesses are everyone's
        assert (await get_history(client, headers=headers)).status == 200
    response = await get_history(client, SANDBOX_BUSINESS, headers=owner)
    assert response.status == 200
    assert_adds_up((await response.json())["history"])
    await error_of(await get_history(client, SANDBOX_BUSINESS, headers=other), 404, "NOT_FOUND")
    assert (await get_history(client, CONFIGURED_BUSINESS, headers=other)).status == 200  # client-b's own
    await error_of(await get_history(client, CONFIGURED_BUSINESS, headers=owner), 404, "NOT_FOUND")


async def test_seeded_businesses_differ(make_client: Any) -> None:
    settings = {"treasure": [{"bearerAuth": "token-of-both", "businesses": [SANDBOX_BUSINESS, CONFIGURED_BUSINESS]}]}
    client = await make_client(specs=[ROOT / "specs"], credentials=settings)
    one = await get_history(client, SANDBOX_BUSINESS, headers=bearer("token-of-both"), start_date="2019-01-01", end_date="2026-01-01")
    two = await get_history(client, CONFIGURED_BUSINESS, headers=bearer("token-of-both"), start_date="2019-01-01", end_date="2026-01-01")
    first, second = (await one.json())["history"], (await two.json())["history"]
    assert first and second and first != second
    assert first[0]["portfolio"]["id"] != second[0]["portfolio"]["id"]
    assert first[0]["portfolio"]["id"].startswith("urn:uuid:")


# --- Accept, unknown paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [None, "", "application/json", "*/*", "application/*", "text/html, application/json;q=0.5", "APPLICATION/JSON; charset=utf-8"],
)
async def test_accept_admitting_json_gets_json(client: Any, accept: str | None) -> None:
    headers = AUTH if accept is None else {**AUTH, "Accept": accept}
    response = await get_history(client, headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("accept", ["text/html", "application/xml, text/*", "application/json;q=0", "image/*;q=0.9"])
async def test_accept_without_json_is_406(client: Any, accept: str) -> None:
    details = await error_of(await get_history(client, headers={**AUTH, "Accept": accept}), 406, "NOT_ACCEPTABLE")
    assert [(d["target_type"], d["target"]) for d in details] == [("header", "Accept")]


async def test_unknown_path_is_404_in_the_envelope(client: Any) -> None:
    response = await client.get("/treasure/v1/businesses", headers=AUTH)
    details = await error_of(response, 404, "NOT_FOUND")
    assert details[0]["target_type"] == "request"


@pytest.mark.parametrize(
    ("total", "weights"),
    [(10_000, [1, 1, 1]), (10_000, [5_000_000, 5_000_000, 0]), (7, [3, 3, 3]), (12_345_678, [45, 45, 10]), (0, [1, 2]), (5, [0, 0])],
)
def test_apportion_adds_up_exactly_and_skips_zero_weights(total: int, weights: list[int]) -> None:
    parts = apportion(total, weights)
    assert sum(parts) == (total if any(weights) else 0)
    assert all(part == 0 for part, weight in zip(parts, weights, strict=True) if weight == 0)
    assert all(abs(part - total * weight / sum(weights)) < 1 for part, weight in zip(parts, weights, strict=True) if weight)


@pytest.mark.parametrize("name", ["start_date", "end_date"])
async def test_year_0000_is_a_date_format_but_no_date(client: Any, name: str) -> None:
    """RFC 3339 allows the year 0000; the calendar the sandbox counts in starts at 0001-01-01."""
    details = await error_of(await get_history(client, **{**DOCUMENT_RANGE, name: "0000-01-01"}), 400, "INVALID_PARAMS")
    assert [(d["target_type"], d["target"], d["reason_code"]) for d in details] == [("query_param", name, "INVALID_RANGE")]


# --- the cache of answered histories belongs to the app -------------------------------------------


def history_cache(client: Any) -> Any:
    (world,) = {id(api.world): api.world for api in client.app[APIS] if hasattr(api, "world")}.values()
    return dict(world.caches).get("treasure.history")


async def test_two_apps_do_not_share_their_history_cache(client: Any, make_client: Any) -> None:
    other = await make_client(specs=[ROOT / "specs"])
    first = await history_of(client)
    assert len(history_cache(client)) == 1 and history_cache(other) is None
    assert await history_of(other) == first  # worked out again by the other app, the same
    assert history_cache(other) is not history_cache(client)


async def test_the_history_cache_weighs_what_it_keeps(client: Any) -> None:
    for month in range(1, 13):
        await history_of(client, start_date="2022-01-01", end_date=f"2023-{month:02d}-28")
    cache = history_cache(client)
    assert len(cache) == 12
    bodies = sum(len(body) for body in cache._items.values())
    assert cache._total == sum(cache._size_of(key, body) for key, body in cache._items.items()) >= bodies
    assert cache._total <= cache.size
