"""Throughput benchmark: a bare aiohttp baseline, then mockserver workloads, measured with wrk.

The server under test is pinned to core 0 and wrk to core 1 (`taskset`), 50 keep-alive connections, 1 wrk thread.
Run from the repository root:  python bench/bench.py
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = "0"
WRK_CPU = "1"
BOTH_CPUS = "0,1"
# every mockserver run: no access log (as Prism's figure "with logging off"), and a day-long signature
# window so that one request signed before the run stays valid (wrk repeats it; Lua computes nothing)
SERVER_ARGS = ["--quiet", "--signature-window", "86400"]
MESH_AUTH = {"X-Client-Id": "mock-client-id", "X-Client-Secret": "sk_sand_mock_secret"}
PORTFOLIO = "/mesh/api/v1/holdings/portfolio"
OMNIEX_PORTFOLIOS = "/omniex/edge/v1beta/portfolios"
BITCAIN = "/bitcain/api/v1/portfolio/"
BITCAIN_USER = "a169451c-8525-4352-b8ca-070dd449a1a5"  # the sandbox token's user
BITCAIN_AUTH = {"Authorization": "Bearer mock-bitcain-token"}
TREASURE_HISTORY = (
    "/treasure/v1/businesses/urn:uuid:3f2a9c4e-8d71-4b5a-9e06-7c1d2b3a4f58/portfolio_history?start_date=2025-01-01&end_date=2025-12-01"
)
GRAPHQL = "/bitpanda/graphql"
GRAPHQL_AUTH = {"x-api-key": "mock-api-key"}
POINT = "items { timestamp total { value timestamp currency } balances { items { amount { currency timestamp value } asset { name } } } }"
LATEST_QUERY = f"query UserPortfolioQuery {{ user {{ portfolio {{ {POINT} }} }} }}"
DAILY_QUERY = (  # 30 daily points ending at the default sandbox clock, 2026-01-15T15:00Z
    'query UserPortfolioQuery { user { portfolio(startDate: "2025-12-17T15:00:00Z", endDate: "2026-01-15T15:00:00Z", '
    f"timePeriod: DAILY) {{ {POINT} }} }} }}"
)


def omniex_signed(method: str, path: str, body: bytes = b"") -> dict[str, str]:
    """Omniex headers signed once, now, with the sandbox key (valid for the run thanks to the long window)."""
    timestamp = str(int(time.time() * 1000))
    digest = hmac.new(b"mock-onx-secret", method.encode() + path.encode() + body + timestamp.encode(), hashlib.sha384)
    return {"ONX-API-KEY": "mock-onx-key", "ONX-API-TIMESTAMP": timestamp, "ONX-API-SIGNATURE": digest.hexdigest()}


@dataclass(frozen=True)
class Workload:
    """One request shape that wrk repeats; `expect` is the status every response should have."""

    name: str
    method: str
    path: str
    expect: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str | dict[str, Any] | None = None
    spec: str | None = None  # spec file Prism can mock this workload from (path relative to the repository)
    mount: str = ""  # prefix mockserver puts before the spec's paths (Prism serves them without it)

    def body_bytes(self) -> bytes | None:
        """The request body as bytes (dicts are sent as JSON)."""
        if self.body is None:
            return None
        return json.dumps(self.body).encode() if isinstance(self.body, dict) else self.body.encode()

    def all_headers(self) -> dict[str, str]:
        """Headers, plus a JSON content type when the body is a dict and none was given."""
        headers = dict(self.headers)
        if isinstance(self.body, dict) and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        return headers


# Add further APIs here: one row per request shape. "{portfolio}" in a path is replaced, once the server
# runs, by the id of the sandbox user's first bitcain portfolio (see `resolve`).
WORKLOADS: list[Workload] = [
    Workload("mesh valid", "GET", f"{PORTFOLIO}?UserId=alice", 200, MESH_AUTH, spec="specs/mesh.yaml", mount="/mesh"),
    Workload("mesh missing UserId", "GET", PORTFOLIO, 400, MESH_AUTH, spec="specs/mesh.yaml", mount="/mesh"),
    Workload("omniex signed list", "GET", OMNIEX_PORTFOLIOS, 200, omniex_signed("GET", OMNIEX_PORTFOLIOS)),
    Workload("bitcain list", "GET", f"{BITCAIN}?user_id={BITCAIN_USER}", 200, BITCAIN_AUTH),
    Workload("bitcain get", "GET", f"{BITCAIN}{{portfolio}}?user_id={BITCAIN_USER}", 200, BITCAIN_AUTH),
    Workload("graphql latest", "POST", GRAPHQL, 200, GRAPHQL_AUTH, body={"query": LATEST_QUERY}),
    Workload("graphql 30 daily points", "POST", GRAPHQL, 200, GRAPHQL_AUTH, body={"query": DAILY_QUERY}),
]
BASELINE = Workload("baseline (bare aiohttp)", "GET", f"{PORTFOLIO}?UserId=alice", 200, MESH_AUTH)
STARTUP_PROBE = WORKLOADS[0]
# the memory run cycles through these: every workload above, and invalid requests of each API
MIXED_EXTRA: list[Workload] = [
    Workload("mesh wrong secret", "GET", f"{PORTFOLIO}?UserId=alice", 401, {**MESH_AUTH, "X-Client-Secret": "nope"}),
    Workload(
        "omniex bad signature", "GET", OMNIEX_PORTFOLIOS, 401, {**omniex_signed("GET", OMNIEX_PORTFOLIOS), "ONX-API-SIGNATURE": "0" * 96}
    ),
    Workload("bitcain unknown id", "GET", f"{BITCAIN}00000000-0000-4000-8000-000000000000?user_id={BITCAIN_USER}", 404, BITCAIN_AUTH),
    Workload("bitcain bad body", "POST", f"{BITCAIN}?user_id={BITCAIN_USER}", 422, BITCAIN_AUTH, body={"name": ""}),
    Workload("graphql no key", "POST", GRAPHQL, 401, body={"query": LATEST_QUERY}),
    Workload("treasure history", "GET", TREASURE_HISTORY, 200, {"Authorization": "Bearer mock-treasure-token"}),
    Workload("treasure no token", "GET", TREASURE_HISTORY, 401),
    Workload("unknown path", "GET", "/nowhere", 404),
]


@dataclass
class Result:
    """What wrk reported for one workload against one server."""

    workload: str
    server: str
    expect: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx_3xx: int
    socket_errors: dict[str, int]
    server_cpu: float  # CPU time the server got / wall time of the measurement (1.0 = one whole core)
    other_cpu: float  # CPU time used by processes other than the server, wrk and this script (cores); > 0.1 means interference
    ratio: float | None = None


# ---------------------------------------------------------------- baseline server (runs in a child process)

BASELINE_BODY_SIZE = 2500


def baseline_body() -> bytes:
    """A fixed JSON document of about 2.5 KB (roughly the size of the mesh portfolio answer)."""
    positions: list[dict[str, Any]] = []
    body = b""
    while len(body) < BASELINE_BODY_SIZE:
        i = len(positions)
        positions.append({"symbol": f"SYM{i:02}", "amount": 1.5 + i, "lastPrice": 100.25 + i, "marketValue": 150.375 * i})
        body = json.dumps({"content": {"equityPositions": positions}, "status": "ok"}, separators=(",", ":")).encode()
    return body


def serve_baseline(port: int) -> None:
    """Serve the fixed body on every path: the ceiling aiohttp itself allows on this machine."""
    import asyncio

    from aiohttp import web

    body = baseline_body()

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    announce = f"listening on http://127.0.0.1:{port}"
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, loop=loop, print=lambda _: print(announce, flush=True))


# ---------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server subprocess pinned to `cpus` (SERVER_CPU; None: not pinned, run as it is), in its own process group so
    it can be stopped with its children."""

    def __init__(self, name: str, command: list[str], port: int, cpus: str | None = SERVER_CPU) -> None:
        self.name = name
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.spawned = time.monotonic()
        pinned = ["taskset", "-c", cpus, *command] if cpus is not None else command
        self.process = subprocess.Popen(pinned, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def base(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Whatever the server printed so far (for error messages)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def check_alive(self) -> None:
        """Raise when the server has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")

    def wait_ready(self, workload: Workload, timeout: float = 60.0) -> float:
        """Poll `workload` until it gets its expected status; return seconds since spawn."""
        deadline = self.spawned + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(OSError):
                if request_status(self.base, workload, timeout=2.0) == workload.expect:
                    return time.monotonic() - self.spawned
            time.sleep(0.005)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f}s:\n{self.output()}")

    def rss_kib(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the server process, in KiB (taskset execs, so its pid is the server's)."""
        values: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
        return values

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server's process group (Prism runs node under npx)."""
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid:  # pgrp: start_new_session made the server its group leader
                    ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Terminate the process group; kill it if it lingers."""
        stop_group(self.process)
        self.log.close()


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to a process's group (its workers too, even if the leader is gone); SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def running(name: str, command: list[str], port: int, cpus: str = SERVER_CPU) -> Iterator[Server]:
    """Start a Server and always stop it."""
    server = Server(name, command, port, cpus)
    try:
        yield server
    finally:
        server.stop()


def request_status(base: str, workload: Workload, timeout: float = 10.0) -> int:
    """Send `workload` once with urllib; return the status code."""
    request = urllib.request.Request(
        base + workload.path, data=workload.body_bytes(), headers=workload.all_headers(), method=workload.method
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)


def own_cpu_seconds() -> float:
    """CPU time of this script and its finished children (wrk, urllib probes run in-process)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def busy_cpu_seconds() -> float:
    """User + nice + system time of all cores from /proc/stat (interrupt time excluded: it is mostly our own traffic)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return (int(fields[1]) + int(fields[2]) + int(fields[3])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def cpu_snapshot(server: Server) -> tuple[float, float, float, float]:
    """Wall clock, server CPU, own CPU and whole-machine busy CPU, in seconds."""
    return time.monotonic(), server.cpu_seconds(), own_cpu_seconds(), busy_cpu_seconds()


# ---------------------------------------------------------------- wrk


def lua_string(text: str) -> str:
    """A Lua string literal for `text`."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_script(workload: Workload) -> str | None:
    """The wrk script setting method, headers and body; None when a plain GET needs none."""
    headers = workload.all_headers()
    body = workload.body_bytes()
    if workload.method == "GET" and not headers and body is None:
        return None
    lines = [f"wrk.method = {lua_string(workload.method)}"]
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body.decode())}")
    return "\n".join(lines) + "\n"


