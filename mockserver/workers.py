"""`serve --workers N`: N server processes on the same ports, sharing one state store.

The parent makes the state file (schema and WAL, once, so that workers opening it together
never find it locked) and binds every port once, without SO_REUSEPORT, so no other process
can join it: a second server on a busy port fails with "address already in use". Then it
forks the workers before any event loop or open database exists, so each one starts clean.
The workers inherit the listening sockets and the kernel hands each connection to one of
them. The sandbox state lives in SQLite, which is safe to share between processes: the
`--state` file, or a temporary file that is removed when the server stops. The request
journal and the faults stay per worker.

SIGTERM and SIGINT reach the parent's handlers from before the first fork, and are passed on
to every worker once. Each worker holds the read end of a pipe only the parent can write to:
when the parent dies, even by SIGKILL, the pipe closes and the worker stops as on SIGTERM.
When a worker dies, the others are stopped and the server exits with an error: an
orchestrator restarting one clean process is clearer than a half-alive group.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from .connections import Listeners, bound_ports, close_all, listeners_for
from .sandbox.store import Store
from .settings import Settings

Worker = Callable[[Settings, Callable[[str], None], Listeners], int]  # (settings, called once it listens, the parent's sockets)


class Group:
    """The worker processes, and whether the server is stopping (a signal, or a worker that died)."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.stopping = False
        self._signalled: set[int] = set()
        signal.signal(signal.SIGTERM, self._forward)
        signal.signal(signal.SIGINT, self._forward)

    def _forward(self, signum: int, _: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM to every worker not yet told (a second one would cut its drain short)."""
        self.stopping = True
        for pid in self.pids:
            if pid not in self._signalled:
                self._signalled.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def supervise(self) -> int:
        """Wait for every worker; when one exits on its own, stop the others. The exit code
        is 1 when a worker died unasked, else the worst a worker returned."""
        worst = 0
        alive = set(self.pids)
        if self.stopping:  # a signal came while workers were forked: tell the ones it missed
            self.stop()
        while alive:
            pid, status = os.wait()
            alive.discard(pid)
            code = os.waitstatus_to_exitcode(status)
            if not self.stopping:
                print(f"mockserver: worker {pid} exited ({code}); stopping the others", file=sys.stderr, flush=True)
                worst = 1
                self.stop()
            worst = worst or max(code, 0)
        return worst


def serve_workers(settings: Settings, run_worker: Worker) -> int:
    """Fork `settings.workers` processes running `run_worker`; print the first one's banner once all are listening.

    Raises ListenError (an OSError) when a port cannot be listened on, before any fork."""
    group = Group()
    with _shared_state(settings) as state:
        Store(state, settings.max_state_bytes).close()
        listeners = listeners_for(settings)
        ports = bound_ports(listeners)
        shared = dataclasses.replace(settings, state=state, port=ports[""], api_ports={k: v for k, v in ports.items() if k})
        lifeline, parent_end = os.pipe()  # the parent never writes: the workers see EOF when it is gone
        try:
            readers = []
            for index in range(settings.workers):
                if group.stopping:
                    break
                reader, writer = os.pipe()
                pid = os.fork()
                if pid == 0:  # the worker
                    os.close(reader)
                    os.close(parent_end)
                    os._exit(_worker_main(shared, run_worker, listeners, lifeline, writer, announce=index == 0))
                os.close(writer)
                readers.append(reader)
                group.pids.append(pid)
            close_all(listeners)  # the workers hold them now
            os.close(lifeline)
            return _when_ready(group, readers)
        finally:
            os.close(parent_end)


def _when_ready(group: Group, readers: list[int]) -> int:
    """Print the banner once every worker listens, then supervise them."""
    ready = [_read_all(reader) for reader in readers]  # each worker closes its pipe once it listens (or exits)
    if ready and all(ready):
        print(ready[0].strip(), flush=True)
    elif not group.stopping:
        print("mockserver: a worker failed to start", file=sys.stderr, flush=True)
        group.stop()
        group.supervise()
        return 1
    return group.supervise()


def _worker_main(settings: Settings, run_worker: Worker, listeners: Listeners, lifeline: int, writer: int, announce: bool) -> int:
    """Run one worker on the parent's sockets; tell the parent it listens by closing the pipe after writing its banner."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handlers are not the worker's
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _stop_with_parent(lifeline)
    pipe = os.fdopen(writer, "w")

    def ready(banner: str) -> None:
        pipe.write(banner if announce else "ready\n")
        pipe.close()

    try:
        return run_worker(settings, ready, listeners)
    except Exception as exc:  # a worker reports any failure by its exit code
        print(f"mockserver worker {os.getpid()}: {exc}", file=sys.stderr, flush=True)
        return 1


def _stop_with_parent(lifeline: int) -> None:
    """SIGTERM this process once the parent's end of `lifeline` closes (the parent is gone)."""

    def watch() -> None:
        os.read(lifeline, 1)  # returns at EOF: nobody ever writes
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _read_all(fd: int) -> str:
    with os.fdopen(fd) as pipe:
        return pipe.read()


@contextlib.contextmanager
def _shared_state(settings: Settings) -> Iterator[Path]:
    """The `--state` file, or a temporary one that lasts as long as the server (the in-memory store is per process)."""
    if settings.state is not None:
        yield settings.state
        return
    with tempfile.TemporaryDirectory(prefix="mockserver-state-") as folder:
        yield Path(folder) / "state.sqlite"
