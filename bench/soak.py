"""Soak run: mixed traffic over all five APIs for a bounded time, watching the server's memory and descriptors.

The script starts `python -m mockserver.cli serve --port <free port> --quiet` in its own process group (or targets
`--url`), then keeps `--concurrency` clients busy for `--duration` seconds with a mix of requests:

- valid requests of every API: Mesh portfolios (100 users, four time zones), signed Omniex lists and details,
  Treasure tokens and histories (with an issued or the pre-issued token), bitcain reads and create / get / update /
  list / delete cycles by `--users` users (every portfolio created is deleted again, so the state stays bounded),
  Bitpanda latest, at-date, converted and series queries over POST and a short query over GET;
- a share of invalid requests (`--invalid-share`, 20% by default): missing or wrong credentials, bad parameters,
  malformed JSON, unknown paths, wrong methods, each with the status the API documents;
- injected faults: every `--fault-every` seconds one fault is installed through `POST /__mock/faults` for the next
  `--fault-count` requests of one API, rotating over a 503 status, a latency of 200-400 ms, a 500 status and a dropped
  connection. Answers with the injected status, and connection errors while a drop fault has budget left, count as
  expected fault outcomes; answers delayed by a latency fault are counted as "slow" (in their own class as well).
  aiohttp resends an idempotent request once when a kept-alive connection is closed under it, so the client sees
  fewer dropped requests than the server drops.

Every `--interval` seconds one line is printed: elapsed time, requests so far, requests/s over the interval, outcomes
so far (2xx, expected 4xx, injected faults, slow, unexpected statuses, connection errors, timeouts), the server's
resident memory (VmRSS from /proc/<pid>/status), open descriptors (entries of /proc/<pid>/fd, the median of five
reads 50 ms apart) and CPU use over the interval (1 core = 100%), summed over the server process and its
descendants. The pid is the server's own: the script execs Python directly, no shell or wrapper in between.

Verdict (exit code 1 when it fails):

- memory flat after warm-up: the largest RSS sampled in the second half of the run is at most `--rss-tolerance-mib`
  (5) above the RSS sampled at the end of warm-up (the first sample at or after `--warmup` seconds, by default the
  larger of one interval and 20% of the run);
- descriptors flat: every descriptor count sampled in the second half is within `--fd-tolerance` (5) of the
  warm-up count;
- zero unexpected statuses (and no expected status whose body a scenario could not read), zero connection errors
  other than injected drops, zero timeouts;
- every API answered at least one request with a 2xx.

Only counters are kept, never per-request records, so the soak process's own memory stays flat too.
bench/bench.py supplies three small helpers (a free port, the machine description, stopping a process group); bench/ is not a package, so this
script puts its own folder on sys.path to import them.

Run from the repository root:  python bench/soak.py --duration 40 --interval 10
Exit codes: 0 verdict passed, 1 verdict failed, 2 the server could not be started or died, 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import importlib
import itertools
import json
import os
import random
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from bench import Server  # bench/bench.py, loaded at run time by bench_helpers()

ROOT = Path(__file__).resolve().parent.parent

MESH = "/mesh/api/v1/holdings/portfolio"
OMNIEX = "/omniex/edge/v1beta"
TREASURE_TOKEN = "/treasure/v1/oauth/token"
BITCAIN = "/bitcain/api/v1/portfolio"
BITPANDA = "/bitpanda/graphql"
APIS = ("mesh", "omniex", "treasure", "bitcain", "bitpanda")

# Well-known ids of the bundled sandbox world (docs/apis: Omniex, Treasure, bitcain).
OMNIEX_MASTER = "6b372483-a80f-4c32-8d23-e6b9397ee6d6"
TREASURE_DOCUMENT_BUSINESS = "urn:uuid:9b397b0d-69bc-b09f-9d82-0e02637042fc"
TREASURE_SANDBOX_BUSINESS = "urn:uuid:3f2a9c4e-8d71-4b5a-9e06-7c1d2b3a4f58"
TREASURE_UNFUNDED_BUSINESS = "urn:uuid:e7c0a1d2-0b5f-4c3e-8a9d-6f4b2e1c0d37"
TREASURE_FIRST_DAY = date(2022, 1, 1)
BITCAIN_SANDBOX_USER = "a169451c-8525-4352-b8ca-070dd449a1a5"
BITCAIN_CORE = "5555717d-15c7-408a-aad2-f3155d61ff77"
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"  # no portfolio anywhere has it
# Mesh serializes each (user, offset) answer once into a cache of 4,096 bodies of a few KiB: a small key space
# fills it during the warm-up, so that memory growth after it means something.
MESH_USERS = 100
MESH_OFFSETS = (None, -18000, 3600, 19800)
MESH_MAX_OFFSET = 50_400  # the widest TimezoneOffset Mesh accepts (14 h)
MESH_WELL_KNOWN = ("cex-example", "self-custody-example", "empty-portfolio", "equities-only", "crypto-only", "brokerage-and-crypto")

AMOUNT = "amount { currency timestamp value }"
LATEST_QUERY = (
    "query UserPortfolioQuery { user { portfolio { items { timestamp total { value timestamp currency } "
    f"balances {{ items {{ {AMOUNT} asset {{ name }} }} }} }} }} }} }}"
)
AT_DATE_QUERY = LATEST_QUERY.replace("portfolio {", 'portfolio(endDate: "2021-03-01T12:00:00.000Z") {')
SERIES_QUERY = LATEST_QUERY.replace(
    "portfolio {", 'portfolio(startDate: "2021-02-23T12:00:00.000Z", endDate: "2021-03-02T12:00:00.000Z", timePeriod: WEEKLY) {'
)
DAILY_SERIES_QUERY = LATEST_QUERY.replace("portfolio {", 'portfolio(startDate: "2025-12-01T00:00:00Z", timePeriod: DAILY) {')
CONVERTED_QUERY = LATEST_QUERY.replace("total { value timestamp currency }", 'total { value currency in(currency: "USD") { value } }')
SHORT_QUERY = "{ user { portfolio { items { timestamp total { value currency } } } } }"

FAULT_PLAN: tuple[dict[str, Any], ...] = ({"status": 503}, {"latencyMs": [200, 400]}, {"status": 500}, {"drop": True})
SLOW_SECONDS = 0.2  # the latency fault's minimum: an answer at least this slow may be one it delayed
OTHER = "other"  # counters of requests outside every API (unknown paths): no fault applies to them

Expect = tuple[int, ...]


def bench_helpers() -> ModuleType:
    """bench/bench.py, for `free_port`, `machine` and `Server` (bench/ is not a package: import it from its folder)."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    return importlib.import_module("bench")


# ---------------------------------------------------------------- counters


