"""`serve --workers N`: N server processes on the same ports, sharing one state store.

The parent forks the workers before any event loop or database exists, so each one
starts clean. Every worker binds its own listening socket with SO_REUSEPORT and the
kernel spreads connections between them. The sandbox state lives in SQLite, which
is safe to share between processes: the `--state` file, or a temporary file that is
removed when the server stops. The request journal and the faults stay per worker.

A port given as 0 is chosen once by the parent, so all workers share it. When a
worker dies, the others are stopped and the server exits with an error: an
orchestrator restarting one clean process is clearer than a half-alive group.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .settings import Settings

Worker = Callable[[Settings, Callable[[str], None]], int]


def serve_workers(settings: Settings, run_worker: Worker) -> int:
    """Fork `settings.workers` processes running `run_worker`; print the first one's banner once all are listening."""
    with _shared_state(settings) as state, _reserved_ports(settings) as ports:
        shared = dataclasses.replace(settings, state=state, port=ports[""], api_ports={k: v for k, v in ports.items() if k})
        readers, pids = [], []
        for index in range(settings.workers):
            reader, writer = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(reader)
                os._exit(_worker_main(shared, run_worker, writer, announce=index == 0))
            os.close(writer)
            readers.append(reader)
            pids.append(pid)
        ready = [_read_all(reader) for reader in readers]  # each worker closes its pipe once it listens (or exits)
        if not all(ready):
            _stop(pids)
            print("mockserver: a worker failed to start", file=sys.stderr)
            return 1
        print(ready[0].strip(), flush=True)
        return _supervise(pids)


def _worker_main(settings: Settings, run_worker: Worker, writer: int, announce: bool) -> int:
    """Run one worker; tell the parent it listens by closing the pipe after writing its banner."""
    pipe = os.fdopen(writer, "w")

    def ready(banner: str) -> None:
        pipe.write(banner if announce else "ready\n")
        pipe.close()

    try:
        return run_worker(settings, ready)
    except Exception as exc:  # a worker reports any failure by its exit code
        print(f"mockserver worker {os.getpid()}: {exc}", file=sys.stderr, flush=True)
        return 1


def _read_all(fd: int) -> str:
    with os.fdopen(fd) as pipe:
        return pipe.read()


def _supervise(pids: list[int]) -> int:
    """Forward SIGINT/SIGTERM to the workers (they drain, then exit); stop all when one exits on its own."""
    stopping = False

    def forward(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True
        _signal_all(pids, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    worst = 0
    alive = set(pids)
    while alive:
        pid, status = os.wait()
        alive.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if not stopping:
            print(f"mockserver: worker {pid} exited ({code}); stopping the others", file=sys.stderr, flush=True)
            stopping = True
            worst = worst or 1
            _signal_all(alive, signal.SIGTERM)
        worst = worst or (code if code > 0 else 0)
    return worst


def _signal_all(pids: list[int] | set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _stop(pids: list[int]) -> None:
    _signal_all(pids, signal.SIGTERM)
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


@contextlib.contextmanager
def _shared_state(settings: Settings) -> Iterator[Path]:
    """The `--state` file, or a temporary one that lasts as long as the server (the in-memory store is per process)."""
    if settings.state is not None:
        yield settings.state
        return
    with tempfile.TemporaryDirectory(prefix="mockserver-state-") as folder:
        yield Path(folder) / "state.sqlite"


@contextlib.contextmanager
def _reserved_ports(settings: Settings) -> Iterator[dict[str, int]]:
    """Every port the workers bind ("" is the main site); a 0 is resolved to one free port shared by all.

    The reserving socket is bound with SO_REUSEPORT but never listens, so it takes no
    connections; it keeps the port from being taken by someone else until the workers bind."""
    wanted = {"": settings.port, **settings.api_ports}
    held: list[socket.socket] = []
    try:
        ports = {}
        for key, port in wanted.items():
            if port:
                ports[key] = port
                continue
            family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
            reserve = socket.socket(family, socket.SOCK_STREAM)
            held.append(reserve)
            reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            reserve.bind((settings.host, 0))
            ports[key] = reserve.getsockname()[1]
        yield ports
    finally:
        for reserve in held:
            reserve.close()
