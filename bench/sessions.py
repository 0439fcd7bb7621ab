"""Sessions benchmark: what a fresh session per test costs, and what 1,000 live sessions cost the server.

Against a real `mockserver serve` subprocess on a free port (pinned to core 0, as in bench.py):

1. Fixture overhead. `--rounds` times over one keep-alive connection: create a session (POST /__mock/sessions),
   send one Mesh portfolio request in it, delete it. Median and p95 of each step and of the whole round. The
   baseline it replaces: an in-process server started and stopped as the pytest plugin does for each test today
   (`start_server()`, one request, `stop()`), `--starts` times after one unmeasured start.
2. Default-session throughput before: "mesh valid" with wrk, `--wrk-rounds` rounds, each a run against a reference
   server (an identical `mockserver serve` that never gets a session) then one against the server under test, both
   pinned to core 0 and measured in turn. The ratio of each pair is what counts: the machine drifts by 20% from
   minute to minute, two neighbouring runs far less.
3. `--sessions` live sessions: each gets a bitcain portfolio and one Mesh request, and a Mesh scenario when the
   server has `POST /__session/<id>/__mock/scenarios` (probed once; skipped, and said so, otherwise). VmRSS of the
   server before and after.
4. The fixture rounds again, with those sessions live, and the throughput rounds again (after).

Run from the repository root:  python bench/sessions.py [--rounds 200] [--sessions 1000] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import bench  # bench/bench.py: this script's folder is first on sys.path when it is run as a script

MESH_VALID = bench.STARTUP_PROBE
SESSIONS = "/__mock/sessions"
JSON_HEADERS = {"Content-Type": "application/json"}
SUCCESS = range(200, 300)
PORTFOLIO_BODY = json.dumps({"name": "Bench", "target_allocations": {"BTC": 0.7, "ETH": 0.3}, "initial_value_usd": "1500"})
SCENARIO_USER = "bench-user"
# the example user: 0.5 BTC bought at 30,000 and 10 AAPL (override with --scenario FILE)
MESH_SCENARIO = {
    "mesh": {
        "users": [
            {
                "userId": SCENARIO_USER,
                "positions": [{"symbol": "BTC", "amount": 0.5, "costBasis": 30000}, {"symbol": "AAPL", "amount": 10, "costBasis": 150}],
            }
        ]
    }
}
FIXTURE_TARGET_MS = 5.0
RSS_TARGET_BYTES = 50_000_000


class Client:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def exchange(self, method: str, path: str, headers: dict[str, str], body: str | None = None) -> tuple[int, bytes]:
        """The answer's status and body."""
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def send(self, method: str, path: str, headers: dict[str, str], body: str | None = None, expect: int | range = 200) -> bytes:
        """The answer's body; RuntimeError when its status is not `expect` (a status, or a range of them)."""
        status, payload = self.exchange(method, path, headers, body)
        if status not in (expect if isinstance(expect, range) else (expect,)):
            raise RuntimeError(f"{method} {path}: expected {expect}, got {status}: {payload[:300]!r}")
        return payload

    def create_session(self) -> str:
        return str(json.loads(self.send("POST", SESSIONS, JSON_HEADERS, "{}", expect=201))["id"])

    def mesh_portfolio(self, prefix: str = "", user: str = "alice") -> None:
        self.send("GET", f"{prefix}{bench.PORTFOLIO}?UserId={user}", MESH_VALID.headers)

    def delete_session(self, session_id: str) -> None:
        self.send("DELETE", f"{SESSIONS}/{session_id}", JSON_HEADERS)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.connection.close()


def session_prefix(session_id: str) -> str:
    return f"/__session/{session_id}"


@dataclass
class Timing:
    """Durations of one step, in milliseconds."""

    name: str
    samples: list[float]
    target_ms: float | None = None  # the target for the median, where it sets one

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples, n=20, method="inclusive")[18] if len(self.samples) > 1 else self.samples[0]


def timed(step: Callable[[], Any]) -> tuple[Any, float]:
    """What `step` returned, and how long it took in milliseconds."""
    start = time.perf_counter()
    value = step()
    return value, (time.perf_counter() - start) * 1000


