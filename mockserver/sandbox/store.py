"""The sandbox's mutable state: JSON documents in SQLite.

In memory by default; with `--state FILE` the same tables live in a file, so what
users created survives a restart and is shared by worker processes. Writes are
committed before the answer is sent (WAL, synchronous=FULL): an acknowledged write
is on disk even if the process is killed right after.

All of it together is bounded (`max_state_bytes`): SQLite itself refuses to grow the
database beyond that many pages, and that refusal, like a full disk, is `StateFull`.
A state file is checked when it is opened (`PRAGMA quick_check`): a damaged one is refused
with a `LoadError` before the server starts, instead of failing every request later.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ..errors import LoadError
from ..settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order: lists are stable
    api   TEXT NOT NULL,
    kind  TEXT NOT NULL,
    id    TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    body  BLOB NOT NULL,
    UNIQUE (api, kind, id)
);
CREATE INDEX IF NOT EXISTS documents_by_owner ON documents (api, kind, owner, seq);
CREATE TABLE IF NOT EXISTS seeded (api TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS sessions (  -- sessions.py: shared by workers
    id      TEXT PRIMARY KEY,
    created REAL NOT NULL,
    used    REAL NOT NULL,             -- wall clock of its last request, for the idle expiry
    clock   TEXT NOT NULL              -- its clock (sandbox/clock.py), as JSON
);
"""
_COLUMNS = ("seq", "api", "kind", "id", "owner", "body")
_OURS = {"documents", "seeded", "sessions", "sqlite_sequence"}
DEFAULT_MAX_BYTES = Settings.max_state_bytes

Seeder = Callable[["ApiState"], None]


class StateFull(Exception):
    """A write the store cannot take: the disk is full, or the state is at `max_state_bytes`.

    Answered 507 in the API's envelope; nothing of the failed write stays behind."""


