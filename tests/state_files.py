"""Ways a state file can be unusable, each with what the refusal to open it must say: for the
store's own tests and for `mockserver serve`'s one-line refusal."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from mockserver.sandbox.store import Store


def _damaged(path: Path) -> None:
    """Garbage over a page in the middle of a valid state file."""
    with closing(Store(path)) as store:
        for index in range(200):
            store.for_api("a").put("thing", str(index), {"blob": "x" * 500})
        store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle : middle + 4096] = random.Random(1).randbytes(4096)
    path.write_bytes(bytes(data))


def _foreign(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE users (name TEXT)")


CORRUPT: dict[str, tuple[Callable[[Path], Any], str]] = {
    "a folder": (Path.mkdir, "is a folder"),
    "random bytes": (lambda path: path.write_bytes(random.Random(0).randbytes(20_000)), "not a usable state file (file is not a database)"),
    "truncated": (lambda path: (_damaged(path), path.write_bytes(path.read_bytes()[:50_000])), "database disk image is malformed"),
    "damaged pages": (_damaged, "not a usable state file (*** in database main *** Page"),
    "another program's database": (_foreign, "is a SQLite database, but not a mockserver state file"),
    "in a missing folder": (lambda path: None, "the folder"),
}
