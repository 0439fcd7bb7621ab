"""A `mockserver serve` subprocess started without waiting, stopped with real signals: for the
tests that start two servers together, kill one, or watch how it stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .helpers import ROOT

STARTUP_TIMEOUT = 20.0


class ServerProcess:
    """`mockserver serve --port 0 --quiet ARGS` in a subprocess, with its output in files (a pipe
    nobody reads could fill up and block it). Starting returns at once; `wait_ready` waits for
    the banner, so two servers can start together."""

    def __init__(self, logs: Path, *args: str, launcher: Sequence[str] = ("-m", "mockserver.cli"), wrapper: Sequence[str] = ()) -> None:
        """`wrapper` is a command the server runs under (it ends by exec-ing the server, keeping its pid)."""
        logs.mkdir(parents=True, exist_ok=True)
        name = f"server-{time.monotonic_ns()}"
        self.out_path, self.err_path = logs / f"{name}.out", logs / f"{name}.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen(
                [*wrapper, sys.executable, *launcher, "serve", "--port", "0", "--quiet", *args], stdout=out, stderr=err, cwd=ROOT
            )
        self.base = ""
        self.own_ports: dict[str, str] = {}

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.base.removeprefix("http://").rsplit(":", 1)
        return host, int(port)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> str:
        """The base URL, once the whole banner (it ends with the health line) is printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            banner = self.out_path.read_text()
            if "/__mock/health" in banner:
                match = re.search(r"listening on (http://\S+)", banner)
                assert match, banner
                self.base = match.group(1)
                self.own_ports = dict(re.findall(r"^\s+(\w+)\s+http://\S+\n\s+also at (http://\S+)", banner, re.MULTILINE))
                return self.base
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"server did not start (exit {self.process.returncode}): {self.err_path.read_text()[-3000:]}")

    def signal(self, number: signal.Signals) -> None:
        os.kill(self.pid, number)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no goodbye."""
        self.signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def wait(self, timeout: float = 10.0) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL when it does not exit in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:  # tests stop it themselves; a failing one leaves it to us
            self.process.kill()
            self.process.wait(timeout=10)