def run_wrk(url: str, script: Path | None, duration: int, connections: int, cpus: str = WRK_CPU) -> str:
    """Run wrk pinned to `cpus`; return its stdout."""
    command = ["taskset", "-c", cpus, "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    completed = subprocess.run([*command, url], capture_output=True, text=True, timeout=duration + 60, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({shlex.join(command)}): {completed.stderr or completed.stdout}")
    return completed.stdout


TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text: str) -> float:
    """'4.52ms' -> 4.52."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"unexpected wrk time {text!r}")
    return float(match.group(1)) * TIME_UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests, duration, requests/s, p50/p99 (ms), non-2xx/3xx and socket errors from wrk's text."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise ValueError(f"wrk output has no {pattern!r}:\n{output}")
        return match

    done = find(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    names = ("connect", "read", "write", "timeout")
    return {
        "requests": int(done.group(1)),
        "seconds": to_ms(done.group(2) + done.group(3)) / 1000,
        "rps": float(find(r"^Requests/sec:\s*([\d.]+)").group(1)),
        "p50_ms": to_ms(find(r"^\s*50%\s+(\S+)").group(1)),
        "p99_ms": to_ms(find(r"^\s*99%\s+(\S+)").group(1)),
        "non_2xx_3xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": dict(zip(names, map(int, errors.groups()), strict=True)) if errors else dict.fromkeys(names, 0),
    }


def measure(server: Server, workload: Workload, args: argparse.Namespace, path: str | None = None, wrk_cpus: str = WRK_CPU) -> Result:
    """Check the expected status once, warm up, then measure `workload` with wrk."""
    target = replace(workload, path=path or workload.path)
    status = request_status(server.base, target)
    if status != workload.expect:
        raise RuntimeError(f"{server.name} / {workload.name}: expected {workload.expect}, got {status}")
    with tempfile.TemporaryDirectory() as tmp:
        script_text = lua_script(target)
        script = None
        if script_text is not None:
            script = Path(tmp) / "request.lua"
            script.write_text(script_text)
        url = server.base + target.path
        if args.warmup > 0:
            run_wrk(url, script, args.warmup, args.connections, wrk_cpus)
        start = cpu_snapshot(server)
        parsed = parse_wrk(run_wrk(url, script, args.duration, args.connections, wrk_cpus))
        wall, cpu, own, busy = (end - begin for begin, end in zip(start, cpu_snapshot(server), strict=True))
    other = max(busy - cpu - own, 0.0) / wall
    result = Result(workload=workload.name, server=server.name, expect=workload.expect, server_cpu=cpu / wall, other_cpu=other, **parsed)
    latency = f"p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms"
    print(f"  {server.name:10} {workload.name:32} {result.rps:10.0f} req/s  {latency}  server CPU {result.server_cpu:.0%}", flush=True)
    return result


# ---------------------------------------------------------------- the run


def prism_available() -> bool:
    """True when `npx prism` is already installed (never installs it)."""
    if not shutil.which("npx"):
        return False
    try:
        probe = subprocess.run(["npx", "--no-install", "prism", "--version"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def baseline_command(port: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--serve-baseline", str(port)]


def paired(baseline: Server, server: Server, workload: Workload, args: argparse.Namespace) -> tuple[Result, list[Result]]:
    """`workload` measured `--rounds` times, each time right after the baseline: the round whose ratio to the
    baseline just before it is the median (the lower middle one for an even count; its ratio set), and the
    baseline's runs.

    The machine's speed drifts from minute to minute; the ratio of two neighbouring runs drifts far less."""
    rounds = []
    for _ in range(args.rounds):
        before = measure(baseline, BASELINE, args)
        result = measure(server, workload, args)
        result.ratio = result.rps / before.rps if before.rps else None
        rounds.append((result, before))
    rounds.sort(key=lambda pair: pair[0].ratio or 0.0)
    return rounds[(len(rounds) - 1) // 2][0], [before for _, before in rounds]


def median_run(results: list[Result]) -> Result:
    """The run with the median requests/s (the lower of the two middle ones for an even count)."""
    return sorted(results, key=lambda result: result.rps)[(len(results) - 1) // 2]


def mockserver_command(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port), *SERVER_ARGS, *extra]


def bench_mockserver(
    args: argparse.Namespace, baseline: Server
) -> tuple[list[Result], list[Result], float, dict[str, int], dict[str, Any]]:
    """Measure every workload against one mockserver process, each paired with the baseline (`paired`); also the
    server's start-up time, its memory and the mixed run. Returns the workloads' and the baseline's results too."""
    port = free_port()
    with running("mockserver", mockserver_command(port, *shlex.split(args.server_args)), port) as server:
        startup = server.wait_ready(STARTUP_PROBE)
        workloads = resolve(server, WORKLOADS)
        results, baselines = [], []
        for workload in workloads:
            result, before = paired(baseline, server, workload, args)
            results.append(result)
            baselines.extend(before)
        rss = server.rss_kib()
        mixed = bench_mixed(server, [*workloads, *resolve(server, MIXED_EXTRA)], args)
        return results, baselines, startup, rss, mixed


def resolve(server: Server, workloads: list[Workload]) -> list[Workload]:
    """Replace "{portfolio}" in paths by the id of the sandbox user's first bitcain portfolio."""
    if not any("{portfolio}" in workload.path for workload in workloads):
        return workloads
    listing = next(workload for workload in WORKLOADS if workload.name == "bitcain list")
    request = urllib.request.Request(server.base + listing.path, headers=listing.all_headers())
    with urllib.request.urlopen(request, timeout=10) as response:
        first = json.load(response)[0]["portfolio_id"]
    return [replace(workload, path=workload.path.replace("{portfolio}", first)) for workload in workloads]


def mixed_lua(workloads: list[Workload]) -> str:
    """A wrk script that sends the workloads in turn, every one formatted once when the script loads."""
    lines = ["local requests = {}"]
    for workload in workloads:
        headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in workload.all_headers().items())
        body = workload.body_bytes()
        body_text = lua_string(body.decode()) if body is not None else "nil"
        request = f"wrk.format({lua_string(workload.method)}, {lua_string(workload.path)}, {{{headers}}}, {body_text})"
        lines.append(f"requests[#requests + 1] = {request}")
    lines += ["local i = 0", "request = function()", "  i = i % #requests + 1", "  return requests[i]", "end"]
    return "\n".join(lines) + "\n"


