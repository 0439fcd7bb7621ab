"""State survives faults: SIGKILL in the middle of writes, SIGTERM while requests are in flight,
two server processes sharing one --state file, and the store's own failures (a COMMIT that fails,
a full disk).

Every server here is a real `mockserver serve` subprocess stopped with real signals. Writes go
to bitcain, whose portfolios and ledger live in the store. A write counts as acknowledged once
its 2xx answer has been read in full; each client writes one request at a time, so when the
server dies each client has at most one write that was not acknowledged, and that one must be
either wholly applied or wholly absent.
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
import pytest
import requests

from mockserver.sandbox.store import StateFull, Store
from mockserver.vendors.bitcain.portfolios import new_portfolio_id

from .bitcain.helpers import AUTH, BASE, SANDBOX_USER, SEEDED
from .helpers import bitcain_only
from .server_process import ServerProcess

SEED = 0  # the default seed: the n-th portfolio of a user is new_portfolio_id(SEED, user, n)
TIMEOUT = (3.0, 10.0)  # connect, read: a hung server fails a test instead of hanging it
Http = Any  # a requests.Session, or the requests module itself for a one-off request
ALLOCATIONS = [{"BTC": 1.0}, {"BTC": 0.6, "ETH": 0.4}, {"ETH": 0.5, "SOL": 0.3, "USDC": 0.2}, {"LINK": 0.25, "UNI": 0.25, "ADA": 0.5}]
CSV_HEADER = (
    ",,,,,,,,,,\nTransactions,,,,,,,,,,\nUser,Jordan Sample,a169451c-8525-4352-b8ca-070dd449a1a5,,,,,,,,\n"
    "ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,Subtotal,"
    "Total (inclusive of fees and/or spread),Fees and/or Spread,Notes\n"
)
# Runs `mockserver serve` with a drain grace period of argv[1] seconds instead of aiohttp's default
# of 60 (Server does not make it configurable yet): what happens when the grace period runs out.
SHORT_GRACE = """
import sys
from aiohttp import web

grace = float(sys.argv.pop(1))


class ShortGraceRunner(web.AppRunner):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "shutdown_timeout": grace})


web.AppRunner = ShortGraceRunner
from mockserver.cli import main

