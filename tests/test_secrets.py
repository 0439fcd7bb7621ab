"""No one let in, nothing leaked.

1. A real server, configured with its own credentials (and once with the bundled sandbox ones),
   gets a broad run of requests carrying secrets everywhere a client might put them; then every
   answer, the journal, the log file and the dashboard's data sources are searched for them.
2. The control token guards every /__mock route, found by walking the router.
3. Omniex signatures resist replay and every one-byte change; so do Treasure's access tokens.
4. Every credential comparison goes through `hmac.compare_digest`, over every identity, and no
   secret is ever compared with `==` or used as a lookup key.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import itertools
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
import yaml
from multidict import CIMultiDict

from mockserver.app import create_app
from mockserver.security import MASKED, NO_SECRETS, AuthRequest, SchemeReader, SecretMask, SecurityPlan, identity_with
from mockserver.settings import Settings, SettingsError, load_settings
from mockserver.vendors import omniex, treasure
from mockserver.vocabulary import Identity

from .helpers import MESH_AUTH, ROOT, SANDBOX_NOW, MakeClient, running_server

# --- the secrets -----------------------------------------------------------------------------
# URL-safe characters only, so that a secret reads the same in a path, a query string and JSON.

CONTROL_TOKEN = "ctl-7Hq2Lm9Xv4Rt8Wz"
CONFIGURED = {
    "control_token": CONTROL_TOKEN,
    "credentials": {
        "mesh": [{"Client-Id": "mesh-id-4471", "Client-Secret": "mesh-S3cr-9dK2pQ7vX1"}],
        "omniex": [{"key": "onx-key-2290", "secret": "onx-S3cr-Fj83Kq0Zt5"}],
        "treasure": [
            {"name": "desk", "client_id": "trs-client-0815", "client_secret": "trs-S3cr-Pw61Ny8Bc3", "bearerAuth": "trs-T0k-Hv52Jm7Qe9"}
        ],
        "bitcain": [{"name": "desk", "HTTPBearer": "bcn-T0k-Lr48Ds1Wk6"}],
        "bitpanda": [{"name": "desk", "x-api-key": "bpd-K3y-Zc93Gt6Nu2"}],
    },
}


@dataclass(frozen=True, repr=False)
class Keys:
    """One server's credentials, as a client holds them (never shown: a failure report must not print them)."""

    control: str
    mesh_id: str
    mesh_secret: str
    onx_key: str
    onx_secret: str
    trs_client: str
    trs_secret: str
    trs_token: str
    bcn_token: str
    bpd_key: str

    def __repr__(self) -> str:
        return "Keys(sandbox)" if not self.control else "Keys(escaped)" if "\\" in self.control else "Keys(configured)"

    @classmethod
    def of(cls, config: dict[str, Any]) -> Keys:
        """The keys of a configuration shaped like CONFIGURED."""
        mesh, omniex, trs, bcn, bpd = (config["credentials"][api][0] for api in ("mesh", "omniex", "treasure", "bitcain", "bitpanda"))
        return cls(
            config["control_token"],
            mesh["Client-Id"],
            mesh["Client-Secret"],
            omniex["key"],
            omniex["secret"],
            trs["client_id"],
            trs["client_secret"],
            trs["bearerAuth"],
            bcn["HTTPBearer"],
            bpd["x-api-key"],
        )

    def secrets(self) -> dict[str, str]:
        """Label -> value of every secret (identifiers, such as client ids, are not secrets)."""
        named = {
            "the control token": self.control,
            "mesh's client secret": self.mesh_secret,
            "omniex's secret": self.onx_secret,
            "treasure's client secret": self.trs_secret,
            "treasure's pre-issued token": self.trs_token,
            "bitcain's token": self.bcn_token,
            "bitpanda's api key": self.bpd_key,
        }
        return {label: value for label, value in named.items() if value}


CONFIGURED_KEYS = Keys.of(CONFIGURED)
SANDBOX_KEYS = Keys(
    "",
    "mock-client-id",
    "sk_sand_mock_secret",
    "mock-onx-key",
    "mock-onx-secret",
    "mock-treasure-client",
    "mock-treasure-secret",
    "mock-treasure-token",
    "mock-bitcain-token",
    "mock-api-key",
)


def awkward(head: str, tail: str) -> str:
    """A secret holding what every escape changes (quotes, a backslash, a space, <, &, +, non-ASCII)
    between two tags no escape changes, so that it is found however it is spelled."""
    return f"{head}\"\\' <&+\u00e9{tail}"


IDENTIFIERS = ("Client-Id", "key", "client_id", "name")


def with_awkward_secrets(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration with every secret replaced by an awkward one (identifiers and names kept)."""
    tags = itertools.count()

    def swap() -> str:
        number = next(tags)
        return awkward(f"Hd{number:02}x", f"Tl{number:02}x")

    credentials = {
        api: [{name: value if name in IDENTIFIERS else swap() for name, value in entry.items()} for entry in entries]
        for api, entries in config["credentials"].items()
    }
    return {"control_token": swap(), "credentials": credentials}


ESCAPED = with_awkward_secrets(CONFIGURED)
ESCAPED_KEYS = Keys.of(ESCAPED)
TAG = 5  # the length of an awkward secret's tags


def spelled_anyhow(secret: str) -> re.Pattern[str]:
    """An awkward secret however an answer escapes what lies between its tags."""
    return re.compile(re.escape(secret[:TAG]) + r"[\s\S]{0,200}?" + re.escape(secret[-TAG:]))


def near(secret: str) -> str:
    """The secret with its last character changed: wrong, but close."""
    return secret[:-1] + ("x" if secret[-1] != "x" else "y")


# --- the broad run ---------------------------------------------------------------------------

MESH = "/mesh/api/v1/holdings/portfolio"
ONX = "/omniex/edge/v1beta/portfolios"
TRS_TOKEN_URL = "/treasure/v1/oauth/token"
FORM = "application/x-www-form-urlencoded"
TRS_HISTORY = "/treasure/v1/businesses/urn:uuid:9b397b0d-69bc-b09f-9d82-0e02637042fc/portfolio_history"
TRS_RANGE = {"start_date": "2022-01-01", "end_date": "2022-03-01"}
BCN = "/bitcain/api/v1/portfolio"
BPD = "/bitpanda/graphql"
BPD_QUERY = (
    "query Q($start: String, $period: TimePeriod) { user { portfolio(startDate: $start, timePeriod: $period) { items { timestamp } } } }"
)
BPD_SIMPLE = {"query": "{ user { portfolio { items { timestamp } } } }"}
APIS = ("mesh", "omniex", "treasure", "bitcain", "bitpanda")


@dataclass
class Probe:
    """One request of the broad run and the statuses it may get (the run must reach the check it aims at)."""

    api: str  # the API it goes to, or "control"
    name: str
    method: str
    path: str
    status: tuple[int, ...]
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: bytes | str | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None


def omniex_headers(method: str, path: str, key: str, secret: str, body: bytes = b"", timestamp: str | None = None) -> dict[str, str]:
    """Omniex's scheme: lowercase hex HMAC-SHA384 of METHOD + PATH + BODY + TIMESTAMP."""
    timestamp = timestamp or str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), method.encode() + path.encode() + body + timestamp.encode(), hashlib.sha384).hexdigest()
    return {"ONX-API-KEY": key, "ONX-API-TIMESTAMP": timestamp, "ONX-API-SIGNATURE": digest}