def fixture_rounds(client: Client, rounds: int, label: str) -> list[Timing]:
    """`rounds` times: create a session, one Mesh request in it, delete it. The whole round, then each step."""
    total, create, request, delete = ([] for _ in range(4))
    for _ in range(rounds):
        begin = time.perf_counter()
        session_id, created_ms = timed(client.create_session)
        _, request_ms = timed(partial(client.mesh_portfolio, session_prefix(session_id)))
        _, delete_ms = timed(partial(client.delete_session, session_id))
        total.append((time.perf_counter() - begin) * 1000)
        create.append(created_ms)
        request.append(request_ms)
        delete.append(delete_ms)
    return [
        Timing(f"fresh session, {label}: create + 1 request + delete", total, FIXTURE_TARGET_MS),
        Timing("step: create (POST /__mock/sessions)", create),
        Timing("step: 1 Mesh request in the session", request),
        Timing("step: delete (DELETE /__mock/sessions/<id>)", delete),
    ]


def plugin_fixture_rounds(port: int, rounds: int) -> Timing:
    """What the pytest plugin's `mockserver` fixture itself adds to a test: its client (urllib, a
    connection per call) makes the test's session before it and deletes it after."""
    from mockserver.pytest_plugin import MockServerClient

    server = MockServerClient(f"http://127.0.0.1:{port}")
    samples = []
    for _ in range(rounds):
        begin = time.perf_counter()
        server.new_session().delete_session()
        samples.append((time.perf_counter() - begin) * 1000)
    return Timing("the plugin's fixture: new_session() + delete_session() (urllib)", samples, FIXTURE_TARGET_MS)


def in_process_starts(starts: int) -> Timing:
    """An in-process server per test, as the pytest plugin starts one today: start, one request, stop."""
    from mockserver.pytest_plugin import start_server

    samples = []
    for number in range(starts + 1):  # the first start imports and warms up: not counted
        begin = time.perf_counter()
        server = start_server()
        with Client(server.port) as client:
            client.mesh_portfolio()
        server.stop()
        if number:
            samples.append((time.perf_counter() - begin) * 1000)
    return Timing("in-process server per test (today): start + 1 request + stop", samples)


@dataclass
class Fill:
    """What making the live sessions took and left."""

    sessions: int
    seconds: float
    scenarios: str  # "installed" or why not
    rss_before_kib: int
    rss_after_kib: int

    @property
    def growth_bytes(self) -> int:
        return (self.rss_after_kib - self.rss_before_kib) * 1024


def scenario_probe(client: Client, session_id: str, scenario: str) -> str:
    """'installed' when the server took the scenario in this session; else why the step is skipped."""
    status, payload = client.exchange("POST", f"{session_prefix(session_id)}/__mock/scenarios", JSON_HEADERS, scenario)
    if status in SUCCESS:
        return "installed"
    try:
        detail = json.loads(payload).get("detail", "")
    except (ValueError, AttributeError):
        detail = payload[:200].decode(errors="replace")
    return f"skipped, POST /__session/<id>/__mock/scenarios answered {status} ({detail})"


def fill(client: Client, server: bench.Server, count: int, scenario: str) -> Fill:
    """`count` live sessions, each with a bitcain portfolio, one Mesh request and (when the server has them) a scenario."""
    rss_before = server.rss_kib().get("VmRSS", 0)
    begin = time.perf_counter()
    scenarios = ""
    for number in range(count):
        prefix = session_prefix(session_id := client.create_session())
        if number == 0:
            scenarios = scenario_probe(client, session_id, scenario)
        elif scenarios == "installed":
            client.send("POST", f"{prefix}/__mock/scenarios", JSON_HEADERS, scenario, expect=SUCCESS)
        portfolio_path = f"{prefix}{bench.BITCAIN}?user_id=u"
        client.send("POST", portfolio_path, {**bench.BITCAIN_AUTH, **JSON_HEADERS}, PORTFOLIO_BODY, expect=201)
        client.mesh_portfolio(prefix, SCENARIO_USER)
        if (number + 1) % 250 == 0:
            print(f"  sessions   {number + 1:>6,} live  VmRSS {server.rss_kib().get('VmRSS', 0) / 1024:.1f} MiB", flush=True)
    seconds = time.perf_counter() - begin
    return Fill(count, seconds, scenarios, rss_before, server.rss_kib().get("VmRSS", 0))