def bench_mixed(server: Server, workloads: list[Workload], args: argparse.Namespace) -> dict[str, Any]:
    """Cycle through valid and invalid requests of every API until `--mixed-requests` were answered,
    reading the server's resident memory after every chunk of `--mixed-chunk` seconds."""
    if args.mixed_requests <= 0:
        return {}
    for workload in workloads:  # each request shape gets its expected status before the run
        status = request_status(server.base, workload)
        if status != workload.expect:
            raise RuntimeError(f"mixed / {workload.name}: expected {workload.expect}, got {status}")
    samples: list[tuple[int, int]] = []  # (requests so far, VmRSS KiB)
    total, seconds = 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "mixed.lua"
        script.write_text(mixed_lua(workloads))
        while total < args.mixed_requests:
            parsed = parse_wrk(run_wrk(server.base + "/", script, args.mixed_chunk, args.connections))
            total += parsed["requests"]
            seconds += parsed["seconds"]
            samples.append((total, server.rss_kib().get("VmRSS", 0)))
            print(f"  mixed      {total:>9,} requests  VmRSS {samples[-1][1] / 1024:.1f} MiB", flush=True)
    return {"requests": total, "rps": total / seconds, "shapes": len(workloads), "samples": samples}


def bench_workers(args: argparse.Namespace) -> list[Result]:
    """'mesh valid' with 1 and then 2 worker processes; server and wrk both get the two cores."""
    results = []
    for count in (1, 2):
        port = free_port()
        command = mockserver_command(port, "--workers", str(count), *shlex.split(args.server_args))
        with running(f"{count} worker{'s' if count > 1 else ''}", command, port, cpus=BOTH_CPUS) as server:
            server.wait_ready(STARTUP_PROBE)
            results.append(measure(server, STARTUP_PROBE, args, wrk_cpus=BOTH_CPUS))
    return results