def mesh_probes(k: Keys) -> Iterator[Probe]:
    auth = {"X-Client-Id": k.mesh_id, "X-Client-Secret": k.mesh_secret}
    user = {"UserId": "alice"}
    yield Probe("mesh", "valid", "GET", MESH, (200,), auth, user)
    yield Probe("mesh", "secret one character off", "GET", MESH, (401,), {**auth, "X-Client-Secret": near(k.mesh_secret)}, user)
    yield Probe("mesh", "secret with a character added", "GET", MESH, (401,), {**auth, "X-Client-Secret": k.mesh_secret + "0"}, user)
    yield Probe("mesh", "id and secret swapped", "GET", MESH, (401,), {"X-Client-Id": k.mesh_secret, "X-Client-Secret": k.mesh_id}, user)
    yield Probe("mesh", "secret as a bearer token", "GET", MESH, (401,), {"Authorization": f"Bearer {k.mesh_secret}"}, user)
    yield Probe(
        "mesh", "secret in the query", "GET", MESH, (200,), auth, {**user, "X-Client-Secret": k.mesh_secret, "token": k.mesh_secret}
    )
    yield Probe("mesh", "secret as UserId", "GET", MESH, (200,), auth, {"UserId": k.mesh_secret})
    yield Probe("mesh", "secret as TimezoneOffset", "GET", MESH, (400,), auth, {**user, "TimezoneOffset": k.mesh_secret})
    yield Probe(
        "mesh", "secret in cookies", "GET", MESH, (401,), {"Cookie": f"X-Client-Secret={k.mesh_secret}; session={k.mesh_secret}"}, user
    )
    yield Probe("mesh", "secret in the path", "GET", f"{MESH}/{k.mesh_secret}", (404,), auth)
    body = {"password": k.mesh_secret, "token": k.mesh_secret, "note": k.mesh_secret}
    yield Probe("mesh", "secret in a JSON body", "POST", MESH, (405,), auth, user, json=body)


def omniex_probes(k: Keys) -> Iterator[Probe]:
    signed = omniex_headers("GET", ONX, k.onx_key, k.onx_secret)
    yield Probe("omniex", "valid", "GET", ONX, (200,), signed)
    yield Probe(
        "omniex", "signed with the secret one character off", "GET", ONX, (401,), omniex_headers("GET", ONX, k.onx_key, near(k.onx_secret))
    )
    yield Probe(
        "omniex", "signature one character off", "GET", ONX, (401,), {**signed, "ONX-API-SIGNATURE": near(signed["ONX-API-SIGNATURE"])}
    )
    yield Probe("omniex", "secret as the signature", "GET", ONX, (401,), {**signed, "ONX-API-SIGNATURE": k.onx_secret})
    yield Probe("omniex", "secret as the key", "GET", ONX, (401,), {**signed, "ONX-API-KEY": k.onx_secret})
    yield Probe("omniex", "secret as the timestamp", "GET", ONX, (400,), {**signed, "ONX-API-TIMESTAMP": k.onx_secret})
    yield Probe("omniex", "secret as a bearer token", "GET", ONX, (401,), {"Authorization": f"Bearer {k.onx_secret}"})
    yield Probe("omniex", "secret as include", "GET", ONX, (400,), signed, {"include": k.onx_secret})
    yield Probe("omniex", "secret as id", "GET", ONX, (200,), signed, {"id": k.onx_secret})
    yield Probe("omniex", "secret in an unknown parameter", "GET", ONX, (400,), signed, {"token": k.onx_secret})
    detail = f"{ONX}/{quote(k.onx_secret, safe='')}"  # signed as sent
    yield Probe("omniex", "secret in the path", "GET", detail, (400,), omniex_headers("GET", detail, k.onx_key, k.onx_secret))
    body = json.dumps({"secret": k.onx_secret, "note": k.onx_secret}).encode()
    headers = {**omniex_headers("GET", ONX, k.onx_key, k.onx_secret, body), "Content-Type": "application/json"}
    yield Probe("omniex", "secret in a signed JSON body", "GET", ONX, (200,), headers, data=body)
    yield Probe("omniex", "secret in a cookie", "GET", ONX, (200,), {**signed, "Cookie": f"secret={k.onx_secret}"})


def treasure_probes(k: Keys) -> Iterator[Probe]:
    client = {"client_id": k.trs_client, "client_secret": k.trs_secret}
    bearer = {"Authorization": f"Bearer {k.trs_token}"}
    yield Probe("treasure", "token", "POST", TRS_TOKEN_URL, (200,), json=client)
    yield Probe("treasure", "secret one character off", "POST", TRS_TOKEN_URL, (401,), json={**client, "client_secret": near(k.trs_secret)})
    yield Probe(
        "treasure", "id and secret swapped", "POST", TRS_TOKEN_URL, (401,), json={"client_id": k.trs_secret, "client_secret": k.trs_client}
    )
    extra = {**client, "password": k.trs_secret, "note": k.trs_secret, "token": k.trs_token}
    yield Probe("treasure", "secret in extra members", "POST", TRS_TOKEN_URL, (200,), json=extra)
    yield Probe("treasure", "secret of the wrong type", "POST", TRS_TOKEN_URL, (400,), json={**client, "client_secret": [k.trs_secret]})
    yield Probe(
        "treasure",
        "secret as an id of the wrong type",
        "POST",
        TRS_TOKEN_URL,
        (400,),
        json={"client_id": [k.trs_secret], "client_secret": "x"},
    )
    form = f"client_id={k.trs_client}&client_secret={k.trs_secret}&grant_type=client_credentials"
    yield Probe("treasure", "form body", "POST", TRS_TOKEN_URL, (415,), {"Content-Type": FORM}, data=form)
    yield Probe("treasure", "text body", "POST", TRS_TOKEN_URL, (415,), {"Content-Type": "text/plain"}, data=form)
    encoded = {"Content-Type": "text/plain"}
    yield Probe("treasure", "percent-encoded text body", "POST", TRS_TOKEN_URL, (415,), encoded, data=urlencode(client))
    yield Probe(
        "treasure", "percent-encoded form body", "POST", TRS_TOKEN_URL, (415,), {**encoded, "Content-Type": FORM}, data=urlencode(client)
    )
    broken = f'{{"client_id": "{k.trs_client}", "client_secret": "{k.trs_secret}'
    yield Probe("treasure", "broken JSON", "POST", TRS_TOKEN_URL, (400,), {"Content-Type": "application/json"}, data=broken)
    basic = base64.b64encode(f"{k.trs_client}:{k.trs_secret}".encode()).decode()
    yield Probe("treasure", "basic authorization", "POST", TRS_TOKEN_URL, (400,), {"Authorization": f"Basic {basic}"}, json={})
    yield Probe("treasure", "credentials in the query", "POST", TRS_TOKEN_URL, (400,), params=client, json={})
    yield Probe("treasure", "history", "GET", TRS_HISTORY, (200,), bearer, TRS_RANGE)
    yield Probe(
        "treasure", "token one character off", "GET", TRS_HISTORY, (401,), {"Authorization": f"Bearer {near(k.trs_token)}"}, TRS_RANGE
    )
    yield Probe("treasure", "client secret as a token", "GET", TRS_HISTORY, (401,), {"Authorization": f"Bearer {k.trs_secret}"}, TRS_RANGE)
    yield Probe("treasure", "token without its scheme", "GET", TRS_HISTORY, (401,), {"Authorization": k.trs_token}, TRS_RANGE)
    yield Probe("treasure", "token in the query", "GET", TRS_HISTORY, (401,), params={**TRS_RANGE, "access_token": k.trs_token})
    yield Probe("treasure", "secrets as dates", "GET", TRS_HISTORY, (400,), bearer, {"start_date": k.trs_secret, "end_date": k.trs_token})
    path = f"/treasure/v1/businesses/{k.trs_secret}/portfolio_history"
    yield Probe("treasure", "secret as the business", "GET", path, (400,), bearer, TRS_RANGE)
    yield Probe("treasure", "token in a cookie", "GET", TRS_HISTORY, (401,), {"Cookie": f"access_token={k.trs_token}"}, TRS_RANGE)