@dataclass
class Counts:
    """Outcomes of the requests of one API. ok + expected_4xx + fault + unexpected + conn_error + timeout = total."""

    ok: int = 0  # the expected 2xx (or expected 200 for GraphQL field errors)
    expected_4xx: int = 0
    fault: int = 0  # answered with an injected status, or dropped by an injected drop
    slow: int = 0  # delayed by an injected latency (also counted in ok / expected_4xx)
    unexpected: int = 0  # a status the request should not get, not injected
    conn_error: int = 0  # a connection error with no injected drop to account for it
    timeout: int = 0

    @property
    def total(self) -> int:
        """Requests answered or failed."""
        return self.ok + self.expected_4xx + self.fault + self.unexpected + self.conn_error + self.timeout

    def add(self, other: Counts) -> None:
        """Add another API's counters to these."""
        for name in asdict(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Injected:
    """One fault installed through the control API, and how much of it the client has not yet seen."""

    id: int
    api: str
    kind: str  # "status", "latency" or "drop"
    status: int | None
    remaining: int


@dataclass
class FaultBook:
    """Faults installed so far: lets the client tell injected outcomes from real ones."""

    active: dict[int, Injected] = field(default_factory=dict)
    installed: dict[str, int] = field(default_factory=dict)  # "status 503", "latency", "drop" -> how many installed
    unlisted: set[int] = field(default_factory=set)  # active faults the server no longer listed at the last check
    failed_installs: int = 0

    def add(self, fault: Injected) -> None:
        """Remember a fault the server accepted."""
        self.active[fault.id] = fault
        label = f"status {fault.status}" if fault.kind == "status" else fault.kind
        self.installed[label] = self.installed.get(label, 0) + 1

    def claim(self, api: str, kind: str, status: int | None = None) -> bool:
        """True, and one less left, when an installed fault of this kind can account for this outcome."""
        for fault in self.active.values():
            if fault.api == api and fault.kind == kind and fault.remaining > 0 and (status is None or fault.status == status):
                fault.remaining -= 1
                return True
        return False

    def retire(self, still_listed: set[int]) -> None:
        """Forget faults the server has not listed at two checks in a row: used up, and their answers arrived.

        A fault that stays in the book would hide a real error later: a dropped GET that the client retried leaves
        drop budget unused, for instance."""
        gone = {i for i in self.active if i not in still_listed}
        for fault_id in gone & self.unlisted:
            del self.active[fault_id]
        self.unlisted = gone - self.unlisted


@dataclass
class Sample:
    """One interval line."""

    at: float  # the planned time of the sample (0 for the one before traffic)
    elapsed: float
    requests: int
    rps: float
    counts: dict[str, int]
    rss_kib: int | None
    fds: int | None
    processes: int | None
    cpu_s: float | None  # server CPU time so far
    cpu_share: float | None  # server CPU time over the interval / its length (1.0 = one core)


# ---------------------------------------------------------------- the server process


def descendants(root: int) -> list[int]:
    """`root` and every process below it (mockserver may run worker processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_kib(pid: int) -> int:
    """VmRSS of one process, in KiB (0 when it is gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    """Entries of /proc/<pid>/fd (0 when it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


@dataclass(frozen=True)
class Resources:
    """The server's resources at one moment, summed over its process and descendants."""

    rss_kib: int
    fds: int
    processes: int
    cpu_s: float


async def settled_fds(pids: list[int], reads: int = 5, gap_s: float = 0.05) -> int:
    """The median of a few descriptor counts 50 ms apart: one read can land amid reconnections after a drop fault."""
    counts = []
    for n in range(reads):
        if n:
            await asyncio.sleep(gap_s)
        counts.append(sum(map(open_fds, pids)))
    return int(statistics.median_low(counts))


async def resources(pid: int | None) -> Resources | None:
    """RSS, descriptors, process count and CPU time of the server and its descendants; None without a pid."""
    if pid is None:
        return None
    pids = descendants(pid)
    fds = await settled_fds(pids)
    return Resources(sum(map(rss_kib, pids)), fds, len(pids), sum(map(cpu_seconds, pids)))


def command_line(pid: int) -> str:
    """The process's command line, for the start-up line (shows that the pid is the server's)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    return "?"


@contextlib.contextmanager
def target(args: argparse.Namespace) -> Iterator[tuple[str, int | None, Server | None]]:
    """(base URL, pid to watch, process) for the run; a started server is always stopped."""
    if args.url:
        yield args.url.rstrip("/"), args.pid, None
        return
    bench = bench_helpers()
    port = bench.free_port()
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port), "--quiet", *shlex.split(args.server_args)]
    with tempfile.TemporaryDirectory(prefix="soak-specs-") as folder:
        if args.reload_every:  # the server watches a copy of the specs that the reload loop changes
            args.reload_folder = Path(folder) / "specs"
            shutil.copytree(ROOT / "specs", args.reload_folder)
            command += ["--watch", "--specs", str(args.reload_folder)]
        server: Server = bench.Server("the server", command, port, cpus=None)
        try:
            yield server.base, server.process.pid, server
        finally:
            server.stop()


async def reload_loop(folder: Path, every: float, deadline: float) -> None:
    """Append a comment to one watched spec every `every` seconds: each change is a reload with a new
    document (checked afresh, its plans compiled), while the traffic goes on."""
    spec = folder / "mesh.yaml"
    for number in itertools.count(1):
        await asyncio.sleep(every)
        if time.monotonic() >= deadline:
            return
        with spec.open("a", encoding="utf-8") as handle:
            handle.write(f"# soak reload {number}\n")


# ---------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Credentials:
    """What the valid requests send, read from GET /__mock/apis."""

    mesh: dict[str, str]
    omniex_key: str
    omniex_secret: str
    treasure_client: dict[str, str]
    treasure_token: str
    bitcain: dict[str, str]
    bitpanda: dict[str, str]


def credentials(listing: dict[str, Any]) -> Credentials:
    """The first identity of every API; refuses values hidden as `<configured>`."""
    auth = {api["name"]: api["auth"][0] for api in listing["apis"] if api.get("auth")}
    missing = [name for name in APIS if name not in auth]
    if missing:
        raise RuntimeError(f"the server does not mount {', '.join(missing)}")
    found = Credentials(
        mesh=auth["mesh"]["headers"],
        omniex_key=auth["omniex"]["values"]["key"],
        omniex_secret=auth["omniex"]["values"]["secret"],
        treasure_client={k: auth["treasure"]["values"][k] for k in ("client_id", "client_secret")},
        treasure_token=auth["treasure"]["values"]["bearerAuth"],
        bitcain=auth["bitcain"]["headers"],
        bitpanda=auth["bitpanda"]["headers"],
    )
    if "<configured>" in json.dumps(asdict(found)):
        raise RuntimeError("the server hides configured credentials (<configured>): soak with the bundled sandbox credentials")
    return found


# ---------------------------------------------------------------- sending and counting


@dataclass
class Reply:
    """A response with the status the request expected."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class Soak:
    """Shared state of the traffic: the session, counters, fault book and the bitcain portfolios in flight."""

    def __init__(self, session: aiohttp.ClientSession, base: str, creds: Credentials, args: argparse.Namespace) -> None:
        self.session = session
        self.base = base
        self.creds = creds
        self.rng = random.Random(args.seed)
        self.invalid_share = args.invalid_share
        self.counts = {api: Counts() for api in (*APIS, OTHER)}
        self.faults = FaultBook()
        self.unexpected: dict[tuple[str, str], list[Any]] = {}  # (request, status or error) -> [count, first detail]
        self.sent = 0
        self.sent_invalid = 0
        self.users = [f"soak-user-{n}" for n in range(args.users)]
        self.bust = args.bust_caches
        self.fresh_ids = itertools.count(1)
        self.names = itertools.count(1)
        self.pending_deletes: list[tuple[str, str]] = []  # (user, portfolio id) whose delete did not go through
        self.unreadable = 0  # answers with an expected status whose body a scenario could not read
        self.abort = ""  # set when the server died: the clients stop

    def fresh(self, prefix: str) -> str:
        """An id no request used before, long enough that keys weigh something (for --bust-caches)."""
        return f"{prefix}-{next(self.fresh_ids):08d}-{self.rng.getrandbits(192):048x}"

    def total(self) -> Counts:
        """Counters of every API added up."""
        total = Counts()
        for counts in self.counts.values():
            total.add(counts)
        return total

    def note(self, request: str, outcome: str, detail: str) -> None:
        """Count an unexpected outcome under (request, outcome), keeping the first detail; at most 200 keys."""
        key = (request, outcome)
        if key in self.unexpected:
            self.unexpected[key][0] += 1
        elif len(self.unexpected) < 200:
            self.unexpected[key] = [1, detail[:300]]

    async def send(
        self,
        request: str,
        api: str | None,
        method: str,
        path: str,
        expect: Expect,
        *,
        invalid: bool = False,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: Any = None,
        raw: bytes | None = None,
    ) -> Reply | None:
        """Send one request and count its outcome; the reply when it got an expected status, else None."""
        self.sent += 1
        self.sent_invalid += invalid
        headers = dict(headers or {})
        if body is not None:
            raw = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        counts = self.counts[api or OTHER]
        started = time.monotonic()
        try:
            async with self.session.request(method, self.base + path, headers=headers, params=params, data=raw) as response:
                status, content = response.status, await response.read()
        except TimeoutError:
            counts.timeout += 1
            self.note(request, "timeout", f"{method} {path}")
            return None
        except (aiohttp.ClientError, OSError) as exc:
            self.count_error(counts, api, request, exc)
            return None
        if api and time.monotonic() - started >= SLOW_SECONDS and self.faults.claim(api, "latency"):
            counts.slow += 1
        return self.count_status(counts, api, request, status, content, expect)

    def count_error(self, counts: Counts, api: str | None, request: str, exc: BaseException) -> None:
        """A connection error: an injected drop when one has budget left, else a real one."""
        if api and self.faults.claim(api, "drop"):
            counts.fault += 1
        else:
            counts.conn_error += 1
            self.note(request, type(exc).__name__, str(exc))

    def count_status(self, counts: Counts, api: str | None, request: str, status: int, content: bytes, expect: Expect) -> Reply | None:
        """Sort an answer into expected, injected or unexpected."""
        if status in expect:
            if status < 300:
                counts.ok += 1
            else:
                counts.expected_4xx += 1
            return Reply(status, content)
        if api and self.faults.claim(api, "status", status):
            counts.fault += 1
        else:
            counts.unexpected += 1
            self.note(request, str(status), content.decode(errors="replace"))
        return None

    def omniex_headers(
        self, method: str, path: str, *, secret: str | None = None, key: str | None = None, skew_s: int = 0
    ) -> dict[str, str]:
        """Omniex signature headers: HMAC-SHA384 of METHOD + PATH + BODY + TIMESTAMP (the body is empty here)."""
        timestamp = str(int((time.time() + skew_s) * 1000))
        message = f"{method}{path}{timestamp}".encode()
        signature = hmac.new((secret or self.creds.omniex_secret).encode(), message, hashlib.sha384).hexdigest()
        return {"ONX-API-KEY": key or self.creds.omniex_key, "ONX-API-TIMESTAMP": timestamp, "ONX-API-SIGNATURE": signature}


# ---------------------------------------------------------------- valid traffic

Scenario = Callable[[Soak], Awaitable[None]]


async def mesh_portfolio(soak: Soak) -> None:
    """A portfolio of one of MESH_USERS users (or a well-known one), in one of four time zones."""
    user = soak.rng.choice(MESH_WELL_KNOWN) if soak.rng.random() < 0.1 else f"soak-{soak.rng.randrange(MESH_USERS)}"
    offset = soak.rng.choice(MESH_OFFSETS)
    if soak.bust:  # a user and a time zone never asked for before
        user, offset = soak.fresh("soak-bust"), soak.rng.randrange(-MESH_MAX_OFFSET, MESH_MAX_OFFSET + 1, 60)
    params = {"UserId": user}
    if offset is not None:
        params["TimezoneOffset"] = str(offset)
    await soak.send("mesh portfolio", "mesh", "GET", MESH, (200,), headers=soak.creds.mesh, params=params)


async def omniex_list(soak: Soak) -> None:
    """The key's portfolios, signed, with or without integrations."""
    path = f"{OMNIEX}/portfolios"
    params = {"include": "integrations"} if soak.rng.random() < 0.5 else {}
    if soak.bust:  # an id filter never sent before: it selects nothing, and still answers 200
        params["id"] = str(uuid.UUID(int=soak.rng.getrandbits(128), version=4))
    await soak.send("omniex list", "omniex", "GET", path, (200,), headers=soak.omniex_headers("GET", path), params=params)


async def omniex_detail(soak: Soak) -> None:
    """The document's example portfolio, signed (half the time over the path without the /omniex prefix)."""
    path = f"{OMNIEX}/portfolios/{OMNIEX_MASTER}"
    signed_path = path.removeprefix("/omniex") if soak.rng.random() < 0.5 else path
    headers = soak.omniex_headers("GET", signed_path)
    await soak.send("omniex detail", "omniex", "GET", path, (200,), headers=headers, params={"include": "integrations"})


def treasure_history_path(business: str) -> str:
    """The portfolio history path of one business."""
    return f"/treasure/v1/businesses/{business}/portfolio_history"


def treasure_range(rng: random.Random, bust: bool = False) -> dict[str, str]:
    """One of a few date ranges; with `bust`, one of about 500,000."""
    if bust:
        first = TREASURE_FIRST_DAY + timedelta(days=rng.randrange(1300))
        return {"start_date": first.isoformat(), "end_date": (first + timedelta(days=rng.randrange(1, 400))).isoformat()}
    start, end = rng.choice((("2022-01-01", "2023-02-01"), ("2023-06-01", "2025-12-31"), ("2022-03-15", "2022-03-20")))
    return {"start_date": start, "end_date": end}


async def treasure_token_flow(soak: Soak) -> None:
    """A token from the client credentials, then a history with it."""
    reply = await soak.send("treasure token", "treasure", "POST", TREASURE_TOKEN, (200,), body=soak.creds.treasure_client)
    if reply is None:
        return
    headers = {"Authorization": f"Bearer {reply.json()['access_token']}", "Accept": "application/json"}
    path = treasure_history_path(TREASURE_DOCUMENT_BUSINESS)
    await soak.send(
        "treasure history (issued token)", "treasure", "GET", path, (200,), headers=headers, params=treasure_range(soak.rng, soak.bust)
    )


async def treasure_history(soak: Soak) -> None:
    """A history with the pre-issued token."""
    business = soak.rng.choice((TREASURE_DOCUMENT_BUSINESS, TREASURE_SANDBOX_BUSINESS))
    headers = {"Authorization": f"Bearer {soak.creds.treasure_token}"}
    await soak.send(
        "treasure history",
        "treasure",
        "GET",
        treasure_history_path(business),
        (200,),
        headers=headers,
        params=treasure_range(soak.rng, soak.bust),
    )


BITCAIN_READS: tuple[tuple[str, dict[str, str] | None, bool], ...] = (
    ("/health", None, False),
    ("/", {"user_id": BITCAIN_SANDBOX_USER, "active_only": "false"}, False),
    (f"/{BITCAIN_CORE}", {"user_id": BITCAIN_SANDBOX_USER}, False),
    (f"/{BITCAIN_CORE}/analytics", {"user_id": BITCAIN_SANDBOX_USER}, False),
    ("/balances", {"exchange": "coinbase"}, True),
    ("/aggregate", None, True),
    ("/cost-basis", None, True),
    ("/cost-basis/lots", None, True),
    ("/value-history", None, True),
    ("/history", {"timeframe": "1M"}, True),
    ("/history/performance", {"timeframe": "3M"}, True),
)


async def bitcain_read(soak: Soak) -> None:
    """One of the read-only operations (health, list, get, analytics, and the token user's ledger views)."""
    path, params, auth = soak.rng.choice(BITCAIN_READS)
    headers = soak.creds.bitcain if auth else None
    name = "bitcain " + (path.replace(BITCAIN_CORE, "{id}").strip("/") or "list")
    await soak.send(name, "bitcain", "GET", BITCAIN + path, (200,), headers=headers, params=params)


async def bitcain_delete(soak: Soak, user: str, portfolio: str, expect: Expect = (204,)) -> None:
    """Delete a portfolio (force: it holds assets); remember it when the delete did not go through."""
    params = {"user_id": user, "force": "true"}
    if (
        await soak.send("bitcain delete", "bitcain", "DELETE", f"{BITCAIN}/{portfolio}", expect, headers=soak.creds.bitcain, params=params)
        is None
    ):
        soak.pending_deletes.append((user, portfolio))


async def bitcain_cycle(soak: Soak) -> None:
    """Create, get, update, list and delete one portfolio of a soak user (first retrying one failed delete)."""
    if soak.pending_deletes:
        await bitcain_delete(soak, *soak.pending_deletes.pop(0), expect=(204, 404))
    user = soak.rng.choice(soak.users)
    auth = soak.creds.bitcain
    if soak.bust:  # a user never seen before, read: every cache of bitcain's answers is busted
        params = {"user_id": soak.fresh("soak-bust-user")}
        await soak.send("bitcain list", "bitcain", "GET", f"{BITCAIN}/", (200,), params=params)
    body = {"name": f"soak {next(soak.names)}", "target_allocations": {"BTC": 0.5, "ETH": 0.3, "SOL": 0.2}, "initial_value_usd": "10000"}
    created = await soak.send("bitcain create", "bitcain", "POST", f"{BITCAIN}/", (201,), headers=auth, params={"user_id": user}, body=body)
    if created is None:
        return
    portfolio = created.json()["portfolio_id"]
    path, owner = f"{BITCAIN}/{portfolio}", {"user_id": user}
    await soak.send("bitcain get", "bitcain", "GET", path, (200,), params=owner)
    update = {"description": "soak", "target_allocations": {"BTC": 0.4, "ETH": 0.4, "USDC": 0.2}, "risk_tolerance": "aggressive"}
    await soak.send("bitcain update", "bitcain", "PUT", path, (200,), headers=auth, params=owner, body=update)
    await soak.send("bitcain list", "bitcain", "GET", f"{BITCAIN}/", (200,), params=owner)
    await bitcain_delete(soak, user, portfolio)


BITPANDA_QUERIES = (
    ("latest", LATEST_QUERY),
    ("at date", AT_DATE_QUERY),
    ("series", SERIES_QUERY),
    ("daily series", DAILY_SERIES_QUERY),
    ("converted", CONVERTED_QUERY),
)


async def bitpanda_query(soak: Soak) -> None:
    """One of the document's queries over POST, or a short one over GET."""
    if soak.rng.random() < 0.15:
        await soak.send(
            "bitpanda GET query", "bitpanda", "GET", BITPANDA, (200,), headers=soak.creds.bitpanda, params={"query": SHORT_QUERY}
        )
        return
    name, query = soak.rng.choice(BITPANDA_QUERIES)
    body: dict[str, Any] = {"query": query}
    if soak.bust:  # a document never seen before (an alias of its own), with unused variables of a few KiB
        body = {
            "query": query.replace("user {", f"u{next(soak.fresh_ids)}: user {{", 1),
            "variables": {"pad": "x" * soak.rng.randrange(4096)},
        }
    await soak.send(f"bitpanda {name}", "bitpanda", "POST", BITPANDA, (200,), headers=soak.creds.bitpanda, body=body)


VALID: dict[str, tuple[Scenario, ...]] = {
    "mesh": (mesh_portfolio,),
    "omniex": (omniex_list, omniex_detail),
    "treasure": (treasure_token_flow, treasure_history),
    "bitcain": (bitcain_read, bitcain_cycle),
    "bitpanda": (bitpanda_query,),
}


# ---------------------------------------------------------------- invalid traffic


@dataclass(frozen=True)
class Bad:
    """One invalid request and the status its API documents for it."""

    name: str
    api: str | None  # None: outside every API (no fault applies)
    method: str
    path: str
    expect: int
    headers: Callable[[Soak], dict[str, str]] | None = None
    params: dict[str, str] | None = None
    body: Any = None
    raw: bytes | None = None
    content_type: str | None = None


def signed(path: str, **options: Any) -> Callable[[Soak], dict[str, str]]:
    """Omniex headers signed when the request is sent (options: secret, key, skew_s)."""
    return lambda soak: soak.omniex_headers("GET", path, **options)


def mesh_auth(soak: Soak) -> dict[str, str]:
    """Mesh's credentials."""
    return soak.creds.mesh


def treasure_auth(soak: Soak) -> dict[str, str]:
    """Treasure's pre-issued token."""
    return {"Authorization": f"Bearer {soak.creds.treasure_token}"}


def bitcain_auth(soak: Soak) -> dict[str, str]:
    """bitcain's token."""
    return soak.creds.bitcain


def bitpanda_auth(soak: Soak) -> dict[str, str]:
    """Bitpanda's API key."""
    return soak.creds.bitpanda


def constant(headers: dict[str, str]) -> Callable[[Soak], dict[str, str]]:
    """Fixed headers."""
    return lambda _: headers


OMNIEX_LIST = f"{OMNIEX}/portfolios"
DOC_HISTORY = treasure_history_path(TREASURE_DOCUMENT_BUSINESS)
DOC_RANGE = {"start_date": "2022-01-01", "end_date": "2023-02-01"}
ALLOCATION = {"BTC": 0.5, "ETH": 0.5}

INVALID: dict[str, tuple[Bad, ...]] = {
    "mesh": (
        Bad("mesh unknown path", "mesh", "GET", "/mesh/api/v2/nope", 404, mesh_auth),
        Bad("mesh no credentials", "mesh", "GET", MESH, 401, params={"UserId": "alice"}),
        Bad(
            "mesh wrong secret",
            "mesh",
            "GET",
            MESH,
            401,
            constant({"X-Client-Id": "mock-client-id", "X-Client-Secret": "wrong"}),
            {"UserId": "alice"},
        ),
        Bad("mesh missing UserId", "mesh", "GET", MESH, 400, mesh_auth),
        Bad("mesh TimezoneOffset out of range", "mesh", "GET", MESH, 400, mesh_auth, {"UserId": "alice", "TimezoneOffset": "99999"}),
        Bad("mesh TimezoneOffset not a number", "mesh", "GET", MESH, 400, mesh_auth, {"UserId": "alice", "TimezoneOffset": "soon"}),
        Bad("mesh POST", "mesh", "POST", MESH, 405, mesh_auth, {"UserId": "alice"}),
    ),
    "omniex": (
        Bad("omniex unknown path", "omniex", "GET", f"{OMNIEX}/accounts", 404, signed(f"{OMNIEX}/accounts")),
        Bad("omniex wrong secret", "omniex", "GET", OMNIEX_LIST, 401, signed(OMNIEX_LIST, secret="wrong")),
        Bad("omniex unknown key", "omniex", "GET", OMNIEX_LIST, 401, signed(OMNIEX_LIST, key="no-such-key")),
        Bad("omniex stale timestamp", "omniex", "GET", OMNIEX_LIST, 400, signed(OMNIEX_LIST, skew_s=-120)),
        Bad("omniex no signature", "omniex", "GET", OMNIEX_LIST, 401, constant({"ONX-API-KEY": "mock-onx-key"})),
        Bad("omniex bad include", "omniex", "GET", OMNIEX_LIST, 400, signed(OMNIEX_LIST), {"include": "everything"}),
        Bad("omniex unsupported parameter", "omniex", "GET", OMNIEX_LIST, 400, signed(OMNIEX_LIST), {"page": "2"}),
        Bad("omniex id not a UUID", "omniex", "GET", f"{OMNIEX_LIST}/nope", 400, signed(f"{OMNIEX_LIST}/nope")),
        Bad(
            "omniex unknown id",
            "omniex",
            "GET",
            f"{OMNIEX_LIST}/{UNKNOWN_UUID}",
            404,
            signed(f"{OMNIEX_LIST}/{UNKNOWN_UUID}"),
        ),
        Bad("omniex DELETE", "omniex", "DELETE", OMNIEX_LIST, 405, signed(OMNIEX_LIST)),
    ),
    "treasure": (
        Bad("treasure unknown path", "treasure", "GET", "/treasure/v2/businesses", 404, treasure_auth),
        Bad("treasure no token", "treasure", "GET", DOC_HISTORY, 401, params=DOC_RANGE),
        Bad("treasure unknown token", "treasure", "GET", DOC_HISTORY, 401, constant({"Authorization": "Bearer nope"}), DOC_RANGE),
        Bad(
            "treasure wrong client secret",
            "treasure",
            "POST",
            TREASURE_TOKEN,
            401,
            body={"client_id": "mock-treasure-client", "client_secret": "x"},
        ),
        Bad(
            "treasure malformed JSON",
            "treasure",
            "POST",
            TREASURE_TOKEN,
            400,
            raw=b'{"client_id": "mock-treasure-client",',
            content_type="application/json",
        ),
        Bad(
            "treasure form body",
            "treasure",
            "POST",
            TREASURE_TOKEN,
            415,
            raw=b"client_id=a&client_secret=b",
            content_type="application/x-www-form-urlencoded",
        ),
        Bad("treasure bare UUID", "treasure", "GET", treasure_history_path(TREASURE_DOCUMENT_BUSINESS[9:]), 400, treasure_auth, DOC_RANGE),
        Bad(
            "treasure start after end",
            "treasure",
            "GET",
            DOC_HISTORY,
            400,
            treasure_auth,
            {"start_date": "2023-01-01", "end_date": "2022-01-01"},
        ),
        Bad(
            "treasure bad date", "treasure", "GET", DOC_HISTORY, 400, treasure_auth, {"start_date": "2022-13-01", "end_date": "2023-01-01"}
        ),
        Bad(
            "treasure unfunded business",
            "treasure",
            "GET",
            treasure_history_path(TREASURE_UNFUNDED_BUSINESS),
            404,
            treasure_auth,
            DOC_RANGE,
        ),
        Bad(
            "treasure Accept text/csv", "treasure", "GET", DOC_HISTORY, 406, lambda s: {**treasure_auth(s), "Accept": "text/csv"}, DOC_RANGE
        ),
    ),
    "bitcain": (
        Bad("bitcain unknown path", "bitcain", "GET", "/bitcain/api/v2/portfolio/", 404),
        Bad(
            "bitcain create without token",
            "bitcain",
            "POST",
            f"{BITCAIN}/",
            401,
            params={"user_id": "soak-user-0"},
            body={"name": "x", "target_allocations": ALLOCATION},
        ),
        Bad(
            "bitcain create malformed JSON",
            "bitcain",
            "POST",
            f"{BITCAIN}/",
            422,
            bitcain_auth,
            {"user_id": "soak-user-0"},
            raw=b'{"name": ',
            content_type="application/json",
        ),
        Bad(
            "bitcain create bad allocations",
            "bitcain",
            "POST",
            f"{BITCAIN}/",
            422,
            bitcain_auth,
            {"user_id": "soak-user-0"},
            body={"name": "x", "target_allocations": {"BTC": 0.7}},
        ),
        Bad(
            "bitcain unknown portfolio",
            "bitcain",
            "GET",
            f"{BITCAIN}/{UNKNOWN_UUID}",
            404,
            params={"user_id": "soak-user-0"},
        ),
        Bad("bitcain list limit 0", "bitcain", "GET", f"{BITCAIN}/", 422, params={"user_id": "soak-user-0", "limit": "0"}),
        Bad("bitcain balances bad token", "bitcain", "GET", f"{BITCAIN}/balances", 401, constant({"Authorization": "Bearer wrong"})),
        Bad("bitcain unknown exchange", "bitcain", "GET", f"{BITCAIN}/balances", 400, bitcain_auth, {"exchange": "mtgox"}),
        Bad("bitcain analytics without user", "bitcain", "GET", f"{BITCAIN}/{BITCAIN_CORE}/analytics", 422),
    ),
    "bitpanda": (
        Bad("bitpanda unknown path", "bitpanda", "POST", "/bitpanda/graphiql", 404, bitpanda_auth, body={"query": SHORT_QUERY}),
        Bad("bitpanda no key", "bitpanda", "POST", BITPANDA, 401, body={"query": SHORT_QUERY}),
        Bad("bitpanda wrong key", "bitpanda", "POST", BITPANDA, 401, constant({"x-api-key": "wrong"}), body={"query": SHORT_QUERY}),
        Bad(
            "bitpanda malformed JSON", "bitpanda", "POST", BITPANDA, 400, bitpanda_auth, raw=b'{"query": ', content_type="application/json"
        ),
        Bad("bitpanda syntax error", "bitpanda", "POST", BITPANDA, 400, bitpanda_auth, body={"query": "{ user { portfolio { items "}),
        Bad("bitpanda unknown field", "bitpanda", "POST", BITPANDA, 400, bitpanda_auth, body={"query": "{ user { wallet } }"}),
        Bad(
            "bitpanda bad timePeriod",
            "bitpanda",
            "POST",
            BITPANDA,
            400,
            bitpanda_auth,
            body={"query": SHORT_QUERY.replace("portfolio", 'portfolio(startDate: "2021-03-01", timePeriod: YEARLY)')},
        ),
        Bad(
            "bitpanda argument error",
            "bitpanda",
            "POST",
            BITPANDA,
            200,
            bitpanda_auth,
            body={"query": SHORT_QUERY.replace("portfolio", 'portfolio(endDate: "yesterday")')},
        ),
        Bad("bitpanda PUT", "bitpanda", "PUT", BITPANDA, 405, bitpanda_auth, body={"query": SHORT_QUERY}),
    ),
    OTHER: (
        Bad("unknown path", None, "GET", "/nope", 404),
        Bad("unknown path /favicon.ico", None, "GET", "/favicon.ico", 404),
    ),
}


async def send_bad(soak: Soak, bad: Bad) -> None:
    """Send one invalid request."""
    headers = bad.headers(soak) if bad.headers else {}
    if bad.content_type:
        headers = {**headers, "Content-Type": bad.content_type}
    await soak.send(
        bad.name, bad.api, bad.method, bad.path, (bad.expect,), invalid=True, headers=headers, params=bad.params, body=bad.body, raw=bad.raw
    )


async def one_round(soak: Soak) -> None:
    """One scenario: invalid while the invalid share of requests sent is below `--invalid-share`, else valid."""
    if soak.sent_invalid < soak.invalid_share * (soak.sent + 1):
        await send_bad(soak, soak.rng.choice(INVALID[soak.rng.choice(tuple(INVALID))]))
    else:
        await soak.rng.choice(VALID[soak.rng.choice(APIS)])(soak)


async def client_loop(soak: Soak, deadline: float) -> None:
    """Run scenarios back to back until the deadline (the scenario in progress is finished)."""
    while time.monotonic() < deadline and not soak.abort:
        try:
            await one_round(soak)
        except (ValueError, KeyError, TypeError) as exc:  # an expected status with a body the scenario cannot read
            soak.unreadable += 1
            soak.note("reading an answer", type(exc).__name__, str(exc))


# ---------------------------------------------------------------- faults


async def control(session: aiohttp.ClientSession, base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One control API call: (status, JSON body)."""
    headers = {"Content-Type": "application/json"}  # control writes are JSON only, even without a body
    async with session.request(method, f"{base}/__mock{path}", json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def install_fault(soak: Soak, control_session: aiohttp.ClientSession, number: int, count: int) -> None:
    """Install the `number`-th fault of the rotation (APIs and fault kinds both rotate)."""
    status, listing = await control(control_session, soak.base, "GET", "/faults")
    if status == 200:
        soak.faults.retire({fault["id"] for fault in listing["faults"]})
    api, effect = APIS[number % len(APIS)], FAULT_PLAN[number % len(FAULT_PLAN)]
    status, created = await control(control_session, soak.base, "POST", "/faults", {"api": api, "count": count, **effect})
    if status != 201:
        soak.faults.failed_installs += 1
        return
    kind = "status" if "status" in effect else "latency" if "latencyMs" in effect else "drop"
    soak.faults.add(Injected(created["id"], api, kind, effect.get("status"), count))


async def fault_loop(soak: Soak, control_session: aiohttp.ClientSession, every: float, count: int, deadline: float) -> None:
    """Install one fault every `every` seconds until the deadline."""
    for number in itertools.count():
        next_at = time.monotonic() + every
        if next_at >= deadline:
            return
        await asyncio.sleep(next_at - time.monotonic())
        try:
            await install_fault(soak, control_session, number, count)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            soak.faults.failed_installs += 1


# ---------------------------------------------------------------- sampling and reporting

COLUMNS = ("ok", "expected_4xx", "fault", "slow", "unexpected", "conn_error", "timeout")
HEADER_WIDTHS = (("elapsed", 8), ("requests", 10), ("req/s", 7), ("2xx", 9), ("4xx exp", 8), ("fault", 6), ("slow", 5))
HEADER_WIDTHS += (("unexp", 6), ("conn", 5), ("t/o", 4), ("RSS MiB", 8), ("fds", 5), ("srv CPU", 8))
HEADER = " ".join(f"{title:>{width}}" for title, width in HEADER_WIDTHS)


async def take_sample(soak: Soak, pid: int | None, at: float, elapsed: float, previous: Sample | None) -> Sample:
    """Counters and server resources now (the sample planned at `at`); requests/s since the previous sample."""
    total = soak.total()
    counts = {name: getattr(total, name) for name in COLUMNS}
    span = elapsed - previous.elapsed if previous else elapsed
    done = total.total - (previous.requests if previous else 0)
    found = await resources(pid)
    if found is None:
        return Sample(at, round(elapsed, 3), total.total, done / span if span > 0 else 0.0, counts, None, None, None, None, None)
    busy = found.cpu_s - (previous.cpu_s or 0.0) if previous else 0.0
    share = busy / span if previous and span > 0 else None
    return Sample(
        at,
        round(elapsed, 3),
        total.total,
        done / span if span > 0 else 0.0,
        counts,
        found.rss_kib,
        found.fds,
        found.processes,
        found.cpu_s,
        share,
    )


def sample_line(sample: Sample) -> str:
    """One interval line."""
    c = sample.counts
    rss = f"{sample.rss_kib / 1024:8.1f}" if sample.rss_kib is not None else f"{'-':>8}"
    fds = f"{sample.fds:5d}" if sample.fds is not None else f"{'-':>5}"
    cpu = f"{sample.cpu_share:8.0%}" if sample.cpu_share is not None else f"{'-':>8}"
    cells = (
        f"{c['ok']:9d} {c['expected_4xx']:8d} {c['fault']:6d} {c['slow']:5d} {c['unexpected']:6d} {c['conn_error']:5d} {c['timeout']:4d}"
    )
    return f"{sample.at:7.0f}s {sample.requests:10d} {sample.rps:7.0f} {cells} {rss} {fds} {cpu}"


def schedule(duration: float, interval: float) -> list[float]:
    """Sample times: every interval, and the end of the run."""
    times = [interval * k for k in range(1, int(duration / interval) + 1) if interval * k < duration - 1e-6]
    return [*times, duration]


def warmup_time(times: list[float], warmup: float) -> float:
    """The sample closing the warm-up: the first at or after `warmup` seconds."""
    return next((t for t in times if t >= warmup - 1e-6), times[-1])


def judged_times(times: list[float], duration: float, warmup: float) -> list[float]:
    """The samples whose memory and descriptors are judged: second half of the run, after the warm-up sample."""
    base = warmup_time(times, warmup)
    return [t for t in times if t >= duration / 2 - 1e-6 and t > base]


async def sampler(soak: Soak, pid: int | None, server: Server | None, times: list[float], start: float, samples: list[Sample]) -> None:
    """Print a line at every interval of `times` (the last one is taken by the caller after traffic stops)."""
    for at in times[:-1]:
        await asyncio.sleep(max(0.0, start + at - time.monotonic()))
        if server is not None and server.process.poll() is not None:
            soak.abort = f"the server exited with {server.process.returncode} during the run:\n{server.output()}"
            return
        samples.append(await take_sample(soak, pid, at, time.monotonic() - start, samples[-1]))
        print(sample_line(samples[-1]), flush=True)


# ---------------------------------------------------------------- the verdict


@dataclass
class Verdict:
    """Every check with its outcome."""

    checks: list[tuple[str, bool]]

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(ok for _, ok in self.checks)


def flatness_checks(samples: list[Sample], args: argparse.Namespace) -> list[tuple[str, bool]]:
    """RSS and descriptors in the second half against the end of warm-up."""
    planned = schedule(args.duration, args.interval)
    base_at, judged_at = warmup_time(planned, args.warmup), judged_times(planned, args.duration, args.warmup)
    base = next(s for s in samples if s.at == base_at)
    judged = [s for s in samples if s.at in judged_at]
    if base.rss_kib is None or base.fds is None:
        return [("memory and descriptors not judged: no server pid (give --pid with --url)", True)]
    if not judged:
        return [("memory and descriptors not judged: no sample after the warm-up in the second half", False)]
    top_rss = max(s.rss_kib or 0 for s in judged)
    growth = (top_rss - base.rss_kib) / 1024
    fd_values = [s.fds or 0 for s in judged]
    worst_fd = max(fd_values, key=lambda v: abs(v - (base.fds or 0)))
    return [
        (
            f"memory flat: max RSS after {args.duration / 2:.0f}s {top_rss / 1024:.1f} MiB vs {base.rss_kib / 1024:.1f} MiB at "
            f"{base.elapsed:.0f}s (end of warm-up): {growth:+.1f} MiB (limit +{args.rss_tolerance_mib:g})",
            growth <= args.rss_tolerance_mib,
        ),
        (
            f"descriptors flat: {min(fd_values)}..{max(fd_values)} after {args.duration / 2:.0f}s vs {base.fds} at end of warm-up "
            f"(limit ±{args.fd_tolerance})",
            abs(worst_fd - base.fds) <= args.fd_tolerance,
        ),
    ]


def verdict(soak: Soak, samples: list[Sample], args: argparse.Namespace) -> Verdict:
    """The soak's verdict: flat memory and descriptors, no unexpected answers or errors, every API served."""
    total = soak.total()
    silent = [api for api in APIS if soak.counts[api].ok == 0]
    checks = [
        *flatness_checks(samples, args),
        (f"unexpected statuses: {total.unexpected}", total.unexpected == 0),
        (f"expected statuses with unreadable bodies: {soak.unreadable}", soak.unreadable == 0),
        (f"connection errors other than injected drops: {total.conn_error}", total.conn_error == 0),
        (f"timeouts: {total.timeout}", total.timeout == 0),
        (f"every API answered 2xx{': not ' + ', '.join(silent) if silent else ''}", not silent),
    ]
    return Verdict(checks)


def per_api_table(soak: Soak) -> list[str]:
    """Outcomes per API."""
    lines = [f"  {'api':9} {'requests':>9} {'2xx':>8} {'4xx exp':>8} {'fault':>6} {'slow':>5} {'unexp':>6} {'conn':>5} {'t/o':>4}"]
    for api, c in soak.counts.items():
        outcomes = f"{c.fault:6d} {c.slow:5d} {c.unexpected:6d} {c.conn_error:5d} {c.timeout:4d}"
        lines.append(f"  {api:9} {c.total:9d} {c.ok:8d} {c.expected_4xx:8d} {outcomes}")
    return lines


def resource_summary(samples: list[Sample]) -> list[str]:
    """RSS and descriptors at start, end and their maximum."""
    if samples[0].rss_kib is None:
        return ["  server memory and descriptors: not sampled (no pid)"]
    rss = [s.rss_kib or 0 for s in samples]
    fds = [s.fds or 0 for s in samples]
    return [
        f"  server RSS: start {rss[0] / 1024:.1f} MiB, end {rss[-1] / 1024:.1f} MiB, max {max(rss) / 1024:.1f} MiB",
        f"  server fds: start {fds[0]}, end {fds[-1]}, max {max(fds)} ({samples[-1].processes} process(es))",
    ]


def summary(soak: Soak, samples: list[Sample], args: argparse.Namespace, result: Verdict, leftovers: int | None) -> list[str]:
    """The closing lines: totals, per API, faults, resources, unexpected outcomes and the verdict."""
    total = soak.total()
    lines = [
        "",
        f"summary: {total.total} requests in {samples[-1].elapsed:.0f}s ({total.total / max(samples[-1].elapsed, 1e-9):.0f} req/s), "
        f"{soak.sent_invalid} invalid ({soak.sent_invalid / max(soak.sent, 1):.1%} of those sent)",
        *per_api_table(soak),
        f"  faults installed: {', '.join(f'{k} x{v}' for k, v in sorted(soak.faults.installed.items())) or 'none'}"
        f"{f' ({soak.faults.failed_installs} failed to install)' if soak.faults.failed_installs else ''}",
        *resource_summary(samples),
        f"  soak process RSS at the end: {rss_kib(os.getpid()) / 1024:.1f} MiB",
    ]
    if leftovers is not None:
        lines.append(f"  bitcain portfolios left by the soak users after clean-up: {leftovers}")
    for (request, outcome), (count, detail) in sorted(soak.unexpected.items(), key=lambda item: -item[1][0]):
        lines.append(f"  UNEXPECTED {request}: {outcome} x{count}: {detail}")
    lines.append("")
    lines += [f"  {'ok  ' if ok else 'FAIL'} {text}" for text, ok in result.checks]
    lines.append(f"verdict: {'PASS' if result.passed else 'FAIL'}")
    return lines


# ---------------------------------------------------------------- the run


async def wait_ready(session: aiohttp.ClientSession, base: str, server: Server | None, timeout: float = 60.0) -> None:
    """Poll /__mock/health until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None:
            server.check_alive()
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with session.get(f"{base}/__mock/health") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{base} did not answer /__mock/health within {timeout:.0f}s")


async def clean_up(soak: Soak, control_session: aiohttp.ClientSession) -> int | None:
    """Remove leftover faults, retry failed deletes; return how many portfolios the soak users still have."""
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        await control(control_session, soak.base, "DELETE", "/faults")
    soak.faults.active.clear()
    while soak.pending_deletes:
        user, portfolio = soak.pending_deletes.pop()
        params = {"user_id": user, "force": "true"}
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with control_session.delete(f"{soak.base}{BITCAIN}/{portfolio}", params=params, headers=soak.creds.bitcain):
                pass
    left = 0
    for user in soak.users:
        try:
            async with control_session.get(f"{soak.base}{BITCAIN}/", params={"user_id": user, "active_only": "false"}) as response:
                left += int(response.headers.get("X-Total-Count", "0"))
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return None
    return left


async def soak_run(args: argparse.Namespace, base: str, pid: int | None, server: Server | None) -> tuple[Soak, list[Sample], int | None]:
    """Drive the traffic, the faults and the sampling; return the counters, samples and bitcain leftovers."""
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # unwinds like Ctrl-C does
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with (
        aiohttp.ClientSession(timeout=timeout, connector=connector) as session,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as control_session,
    ):
        await wait_ready(control_session, base, server)
        status, listing = await control(control_session, base, "GET", "/apis")
        if status != 200:
            raise RuntimeError(f"GET /__mock/apis answered {status}")
        soak = Soak(session, base, credentials(listing), args)
        times = schedule(args.duration, args.interval)
        samples = [await take_sample(soak, pid, 0.0, 0.0, None)]
        print(HEADER)
        print(sample_line(samples[0]), flush=True)
        start = time.monotonic()
        deadline = start + args.duration
        background = [
            asyncio.create_task(sampler(soak, pid, server, times, start, samples)),
            asyncio.create_task(fault_loop(soak, control_session, args.fault_every, args.fault_count, deadline)),
        ]
        if args.reload_every:
            background.append(asyncio.create_task(reload_loop(args.reload_folder, args.reload_every, deadline)))
        try:
            await asyncio.gather(*(client_loop(soak, deadline) for _ in range(args.concurrency)))
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
        if soak.abort:
            raise RuntimeError(soak.abort)
        samples.append(await take_sample(soak, pid, times[-1], time.monotonic() - start, samples[-1]))
        print(sample_line(samples[-1]), flush=True)
        leftovers = await clean_up(soak, control_session)
    return soak, samples, leftovers


def write_json(
    path: Path, info: dict[str, Any], soak: Soak, samples: list[Sample], args: argparse.Namespace, result: Verdict, leftovers: int | None
) -> None:
    """The samples, per-API counters, faults and verdict as JSON."""
    payload = {
        "machine": info,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "samples": [asdict(s) for s in samples],
        "per_api": {api: {**asdict(c), "total": c.total} for api, c in soak.counts.items()},
        "faults_installed": soak.faults.installed,
        "unexpected": [{"request": r, "outcome": o, "count": c, "detail": d} for (r, o), (c, d) in soak.unexpected.items()],
        "bitcain_leftovers": leftovers,
        "checks": [{"check": text, "ok": ok} for text, ok in result.checks],
        "passed": result.passed,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300, help="seconds of traffic (default 300)")
    parser.add_argument("--interval", type=float, default=30, help="seconds between progress lines (default 30)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight, one connection each (default 32)")
    parser.add_argument("--invalid-share", type=float, default=0.2, help="share of requests that are invalid (default 0.2)")
    parser.add_argument("--fault-every", type=float, default=20, help="seconds between injected faults (default 20)")
    parser.add_argument("--fault-count", type=int, default=25, help="requests each injected fault applies to (default 25)")
    parser.add_argument(
        "--warmup",
        type=float,
        help="seconds before memory and descriptors are taken as the reference (default: 20%% of the run, at least one interval)",
    )
    parser.add_argument("--rss-tolerance-mib", type=float, default=5.0, help="RSS growth allowed after warm-up, MiB (default 5)")
    parser.add_argument("--fd-tolerance", type=int, default=5, help="descriptor change allowed after warm-up (default 5)")
    parser.add_argument("--request-timeout", type=float, default=10.0, help="seconds before a request counts as a timeout (default 10)")
    parser.add_argument("--users", type=int, default=16, help="bitcain users whose portfolios are created and deleted (default 16)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the traffic mix (default 1)")
    parser.add_argument(
        "--bust-caches",
        action="store_true",
        help=(
            "distinct users, ids, date ranges and GraphQL documents on every request, so every cache fills and must stay "
            "bounded (bitcain's writes stay with the --users users: each user who ever created keeps an id counter)"
        ),
    )
    parser.add_argument(
        "--reload-every",
        type=float,
        metavar="SECONDS",
        help="start the server with --watch on a copy of the specs and change one of them this often (a reload each time)",
    )
    parser.add_argument(
        "--server-args", default="", metavar="ARGS", help="extra arguments for `mockserver serve` (one shell-quoted string)"
    )
    parser.add_argument("--url", help="soak an already running server at this base URL instead of starting one")
    parser.add_argument("--pid", type=int, help="with --url: the server's pid, to sample its memory and descriptors")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the samples and the verdict to FILE")
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject options that cannot give a verdict; fill in the default warm-up."""
    if args.duration <= 0 or args.interval <= 0 or args.concurrency < 1 or args.fault_every <= 0 or args.fault_count < 1:
        parser.error("duration, interval, concurrency, fault-every and fault-count must be positive")
    if not 0 <= args.invalid_share < 1:
        parser.error("--invalid-share must be in [0, 1)")
    if args.pid is not None and not args.url:
        parser.error("--pid goes with --url (a started server is watched anyway)")
    if args.reload_every is not None and (args.url or args.reload_every <= 0):
        parser.error("--reload-every needs a positive number of seconds and a server started by the soak (no --url)")
    if args.warmup is None:
        args.warmup = max(args.interval, 0.2 * args.duration)
    if not judged_times(schedule(args.duration, args.interval), args.duration, args.warmup):
        parser.error("no sample would follow the warm-up in the second half of the run: lengthen --duration or shorten --interval/--warmup")


def describe(args: argparse.Namespace, base: str, pid: int | None) -> dict[str, Any]:
    """The opening lines: what runs against what; returns the machine description (for --json)."""
    info = bench_helpers().machine()
    print(
        f"soak: {base}, {args.duration:g}s, {args.concurrency} in flight, {args.invalid_share:.0%} invalid, "
        f"a fault every {args.fault_every:g}s"
        + (", every cache busted" if args.bust_caches else "")
        + (f", a reload every {args.reload_every:g}s" if args.reload_every else "")
    )
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, commit {info['commit']}")
    if pid is not None:
        print(f"server pid {pid}: {command_line(pid)}")
    warm = warmup_time(schedule(args.duration, args.interval), args.warmup)
    print(f"warm-up ends at the {warm:g}s sample; memory and descriptors judged from {args.duration / 2:g}s on", flush=True)
    return info


def event_loop_factory() -> Any:
    """uvloop's loop when it is installed (a faster client), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    """Start (or find) the server, soak it, print the summary; 0 when the verdict passes, 1 when it fails."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # before and after the run: SystemExit unwinds, the server is stopped
    try:
        with target(args) as (base, pid, server):
            info = describe(args, base, pid)
            with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                soak, samples, leftovers = runner.run(soak_run(args, base, pid, server))
    except RuntimeError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("soak: interrupted", file=sys.stderr)
        return 130
    except asyncio.CancelledError:  # SIGTERM during the run
        print("soak: terminated", file=sys.stderr)
        return 143
    result = verdict(soak, samples, args)
    print("\n".join(summary(soak, samples, args, result, leftovers)), flush=True)
    if args.json:
        write_json(args.json, info, soak, samples, args, result, leftovers)
        print(f"samples written to {args.json}")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
