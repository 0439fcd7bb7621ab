"""bench/soak.py still runs: a six-second soak against a fresh server ends with its interval lines and a passing verdict."""

from __future__ import annotations

import re
import subprocess
import sys

from .helpers import ROOT

SOAK = ROOT / "bench" / "soak.py"


def test_a_short_soak_passes() -> None:
    # a fault every second, so that the six seconds see status, latency and drop faults
    command = [sys.executable, str(SOAK), "--duration", "6", "--interval", "2", "--concurrency", "4", "--fault-every", "1"]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    interval_lines = re.findall(r"^\s+(\d+)s\s+(\d+)\s+\d+(?:\s+\d+){7}\s+[\d.]+\s+\d+\s+\S+$", completed.stdout, re.MULTILINE)
    assert [int(elapsed) for elapsed, _ in interval_lines] == [0, 2, 4, 6], output
    assert int(interval_lines[-1][1]) > 0, output
    installed = re.search(r"faults installed: (.*)", completed.stdout)
    assert installed and all(kind in installed.group(1) for kind in ("status 503", "latency", "status 500", "drop")), output
    assert re.search(r"^\s+ok\s+memory flat: ", completed.stdout, re.MULTILINE), output
    assert re.search(r"^\s+ok\s+descriptors flat: ", completed.stdout, re.MULTILINE), output
    assert "FAIL" not in completed.stdout, output
    assert completed.stdout.rstrip().endswith("verdict: PASS"), output


def test_a_short_cache_busting_soak_with_reloads_meets_only_expected_answers() -> None:
    # every request a user, id, range or document never seen before, and a reload every two seconds
    command = [
        sys.executable,
        str(SOAK),
        "--duration",
        "6",
        "--interval",
        "2",
        "--concurrency",
        "4",
        "--bust-caches",
        "--reload-every",
        "2",
    ]
    completed = subprocess.run([*command, "--rss-tolerance-mib", "200"], cwd=ROOT, capture_output=True, text=True, timeout=90, check=False)
    output = completed.stdout + completed.stderr
    assert "every cache busted, a reload every 2s" in completed.stdout, output
    assert "--watch --specs" in completed.stdout, output  # the server watches the soak's copy of the specs
    assert re.search(r"^\s+ok\s+unexpected statuses: 0$", completed.stdout, re.MULTILINE), output
    assert re.search(r"^\s+ok\s+connection errors other than injected drops: 0$", completed.stdout, re.MULTILINE), output
    assert completed.returncode == 0 and completed.stdout.rstrip().endswith("verdict: PASS"), output