def bench_prism(args: argparse.Namespace) -> list[Result]:
    """Measure the successful workloads against Prism mocking their spec, if Prism is installed."""
    if not prism_available():
        print("  note: `npx prism` is not installed; skipping the Prism comparison", flush=True)
        return []
    results = []
    for workload in (w for w in WORKLOADS if w.spec and w.expect < 400):
        port = free_port()
        command = ["npx", "--no-install", "prism", "mock", "--port", str(port), "--host", "127.0.0.1", str(ROOT / str(workload.spec))]
        path = workload.path.removeprefix(workload.mount)
        try:
            with running("prism", command, port) as server:
                server.wait_ready(replace(workload, path=path))
                results.append(measure(server, workload, args, path=path))
        except RuntimeError as exc:  # an optional comparison must not cost the main results
            print(f"  note: Prism comparison for {workload.name!r} failed: {exc}", flush=True)
    return results


OTHER_CPU_LIMIT = 0.1  # cores


def unexpected(result: Result) -> str | None:
    """A warning when the error counts do not match the expected status."""
    problems = []
    wanted = 0 if result.expect < 400 else result.requests
    if result.non_2xx_3xx != wanted:
        problems.append(f"{result.non_2xx_3xx} non-2xx/3xx of {result.requests} (expected {wanted})")
    if result.other_cpu > OTHER_CPU_LIMIT:
        problems.append(f"other processes used {result.other_cpu:.2f} cores meanwhile: the numbers are disturbed")
    if any(result.socket_errors.values()):
        problems.append(f"socket errors {result.socket_errors}")
    return f"{result.server} / {result.workload}: " + "; ".join(problems) if problems else None