def bitcain_probes(k: Keys) -> Iterator[Probe]:
    bearer = {"Authorization": f"Bearer {k.bcn_token}"}
    balances = f"{BCN}/balances"
    yield Probe("bitcain", "valid", "GET", balances, (200,), bearer)
    yield Probe("bitcain", "token one character off", "GET", balances, (401,), {"Authorization": f"Bearer {near(k.bcn_token)}"})
    yield Probe("bitcain", "token in another header", "GET", balances, (401,), {"X-Api-Key": k.bcn_token})
    yield Probe("bitcain", "token under another scheme", "GET", balances, (401,), {"Authorization": f"Token {k.bcn_token}"})
    yield Probe("bitcain", "token in the query", "GET", balances, (401,), params={"token": k.bcn_token})
    yield Probe("bitcain", "token in a cookie", "GET", balances, (401,), {"Cookie": f"token={k.bcn_token}"})
    yield Probe("bitcain", "token as limit", "GET", f"{BCN}/", (422,), bearer, {"user_id": "u1", "limit": k.bcn_token})
    yield Probe("bitcain", "token as days", "GET", f"{BCN}/value-history", (422,), bearer, {"days": k.bcn_token})
    yield Probe("bitcain", "token as the portfolio id", "GET", f"{BCN}/{k.bcn_token}", (404, 422), bearer)
    body = {"name": "p", "target_allocations": k.bcn_token, "risk_tolerance": k.bcn_token, "password": k.bcn_token}
    yield Probe("bitcain", "token in an invalid body", "POST", f"{BCN}/", (422,), bearer, {"user_id": "u1"}, json=body)
    yield Probe("bitcain", "token as the body", "POST", f"{BCN}/", (422,), bearer, {"user_id": "u1"}, json=k.bcn_token)
    csv = f"Timestamp,Secret\n{k.bcn_token},{k.bcn_token}\n".encode()
    yield Probe(
        "bitcain", "token in a CSV upload", "POST", f"{BCN}/ingest/csv", (422,), bearer, files={"file": (k.bcn_token, csv, "text/csv")}
    )
    report = coinbase_rows(
        [
            ["ID", "Timestamp", "Transaction Type", "Asset", "Quantity Transacted"],
            [k.bcn_token, "2024-01-05 14:03:11 UTC", "Buy", k.bcn_token, "1"],
        ]
    )
    yield Probe(
        "bitcain",
        "token in the cells of a CSV the report quotes",
        "POST",
        f"{BCN}/ingest/csv",
        (200,),
        bearer,
        {"dry_run": "true"},
        files={"file": (k.bcn_token, report, "text/csv")},
    )


