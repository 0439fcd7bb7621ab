"""The sandbox state is bounded as a whole (`max_state_bytes`), and a write the store cannot take,
at that bound or on a full disk, is answered 507 in the API's envelope (problem+json for
/__mock/reset) with no traceback; reads go on, and /__mock/reset frees the room again.

Where the growth went before the bound (measured over real HTTP, new user ids, 1,000 creates):
the SQLite pages (0.84 MiB, about 1.2 times that in RSS); the rest was the request journal
filling up to its own bound of 1,000 entries, after which the Python heap stays flat."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestClient

from mockserver.app import create_app
from mockserver.sandbox.store import Store
from mockserver.settings import load_settings

from .bitcain.helpers import AUTH, BASE, SANDBOX_USER, SEEDED
from .helpers import bitcain_only
from .server_process import ServerProcess

# as large as a portfolio may be: each one takes most of a 4 KiB page
LARGE = {
    "name": "Large",
    "description": "d" * 1000,
    "tags": [f"tag-{index:02d}-" + "t" * 43 for index in range(20)],
    "target_allocations": {"BTC": 0.5, "ETH": 0.5},
    "initial_value_usd": "1000",
}
FULL = {"detail": "Insufficient Storage"}  # FastAPI's answer to a 507
MOST = 2000  # creates a test makes before it gives up waiting for the bound


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bitcain_only(tmp_path_factory.mktemp("specs"))


async def _create(client: TestClient, user: str) -> tuple[int, Any]:
    response = await client.post(f"{BASE}/", params={"user_id": user}, json=LARGE, headers=AUTH)
    return response.status, await response.json()


async def fill(client: TestClient, prefix: str) -> list[dict[str, Any]]:
    """Create portfolios, each for a user never seen before, until one is refused (507 in
    bitcain's envelope); the ones created."""
    created = []
    for index in range(MOST):
        status, body = await _create(client, f"{prefix}-{index}")
        if status == 507:
            assert body == FULL
            return created
        assert status == 201, body
        created.append(body)
    raise AssertionError(f"{MOST} creates and none refused")


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"


async def test_the_state_is_bounded_and_reset_frees_it(aiohttp_client: Any, specs: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings({"specs": [specs]}, environ={})
    with closing(Store(None, max_bytes=128 * 1024)) as store:
        client = await aiohttp_client(create_app(settings, store=store))
        created = await fill(client, "user")
        assert len(created) >= 10
        for portfolio in (created[0], created[-1]):  # reads go on
            response = await client.get(f"{BASE}/{portfolio['portfolio_id']}", params={"user_id": portfolio["user_id"]})
            assert (response.status, await response.json()) == (200, portfolio)
        response = await client.get(f"{BASE}/", params={"user_id": "user-0"})
        assert (response.status, await response.json()) == (200, [created[0]])
        assert await _create(client, "user-after") == (507, FULL)  # still full: nothing of the refused write stayed
        warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
        assert any("the sandbox state is full" in message and "max_state_bytes" in message for message in warnings)
        assert_no_traceback(caplog)

        response = await client.post("/__mock/reset", json={})
        assert response.status == 200, await response.text()
        response = await client.get(f"{BASE}/", params={"user_id": "user-0"})
        assert await response.json() == []
        again = await fill(client, "again")
        assert len(again) == len(created)  # all the room is back


def test_max_state_bytes_bounds_what_a_server_stores(tmp_path: Path, specs: Path) -> None:
    """The setting, end to end: `serve --max-state-bytes`, filled over HTTP until 507."""
    with ServerProcess(tmp_path / "logs", "--specs", str(specs), "--max-state-bytes", str(1 << 20)) as server:
        base = server.wait_ready()
        with requests.Session() as http:
            for index in range(MOST):
                response = http.post(f"{base}{BASE}/", params={"user_id": f"user-{index}"}, json=LARGE, headers=AUTH, timeout=10)
                if response.status_code != 201:
                    break
            assert (response.status_code, response.json()) == (507, FULL)
            assert 100 < index < 1000  # 1 MiB took about 300 of them
            assert http.post(f"{base}/__mock/reset", json={}, timeout=10).status_code == 200
            assert http.post(f"{base}{BASE}/", params={"user_id": "next"}, json=LARGE, headers=AUTH, timeout=10).status_code == 201
        server.stop()
    assert "Traceback" not in server.err_path.read_text()


# --- a full disk --------------------------------------------------------------------------------


def _disk_full() -> sqlite3.OperationalError:
    """A real SQLITE_FULL error ("database or disk is full"), as SQLite raises it on a full disk."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute("PRAGMA max_page_count=1")
        try:
            db.execute("CREATE TABLE t (x)")
        except sqlite3.OperationalError as exc:
            return exc
    raise AssertionError("SQLite made a table in a database of one page")


class _FullDisk:
    """A connection whose COMMIT fails as on a full disk while `full` is set."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.full = False

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        if self.full and sql == "COMMIT":
            raise _disk_full()
        return self.db.execute(sql, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


class FullDiskStore(Store):
    """A file store whose disk can be made full (`disk.full = True`) and freed again."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.disk = self._db = _FullDisk(self._db)  # type: ignore[assignment]


async def test_a_full_disk_is_507_for_writes_and_reset_and_the_store_recovers(
    aiohttp_client: Any, specs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({"specs": [specs]}, environ={})
    with closing(FullDiskStore(tmp_path / "state.sqlite")) as store:
        client = await aiohttp_client(create_app(settings, store=store))
        store.disk.full = True
        assert await _create(client, "alice") == (507, FULL)
        response = await client.post("/__mock/reset", json={})
        assert response.status == 507 and response.content_type == "application/problem+json"
        problem = await response.json()
        assert problem["status"] == 507 and "the state was not reset" in problem["detail"] and "bytes left on the disk" in problem["detail"]
        assert_no_traceback(caplog)

        store.disk.full = False  # space is back
        status, created = await _create(client, "alice")
        assert status == 201 and created["user_id"] == "alice"
        assert (await client.post("/__mock/reset", json={})).status == 200
        response = await client.get(f"{BASE}/", params={"user_id": "alice"})
        assert await response.json() == []


@contextmanager
def small_filesystem(folder: Path) -> Iterator[list[str]]:
    """A command prefix that runs a program with a 1 MiB tmpfs mounted on `folder` (in a user and
    mount namespace of its own: no root needed); skips when the system allows no such namespace."""
    folder.mkdir()
    wrapper = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"']
    if shutil.which("unshare") is None or subprocess.run([*wrapper, str(folder), "true"], capture_output=True).returncode:
        pytest.skip("no user namespace to mount a small filesystem in")
    yield [*wrapper, str(folder)]


def fill_disk(path: Path) -> None:
    """Write `path` until the filesystem has no room left."""
    with path.open("wb") as ballast:
        try:
            while True:
                ballast.write(b"\0" * 65536)
                ballast.flush()
        except OSError:
            pass


def test_a_server_whose_state_disk_fills_up_answers_507_then_recovers(tmp_path: Path, specs: Path) -> None:
    """A real `serve --state` on a real 1 MiB filesystem: filled up under it, then freed."""
    folder = tmp_path / "small"
    with (
        small_filesystem(folder) as wrapper,
        ServerProcess(tmp_path / "logs", "--specs", str(specs), "--state", str(folder / "state.sqlite"), wrapper=wrapper) as server,
    ):
        base = server.wait_ready()
        seen = Path(f"/proc/{server.pid}/root{folder}")  # the server's filesystem, as it sees it

        def create(user: str) -> requests.Response:
            return requests.post(f"{base}{BASE}/", params={"user_id": user}, json=LARGE, headers=AUTH, timeout=10)

        assert create("before").status_code == 201
        fill_disk(seen / "ballast")
        statuses = [create(f"full-{index}").status_code for index in range(5)]
        assert statuses[0] == 507 and set(statuses) == {507}, statuses
        assert create("full-0").json() == FULL
        reset = requests.post(f"{base}/__mock/reset", json={}, timeout=10)
        assert reset.status_code == 507 and reset.headers["Content-Type"].startswith("application/problem+json")
        assert "the state was not reset" in reset.json()["detail"]
        listed = requests.get(f"{base}{BASE}/", params={"user_id": "before"}, timeout=10)
        assert listed.status_code == 200 and len(listed.json()) == 1  # reads go on

        (seen / "ballast").unlink()  # space is back
        assert create("after").status_code == 201
        assert requests.post(f"{base}/__mock/reset", json={}, timeout=10).status_code == 200
        listed = requests.get(f"{base}{BASE}/", params={"user_id": SANDBOX_USER, "active_only": "false"}, timeout=10)
        assert [portfolio["portfolio_id"] for portfolio in listed.json()] == SEEDED
        server.stop()
        assert server.process.returncode == 0
    log = server.err_path.read_text()
    assert "Traceback" not in log and "the sandbox state is full" in log