class Store:
    def __init__(self, path: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Open the state (a file, or memory); LoadError when the file cannot be used, StateFull
        when even the schema does not fit."""
        self.path = path
        self.max_bytes = max_bytes
        self._db = _open(path) if path is not None else sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()  # one connection per process; workers are processes
        self._depth = 0
        self._writes = 0  # statements other than SELECT this process ran: with data_version, the store's version
        self._kinds: dict[tuple[str, str], bool] = {}  # (api, kind) -> whether any such document exists, at _kinds_version
        self._kinds_version: tuple[int, int] = (-1, -1)
        page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        self._db.execute(f"PRAGMA max_page_count={max(1, max_bytes // page_size)}")  # per connection: set by every process
        try:
            with self.transaction():  # the write lock first, then the schema
                for statement in _SCHEMA.split(";")[:-1]:
                    self.execute(statement)
        except BaseException:
            self._db.close()
            raise

    def for_api(self, api: str) -> ApiState:
        return ApiState(self, api)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All reads and writes inside see one consistent state and commit together
        (BEGIN IMMEDIATE takes the write lock first, so another worker cannot interleave).

        A nested transaction is a savepoint: it is part of the outer one, and when it fails
        its own writes are undone even if the outer one catches the error and commits.
        Whatever fails, the COMMIT included, nothing of the transaction stays behind and
        the connection is left outside any transaction, ready for the next one."""
        with self._lock:
            if self._depth:
                savepoint = f"nested_{self._depth}"
                self._db.execute(f"SAVEPOINT {savepoint}")
                self._depth += 1
                try:
                    yield
                except BaseException as exc:
                    self._undo(exc, f"ROLLBACK TO {savepoint}", f"RELEASE {savepoint}")
                    raise
                else:
                    self._db.execute(f"RELEASE {savepoint}")
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
                self._run("COMMIT")  # a failed COMMIT (disk full, locked) is undone like any failure
            except BaseException as exc:
                self._undo(exc, "ROLLBACK")
                raise
            finally:
                self._depth = 0

    def _undo(self, error: BaseException, *statements: str) -> None:
        """Roll back after `error`, unless SQLite already did (it rolls back the whole transaction
        on some errors: disk full, I/O); a failing rollback is noted on `error`, never hides it."""
        if not self._db.in_transaction:
            return
        try:
            for statement in statements:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            error.add_note(f"and the rollback failed too: {exc}")

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            if not sql.startswith("SELECT"):
                self._writes += 1
            return self._run(sql, args)

    def holds_any(self, api: str, kind: str) -> bool:
        """Whether the API's state holds a document of that kind, remembered until the store changes (a
        write of this process, or of another one: SQLite's data_version): a scenario's lookups cost
        nothing while no scenario of that kind is installed. At most 4,096 (api, kind) pairs are kept."""
        version = (self._writes, self._others_writes() if self.path is not None else 0)
        if version != self._kinds_version or len(self._kinds) >= 4096:
            self._kinds = {}
            self._kinds_version = version
        key = (api, kind)
        found = self._kinds.get(key)
        if found is None:
            row = self.execute("SELECT 1 FROM documents WHERE api = ? AND kind = ? LIMIT 1", key).fetchone()
            found = self._kinds[key] = row is not None
        return found

    def _others_writes(self) -> int:
        """SQLite's data_version: it changes when another connection (a worker) commits a change."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Run SQL; SQLITE_FULL (the page limit, or a full disk: SQLite cannot tell them apart) is StateFull."""
        try:
            return self._db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_FULL:
                raise
            raise StateFull(self._fullness()) from exc

    def _fullness(self) -> str:
        """What is full: the bytes in use against the limit, and the room left on the file's disk."""
        pages, free, size = (self._db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size"))
        said = f"the sandbox state is full: {(pages - free) * size} of its {self.max_bytes} bytes (max_state_bytes) in use"
        if self.path is None:
            return said
        return f"{said}, {shutil.disk_usage(self.path.parent).free} bytes left on the disk of {self.path}"

    def seed_once(self, api: str, seeder: Seeder) -> None:
        """Run an API's seeder unless its state already exists (a restart with --state, or another worker)."""
        with self.transaction():
            if self.execute("SELECT 1 FROM seeded WHERE api = ?", (api,)).fetchone():
                return
            seeder(self.for_api(api))
            self.execute("INSERT INTO seeded (api) VALUES (?)", (api,))

    def clear(self, api: str) -> None:
        with self.transaction():
            self.execute("DELETE FROM documents WHERE api = ?", (api,))
            self.execute("DELETE FROM seeded WHERE api = ?", (api,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _open(path: Path) -> sqlite3.Connection:
    """A connection to a state file that is whole and ours (created when missing), else LoadError
    saying what is wrong with it."""
    if path.is_dir():
        raise LoadError(str(path), "is a folder; --state wants a file (it is created when missing)")
    if not path.parent.is_dir():
        raise LoadError(str(path), f"cannot create the state file: the folder {path.parent} does not exist")
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _unusable(path, exc) from exc
    try:
        _check(path, db)
    except BaseException:
        db.close()
        raise
    return db


def _check(path: Path, db: sqlite3.Connection) -> None:
    """Read the file before writing anything to it: whole (quick_check), and ours or empty."""
    try:
        db.execute("PRAGMA busy_timeout=10000")  # first: workers open one fresh file at once
        (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()
        if verdict != "ok":
            raise _unusable(path, verdict)
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = tuple(row[1] for row in db.execute("PRAGMA table_info(documents)"))
        if tables - _OURS or (tables and columns != _COLUMNS):  # some other program's database: never write into it
            raise LoadError(str(path), "is a SQLite database, but not a mockserver state file; give --state a file of its own")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        raise _unusable(path, exc) from exc


def _unusable(path: Path, why: object) -> LoadError:
    said = " ".join(str(why).split())[:200]  # one line, whatever SQLite reported
    return LoadError(str(path), f"not a usable state file ({said}); restore it from a backup, or move it away to start afresh")


class ApiState:
    """One API's view of the store: documents by kind and id, optionally owned by a user."""

    __slots__ = ("api", "store")

    def __init__(self, store: Store, api: str) -> None:
        self.store = store
        self.api = api

    def transaction(self) -> Any:
        return self.store.transaction()

    def clear(self) -> None:
        self.store.clear(self.api)

    def get(self, kind: str, id: str) -> dict[str, Any] | None:
        raw = self.get_raw(kind, id)
        return orjson.loads(raw) if raw is not None else None

    def shaped(self, kind: str, id: str) -> bytes | None:
        """`get_raw` for what a scenario may have installed: None at once while there is no document of
        that kind at all (Store.holds_any), so the APIs' hot paths pay nothing for scenarios unused."""
        return self.get_raw(kind, id) if self.store.holds_any(self.api, kind) else None

    def get_raw(self, kind: str, id: str) -> bytes | None:
        """A document as stored (JSON bytes): a cache can key on them."""
        row = self.store.execute("SELECT body FROM documents WHERE api = ? AND kind = ? AND id = ?", (self.api, kind, id)).fetchone()
        return row[0] if row else None

    def put(self, kind: str, id: str, body: dict[str, Any], owner: str = "") -> None:
        """Insert, or replace in place (an update keeps the document's position in lists)."""
        self.store.execute(
            "INSERT INTO documents (api, kind, id, owner, body) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (api, kind, id) DO UPDATE SET owner = excluded.owner, body = excluded.body",
            (self.api, kind, id, owner, orjson.dumps(body)),
        )

    def delete(self, kind: str, id: str) -> bool:
        cursor = self.store.execute("DELETE FROM documents WHERE api = ? AND kind = ? AND id = ?", (self.api, kind, id))
        return cursor.rowcount > 0

    def find(self, kind: str, owner: str | None = None) -> list[dict[str, Any]]:
        """Every document of a kind (of one owner), oldest first."""
        return [orjson.loads(raw) for raw in self.find_raw(kind, owner)]

    def find_raw(self, kind: str, owner: str | None = None) -> list[bytes]:
        """`find`, the documents as stored (JSON bytes)."""
        if owner is None:
            rows = self.store.execute("SELECT body FROM documents WHERE api = ? AND kind = ? ORDER BY seq", (self.api, kind))
        else:
            rows = self.store.execute(
                "SELECT body FROM documents WHERE api = ? AND kind = ? AND owner = ? ORDER BY seq", (self.api, kind, owner)
            )
        return [body for (body,) in rows.fetchall()]

    def count(self, kind: str, owner: str | None = None) -> int:
        if owner is None:
            row = self.store.execute("SELECT COUNT(*) FROM documents WHERE api = ? AND kind = ?", (self.api, kind)).fetchone()
        else:
            row = self.store.execute(
                "SELECT COUNT(*) FROM documents WHERE api = ? AND kind = ? AND owner = ?", (self.api, kind, owner)
            ).fetchone()
        return int(row[0])