@dataclass
class Pairs:
    """ "mesh valid" on the server under test and on the reference just before it, round by round."""

    tested: list[bench.Result]
    reference: list[bench.Result]

    @property
    def ratios(self) -> list[float]:
        return [tested.rps / reference.rps for tested, reference in zip(self.tested, self.reference, strict=True)]

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)


def throughput(reference: bench.Server, server: bench.Server, wrk_args: argparse.Namespace, rounds: int) -> Pairs:
    pairs = Pairs([], [])
    for _ in range(rounds):
        pairs.reference.append(bench.measure(reference, MESH_VALID, wrk_args))
        pairs.tested.append(bench.measure(server, MESH_VALID, wrk_args))
    return pairs


@dataclass
class Run:
    """Everything one run measured."""

    fixture: list[Timing]
    fixture_live: list[Timing]
    plugin: Timing
    in_process: Timing
    fill: Fill
    before: Pairs
    after: Pairs


def timing_row(timing: Timing) -> str:
    target, met = "", ""
    if timing.target_ms is not None:
        target, met = f"<= {timing.target_ms:g} ms median", "yes" if timing.median <= timing.target_ms else "NO"
    return f"| {timing.name} | {timing.median:.2f} | {timing.p95:.2f} | {len(timing.samples)} | {target} | {met} |"


def ratios_text(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}x (rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)})"


def report_lines(run: Run) -> list[str]:
    """The table and the figures below it."""
    fixture = run.fixture[0].median
    growth = run.fill.growth_bytes
    within = min(run.before.ratios) <= run.after.median <= max(run.before.ratios)
    runs = [*run.before.tested, *run.before.reference, *run.after.tested, *run.after.reference]
    return [
        "| measure | median (ms) | p95 (ms) | n | target | met |",
        "|---|---:|---:|---:|---|---|",
        *map(timing_row, [*run.fixture, *run.fixture_live, run.plugin, run.in_process]),
        "",
        f"- a fresh session costs {fixture / run.in_process.median:.1%} of an in-process server per test "
        f"({run.in_process.median / fixture:.0f} times less)",
        f"- {run.fill.sessions:,} live sessions (bitcain portfolio + Mesh request each; Mesh scenario: {run.fill.scenarios}) "
        f"made in {run.fill.seconds:.1f} s ({run.fill.sessions / run.fill.seconds:,.0f} sessions/s)",
        f"- server VmRSS {run.fill.rss_before_kib / 1024:.1f} MiB before, {run.fill.rss_after_kib / 1024:.1f} MiB after: "
        f"+{growth / 1e6:.1f} MB ({growth / run.fill.sessions / 1024:.1f} KiB a session); target <= 50 MB: "
        f"{'yes' if growth <= RSS_TARGET_BYTES else 'NO'}",
        f"- default session 'mesh valid', the server under test / the reference server: before the sessions "
        f"{ratios_text(run.before.ratios)}, with them {ratios_text(run.after.ratios)}; "
        f"{'within' if within else 'OUTSIDE'} the range of the rounds before",
        f"- 'mesh valid' on the reference server: {statistics.median(r.rps for r in run.before.reference + run.after.reference):,.0f} "
        "requests/s (median of its runs)",
        *disturbance_lines(runs),
    ]


def disturbance_lines(runs: list[bench.Result]) -> list[str]:
    """A warning for wrk runs with failed requests, and one for the runs other processes shared the machine with."""
    lines = [f"- WARNING {r.server} run: {r.non_2xx_3xx} of {r.requests} answers were not 2xx/3xx" for r in runs if r.non_2xx_3xx]
    lines += [f"- WARNING {r.server} run: socket errors {r.socket_errors}" for r in runs if any(r.socket_errors.values())]
    disturbed = [r.other_cpu for r in runs if r.other_cpu > bench.OTHER_CPU_LIMIT]
    if disturbed:
        lines.append(
            f"- WARNING other processes used {min(disturbed):.2f} to {max(disturbed):.2f} cores during {len(disturbed)} of "
            f"{len(runs)} wrk runs: the throughput figures are disturbed"
        )
    return lines