sys.exit(main())
"""


# --- a server subprocess ------------------------------------------------------------------------


@contextmanager
def serving(state: Path, *args: str, launcher: Sequence[str] = ("-m", "mockserver.cli")) -> Iterator[ServerProcess]:
    """A ready server on `state`, killed on the way out if the test has not stopped it."""
    with ServerProcess(state.parent / "logs", *state_args(state), *args, launcher=launcher) as server:
        server.wait_ready()
        yield server


def state_args(state: Path) -> list[str]:
    """`--state FILE`, and only the bitcain spec (next to the file): a server that loads one
    API starts several times faster, and these tests start more than ten."""
    specs = state.parent / "specs"
    if not specs.is_dir():
        specs.mkdir(parents=True)
        bitcain_only(specs)
    return ["--state", str(state), "--specs", str(specs)]


# --- HTTP helpers -------------------------------------------------------------------------------


def answer(response: requests.Response, status: int) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def listed(http: Http, base: str, user: str) -> list[dict[str, Any]]:
    """Every portfolio of `user`, paused ones included, oldest first."""
    response = http.get(f"{base}{BASE}/", params={"user_id": user, "active_only": "false", "limit": 100}, timeout=TIMEOUT)
    found = answer(response, 200)
    assert int(response.headers["X-Total-Count"]) == len(found) <= 100
    return found


def create(http: Http, base: str, user: str, body: dict[str, Any]) -> dict[str, Any]:
    return answer(http.post(f"{base}{BASE}/", params={"user_id": user}, json=body, headers=AUTH, timeout=TIMEOUT), 201)


def add_fault(base: str, fault: dict[str, Any]) -> None:
    answer(requests.post(f"{base}/__mock/faults", json=fault, timeout=TIMEOUT), 201)


def faults_applied(base: str) -> int:
    return sum(fault["applied"] for fault in answer(requests.get(f"{base}/__mock/faults", timeout=TIMEOUT), 200)["faults"])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def timed(send: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    """The answer and when it arrived."""
    response = send()
    return response, time.monotonic()


def refuses_connections(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def integrity(path: Path) -> list[tuple[Any, ...]]:
    """`PRAGMA integrity_check` on a state file, and every stored body must be whole JSON."""
    with closing(sqlite3.connect(path)) as db:
        checked = db.execute("PRAGMA integrity_check").fetchall()
        for (body,) in db.execute("SELECT body FROM documents"):
            orjson.loads(body)
    return checked


def crash_image(state: Path, into: Path) -> Path:
    """A copy of a killed server's state file and its WAL, so that checking it does not
    checkpoint the original before the next server recovers it on its own."""
    into.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        source = Path(f"{state}{suffix}")
        if source.exists():
            shutil.copyfile(source, into / f"{state.name}{suffix}")
    return into / state.name


# --- clients that remember what was acknowledged -----------------------------------------------


@dataclass
class Write:
    kind: str  # create, update, delete, ingest
    portfolio_id: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    rows: list[str] = field(default_factory=list)  # ingest: the transaction ids uploaded


class Acks:
    """Counts acknowledged writes across clients; the killer waits on it. A client that fails
    ends the wait at once, so that its own error is reported rather than a timeout."""

    def __init__(self) -> None:
        self.count = 0
        self.failed = False
        self._changed = threading.Condition()

    def add(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def fail(self) -> None:
        with self._changed:
            self.failed = True
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> None:
        with self._changed:
            reached = self._changed.wait_for(lambda: self.count >= count or self.failed, timeout)
        assert reached, f"only {self.count} of {count} writes acknowledged in {timeout} s"


class Client(Protocol):
    pending: Write | None

    def next_write(self) -> Write: ...
    def send(self, http: requests.Session, base: str, write: Write) -> requests.Response: ...
    def acknowledged(self, write: Write, response: requests.Response) -> None: ...
    def verify(self, http: requests.Session, base: str) -> None: ...


def drive(client: Client, base: str, acks: Acks, stop: threading.Event) -> None:
    """Write one request at a time until the server is gone (or `stop` is set)."""
    try:
        with requests.Session() as http:
            while not stop.is_set():
                client.pending = write = client.next_write()
                try:
                    response = client.send(http, base, write)
                except requests.RequestException:
                    return  # the server died: `pending` may or may not have taken effect
                client.acknowledged(write, response)
                client.pending = None
                acks.add()
    except BaseException:
        acks.fail()
        raise


@dataclass
class PortfolioClient:
    """One user's writer: creates, updates and deletes its own portfolios, one at a time, and
    keeps the acknowledged answer of each (an update's answer is the whole new portfolio)."""

    user: str
    rng: random.Random
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> last acknowledged view
    created: int = 0  # creates that took effect: the next one gets new_portfolio_id(SEED, user, created + 1)
    revision: int = 0
    pending: Write | None = None  # sent, not acknowledged: the server died first

    def next_write(self) -> Write:
        self.revision += 1
        roll = self.rng.random()
        if not self.expected or roll < 0.45:
            body = {
                "name": f"{self.user} #{self.revision}",
                "target_allocations": self.rng.choice(ALLOCATIONS),
                "initial_value_usd": str(self.rng.randint(0, 50_000)),
                "description": f"created at revision {self.revision}",
                "tags": [f"r{self.revision}"],
                "risk_tolerance": self.rng.choice(["conservative", "moderate", "aggressive"]),
            }
            return Write("create", new_portfolio_id(SEED, self.user, self.created + 1), body)
        portfolio_id = self.rng.choice(list(self.expected))
        if roll < 0.8:
            body = {
                "name": f"{self.user} #{self.revision}",
                "description": f"updated at revision {self.revision}",
                "tags": ["u", str(self.revision)],
            }
            if self.rng.random() < 0.3:
                body["target_allocations"] = self.rng.choice(ALLOCATIONS)
            return Write("update", portfolio_id, body)
        return Write("delete", portfolio_id)

    def send(self, http: requests.Session, base: str, write: Write) -> requests.Response:
        url, query = f"{base}{BASE}/", {"user_id": self.user}
        if write.kind == "create":
            return http.post(url, params=query, json=write.body, headers=AUTH, timeout=TIMEOUT)
        if write.kind == "update":
            return http.put(url + write.portfolio_id, params=query, json=write.body, headers=AUTH, timeout=TIMEOUT)
        return http.delete(url + write.portfolio_id, params={**query, "force": "true"}, headers=AUTH, timeout=TIMEOUT)

    def acknowledged(self, write: Write, response: requests.Response) -> None:
        if write.kind == "delete":
            assert response.status_code == 204, response.text
            del self.expected[write.portfolio_id]
            return
        view = answer(response, 201 if write.kind == "create" else 200)
        assert view["portfolio_id"] == write.portfolio_id  # the id sequence never skips or repeats
        assert applies(view, write.body), (view, write.body)
        if write.kind == "create":
            self.created += 1
        self.expected[write.portfolio_id] = view

    def verify(self, http: requests.Session, base: str) -> None:
        """After a restart: exactly the acknowledged state, plus all or nothing of the pending write."""
        found = listed(http, base, self.user)
        before = list(self.expected.values())
        write, self.pending = self.pending, None
        if found == before:
            return  # nothing pending, or the pending write never took effect
        assert write is not None, f"{self.user}: acknowledged state lost or changed"
        if write.kind == "create":
            assert found[:-1] == before, f"{self.user}: acknowledged portfolios changed"
            assert found[-1]["portfolio_id"] == write.portfolio_id and applies(found[-1], write.body), found[-1]
            self.created += 1
        elif write.kind == "update":
            assert [p["portfolio_id"] for p in found] == list(self.expected)
            for old, new in zip(before, found, strict=True):
                assert new == old or (new["portfolio_id"] == write.portfolio_id and applies(new, write.body)), (old, new)
        else:
            assert found == [p for p in before if p["portfolio_id"] != write.portfolio_id], f"{self.user}: torn delete"
        self.expected = {p["portfolio_id"]: p for p in found}


def applies(view: dict[str, Any], body: dict[str, Any]) -> bool:
    """Every field the write set is in the portfolio (funding is checked by the bitcain tests)."""
    return all(view[name] == value for name, value in body.items() if name != "initial_value_usd")


@dataclass
class LedgerClient:
    """Uploads small Coinbase CSVs of fresh transactions into the token user's ledger."""

    prefix: str
    imported: list[str] = field(default_factory=list)  # acknowledged transaction ids
    lost: list[str] = field(default_factory=list)  # sent when the server died, and not applied
    uploads: int = 0
    pending: Write | None = None

    def next_write(self) -> Write:
        self.uploads += 1
        return Write("ingest", rows=[f"{self.prefix}-{self.uploads:05d}-{row}" for row in range(3)])

    def send(self, http: requests.Session, base: str, write: Write) -> requests.Response:
        return upload(http, base, write.rows, dry_run=False)

    def acknowledged(self, write: Write, response: requests.Response) -> None:
        report = answer(response, 200)
        assert report["rows_imported"] == len(write.rows) and report["rows_rejected"] == 0, report
        self.imported += write.rows

    def verify(self, http: requests.Session, base: str) -> None:
        """A dry run over every id ever sent: acknowledged ones are 'already imported', lost ones
        are not, and the pending upload is in the ledger whole or not at all."""
        pending = self.pending.rows if self.pending else []
        self.pending = None
        sent = [*self.imported, *self.lost, *pending]
        report = answer(upload(http, base, sent, dry_run=True), 200)
        assert report["rows_rejected"] == 0, report
        present = {item["id"] for item in report["skipped"] if item["reason"] == "already imported"}
        assert set(self.imported) <= present, f"acknowledged ledger rows lost: {sorted(set(self.imported) - present)}"
        assert not present & set(self.lost)
        applied = present & set(pending)
        assert applied in (set(), set(pending)), f"torn upload: {sorted(applied)} of {pending}"
        (self.imported if applied else self.lost).extend(pending)


def upload(http: requests.Session, base: str, ids: Sequence[str], dry_run: bool) -> requests.Response:
    """A Coinbase CSV with one small ETH staking reward per id."""
    rows = "".join(
        f"{tx},2025-07-01 {index // 60 % 24:02d}:{index % 60:02d}:00 UTC,Staking Income,ETH,0.0001,USD,$3000.00,$0.30,$0.30,$0.00,\n"
        for index, tx in enumerate(ids)
    )
    files = {"file": ("history.csv", (CSV_HEADER + rows).encode(), "text/csv")}
    query = {"dry_run": str(dry_run).lower()}
    return http.post(f"{base}{BASE}/ingest/csv", params=query, files=files, headers=AUTH, timeout=TIMEOUT)


# --- 1. SIGKILL in the middle of writes --------------------------------------------------------


def test_sigkill_mid_write_loses_no_acknowledged_write_and_tears_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    rng = random.Random(20260115)
    portfolio_clients = [PortfolioClient(f"kill-{index}", random.Random(rng.random())) for index in range(4)]
    ledger = LedgerClient("kill")
    clients: list[Client] = [*portfolio_clients, ledger]
    for round_number in range(3):
        with serving(state) as server, requests.Session() as http:
            for client in clients:  # what the previous server acknowledged is all here, nothing torn
                client.verify(http, server.base)
            if round_number == 0:
                assert [p["portfolio_id"] for p in listed(http, server.base, SANDBOX_USER)] == SEEDED
            acks, stop = Acks(), threading.Event()
            kill_after = rng.randint(40, 120)
            with ThreadPoolExecutor(len(clients)) as pool:
                running = [pool.submit(drive, client, server.base, acks, stop) for client in clients]
                try:
                    acks.wait_for(kill_after, timeout=15)
                    server.kill()  # while the clients keep writing
                finally:
                    stop.set()
                for future in running:
                    future.result(timeout=15)  # a client's failed assertion fails the test here
            assert server.process.returncode == -signal.SIGKILL
        assert integrity(crash_image(state, tmp_path / f"crash-{round_number}")) == [("ok",)]
    with serving(state) as server, requests.Session() as http:
        for client in clients:
            client.verify(http, server.base)
        for client in portfolio_clients:  # the id sequence went on from the last create that took effect
            follow = create(http, server.base, client.user, {"name": "after the crashes", "target_allocations": {"BTC": 1.0}})
            assert follow["portfolio_id"] == new_portfolio_id(SEED, client.user, client.created + 1)
        assert [p["portfolio_id"] for p in listed(http, server.base, SANDBOX_USER)] == SEEDED  # never seeded again
        server.stop()
        assert server.process.returncode == 0
    assert integrity(state) == [("ok",)]
    assert len(ledger.imported) >= 3 and sum(len(c.expected) for c in portfolio_clients) >= 4


# --- 2. SIGTERM drains --------------------------------------------------------------------------


def test_sigterm_answers_in_flight_requests_refuses_new_ones_and_exits_0(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    user = "drain"
    with serving(state) as server:
        base = server.base
        kept = create(requests, base, user, {"name": "before SIGTERM", "target_allocations": {"BTC": 0.5, "ETH": 0.5}})
        seeded = answer(requests.get(f"{base}{BASE}/{SEEDED[0]}", timeout=TIMEOUT), 200)
        add_fault(base, {"api": "bitcain", "latencyMs": 2000})  # every bitcain request waits 2 s first
        url = f"{base}{BASE}/"
        slow: dict[str, Callable[[], requests.Response]] = {  # each answer is checked against the answer without delay
            "get": lambda: requests.get(url + SEEDED[0], timeout=TIMEOUT),
            "list": lambda: requests.get(url, params={"user_id": SANDBOX_USER, "active_only": "false"}, timeout=TIMEOUT),
            "create": lambda: requests.post(
                url,
                params={"user_id": user},
                json={"name": "during the drain", "target_allocations": {"SOL": 1.0}},
                headers=AUTH,
                timeout=TIMEOUT,
            ),
            "update": lambda: requests.put(
                url + kept["portfolio_id"], params={"user_id": user}, json={"description": "drained"}, headers=AUTH, timeout=TIMEOUT
            ),
        }
        with ThreadPoolExecutor(len(slow)) as pool:
            futures = {name: pool.submit(timed, send) for name, send in slow.items()}
            wait_until(lambda: faults_applied(base) == len(slow), 5, "the slow requests to arrive")
            signalled = time.monotonic()
            server.signal(signal.SIGTERM)
            wait_until(lambda: refuses_connections(server.address), 2, "the port to close after SIGTERM")
            refused = time.monotonic()
            finished = {name: future.result(timeout=15) for name, future in futures.items()}
        answers = {name: response for name, (response, _) in finished.items()}
        assert all(at > signalled for _, at in finished.values())  # all answered after SIGTERM: drained
        assert refused < max(at for _, at in finished.values())  # the port closed while the drain went on
        assert answer(answers["get"], 200) == seeded
        assert [p["portfolio_id"] for p in answer(answers["list"], 200)] == SEEDED
        created = answer(answers["create"], 201)
        assert created["portfolio_id"] == new_portfolio_id(SEED, user, 2) and created["name"] == "during the drain"
        updated = answer(answers["update"], 200)
        assert updated == {**kept, "description": "drained"}
        assert server.wait(timeout=10) == 0
    assert integrity(state) == [("ok",)]
    with closing(Store(state)) as store:  # what the next server would load (the SIGKILL test restarts for real)
        stored = store.for_api("bitcain").find("portfolio", owner=user)
    assert [(p["portfolio_id"], p["name"], p["description"]) for p in stored] == [
        (kept["portfolio_id"], "before SIGTERM", "drained"),  # acknowledged before SIGTERM, updated during the drain
        (created["portfolio_id"], "during the drain", None),
    ]


def test_a_request_still_delayed_when_the_grace_period_ends_is_cut_and_never_applied(tmp_path: Path) -> None:
    """The grace period is aiohttp's `shutdown_timeout` (60 s unless Server sets it) and runs
    twice: once waiting for the handler, once more after cancelling the request's body. A
    latency fault can last at most 60 s, so with the default every one is answered; this
    runs the server with a 0.5 s grace period to show what happens past it."""
    state = tmp_path / "state.sqlite"
    with serving(state, launcher=("-c", SHORT_GRACE, "0.5")) as server:
        base = server.base
        add_fault(base, {"api": "bitcain", "operation": "create_portfolio", "latencyMs": 10_000})
        body = {"name": "cut off", "target_allocations": {"BTC": 1.0}}
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(requests.post, f"{base}{BASE}/", params={"user_id": "cut"}, json=body, headers=AUTH, timeout=(3, 20))
            wait_until(lambda: faults_applied(base) == 1, 5, "the slow create to arrive")
            signalled = time.monotonic()
            server.signal(signal.SIGTERM)
            with pytest.raises(requests.ConnectionError):  # the connection closes with no answer
                slow.result(timeout=15)
        assert server.wait(timeout=10) == 0
        assert time.monotonic() - signalled < 8  # about twice the grace period, well before the 10 s delay
    with closing(Store(state)) as store:  # the delay comes before the handler: nothing was written
        assert store.for_api("bitcain").find("portfolio", owner="cut") == []


def test_sigterm_closes_every_port_at_once(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    with serving(state, "--api-port", "bitcain=0") as server:
        own = server.own_ports["bitcain"]
        host, port = own.removeprefix("http://").rsplit(":", 1)
        add_fault(server.base, {"api": "bitcain", "operation": "list_portfolios", "latencyMs": 1500})
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(requests.get, f"{server.base}{BASE}/", params={"user_id": SANDBOX_USER}, timeout=TIMEOUT)
            wait_until(lambda: faults_applied(server.base) == 1, 5, "the slow request to arrive")
            server.signal(signal.SIGTERM)
            wait_until(lambda: refuses_connections(server.address), 2, "the main port to close")
            refused = refuses_connections((host, int(port)))
            status = slow.result(timeout=15).status_code
        exit_code = server.wait(timeout=10)
        assert (status, exit_code) == (200, 0)
        assert refused, "the API's own port still accepted connections while the main site drained"


# --- 3. the store's own failures ----------------------------------------------------------------


def test_a_failed_commit_leaves_nothing_behind_and_the_store_usable(tmp_path: Path) -> None:
    """A COMMIT can fail (the disk is full, or the file is locked past busy_timeout). The write
    was never acknowledged, so it must vanish, and the next transaction must work."""
    path = tmp_path / "state.sqlite"
    store = Store(path)
    state = store.for_api("a")
    state.put("thing", "kept", {"n": 1})
    store.execute("PRAGMA journal_mode=DELETE")  # in rollback-journal mode a reader blocks COMMIT
    store.execute("PRAGMA busy_timeout=50")
    with closing(sqlite3.connect(path, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM documents").fetchone()
        with pytest.raises(sqlite3.OperationalError, match="locked"), state.transaction():
            state.put("thing", "unacknowledged", {"n": 2})
        reader.execute("COMMIT")
    assert state.get("thing", "unacknowledged") is None
    with state.transaction():
        state.put("thing", "next", {"n": 3})
    store.close()
    with closing(Store(path)) as reopened:
        assert reopened.for_api("a").find("thing") == [{"n": 1}, {"n": 3}]


def test_a_full_disk_reports_its_own_error_and_the_store_stays_usable(tmp_path: Path) -> None:
    """SQLite rolls the whole transaction back itself on SQLITE_FULL; a second ROLLBACK would
    fail and hide the real error behind 'no transaction is active'. SQLITE_FULL is StateFull
    (a 507), whether the disk or the page limit stopped the write."""
    store = Store(tmp_path / "state.sqlite")
    state = store.for_api("a")
    state.put("thing", "kept", {"n": 1})
    pages = store.execute("PRAGMA page_count").fetchone()[0]
    store.execute(f"PRAGMA max_page_count={pages + 1}")
    with pytest.raises(StateFull, match="bytes left on the disk of") as refused, state.transaction():
        state.put("thing", "small", {"n": 2})
        state.put("thing", "large", {"blob": "x" * 100_000})
    assert isinstance(refused.value.__cause__, sqlite3.OperationalError) and not getattr(refused.value, "__notes__", None)
    assert state.find("thing") == [{"n": 1}]
    store.execute("PRAGMA max_page_count=1073741823")
    with state.transaction():
        state.put("thing", "next", {"n": 3})
    assert state.find("thing") == [{"n": 1}, {"n": 3}]
    store.close()


def test_a_failed_nested_transaction_is_undone_even_when_the_outer_one_goes_on() -> None:
    store = Store()
    state = store.for_api("a")
    with state.transaction():
        state.put("thing", "outer", {"n": 1})
        with pytest.raises(RuntimeError), state.transaction():
            state.put("thing", "inner", {"n": 2})
            state.put("thing", "outer", {"n": 99})
            raise RuntimeError("boom")
        state.put("thing", "after", {"n": 3})
    assert state.find("thing") == [{"n": 1}, {"n": 3}]


# --- 4. two server processes on one state file -------------------------------------------------


@contextmanager
def two_servers(state: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two servers started at the same moment on one fresh state file (so they seed together)."""
    with (
        ServerProcess(state.parent / "logs", *state_args(state)) as one,
        ServerProcess(state.parent / "logs", *state_args(state)) as two,
    ):
        one.wait_ready()
        two.wait_ready()
        yield one, two


def create_many(base: str, user: str, names: Sequence[str]) -> list[dict[str, Any]]:
    with requests.Session() as http:
        return [create(http, base, user, {"name": name, "target_allocations": {"ETH": 1.0}}) for name in names]


def test_two_processes_on_one_state_file_share_every_write_and_survive_one_being_killed(tmp_path: Path) -> None:
    """What `--workers N` relies on. First both serve and write side by side; then one is killed
    mid-write, perhaps inside a transaction, holding the write lock as it dies: the other must get
    the lock back at once and still see every write the dead one acknowledged."""
    state = tmp_path / "state.sqlite"
    with two_servers(state) as (one, two):
        for server in (one, two):  # seeded once, not once per process
            assert [p["portfolio_id"] for p in listed(requests, server.base, SANDBOX_USER)] == SEEDED
        made = create(requests, one.base, "shared", {"name": "made by one", "target_allocations": {"BTC": 1.0}})
        assert listed(requests, two.base, "shared") == [made]
        url = f"{two.base}{BASE}/{made['portfolio_id']}"
        changed = answer(requests.put(url, params={"user_id": "shared"}, json={"tags": ["two"]}, headers=AUTH, timeout=TIMEOUT), 200)
        assert answer(requests.get(f"{one.base}{BASE}/{made['portfolio_id']}", timeout=TIMEOUT), 200) == changed

        # three writers per process, all creating for one user: its id counter is contended
        jobs = [(server.base, [f"{server.base[-5:]}-{writer}-{n}" for n in range(12)]) for server in (one, two) for writer in range(3)]
        with ThreadPoolExecutor(len(jobs)) as pool:
            batches = list(pool.map(lambda job: create_many(job[0], "shared", job[1]), jobs))
        acknowledged = [made["portfolio_id"], *(p["portfolio_id"] for batch in batches for p in batch)]
        assert len(set(acknowledged)) == len(acknowledged) == 1 + 6 * 12  # no id handed out twice
        assert set(acknowledged) == {new_portfolio_id(SEED, "shared", n) for n in range(1, len(acknowledged) + 1)}
        seen_by_one, seen_by_two = listed(requests, one.base, "shared"), listed(requests, two.base, "shared")
        by_id = {p["portfolio_id"]: p for batch in batches for p in batch}
        assert seen_by_one == seen_by_two == [changed, *(by_id[p["portfolio_id"]] for p in seen_by_one[1:])]
        deleted = requests.delete(url, params={"user_id": "shared", "force": "true"}, headers=AUTH, timeout=TIMEOUT)
        assert deleted.status_code == 204
        assert answer(requests.get(f"{one.base}{BASE}/{made['portfolio_id']}", timeout=TIMEOUT), 404) == {"detail": "Portfolio not found"}

        clients = [PortfolioClient(f"pair-{index}", random.Random(index)) for index in range(4)]
        on_two = clients[1::2]
        acks, stop = Acks(), threading.Event()
        with ThreadPoolExecutor(len(clients)) as pool:
            running = [pool.submit(drive, client, (one, two)[index % 2].base, acks, stop) for index, client in enumerate(clients)]
            try:
                acks.wait_for(random.Random(7).randint(40, 100), timeout=15)
                one.kill()
                acks.wait_for(acks.count + 20, timeout=5)  # two goes on acknowledging writes
            finally:
                stop.set()
            for future in running:
                future.result(timeout=15)
        with requests.Session() as http:
            for client in clients:
                client.verify(http, two.base)
            for client in on_two:
                follow = create(http, two.base, client.user, {"name": "after the kill", "target_allocations": {"BTC": 1.0}})
                assert follow["portfolio_id"] == new_portfolio_id(SEED, client.user, client.created + 1)
        two.stop()
        assert (one.process.returncode, two.process.returncode) == (-signal.SIGKILL, 0)
    assert integrity(state) == [("ok",)]
