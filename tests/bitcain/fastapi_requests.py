"""The requests the differential test sends to the mock and to the FastAPI oracle.

Each Probe starts from one valid request of an operation (OPERATIONS: 2xx on both sides) and
changes one thing to reach a framework edge: query coercion and bounds, repeated and empty
parameters, bad UTF-8 and percent-escapes; JSON bodies that are malformed, of the wrong type in
each field, lax coercions, nulls, extra members, a BOM, NaN, bad UTF-8, other content types;
multipart bodies without the field, with text instead of a file, without a boundary, with two
parts; every shape of the Authorization header; trailing and encoded slashes, unknown paths and
every method on every path. Targets are percent-encoded text sent byte for byte, relative to the
API's mount, so both sides see the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from .helpers import CORE, SAMPLE, SANDBOX_USER, SATELLITE, TOKEN

BASE = "/api/v1/portfolio"
NEW_USER = "diff-user"  # creates go to a user with no portfolio, so no name is taken
EMPTY = "{empty}"  # in a target: the id of a portfolio without assets, created for the probe
BOUNDARY = "differential-boundary"
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Probe:
    """One request: method, target (path and query, percent-encoded), headers and body bytes."""

    id: str
    method: str
    path: str
    query: str = ""
    headers: Headers = ()
    body: bytes = b""

    @property
    def target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    @property
    def needs_empty_portfolio(self) -> bool:
        return EMPTY in self.path

    def named(self, suffix: str, **changes: object) -> Probe:
        """This request with `changes`, its id extended by `suffix`."""
        return replace(self, id=f"{self.id}:{suffix}", **changes)  # type: ignore[arg-type]

    def with_query(self, name: str, value: str | None) -> Probe:
        """The query with `name` set to `value` (already encoded), or without it for None."""
        kept = [pair for pair in self.query.split("&") if pair and pair.split("=", 1)[0] != name]
        if value is not None:
            kept.append(f"{name}={value}")
        return self.named(f"{name}={label(value)}" if value is not None else f"no-{name}", query="&".join(kept))

    def with_headers(self, suffix: str, *headers: tuple[str, str], drop: str = "") -> Probe:
        """Headers added, after those named `drop` (lower case) are removed."""
        kept = tuple(pair for pair in self.headers if pair[0].lower() != drop)
        return self.named(suffix, headers=kept + headers)


AUTH = ("Authorization", f"Bearer {TOKEN}")
JSON = ("Content-Type", "application/json")
MULTIPART = ("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")


def json_bytes(value: object) -> bytes:
    return json.dumps(value).encode()


def multipart(*parts: tuple[str, str | None, bytes], boundary: str = BOUNDARY) -> bytes:
    """A form-data body of (field, filename or None for a text field, content) parts."""
    chunks = []
    for field, filename, content in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename is not None else "")
        kind = "Content-Type: text/csv\r\n" if filename is not None else ""
        chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n{kind}\r\n".encode() + content + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


CSV = SAMPLE.read_bytes()
NEW_PORTFOLIO = {"name": "Differential", "target_allocations": {"BTC": 0.6, "ETH": 0.4}}


def _operation(name: str, method: str, path: str, query: str = "", auth: bool = True, body: bytes = b"", kind: str = "") -> Probe:
    headers = ((AUTH,) if auth else ()) + ((("Content-Type", kind),) if kind else ())
    return Probe(name, method, BASE + path, query, headers, body)


def label(text: str) -> str:
    """A value as a short part of a probe id: long ones by their start and length."""
    return text if len(text) <= 40 else f"{text[:12]}...({len(text)} chars)"


# one valid request per operation of the reference
OPERATIONS = {
    probe.id: probe
    for probe in (
        _operation("health", "GET", "/health", auth=False),
        _operation("balances", "GET", "/balances"),
        _operation("aggregate", "GET", "/aggregate"),
        _operation("cost-basis", "GET", "/cost-basis"),
        _operation("lots", "GET", "/cost-basis/lots"),
        _operation("rebuild", "POST", "/cost-basis/lots/rebuild"),
        _operation("backfill", "POST", "/ingest/backfill"),
        _operation("csv", "POST", "/ingest/csv", body=multipart(("file", "history.csv", CSV)), kind=MULTIPART[1]),
        _operation("refresh", "POST", "/refresh"),
        _operation("value-history", "GET", "/value-history"),
        _operation("list", "GET", "/", f"user_id={SANDBOX_USER}", auth=False),
        _operation("create", "POST", "/", f"user_id={NEW_USER}", body=json_bytes(NEW_PORTFOLIO), kind=JSON[1]),
        _operation("get", "GET", f"/{CORE}", f"user_id={SANDBOX_USER}", auth=False),
        _operation("delete", "DELETE", f"/{SATELLITE}", f"user_id={SANDBOX_USER}&force=true"),
        _operation("update", "PUT", f"/{CORE}", f"user_id={SANDBOX_USER}", body=b"{}", kind=JSON[1]),
        _operation("analytics", "GET", f"/{CORE}/analytics", f"user_id={SANDBOX_USER}", auth=False),
        _operation("history", "GET", "/history"),
        _operation("performance", "GET", "/history/performance"),
        _operation("export", "GET", "/history/export"),
    )
}
AUTHENTICATED = [probe for probe in OPERATIONS.values() if AUTH in probe.headers]


def query_values(operation: str, name: str, values: Sequence[str | None]) -> Iterator[Probe]:
    for value in values:
        yield OPERATIONS[operation].with_query(name, value)


INTEGER_EDGES = ("", "abc", "1.0", "1.5", "%201", "1%20", "+5", "0x10", "1_0", "1e1", "00", "-0", "true", "%D9%A3", "5%00")
BOOLEAN_EDGES = (
    "true",
    "false",
    "True",
    "FALSE",
    "1",
    "0",
    "yes",
    "no",
    "on",
    "off",
    "t",
    "f",
    "y",
    "n",
    "",
    "2",
    "truee",
    "%20true",
    "YES",
)
TEXT_EDGES = ("", "%FF", "%00", "%C3%A9", "a+b", "a%20b", "%F0%9F%98%80", "%C0%AF", "%ED%A0%80", "x" * 300)


def query_probes() -> Iterator[Probe]:
    yield from query_values("list", "limit", ("1", "100", "0", "101", "-1", "50.0", "9999999999999999999999", *INTEGER_EDGES))
    yield from query_values("list", "offset", ("0", "10", "-1", "", "x", "1.0", "99999999999999999999"))
    yield from query_values("list", "active_only", BOOLEAN_EDGES)
    yield from query_values("list", "user_id", (None, *TEXT_EDGES))
    listing = OPERATIONS["list"]
    for query in (
        "limit=5&limit=500",
        "limit=500&limit=5",
        "active_only=maybe&active_only=true",
        "offset=1&offset=x",
        "foo=bar",
        "limit",
        "LIMIT=0",
        "&&limit=2&&",
    ):
        yield listing.named(f"+{query}", query=f"{listing.query}&{query}")
    for query in (f"user_id=a&user_id={SANDBOX_USER}", "user_id", "user%5Fid=x"):
        yield listing.named(query, query=query)
    yield from query_values("backfill", "max_pages", ("1", "25", "0", "26", "", "x", "3.0", "2.5"))
    yield from query_values("backfill", "dry_run", ("true", "1", "yes", "off", "", "maybe"))
    yield from query_values("backfill", "source", ("", "%FF", "x" * 65))
    yield OPERATIONS["backfill"].named("max_pages=1&max_pages=30", query="max_pages=1&max_pages=30")
    yield from query_values("value-history", "days", ("1", "365", "0", "366", "-5", "", "abc", "30.0", "1e1", "%2030"))
    yield OPERATIONS["value-history"].named("days=1&days=400", query="days=1&days=400")
    yield from query_values("history", "timeframe", ("1D", "1W", "1M", "3M", "1Y", "ALL", "1m", "all", "", "1H", "1D%20", "%FF"))
    yield from query_values("history", "portfolio_id", (CORE, SATELLITE))
    yield from query_values("history", "currency", ("USD",))
    yield from query_values("performance", "timeframe", ("1Y", "x", ""))
    yield from query_values("performance", "portfolio_id", (CORE,))
    yield from query_values("export", "timeframe", ("ALL", "bad", ""))
    yield from query_values("balances", "exchange", ("binanceus", "coinbase", "kraken"))
    yield from query_values("delete", "force", ("1", "yes", "on", "True", "t", "y", "", "x", "2"))
    yield from query_values("delete", "user_id", (None,))
    holding_nothing = OPERATIONS["delete"].named("empty", path=f"{BASE}/{EMPTY}")
    for value in ("false", "0", "no", "off", "f", "n", None):
        yield holding_nothing.with_query("force", value)
    yield from query_values("csv", "dry_run", ("true", "1", "yes", "x", ""))
    yield from query_values("get", "user_id", (None,))
    yield from query_values("analytics", "user_id", (None,))
    yield from query_values("update", "user_id", (None,))


MALFORMED_JSON = (
    b"",
    b" ",
    b"{",
    b"}",
    b"{'name': 'x'}",
    b'{name: "x"}',
    b"[1,2",
    b'{"name": "x",}',
    b"nul",
    b"tru",
    b'{"name": "x"} x',
    b'{"name": "x"}{}',
    b",",
    b'"unterminated',
    b'{"a": 01}',
    b'{"a": .5}',
    b'{"a": 1.}',
    b'{"a": "\\x"}',
    b'{"a": "\t"}',
    b"// comment\n{}",
    b'{"a": +1}',
    b'{"a": 0x1}',
)
NOT_OBJECTS = (b"null", b"[]", b"[{}]", b'"x"', b"123", b"true", b"1.5")

# field -> values that each replace the field in a valid create body
FIELD_VALUES: dict[str, tuple[object, ...]] = {
    "name": (1, True, None, [], {}, "x" * 101, "x" * 100, "", 1.5),
    "description": (1, None, [], "x" * 1001, True),
    "target_allocations": (
        [],
        "x",
        None,
        1,
        {"BTC": "0.5", "ETH": 0.5},
        {"BTC": True},
        {"BTC": "abc", "ETH": 1},
        {"BTC": None},
        {"BTC": 1.5, "ETH": -0.5},
        {"BTC": 0.5},
        {},
        {"BTC": "1"},
        {"BTC": [1]},
        {"BTC": 0.9999995},
    ),
    "risk_tolerance": ("low", "MODERATE", None, 1, "", "aggressive", ["moderate"]),
    "is_active": ("true", "yes", 1, 0, 2, "1", None, "on", "t", 1.0, 0.5, "false", []),
    "is_default": ("false", 0, "no", None),
    "initial_value_usd": ("100", 100, 100.5, "1e3", "-5", -5, "abc", True, None, "", " 100 ", "1_000", "NaN", "Infinity", [], {}, 1e20),
    "tags": ("x", [1], [None], None, ["a"] * 21, ["x" * 51], {}, ["ok"], [[]]),
}
UPDATES: tuple[object, ...] = (
    {"name": None},
    {"name": 1},
    {"name": "x" * 101},
    {"risk_tolerance": None},
    {"risk_tolerance": "x"},
    {"target_allocations": {"BTC": 0.9}},
    {"target_allocations": None},
    {"is_active": "yes"},
    {"is_active": None},
    {"tags": "x"},
    {"tags": None},
    {"description": 5},
    {"unknown": 1},
    None,
    [],
)
CONTENT_TYPES = (
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/vnd.api+json",
    "application/merge-patch+json",
    "APPLICATION/JSON",
    "application/jsonx",
    "text/json",
    f"multipart/form-data; boundary={BOUNDARY}",
)
VALID = json_bytes(NEW_PORTFOLIO)
ENCODINGS = {
    "bom": b"\xef\xbb\xbf" + VALID,
    "latin-1": '{"name": "Caf\xe9", "target_allocations": {"BTC": 1.0}}'.encode("latin-1"),
    "bad-utf8": b'{"name": "\xff\xfe", "target_allocations": {"BTC": 1.0}}',
    "utf-16": "\ufeff".encode("utf-16-le") + VALID.decode().encode("utf-16-le"),
    "escaped-unicode": b'{"name": "Caf\\u00e9", "target_allocations": {"BTC": 1.0}}',
    "lone-surrogate": b'{"name": "\\ud800", "target_allocations": {"BTC": 1.0}}',
    "nan": b'{"name": "x", "target_allocations": {"BTC": NaN}}',
    "infinity": b'{"name": "x", "target_allocations": {"BTC": Infinity}}',
    "minus-infinity": b'{"name": "x", "target_allocations": {"BTC": 1.0}, "initial_value_usd": -Infinity}',
    "huge-exponent": b'{"name": "x", "target_allocations": {"BTC": 1e400}}',
    "deep": b'{"name": "x", "target_allocations": {"BTC": 1.0}, "tags": ' + b"[" * 500 + b"]" * 500 + b"}",
    "duplicate-key": b'{"name": "a", "name": "b", "target_allocations": {"BTC": 1.0}}',
    "big-integer": b'{"name": "x", "target_allocations": {"BTC": 1.0}, "is_active": 1000000000000000000000000000000}',
}


def body_probes() -> Iterator[Probe]:
    create, update = OPERATIONS["create"], OPERATIONS["update"]
    for index, raw in enumerate(MALFORMED_JSON):
        yield create.named(f"malformed-{index}", body=raw)
    for raw in NOT_OBJECTS:
        yield create.named(f"body={raw.decode()}", body=raw)
    yield create.named("body={}", body=b"{}")
    for missing in NEW_PORTFOLIO:
        yield create.named(f"no-{missing}", body=json_bytes({k: v for k, v in NEW_PORTFOLIO.items() if k != missing}))
    for field, values in FIELD_VALUES.items():
        for value in values:
            yield create.named(f"{field}={label(json.dumps(value))}", body=json_bytes({**NEW_PORTFOLIO, field: value}))
    yield create.named("extra-member", body=json_bytes({**NEW_PORTFOLIO, "extra": 1, "Name": "other"}))
    for name, raw in ENCODINGS.items():
        yield create.named(name, body=raw)
    for kind in CONTENT_TYPES:
        yield create.with_headers(f"content-type={kind}", *((("Content-Type", kind),) if kind else ()), drop="content-type")
    yield create.with_headers("form-fields", ("Content-Type", "application/x-www-form-urlencoded"), drop="content-type").named(
        "body", body=b"name=x"
    )
    yield create.named("over-1MiB", body=json_bytes({**NEW_PORTFOLIO, "description": "x" * (1 << 20)}))
    for value in UPDATES:
        yield update.named(f"body={label(json.dumps(value))}", body=json_bytes(value))
    for raw in (b"", b"{", b"[1,"):
        yield update.named(f"malformed={raw.decode()}", body=raw)
    for kind in (None, "text/plain"):
        yield update.with_headers(f"content-type={kind}", *((("Content-Type", kind),) if kind else ()), drop="content-type")


def multipart_probes() -> Iterator[Probe]:
    csv = OPERATIONS["csv"]
    bodies = {
        "other-field": multipart(("upload", "history.csv", CSV)),
        "text-field": multipart(("file", None, b"abc")),
        "empty-filename": multipart(("file", "", CSV)),
        "two-files-last-valid": multipart(("file", "a.csv", b"not,a,statement\n"), ("file", "b.csv", CSV)),
        "two-files-first-valid": multipart(("file", "a.csv", CSV), ("file", "b.csv", b"not,a,statement\n")),
        "file-and-text": multipart(("file", "a.csv", CSV), ("note", None, b"hello")),
        "no-parts": f"--{BOUNDARY}--\r\n".encode(),
        "empty": b"",
        "unterminated": multipart(("file", "a.csv", CSV))[: -len(f"--{BOUNDARY}--\r\n")],
        "other-boundary": multipart(("file", "a.csv", CSV), boundary="another"),
        "no-disposition": f"--{BOUNDARY}\r\nContent-Type: text/csv\r\n\r\n".encode() + CSV + f"\r\n--{BOUNDARY}--\r\n".encode(),
    }
    for name, body in bodies.items():
        yield csv.named(name, body=body)
    valid = csv.body
    for kind in (None, "multipart/form-data", 'multipart/form-data; boundary=""', "application/json", "text/csv"):
        yield csv.with_headers(f"content-type={kind}", *((("Content-Type", kind),) if kind else ()), drop="content-type")
    yield csv.with_headers("quoted-boundary", ("Content-Type", f'multipart/form-data; boundary="{BOUNDARY}"'), drop="content-type")
    urlencoded = ("Content-Type", "application/x-www-form-urlencoded")
    yield csv.with_headers("urlencoded", urlencoded, drop="content-type").named("file=abc", body=b"file=abc")
    yield csv.with_headers("no-auth", drop="authorization").named(
        "no-boundary", headers=(("Content-Type", "multipart/form-data"),), body=valid
    )


AUTHORIZATIONS = {
    "no-token": ("Bearer",),
    "empty-token": ("Bearer ",),
    "lower-case-scheme": (f"bearer {TOKEN}",),
    "upper-case-scheme": (f"BEARER {TOKEN}",),
    "basic": ("Basic dXNlcjpwYXNz",),
    "token-scheme": (f"Token {TOKEN}",),
    "wrong-token": ("Bearer wrong",),
    "token-and-more": (f"Bearer {TOKEN} extra",),
    "two-spaces": (f"Bearer  {TOKEN}",),
    "tab": (f"Bearer\t{TOKEN}",),
    "no-scheme": (TOKEN,),
    "valid-then-wrong": (f"Bearer {TOKEN}", "Bearer wrong"),
    "wrong-then-valid": ("Bearer wrong", f"Bearer {TOKEN}"),
}


def auth_probes() -> Iterator[Probe]:
    for operation in AUTHENTICATED:
        yield operation.with_headers("no-authorization", drop="authorization")
    balances, create = OPERATIONS["balances"], OPERATIONS["create"]
    for name, values in AUTHORIZATIONS.items():
        yield balances.with_headers(name, *(("Authorization", value) for value in values), drop="authorization")
    for name in ("wrong-token", "basic", "lower-case-scheme"):
        yield create.with_headers(name, ("Authorization", AUTHORIZATIONS[name][0]), drop="authorization")
    anonymous = create.with_headers("no-authorization", drop="authorization")
    yield anonymous.named("malformed", body=b"{")
    yield anonymous.named("not-an-object", body=b"[]")
    yield anonymous.with_query("user_id", None)
    yield OPERATIONS["value-history"].with_headers("no-authorization", drop="authorization").with_query("days", "0")
    for operation in ("health", "list", "get"):
        yield OPERATIONS[operation].with_headers("basic", ("Authorization", "Basic dXNlcjpwYXNz"))


def routing_probes() -> Iterator[Probe]:
    for operation in OPERATIONS.values():
        if operation.path != BASE + "/":
            yield operation.named("trailing-slash", path=operation.path + "/")
    for operation in ("list", "create"):
        yield OPERATIONS[operation].named("no-trailing-slash", path=BASE)
    get = OPERATIONS["get"]
    # no path here names a portfolio the mock does not know: the oracle would answer it 200
    for path in ("a%2Fb", "%2E%2E/x", "he%61lth", "/health", "x/y/z", "x/%FF", "x/%00", f"{CORE}%2Fanalytics"):
        yield get.named(f"path={path}", path=f"{BASE}/{path}")
    unknown = (
        "/api/v1/unknown",
        "/api/v2/portfolio/",
        "/api/v1/Portfolio/health",
        "/api/v1/portfolio/health?",
        "/api/v1/portfolio/../portfolio/health",
    )
    for path in unknown:
        yield OPERATIONS["health"].named(f"path={path}", path=path)
    yield OPERATIONS["export"].with_headers("accept=text/csv", ("Accept", "text/csv"))
    yield from every_method()


# GET /refresh is GET /{portfolio_id} for the portfolio "refresh": unknown, which the oracle cannot say
ANSWERED_BY_STATE = {("/refresh", "GET")}


def every_method() -> Iterator[Probe]:
    """Each path with each method it does not declare."""
    declared: dict[str, set[str]] = {}
    for operation in OPERATIONS.values():
        declared.setdefault(operation.path, set()).add(operation.method)
    for path, methods in declared.items():
        operation = next(probe for probe in OPERATIONS.values() if probe.path == path)
        for method in METHODS:
            if method not in methods and (path.removeprefix(BASE), method) not in ANSWERED_BY_STATE:
                yield operation.named(f"method={method}", method=method, body=b"")


# deliberate: the oracle holds no state, and these answers come from rules the reference states
NAME_TAKEN = OPERATIONS["create"].named(
    "name-taken", query=f"user_id={SANDBOX_USER}", body=json_bytes({**NEW_PORTFOLIO, "name": "Long-Term Core"})
)
HOLDING_ASSETS = OPERATIONS["delete"].with_query("force", None).named("holding-assets")


def all_probes() -> list[Probe]:
    probes = [
        *OPERATIONS.values(),
        *query_probes(),
        *body_probes(),
        *multipart_probes(),
        *auth_probes(),
        *routing_probes(),
        NAME_TAKEN,
        HOLDING_ASSETS,
    ]
    ids = [probe.id for probe in probes]
    duplicated = {probe_id for probe_id in ids if ids.count(probe_id) > 1}
    assert not duplicated, f"probe ids must be unique: {sorted(duplicated)}"
    return probes


PROBES = all_probes()