def markdown(results: list[Result]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| workload | server | expect | requests/s | p50 (ms) | p99 (ms) | vs baseline | non-2xx/3xx | server CPU | other CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        cells = [r.workload, r.server, r.expect, f"{r.rps:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", ratio, f"{r.non_2xx_3xx:,}"]
        lines.append("| " + " | ".join(map(str, [*cells, f"{r.server_cpu:.0%}", f"{r.other_cpu:.0%}"])) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """CPU model and core count."""
    model = "unknown"
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), model)
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(), "commit": commit()}


def commit() -> str:
    """The repository's HEAD commit, marked '+dirty' when the working tree has changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="whole seconds per measured run (default 5)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each workload, each right after a run of the baseline; the median counts (default 3)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="whole seconds of unmeasured load before each workload (default 2; 0: none)")
    parser.add_argument("--connections", type=int, default=50, help="concurrent keep-alive connections (default 50)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the raw results to FILE")
    parser.add_argument(
        "--server-args", default="", metavar="ARGS", help="extra arguments for `mockserver serve` (one shell-quoted string)"
    )
    parser.add_argument(
        "--mixed-requests", type=int, default=1_000_000, help="requests of the mixed memory run (default 1,000,000; 0: skip it)"
    )
    parser.add_argument("--mixed-chunk", type=int, default=10, help="seconds between memory readings in the mixed run (default 10)")
    parser.add_argument(
        "--workers", action=argparse.BooleanOptionalAction, default=True, help="compare 1 and 2 worker processes (default: yes)"
    )
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    return args


def check_tools() -> None:
    """Fail early when wrk or taskset is missing."""
    missing = [tool for tool in ("wrk", "taskset") if not shutil.which(tool)]
    if missing:
        sys.exit(f"bench: missing {', '.join(missing)} (Debian: apt-get install -y wrk util-linux)")


@dataclass
class Run:
    """Everything one run measured."""

    results: list[Result]
    startup: float
    rss: dict[str, int]
    baseline_rss: dict[str, int]
    mixed: dict[str, Any]
    workers: list[Result]


def mixed_lines(mixed: dict[str, Any]) -> list[str]:
    """The memory figures of the mixed run: after the first chunk (warm-up), at the end, and the highest."""
    if not mixed:
        return ["- mixed run: skipped (--mixed-requests 0)"]
    samples = mixed["samples"]
    first, last, peak = samples[0][1] / 1024, samples[-1][1] / 1024, max(rss for _, rss in samples) / 1024
    return [
        f"- mixed run: {mixed['requests']:,} requests cycling through {mixed['shapes']} request shapes of every API "
        f"(valid and invalid), {mixed['rps']:,.0f} requests/s",
        f"- mockserver memory in the mixed run: VmRSS {first:.1f} MiB after {samples[0][0]:,} requests, "
        f"{last:.1f} MiB after {samples[-1][0]:,}, highest {peak:.1f} MiB",
    ]


def workers_lines(workers: list[Result]) -> list[str]:
    if len(workers) != 2:
        return []
    one, two = workers
    return [
        f"- workers ('{one.workload}', server and wrk sharing both cores): 1 worker {one.rps:,.0f} req/s "
        f"(p99 {one.p99_ms:.2f} ms), 2 workers {two.rps:,.0f} req/s (p99 {two.p99_ms:.2f} ms): {two.rps / one.rps:.2f}x"
    ]


def report(run: Run, args: argparse.Namespace) -> None:
    """Print the table and the figures below it; write JSON if asked."""
    info = machine()
    print()
    print(f"{info['cpu']}, {info['cores']} cores, Python {info['python']}, commit {info['commit']}")
    print(f"server on core {SERVER_CPU}, wrk on core {WRK_CPU}, {args.connections} connections, ", end="")
    print(f"{args.duration} s per run after {args.warmup} s warm-up, {args.rounds} rounds of (baseline, workload) per workload")
    print()
    print(markdown(run.results))
    print()
    print(f"- start-up (spawn to first 200 of '{STARTUP_PROBE.name}', all APIs loaded): {run.startup:.2f} s")
    rss = run.rss
    print(
        f"- mockserver memory after the workloads: VmRSS {rss.get('VmRSS', 0) / 1024:.1f} MiB "
        f"(peak VmHWM {rss.get('VmHWM', 0) / 1024:.1f} MiB)"
    )
    print(f"- baseline memory after its run: VmRSS {run.baseline_rss.get('VmRSS', 0) / 1024:.1f} MiB")
    for line in [*mixed_lines(run.mixed), *workers_lines(run.workers)]:
        print(line)
    for warning in filter(None, map(unexpected, run.results + run.workers)):
        print(f"- WARNING {warning}")
    if args.json:
        payload = {
            "machine": info,
            "options": {
                "duration": args.duration,
                "warmup": args.warmup,
                "rounds": args.rounds,
                "connections": args.connections,
                "server_args": args.server_args,
            },
            "results": [asdict(r) for r in run.results],
            "startup_seconds": run.startup,
            "mockserver_kib": rss,
            "baseline_kib": run.baseline_rss,
            "mixed": run.mixed,
            "workers": [asdict(r) for r in run.workers],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"- raw results written to {args.json}")


def main(argv: list[str] | None = None) -> int:
    """Run the baseline, the mockserver workloads, the mixed run, the workers and (optionally) Prism, then report."""
    args = parse_args(argv)
    if args.serve_baseline is not None:
        serve_baseline(args.serve_baseline)
        return 0
    check_tools()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # turn SIGTERM into SystemExit so servers get stopped
    print("measuring", flush=True)
    port = free_port()
    with running("baseline", baseline_command(port), port) as baseline_server:
        baseline_server.wait_ready(BASELINE)
        results, baselines, startup, rss, mixed = bench_mockserver(args, baseline_server)
        baseline_rss = baseline_server.rss_kib()
    baseline = median_run(baselines)
    baseline.ratio = 1.0
    workers = bench_workers(args) if args.workers else []
    prism = bench_prism(args)
    for result in prism + workers:  # measured apart from the baseline: against its median run
        result.ratio = result.rps / baseline.rps if baseline.rps else None
    results = [baseline, *results, *prism]
    report(Run(results, startup, rss, baseline_rss, mixed, workers), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