def coinbase_rows(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def bitpanda_probes(k: Keys) -> Iterator[Probe]:
    key = {"x-api-key": k.bpd_key}
    yield Probe("bitpanda", "valid", "POST", BPD, (200,), key, json=BPD_SIMPLE)
    yield Probe("bitpanda", "key one character off", "POST", BPD, (401,), {"x-api-key": near(k.bpd_key)}, json=BPD_SIMPLE)
    yield Probe("bitpanda", "key as a bearer token", "POST", BPD, (401,), {"Authorization": f"Bearer {k.bpd_key}"}, json=BPD_SIMPLE)
    yield Probe("bitpanda", "key in the query", "POST", BPD, (401,), params={"x-api-key": k.bpd_key}, json=BPD_SIMPLE)
    yield Probe("bitpanda", "key in a cookie", "POST", BPD, (401,), {"Cookie": f"x-api-key={k.bpd_key}"}, json=BPD_SIMPLE)
    start = {"query": BPD_QUERY, "variables": {"start": k.bpd_key, "period": "DAILY"}}
    yield Probe("bitpanda", "key as a date variable", "POST", BPD, (200,), key, json=start)
    yield Probe(
        "bitpanda", "key as an enum variable", "POST", BPD, (400,), key, json={"query": BPD_QUERY, "variables": {"period": k.bpd_key}}
    )
    literal = f"{{ user {{ portfolio(startDate: {json.dumps(k.bpd_key)}, timePeriod: DAILY) {{ items {{ timestamp }} }} }} }}"
    yield Probe("bitpanda", "key as a string literal", "POST", BPD, (200,), key, json={"query": literal})
    enum = f"{{ user {{ portfolio(timePeriod: {k.bpd_key}) {{ items {{ timestamp }} }} }} }}"
    yield Probe("bitpanda", "key as an enum literal", "POST", BPD, (400,), key, json={"query": enum})
    yield Probe("bitpanda", "key in extra members", "POST", BPD, (200,), key, json={**BPD_SIMPLE, "password": k.bpd_key, "note": k.bpd_key})
    get = {"query": BPD_QUERY, "variables": json.dumps({"period": k.bpd_key})}
    yield Probe("bitpanda", "key in a GET variable", "GET", BPD, (400,), key, get)
    broken = {**key, "Content-Type": "application/json"}
    yield Probe("bitpanda", "key in broken JSON", "POST", BPD, (400,), broken, data=f'{{"query": "{k.bpd_key}')
    yield Probe("bitpanda", "key as the operation name", "POST", BPD, (400,), key, json={**BPD_SIMPLE, "operationName": k.bpd_key})
    yield Probe("bitpanda", "key in the path", "POST", f"/bitpanda/{k.bpd_key}", (404,), key, json=BPD_SIMPLE)
    yield Probe(
        "bitpanda", "another API's secret as a variable", "POST", BPD, (200,), key, json={**start, "variables": {"start": k.mesh_secret}}
    )


def control_probes(k: Keys) -> Iterator[Probe]:
    """With the right token, control inputs that carry secrets; with wrong ones, the token's neighbours."""
    if not k.control:
        return
    auth = {"Authorization": f"Bearer {k.control}"}
    yield Probe("control", "token one character off", "GET", "/__mock/apis", (401,), {"Authorization": f"Bearer {near(k.control)}"})
    yield Probe("control", "token with a character added", "GET", "/__mock/apis", (401,), {"Authorization": f"Bearer {k.control}0"})
    yield Probe("control", "token in the query of an API route", "GET", "/__mock/apis", (401,), params={"token": k.control})
    yield Probe("control", "token in a cookie", "GET", "/__mock/apis", (401,), {"Cookie": f"token={k.control}"})
    yield Probe("control", "token under another scheme", "GET", "/__mock/apis", (401,), {"Authorization": f"Basic {k.control}"})
    yield Probe("control", "token sent to an API", "GET", MESH, (401,), {"Authorization": f"Bearer {k.control}"}, {"UserId": "alice"})
    yield Probe("control", "secret as a journal limit", "GET", "/__mock/requests", (400,), auth, {"limit": k.mesh_secret})
    yield Probe("control", "secret as a journal status", "GET", "/__mock/requests", (400,), auth, {"status": k.mesh_secret})
    yield Probe("control", "secret as a journal since", "GET", "/__mock/requests", (400,), auth, {"since": k.mesh_secret})
    matcher = {"api": k.bcn_token, "status": k.bcn_token}
    yield Probe("control", "secret in a matcher", "POST", "/__mock/requests/count", (400,), auth, json=matcher)
    yield Probe("control", "secret as a matcher field", "POST", "/__mock/requests/count", (400,), auth, json={k.bcn_token: 1})
    as_json = {**auth, "Content-Type": "application/json"}
    yield Probe("control", "secret in broken JSON", "POST", "/__mock/requests/count", (400,), as_json, data=f'{{"api": "{k.bcn_token}')
    fault = {"api": k.bpd_key, "operation": k.bpd_key, "status": k.bpd_key}
    yield Probe("control", "secret in a fault", "POST", "/__mock/faults", (400,), auth, json=fault)
    yield Probe("control", "secret as an API name", "GET", f"/__mock/apis/{k.trs_secret}/spec", (404,), auth)
    yield Probe("control", "secret as a control route", "GET", f"/__mock/{k.trs_secret}", (404,), auth)


def probes(k: Keys) -> list[Probe]:
    return [*mesh_probes(k), *omniex_probes(k), *treasure_probes(k), *bitcain_probes(k), *bitpanda_probes(k), *control_probes(k)]


@dataclass(repr=False)
class Run:
    """What one server said during the broad run, by place, and what must not be in it."""

    keys: Keys
    needles: dict[str, str] = field(default_factory=dict)  # label -> secret
    places: dict[str, tuple[str, str]] = field(default_factory=dict)  # place -> (sink, text)
    statuses: dict[str, tuple[int, tuple[int, ...]]] = field(default_factory=dict)  # probe -> (got, expected)
    allowed: dict[str, set[str]] = field(default_factory=dict)  # secret -> places it belongs in (an issued token in its answer)
    spellings: dict[str, re.Pattern[str]] = field(default_factory=dict)  # awkward secret -> how to find it however escaped

    def __repr__(self) -> str:
        return f"Run({self.keys!r}, {len(self.places)} places searched)"

    def leaks(self, sink: str) -> list[str]:
        """'<label> in <place>' for every needle found: never the secret itself, even in a failure message."""
        return [
            f"{label} in {place}"
            for place, (where, text) in self.places.items()
            if where == sink
            for label, needle in self.needles.items()
            if self.found(needle, text) and place not in self.allowed.get(needle, set())
        ]

    def found(self, needle: str, text: str) -> bool:
        spelled = self.spellings.get(needle)
        return needle in text if spelled is None else spelled.search(text) is not None


def record(run: Run, sink: str, place: str, response: requests.Response) -> None:
    run.places[f"{place} (body)"] = (sink, response.text)
    run.places[f"{place} (headers)"] = (sink, "\n".join(f"{name}: {value}" for name, value in response.headers.items()))


def broad_run(base: str, keys: Keys, log_path: Path, published: tuple[str, ...]) -> Run:
    """Every probe, then the tokens Treasure issued put to use and tampered with, then every control
    read the dashboard makes. `published`: control paths that show the credentials on purpose."""
    run = Run(keys, dict(keys.secrets()))
    for label, value in keys.secrets().items():
        run.needles[f"{label} (one character off)"] = near(value)
    if keys is ESCAPED_KEYS:
        run.spellings = {value: spelled_anyhow(value) for value in run.needles.values()}
    control = {"Authorization": f"Bearer {keys.control}".encode()} if keys.control else {}
    with requests.Session() as http:

        def send(probe: Probe) -> requests.Response:
            """The probe, its text sent as UTF-8 (requests would send headers and text bodies as Latin-1)."""
            return http.request(
                probe.method,
                base + probe.path,
                headers={name: value.encode() for name, value in probe.headers.items()},
                params=probe.params,
                json=probe.json,
                data=probe.data.encode() if isinstance(probe.data, str) else probe.data,
                files=probe.files,
                allow_redirects=False,
                timeout=10,
            )

        for probe in probes(keys):
            signature = probe.headers.get("ONX-API-SIGNATURE", "")
            if re.fullmatch(r"[0-9a-f]{96}", signature):
                run.needles[f"the signature of {probe.api} {probe.name!r}"] = signature
            response = send(probe)
            place = f"the answer to {probe.api} {probe.name!r}"
            record(run, f"answer:{probe.api}", place, response)
            run.statuses[f"{probe.api} {probe.name!r}"] = (response.status_code, probe.status)
            if probe.path == TRS_TOKEN_URL and response.status_code == 200:
                token = response.json()["access_token"]
                run.needles[f"the treasure access token issued to {probe.name!r}"] = token
                run.needles[f"the signature of the treasure token issued to {probe.name!r}"] = token.rsplit(".", 1)[1]
                run.allowed.setdefault(token, set()).add(f"{place} (body)")
                run.allowed.setdefault(token.rsplit(".", 1)[1], set()).add(f"{place} (body)")
        token = run.needles["the treasure access token issued to 'token'"]
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        run.needles["a tampered treasure token"] = tampered
        for probe in issued_token_probes(token, tampered):
            response = send(probe)
            record(run, f"answer:{probe.api}", f"the answer to {probe.api} {probe.name!r}", response)
            run.statuses[f"{probe.api} {probe.name!r}"] = (response.status_code, probe.status)
        api_requests = sum(1 for probe in [*probes(keys), *issued_token_probes(token, tampered)] if not probe.path.startswith("/__mock"))
        run.statuses["journal"] = (len(journal_entries(http, base, control)), (api_requests,))
        for path in (
            "/__mock/",
            "/__mock/apis",
            "/__mock/requests?limit=100000",
            "/__mock/faults",
            "/__mock/health",
            "/__mock/apis/{}/spec",
        ):
            for api in APIS if "{}" in path else ("",):
                response = http.get(base + path.format(api), headers=control, timeout=10)
                sink = "published" if path.startswith(published) else "journal" if "requests" in path else "dashboard"
                record(run, sink, f"GET {path.format(api)}", response)
                run.statuses[f"GET {path.format(api)}"] = (response.status_code, (200,))
    run.places["the log file"] = ("log", log_path.read_text())
    return run


def issued_token_probes(token: str, tampered: str) -> list[Probe]:
    """A token Treasure issued, put to use, tampered with, and echoed where a configured secret
    would be masked: an error, a path (the log, the journal), a text body (the journal)."""
    bearer = {"Authorization": f"Bearer {token}"}
    path = f"/treasure/v1/businesses/{token}/portfolio_history"
    text = {"Content-Type": "text/plain"}
    return [
        Probe("treasure", "issued token", "GET", TRS_HISTORY, (200,), bearer, TRS_RANGE),
        Probe("treasure", "tampered token", "GET", TRS_HISTORY, (401,), {"Authorization": f"Bearer {tampered}"}, TRS_RANGE),
        Probe("treasure", "issued token as a date", "GET", TRS_HISTORY, (400,), bearer, {**TRS_RANGE, "start_date": token}),
        Probe("treasure", "issued token as the business", "GET", path, (400,), bearer, TRS_RANGE),
        Probe("bitcain", "issued token in a text body", "POST", f"{BCN}/", (401,), text, data=f"token={token}"),
    ]


def journal_entries(http: requests.Session, base: str, control: dict[str, Any]) -> list[dict[str, Any]]:
    """The journal, before the control reads (which are not journalled anyway)."""
    return list(http.get(f"{base}/__mock/requests", params={"limit": "100000"}, headers=control, timeout=10).json()["requests"])


@pytest.fixture(scope="module", params=["configured", "sandbox", "escaped"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One server per kind of credentials, its log in a file: configured credentials and a control
    token (every value is then a secret), the same with secrets that every escape changes, or the
    bundled sandbox credentials (which the catalog and the specs publish on purpose)."""
    folder = tmp_path_factory.mktemp(request.param)
    log_path = folder / "server.log"
    if request.param in ("configured", "escaped"):
        config, keys = (CONFIGURED, CONFIGURED_KEYS) if request.param == "configured" else (ESCAPED, ESCAPED_KEYS)
        path = folder / "mockserver.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        with running_server("--log-format", "json", "--config", str(path), log_path=log_path) as base:
            return broad_run(base, keys, log_path, ())
    with running_server("--log-format", "json", log_path=log_path) as base:
        return broad_run(base, SANDBOX_KEYS, log_path, ("/__mock/apis",))


def test_the_run_reaches_every_check(run: Run) -> None:
    """Each probe got the status it aims at (a request refused early would test nothing), and the
    journal holds every API request."""
    wrong = {name: got for name, (got, expected) in run.statuses.items() if got not in expected}
    assert wrong == {}
    assert sum(1 for line in run.places["the log file"][1].splitlines() if '"mockserver.access"' in line) == run.statuses["journal"][0]


@pytest.mark.parametrize("api", [*APIS, "control"])
def test_no_answer_quotes_a_secret(run: Run, api: str) -> None:
    """Bodies and headers of every answer, errors that quote their input included."""
    found = run.leaks(f"answer:{api}")
    assert not found, "secrets leaked:\n" + "\n".join(found)


def test_the_journal_holds_no_secret(run: Run) -> None:
    found = run.leaks("journal")
    assert not found, "secrets leaked:\n" + "\n".join(found)


def test_the_log_holds_no_secret(run: Run) -> None:
    found = run.leaks("log")
    assert not found, "secrets leaked:\n" + "\n".join(found)


def test_the_dashboard_shows_no_secret(run: Run) -> None:
    """The page and every control read it makes (the catalog, when the credentials are configured)."""
    found = run.leaks("dashboard")
    assert not found, "secrets leaked:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "wrong",
    [
        near(CONTROL_TOKEN),
        "x" + CONTROL_TOKEN,
        CONTROL_TOKEN + "0",
        CONTROL_TOKEN[:-1],
        CONTROL_TOKEN.upper(),
        "an-entirely-different-guess-at-the-token",
    ],
)
async def test_a_wrong_control_token_is_refused_and_not_echoed(make_client: MakeClient, wrong: str) -> None:
    client = await make_client(control_token=CONTROL_TOKEN)
    for headers, params in (({"Authorization": f"Bearer {wrong}"}, {}), ({}, {"token": wrong}), ({"Cookie": f"token={wrong}"}, {})):
        for path in ("/__mock/requests", "/__mock/"):
            response = await client.get(path, headers=headers, params=params)
            text = await response.text()
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="mockserver-control"'
            assert response.headers["Content-Type"] == "application/problem+json"
            assert json.loads(text)["violations"] == [
                {"in": "header", "name": "Authorization", "message": "missing or wrong control token"}
            ]
            shown = text + "\n".join(f"{name}: {value}" for name, value in response.headers.items())
            assert wrong not in shown and CONTROL_TOKEN not in shown


# --- 2. the control token guards every /__mock route -----------------------------------------

OTHER_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


LIVENESS = "/__mock/live"  # open on purpose, for container probes: it says "ok" and nothing else


def control_routes(app: Any) -> list[tuple[str, str]]:
    """(method, concrete path) of every route under /__mock but the liveness probe, walked from
    the router: `*` routes with every method, placeholders filled in."""
    found = []
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if not canonical.startswith("/__mock") or canonical == LIVENESS:
            continue
        path = re.sub(r"\{[^}]*\}", "mesh", canonical)
        for method in OTHER_METHODS if route.method == "*" else (route.method,):
            found.append((method, path))
    return sorted(set(found))


async def test_the_control_token_guards_every_control_route(make_client: MakeClient) -> None:
    client = await make_client(control_token=CONTROL_TOKEN)
    routes = control_routes(client.server.app)
    expected = {("GET", "/__mock/health"), ("HEAD", "/__mock/health"), ("GET", "/__mock/requests"), ("DELETE", "/__mock/requests")}
    expected |= {("POST", "/__mock/requests/count"), ("POST", "/__mock/reset"), ("POST", "/__mock/faults"), ("GET", "/__mock/")}
    expected |= {("GET", "/__mock/apis/mesh/spec"), ("DELETE", "/__mock/mesh")}
    assert expected <= set(routes)
    live = await client.get(LIVENESS)
    assert (live.status, await live.json()) == (200, {"status": "ok"})
    same_length = "".join("A" if c != "A" else "B" for c in CONTROL_TOKEN)
    refusals = {
        "no token": {},
        "a wrong token of the same length": {"Authorization": f"Bearer {same_length}"},
        "a wrong, shorter token": {"Authorization": "Bearer let-me-in"},
        "a wrong, longer token": {"Authorization": f"Bearer {CONTROL_TOKEN}{CONTROL_TOKEN}"},
        "the token under another scheme": {"Authorization": f"Token {CONTROL_TOKEN}"},
        "an empty bearer": {"Authorization": "Bearer "},
    }
    for method, path in routes:
        for why, headers in refusals.items():
            response = await client.request(method, path, headers=headers, allow_redirects=False)
            assert response.status == 401, f"{method} {path} with {why}"
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="mockserver-control"'
        allowed = await client.request(method, path, headers={"Authorization": f"Bearer {CONTROL_TOKEN}"}, allow_redirects=False)
        assert allowed.status != 401, f"{method} {path} with the token"
        assert allowed.status < 500, f"{method} {path} with the token"


async def test_the_token_in_the_query_opens_only_the_dashboard_page(make_client: MakeClient) -> None:
    """`?token=` is how the page's link carries the token (a browser cannot send a header when
    following a link): /__mock and /__mock/ take it, no other control route does."""
    client = await make_client(control_token=CONTROL_TOKEN)
    for method, path in control_routes(client.server.app):
        response = await client.request(method, path, params={"token": CONTROL_TOKEN}, allow_redirects=False)
        if path in ("/__mock", "/__mock/") and method in ("GET", "HEAD"):
            assert response.status in (200, 302), f"{method} {path}"
        else:
            assert response.status == 401, f"{method} {path}"
    page = await client.get("/__mock/", params={"token": CONTROL_TOKEN})
    assert page.status == 200
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert (await client.get("/__mock/", params={"token": near(CONTROL_TOKEN)})).status == 401
    # a wrong bearer header is not rescued by a right query token
    wrong_header = await client.get("/__mock/", params={"token": CONTROL_TOKEN}, headers={"Authorization": "Bearer nope"})
    assert wrong_header.status == 401
    redirect = await client.get("/__mock", params={"token": CONTROL_TOKEN}, allow_redirects=False)
    assert redirect.status == 302 and redirect.headers["Cache-Control"] == "no-store"
    assert (await client.get("/__mock", params={"token": "nope"}, allow_redirects=False)).status == 401  # no redirect for a wrong token


@pytest.mark.parametrize(
    "path",
    [
        "/__mock//requests",
        "/__mock/./requests",
        "/__mock/x/../requests",
        "/%5F%5Fmock/requests",
        "/__mock%2Frequests",
        "/__MOCK/requests",
    ],
)
async def test_no_spelling_of_a_control_path_gets_past_the_guard(make_client: MakeClient, path: str) -> None:
    client = await make_client(control_token=CONTROL_TOKEN)
    await client.get(MESH, params={"UserId": "alice"}, headers={"X-Client-Id": "mock-client-id", "X-Client-Secret": "sk_sand_mock_secret"})
    response = await client.get(path, allow_redirects=False)
    assert response.status in (401, 404), path
    if response.status == 404:
        assert "requests" not in await response.json()


# --- 3. signatures ---------------------------------------------------------------------------

ONX_DETAIL = f"{ONX}/6b372483-a80f-4c32-8d23-e6b9397ee6d6"
ONX_KEY, ONX_SECRET = SANDBOX_KEYS.onx_key, SANDBOX_KEYS.onx_secret
WINDOW_MS = Settings().signature_window_seconds * 1000


def changed(text: str, position: int) -> str:
    """The text with one character changed: a digit stays a digit, a hex letter a hex letter."""
    char = text[position]
    if char.isdigit():
        other = str((int(char) + 1) % 10)
    elif char in "abcdef":
        other = "abcdef"[("abcdef".index(char) + 1) % 6]
    else:
        other = chr(ord(char) ^ 1)
    return text[:position] + other + text[position + 1 :]


async def omniex_error(response: Any) -> tuple[int, str]:
    body = await response.json()
    assert body["meta"] == {} and len(body["errors"]) == 1, body
    return response.status, body["errors"][0]["error"]


REJECTED = {(401, "AUTHENTICATION_FAILED"), (400, "TIMESTAMP_INVALID")}


async def test_omniex_replay_outside_the_window_is_rejected_on_both_sides(client: Any) -> None:
    """A request captured and replayed later (or signed ahead) is refused just past the window,
    and accepted just inside it; the signature itself is right every time."""
    now = int(time.time() * 1000)
    for offset, expected in (
        (-WINDOW_MS - 1500, (400, "TIMESTAMP_INVALID")),
        (WINDOW_MS + 1500, (400, "TIMESTAMP_INVALID")),
        (-WINDOW_MS + 3000, None),
        (WINDOW_MS - 3000, None),
    ):
        headers = omniex_headers("GET", ONX, ONX_KEY, ONX_SECRET, timestamp=str(now + offset))
        response = await client.get(ONX, headers=headers)
        if expected is None:
            assert response.status == 200, offset
        else:
            assert await omniex_error(response) == expected, offset


async def test_omniex_rejects_every_one_byte_change_of_what_was_signed(client: Any) -> None:
    """The signature covers METHOD + PATH + BODY + TIMESTAMP: a signature made over any of them
    with one byte changed does not fit the request that is sent."""
    body = b'{"note":"signed"}'
    timestamp = str(int(time.time() * 1000))
    parts = {"method": "GET", "path": ONX_DETAIL, "body": body.decode(), "timestamp": timestamp}
    good = omniex_headers("GET", ONX_DETAIL, ONX_KEY, ONX_SECRET, body, timestamp)
    assert (await client.get(ONX_DETAIL, headers=good, data=body)).status == 200
    for part, text in parts.items():
        for position in range(len(text)):
            signed = {**parts, part: changed(text, position)}
            digest = hmac.new(
                ONX_SECRET.encode(), (signed["method"] + signed["path"] + signed["body"] + signed["timestamp"]).encode(), hashlib.sha384
            ).hexdigest()
            response = await client.get(ONX_DETAIL, headers={**good, "ONX-API-SIGNATURE": digest}, data=body)
            assert await omniex_error(response) == (401, "AUTHENTICATION_FAILED"), f"{part} changed at {position}"


async def test_omniex_rejects_every_one_byte_change_of_the_request_sent(client: Any) -> None:
    """The same, from the other side: the signature is right for the original request, and the
    request sent has one byte of its body, its timestamp, its id or its signature changed."""
    body = b'{"note":"signed"}'
    timestamp = str(int(time.time() * 1000))
    good = omniex_headers("GET", ONX_DETAIL, ONX_KEY, ONX_SECRET, body, timestamp)
    cases: list[tuple[str, str, dict[str, str], bytes]] = []
    for position in range(len(body)):
        cases.append((f"body at {position}", ONX_DETAIL, good, changed(body.decode(), position).encode()))
    for position in range(len(timestamp)):
        cases.append((f"timestamp at {position}", ONX_DETAIL, {**good, "ONX-API-TIMESTAMP": changed(timestamp, position)}, body))
    for position in range(len(ONX) + 1, len(ONX_DETAIL)):
        cases.append((f"id at {position}", changed(ONX_DETAIL, position), good, body))
    signature = good["ONX-API-SIGNATURE"]
    assert len(signature) == 96
    for position in range(len(signature)):
        cases.append((f"signature at {position}", ONX_DETAIL, {**good, "ONX-API-SIGNATURE": changed(signature, position)}, body))
    cases.append(("signature in upper case", ONX_DETAIL, {**good, "ONX-API-SIGNATURE": signature.upper()}, body))
    cases.append(("signature cut short", ONX_DETAIL, {**good, "ONX-API-SIGNATURE": signature[:-1]}, body))
    cases.append(("signature with a byte added", ONX_DETAIL, {**good, "ONX-API-SIGNATURE": signature + "0"}, body))
    cases.append(("body dropped", ONX_DETAIL, good, b""))
    for name, path, headers, sent in cases:
        response = await client.get(path, headers=headers, data=sent)
        assert await omniex_error(response) in REJECTED, name
    # the method: omniex has no operation but GET, so another method is refused before any signature
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = await client.request(
            method, ONX_DETAIL, headers=omniex_headers(method, ONX_DETAIL, ONX_KEY, ONX_SECRET, body), data=body
        )
        assert await omniex_error(response) == (405, "METHOD_UNSUPPORTED"), method


async def test_omniex_signature_of_another_key_or_with_a_known_key_and_no_secret_is_rejected(make_client: MakeClient) -> None:
    desks = {"omniex": [{"key": "desk-a", "secret": "desk-a-secret-1"}, {"key": "desk-b", "secret": "desk-b-secret-2"}]}
    client = await make_client(credentials=desks)
    assert (await client.get(ONX, headers=omniex_headers("GET", ONX, "desk-a", "desk-a-secret-1"))).status == 200
    crossed = omniex_headers("GET", ONX, "desk-a", "desk-b-secret-2")
    assert await omniex_error(await client.get(ONX, headers=crossed)) == (401, "AUTHENTICATION_FAILED")
    unkeyed = omniex_headers("GET", ONX, "desk-a", "")
    assert await omniex_error(await client.get(ONX, headers=unkeyed)) == (401, "AUTHENTICATION_FAILED")


TRS_CLIENT = Identity.from_config(
    {"client_id": SANDBOX_KEYS.trs_client, "client_secret": SANDBOX_KEYS.trs_secret, "bearerAuth": SANDBOX_KEYS.trs_token}, 0
)


async def treasure_status(client: Any, token: str) -> tuple[int, str]:
    response = await client.get(TRS_HISTORY, params=TRS_RANGE, headers={"Authorization": f"Bearer {token}"})
    body = await response.json()
    reason = body["details"][0]["reason_code"] if response.status != 200 else ""
    if response.status == 401:
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="mockserver", error="invalid_token"'
        assert body["error_code"] == "NOT_AUTHENTICATED"
    return response.status, reason


async def test_treasure_tokens_resist_every_one_character_change(client: Any) -> None:
    """Treasure's documents name no signature, but the sandbox's stateless tokens are HS256 JWTs:
    every change of the signature and of the claims is refused."""
    token = treasure.issue_token(TRS_CLIENT, 0, int(time.time()))
    assert await treasure_status(client, token) == (200, "")
    header, claims, signature = token.split(".")
    start = len(header) + 1
    positions = [*range(start, start + len(claims), 3), *range(len(token) - len(signature), len(token))]
    for position in positions:
        tampered = changed(token, position)
        assert await treasure_status(client, tampered) == (401, "INVALID_TOKEN"), f"token changed at {position}"


async def test_treasure_tokens_expire_and_forged_ones_fail(client: Any) -> None:
    now = SANDBOX_NOW  # tokens live on the sandbox clock
    lifetime = treasure.TOKEN_LIFETIME
    assert await treasure_status(client, treasure.issue_token(TRS_CLIENT, 0, now - lifetime + 30)) == (200, "")
    assert await treasure_status(client, treasure.issue_token(TRS_CLIENT, 0, now - lifetime - 1)) == (401, "EXPIRED")
    assert await treasure_status(client, treasure.issue_token(TRS_CLIENT, 1, now)) == (401, "INVALID_TOKEN")  # another sandbox seed
    other = Identity.from_config({"client_id": SANDBOX_KEYS.trs_client, "client_secret": near(SANDBOX_KEYS.trs_secret)}, 0)
    assert await treasure_status(client, treasure.issue_token(other, 0, now)) == (401, "INVALID_TOKEN")
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    _, claims, _ = treasure.issue_token(TRS_CLIENT, 0, now).split(".")
    assert await treasure_status(client, f"{unsigned}.{claims}.") == (401, "INVALID_TOKEN")


# --- 4. constant-time comparison --------------------------------------------------------------


class Trap(bytes):
    """A configured secret that refuses to be compared or hashed other than by compare_digest."""

    def __eq__(self, other: object) -> bool:
        raise AssertionError("a secret was compared with ==")

    def __ne__(self, other: object) -> bool:
        raise AssertionError("a secret was compared with !=")

    def __hash__(self) -> int:
        raise AssertionError("a secret was used as a lookup key")


class TrapText(str):
    """A presented credential with the same refusals, until it is encoded for compare_digest."""

    def __eq__(self, other: object) -> bool:
        raise AssertionError("a presented credential was compared with ==")

    def __ne__(self, other: object) -> bool:
        raise AssertionError("a presented credential was compared with !=")

    def __hash__(self) -> int:
        raise AssertionError("a presented credential was used as a lookup key")


def trapped(raw: dict[str, Any], index: int) -> Identity:
    identity = Identity.from_config(raw, index)
    return Identity({name: Trap(value) for name, value in identity.values.items()}, identity.forbidden, identity.name, identity.data)


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Every pair hmac.compare_digest sees, as plain bytes."""
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((bytes(a.encode() if isinstance(a, str) else a), bytes(b.encode() if isinstance(b, str) else b)))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    return calls


def auth_request(operation: str, headers: dict[str, str], identities: list[Identity], body: bytes = b"", path: str = ONX) -> AuthRequest:
    """What a vendor's authentication sees of a request (mounts as the bundled specs have them)."""
    mount = "/omniex/edge/v1beta" if path.startswith("/omniex") else "/treasure"
    return AuthRequest(operation, False, "GET", path, mount, {}, CIMultiDict(headers), body, identities, Settings())


def test_no_secret_is_compared_with_equality_or_looked_up() -> None:
    """Configured secrets that raise on ==, != and hash, and presented values that do too: every
    credential check still answers, so each goes through compare_digest alone."""
    desks = [trapped({"Client-Id": f"id-{n}", "Client-Secret": f"secret-{n}-value"}, n) for n in range(3)]
    plan = SecurityPlan(
        [
            [
                SchemeReader("Client-Id", "apiKey", "header", "X-Client-Id"),
                SchemeReader("Client-Secret", "apiKey", "header", "X-Client-Secret"),
            ]
        ],
        desks,
    )
    good = {"X-Client-Id": TrapText("id-2"), "X-Client-Secret": TrapText("secret-2-value")}
    assert plan.check(CIMultiDict(good), {}, {}).identity is desks[2]
    assert plan.check(CIMultiDict({**good, "X-Client-Secret": TrapText("secret-2-valuf")}), {}, {}).status == 401
    bearer = SecurityPlan([[SchemeReader("HTTPBearer", "bearer", "header", "Authorization")]], [trapped({"HTTPBearer": "tok-123456"}, 0)])
    assert bearer.check(CIMultiDict({"Authorization": TrapText("Bearer tok-123456")}), {}, {}).status == 200
    assert identity_with([trapped({"x-api-key": f"key-{n}"}, n) for n in range(3)], "x-api-key", b"key-1") is not None

    keys = [trapped({"key": f"desk-{n}", "secret": f"desk-{n}-secret"}, n) for n in range(3)]
    for key, secret, status in (("desk-1", "desk-1-secret", 200), ("desk-1", "desk-2-secret", 401), ("nobody", "desk-1-secret", 401)):
        headers = {k: TrapText(v) for k, v in omniex_headers("GET", ONX, key, secret).items()}
        assert omniex.authenticate(auth_request("getPortfolios", headers, keys)).status == status, (key, secret)

    clients = [trapped({"client_id": f"c-{n}", "client_secret": f"c-{n}-secret", "bearerAuth": f"c-{n}-token"}, n) for n in range(3)]
    json_headers = {"Content-Type": "application/json"}
    for body, status in (
        ({"client_id": "c-1", "client_secret": "c-1-secret"}, 200),
        ({"client_id": "c-1", "client_secret": "c-2-secret"}, 401),
    ):
        request = auth_request(treasure.TOKEN, json_headers, clients, json.dumps(body).encode(), TRS_TOKEN_URL)
        assert treasure.authenticate(request).status == status, body
    issued = treasure.issue_token(Identity.from_config({"client_id": "c-1", "client_secret": "c-1-secret"}, 0), 0, int(time.time()))
    for token, status in (("c-2-token", 200), (issued, 200), (near(issued), 401), ("c-2-tokem", 401)):
        request = auth_request(treasure.HISTORY, {"Authorization": TrapText(f"Bearer {token}")}, clients, path=TRS_HISTORY)
        assert treasure.authenticate(request).status == status


CHECKED = {
    "mesh": [{"Client-Id": f"mesh-id-{n}", "Client-Secret": f"mesh-secret-{n}-value"} for n in range(3)],
    "omniex": [{"key": f"onx-{n}", "secret": f"onx-secret-{n}-value"} for n in range(3)],
    "treasure": [
        {"client_id": f"trs-{n}", "client_secret": f"trs-secret-{n}-value", "bearerAuth": f"trs-token-{n}-value"} for n in range(3)
    ],
    "bitcain": [{"name": f"desk-{n}", "HTTPBearer": f"bcn-token-{n}-value"} for n in range(3)],
    "bitpanda": [{"name": f"desk-{n}", "x-api-key": f"bpd-key-{n}-value"} for n in range(3)],
}


async def test_every_credential_check_compares_every_identity_in_constant_time(
    make_client: MakeClient, compared: list[tuple[bytes, bytes]]
) -> None:
    """For each check, right and wrong: every identity's credential reached compare_digest (no
    early exit that would time which identity came close, no lookup keyed by the value)."""
    client = await make_client(credentials=CHECKED, control_token=CONTROL_TOKEN)
    issued = treasure.issue_token(Identity.from_config(CHECKED["treasure"][1], 1), 0, int(time.time()))
    checks: list[tuple[str, Callable[[], Any], set[bytes]]] = []

    def check(name: str, send: Callable[[], Any], field_name: str, api: str) -> None:
        checks.append((name, send, {str(entry[field_name]).encode() for entry in CHECKED[api]}))

    for name, secret in (("mesh right", "mesh-secret-1-value"), ("mesh wrong", "mesh-secret-1-valuf")):
        headers = {"X-Client-Id": "mesh-id-1", "X-Client-Secret": secret}
        check(name, lambda h=headers: client.get(MESH, params={"UserId": "a"}, headers=h), "Client-Secret", "mesh")
        check(name + " (id)", lambda h=headers: client.get(MESH, params={"UserId": "a"}, headers=h), "Client-Id", "mesh")
    for name, key in (("omniex right", "onx-1"), ("omniex unknown key", "onx-9")):
        check(name, lambda k=key: client.get(ONX, headers=omniex_headers("GET", ONX, k, "onx-secret-1-value")), "key", "omniex")
    for name, secret in (("treasure client right", "trs-secret-1-value"), ("treasure client wrong", "trs-secret-1-valuf")):
        body = {"client_id": "trs-1", "client_secret": secret}
        check(name, lambda b=body: client.post(TRS_TOKEN_URL, json=b), "client_secret", "treasure")
    for name, token in (
        ("treasure pre-issued right", "trs-token-1-value"),
        ("treasure token wrong", "trs-token-1-valuf"),
        ("treasure JWT", issued),
    ):
        headers = {"Authorization": f"Bearer {token}"}
        check(name, lambda h=headers: client.get(TRS_HISTORY, params=TRS_RANGE, headers=h), "bearerAuth", "treasure")
    check(
        "treasure JWT (client)",
        lambda: client.get(TRS_HISTORY, params=TRS_RANGE, headers={"Authorization": f"Bearer {issued}"}),
        "client_id",
        "treasure",
    )
    for name, token in (("bitcain right", "bcn-token-1-value"), ("bitcain wrong", "bcn-token-1-valuf")):
        check(name, lambda t=token: client.get(f"{BCN}/balances", headers={"Authorization": f"Bearer {t}"}), "HTTPBearer", "bitcain")
    for name, key in (("bitpanda right", "bpd-key-1-value"), ("bitpanda wrong", "bpd-key-1-valuf")):
        check(name, lambda k=key: client.post(BPD, json=BPD_SIMPLE, headers={"x-api-key": k}), "x-api-key", "bitpanda")

    for name, send, secrets in checks:
        compared.clear()
        response = await send()
        assert response.status in (200, 401), name
        seen = {value for pair in compared for value in pair}
        missing = len(secrets - seen)  # a count: the values stay out of the failure report
        assert missing == 0, f"{name}: {missing} identities not compared through compare_digest"
    for name, token in (("control right", CONTROL_TOKEN), ("control wrong", near(CONTROL_TOKEN))):
        compared.clear()
        response = await client.get("/__mock/health", headers={"Authorization": f"Bearer {token}"})
        assert response.status == (200 if token == CONTROL_TOKEN else 401)
        assert (token.encode(), CONTROL_TOKEN.encode()) in compared, name


def test_omniex_compares_both_signed_paths_always(compared: list[tuple[bytes, bytes]]) -> None:
    """The signature is accepted over the path with and without the mount prefix (and, in a session, with
    its prefix too): all are compared whichever matches, so timing does not tell which form a client signed."""
    identity = Identity.from_config({"key": "k-1", "secret": "k-1-secret"}, 0)
    for signed_path in (ONX, ONX.removeprefix("/omniex")):
        headers = omniex_headers("GET", signed_path, "k-1", "k-1-secret")
        compared.clear()
        assert omniex.authenticate(auth_request("getPortfolios", headers, [identity])).status == 200
        assert sum(1 for given, _ in compared if given == headers["ONX-API-SIGNATURE"].encode()) == 2, signed_path


def test_omniex_signs_with_the_secret_of_the_identity_it_found() -> None:
    """Each identity's keyed HMAC is made once and found by the identity itself: the same key with
    another secret (another set of credentials, a reload) never checks against the first secret."""
    first = Identity.from_config({"key": "k-1", "secret": "first-secret"}, 0)
    second = Identity.from_config({"key": "k-1", "secret": "second-secret"}, 0)
    for identity, secret, status in ((first, "first-secret", 200), (second, "first-secret", 401), (second, "second-secret", 200)):
        headers = omniex_headers("GET", ONX, "k-1", secret)
        assert omniex.authenticate(auth_request("getPortfolios", headers, [identity])).status == status, (identity.name, secret)


def test_masking_leaves_text_without_secrets_alone() -> None:
    mask = SecretMask(["s3cret-value", 'quo"te-value', "short"])
    assert mask.text("nothing here") == "nothing here"
    assert mask.text("x s3cret-value0 y") == f"x {MASKED}0 y"
    assert mask.bytes(json.dumps({"a": 'quo"te-value'}).encode()) == json.dumps({"a": MASKED}).encode()
    assert mask.text("short") == "short"  # too short to mask wherever it appears
    assert mask.json({"s3cret-value": ["s3cret-value", 1, None]}) == {MASKED: [MASKED, 1, None]}


def test_masking_finds_a_secret_however_it_is_escaped() -> None:
    awkward_secret = ESCAPED_KEYS.mesh_secret
    mask = SecretMask([awkward_secret])
    spellings = {
        "JSON": json.dumps(awkward_secret, ensure_ascii=False),
        "JSON with \\u escapes": json.dumps(awkward_secret),
        "a repr": repr(awkward_secret),
        "a repr in JSON": json.dumps(repr(awkward_secret)),
        "JSON in JSON": json.dumps(json.dumps(awkward_secret)),
        "percent-encoded": quote(awkward_secret, safe=""),
        "percent-encoded, lower-case hex": re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(awkward_secret, safe="")),
        "percent-encoded in part": quote(awkward_secret, safe="\"' <&"),
        "a form field": urlencode({"secret": awkward_secret}),
    }
    for how, spelled in spellings.items():
        masked = mask.text(f"before {spelled} after")
        assert spelled_anyhow(awkward_secret).search(masked) is None, how
        assert masked.startswith("before ") and masked.endswith(" after") and MASKED in masked, how
    assert mask.text("caf\udcff " + awkward_secret) == "caf\udcff " + MASKED  # undecodable header bytes survive
    issued = treasure.issue_token(TRS_CLIENT, 0, int(time.time()))
    assert NO_SECRETS.text(f"start_date {issued!r} is not a date") == f"start_date '{MASKED}' is not a date"


@pytest.mark.parametrize("name", ["key", "access_key", "X-Access-Key", "Ocp-Apim-Subscription-Key", "X-Api-Key", "Secret-Key"])
async def test_the_journal_redacts_every_name_containing_key(client: Any, name: str) -> None:
    """docs/control/journal.md: credential fields and names containing secret, token, signature, password or
    key are `<redacted>` in everything read out of the journal: headers, query and JSON bodies."""
    await client.get(MESH, params={"UserId": "alice", name: "kept-out-of-the-query"}, headers={**MESH_AUTH, name: "kept-out-of-headers"})
    body = {"client_id": SANDBOX_KEYS.trs_client, "client_secret": SANDBOX_KEYS.trs_secret, name: "kept-out-of-the-body"}
    await client.post(TRS_TOKEN_URL, json=body, headers={"X-Trace": "t-1"})
    listed = await client.get("/__mock/requests")
    text = await listed.text()
    token_call, mesh_call = (await listed.json())["requests"]
    assert mesh_call["headers"][name] == [MASKED] and mesh_call["query"][name] == [MASKED]
    assert token_call["body"][name] == MASKED
    assert "kept-out" not in text
    assert token_call["headers"]["X-Trace"] == ["t-1"]  # no credential: kept


SHORT = "abcde"  # one character too short to be masked


@pytest.mark.parametrize(
    ("settings", "entry"),
    [
        ({"control_token": SHORT}, "control_token"),
        ({"credentials": {"mesh": [{"Client-Id": "mesh-id-1", "Client-Secret": SHORT}]}}, "credentials: mesh: identity-1: Client-Secret"),
        ({"credentials": {"omniex": [{"key": "onx-1", "secret": SHORT}]}}, "credentials: omniex: identity-1: secret"),
        (
            {"credentials": {"treasure": [{"name": "desk", "client_id": "c-1", "client_secret": SHORT}]}},
            "credentials: treasure: desk: client_secret",
        ),
        ({"credentials": {"bitcain": [{"name": "desk", "HTTPBearer": SHORT}]}}, "credentials: bitcain: desk: HTTPBearer"),
        ({"credentials": {"bitpanda": [{"name": "desk", "x-api-key": SHORT}]}}, "credentials: bitpanda: desk: x-api-key"),
    ],
)
def test_a_secret_too_short_to_mask_is_refused_at_start(settings: dict[str, Any], entry: str) -> None:
    """It could not be told apart from other text, so it would be echoed unmasked: the server
    refuses to start, naming the entry and never its value."""
    with pytest.raises(SettingsError) as refused:
        create_app(load_settings(settings, environ={}))
    assert str(refused.value).startswith(f"{entry} is shorter than 6 characters")
    assert SHORT not in str(refused.value)


async def test_short_identifiers_are_no_reason_to_refuse(make_client: MakeClient) -> None:
    """A client id or the key a secret signs for names a client: it is not a secret."""
    credentials = {"mesh": [{"Client-Id": "my-id", "Client-Secret": "mesh-secret-1"}], "omniex": [{"key": "k-1", "secret": "onx-secret-1"}]}
    client = await make_client(credentials=credentials)
    response = await client.get(MESH, params={"UserId": "a"}, headers={"X-Client-Id": "my-id", "X-Client-Secret": "mesh-secret-1"})
    assert response.status == 200


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_command_line_refuses_a_short_secret_in_one_line(tmp_path: Path, workers: str) -> None:
    """Before any server or worker starts: one line on stderr, exit code 2."""
    config = tmp_path / "mockserver.yaml"
    config.write_text(yaml.safe_dump({"credentials": {"bitcain": [{"name": "desk", "HTTPBearer": SHORT}]}}))
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--workers", workers, "--config", str(config)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mockserver: credentials: bitcain: desk: HTTPBearer is shorter than 6 characters: a secret that short could not be told"
        " apart from other text, so it could not be kept out of answers, the journal and the log"
    ]
    assert "listening" not in result.stdout