def write_json(path: Path, run: Run, args: argparse.Namespace) -> None:
    timings = [*run.fixture, *run.fixture_live, run.plugin, run.in_process]
    payload = {
        "machine": bench.machine(),
        "options": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "timings_ms": [{"name": t.name, "median": t.median, "p95": t.p95, "samples": t.samples} for t in timings],
        "fill": {**asdict(run.fill), "growth_bytes": run.fill.growth_bytes},
        "mesh_valid": {
            moment: {"ratios": pairs.ratios, "tested": [asdict(r) for r in pairs.tested], "reference": [asdict(r) for r in pairs.reference]}
            for moment, pairs in (("before", run.before), ("after", run.after))
        },
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")


def measure_sessions(args: argparse.Namespace, scenario: str) -> Run:
    wrk_args = argparse.Namespace(duration=args.duration, warmup=args.warmup, connections=args.connections)
    in_process = in_process_starts(args.starts)
    print(f"  in-process {in_process.median:.1f} ms median start + request + stop", flush=True)
    reference_port, port = bench.free_port(), bench.free_port()
    with (
        bench.running("reference", mockserver_command(reference_port, args), reference_port) as reference,
        bench.running("sessions", mockserver_command(port, args), port) as server,
    ):
        reference.wait_ready(MESH_VALID)
        server.wait_ready(MESH_VALID)
        with Client(port) as client:  # a connection per phase: the server closes one left idle during wrk's runs
            fixture = fixture_rounds(client, args.rounds, "no other session")
        print(f"  fixture    {fixture[0].median:.2f} ms median create + request + delete", flush=True)
        plugin = plugin_fixture_rounds(port, args.rounds)
        print(f"  plugin     {plugin.median:.2f} ms median new_session + delete_session", flush=True)
        before = throughput(reference, server, wrk_args, args.wrk_rounds)
        with Client(port) as client:
            filled = fill(client, server, args.sessions, scenario)
            fixture_live = fixture_rounds(client, args.rounds, f"{args.sessions:,} live")
        after = throughput(reference, server, wrk_args, args.wrk_rounds)
    return Run(fixture, fixture_live, plugin, in_process, filled, before, after)


def mockserver_command(port: int, args: argparse.Namespace) -> list[str]:
    """bench.py's server, room for the live sessions and one more."""
    return bench.mockserver_command(port, "--max-sessions", str(args.sessions + 1))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200, help="fresh-session rounds, without and with the live sessions (default 200)")
    parser.add_argument("--starts", type=int, default=20, help="in-process server starts measured (default 20)")
    parser.add_argument("--sessions", type=int, default=1000, help="live sessions made (default 1,000)")
    parser.add_argument("--scenario", type=Path, metavar="FILE", help="JSON body posted to each session's /__mock/scenarios")
    parser.add_argument("--wrk-rounds", type=int, default=5, help="paired wrk rounds before and after the sessions (default 5)")
    parser.add_argument("--duration", type=int, default=5, help="whole seconds per wrk run (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="whole seconds of unmeasured wrk load before each run (default 2)")
    parser.add_argument("--connections", type=int, default=50, help="wrk's keep-alive connections (default 50)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the raw results to FILE")
    args = parser.parse_args(argv)
    if min(args.rounds, args.starts, args.sessions, args.wrk_rounds) < 1:
        parser.error("--rounds, --starts, --sessions and --wrk-rounds must be 1 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench.check_tools()
    scenario = args.scenario.read_text() if args.scenario else json.dumps(MESH_SCENARIO)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # SystemExit unwinds: the servers are stopped
    print("measuring", flush=True)
    run = measure_sessions(args, scenario)
    info = bench.machine()
    print(f"\n{info['cpu']}, {info['cores']} cores, Python {info['python']}, commit {info['commit']}")
    print(f"server on core {bench.SERVER_CPU}, wrk on core {bench.WRK_CPU}; one keep-alive client for the sessions\n")
    print("\n".join(report_lines(run)))
    if args.json:
        write_json(args.json, run, args)
        print(f"- raw results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
