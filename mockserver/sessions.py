"""Sessions: any number of isolated sandboxes on one server.

A session is reached under `/__session/<id>`: its APIs at `/__session/<id>/<mount>/...`, its
control API at `/__session/<id>/__mock/...`, so a client that takes only a base URL reaches it
unchanged. Each session has its own state (its documents are kept under `<api>@<id>` in the
store, seeded as the default ones are), journal and faults, and clock. Requests without the
prefix are the default session: the server as it always was.

Sessions are rows of the store's `sessions` table, so every worker knows them, and a session's
clock lives there too (every worker reads the same time). Its journal and faults are kept by the
process that took its requests, as the default session's are. At most `max_sessions` live at
once (409 beyond); one unused for `session_idle_seconds` is deleted when it or the list is next
touched.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from yarl import URL

from .envelopes import problem_json
from .faults import Faults
from .journal import Journal
from .sandbox.clock import Clock
from .sandbox.store import ApiState, Store
from .sandbox.world import World
from .settings import Settings
from .traffic import Traffic
from .vocabulary import Problem, Violation, to_response

if TYPE_CHECKING:
    from .mounted import MountedApi

SESSION_PREFIX = "/__session"
SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TOUCH_EVERY_S = 1.0  # a session's last use is written at most this often


class SessionError(ValueError):
    """A session that cannot be made or found, with the control API's status for it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(eq=False)
class Session:
    """One session, as this process sees it."""

    id: str
    clock: Clock
    world: World  # the server's world, telling this session's time
    traffic: Traffic  # journal and faults, per process
    store: Store
    created: float
    used: float
    clock_text: str  # the clock as the store last said it

    @property
    def prefix(self) -> str:
        return f"{SESSION_PREFIX}/{self.id}"

    def state(self, api: str) -> ApiState:
        """Its documents of an API."""
        return self.store.for_api(state_name(api, self.id))

    def describe(self, base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "baseUrl": f"{base}{self.prefix}",
            "created": _iso(self.created),
            "lastUsed": _iso(self.used),
            "clock": self.clock.describe(),
            "journal": {"entries": len(self.traffic.journal), "capacity": self.traffic.journal.size},
        }


def sandbox_of(api: MountedApi, session: Session | None) -> tuple[World, ApiState]:
    """The world and the API's state a request works in: its session's, or the default session's."""
    return (api.world, api.state) if session is None else (session.world, session.state(api.name))


def state_name(api: str, session_id: str) -> str:
    """Where a session's documents of an API are kept in the store."""
    return f"{api}@{session_id}"


class Sessions:
    """The sessions of one server: made, found, reset and deleted."""

    def __init__(self, store: Store, world: World, settings: Settings, apis: Iterable[MountedApi]) -> None:
        self.store = store
        self.world = world
        self.settings = settings
        self.apis = list(apis)
        self._known: dict[str, Session] = {}  # a few hundred bytes each, at most max_sessions of them

    def create(self, wanted: str | None = None, clock: Clock | None = None) -> Session:
        """A new session (its state seeded, its clock the default session's unless given)."""
        session_id = secrets.token_hex(8) if wanted is None else wanted
        if not SESSION_ID.fullmatch(session_id):
            raise SessionError(400, "a session id is 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit")
        self.sweep()
        now = time.time()
        if clock is None:
            clock = Clock()
            clock.copy_from(self.world.clock)
        text = orjson.dumps(clock.as_state()).decode()
        with self.store.transaction():
            if self.store.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone():
                raise SessionError(409, f"a session {session_id!r} already exists")
            (count,) = self.store.execute("SELECT COUNT(*) FROM sessions").fetchone()
            if count >= self.settings.max_sessions:
                raise SessionError(409, f"{count} sessions live already (max_sessions); delete one first")
            self.store.execute("INSERT INTO sessions (id, created, used, clock) VALUES (?, ?, ?, ?)", (session_id, now, now, text))
            self._seed(session_id)
        return self._remember(session_id, clock, now, now, text)

    def get(self, session_id: str) -> Session | None:
        """The live session of that id (None: there is none, or it expired and is deleted now)."""
        row = self.store.execute("SELECT created, used, clock FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            self._known.pop(session_id, None)
            return None
        created, used, text = row
        now = time.time()
        if now - used > self.settings.session_idle_seconds:
            self.delete(session_id)
            return None
        if now - used > _TOUCH_EVERY_S:
            self.store.execute("UPDATE sessions SET used = ? WHERE id = ?", (now, session_id))
            used = now
        session = self._known.get(session_id)
        if session is None or session.created != created:
            return self._remember(session_id, Clock.from_state(orjson.loads(text)), created, used, text)
        if session.clock_text != text:  # another worker moved its clock
            session.clock.copy_from(Clock.from_state(orjson.loads(text)))
            session.clock_text = text
        session.used = used
        return session

    def listing(self) -> list[Session]:
        self.sweep()
        rows = self.store.execute("SELECT id FROM sessions ORDER BY created").fetchall()
        return [session for (session_id,) in rows if (session := self.get(session_id)) is not None]

    def save_clock(self, session: Session) -> None:
        """The session's clock, as it now stands, for every worker."""
        session.clock_text = orjson.dumps(session.clock.as_state()).decode()
        self.store.execute("UPDATE sessions SET clock = ? WHERE id = ?", (session.clock_text, session.id))

    def reset(self, session: Session) -> None:
        """Its state as a new session's, its journal and faults empty; its clock stays as it is."""
        with self.store.transaction():
            for api in self.apis:
                self.store.clear(state_name(api.name, session.id))
            self._seed(session.id)
        session.traffic.journal.clear()
        session.traffic.faults.clear()

    def delete(self, session_id: str) -> bool:
        with self.store.transaction():
            gone = self.store.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0
            for api in self.apis:
                self.store.clear(state_name(api.name, session_id))
        self._known.pop(session_id, None)
        return gone

    def sweep(self) -> None:
        """Deletes every session unused for longer than the idle expiry, and forgets the ones another
        worker deleted (so this process keeps at most `max_sessions` of them)."""
        horizon = time.time() - self.settings.session_idle_seconds
        for (session_id,) in self.store.execute("SELECT id FROM sessions WHERE used < ?", (horizon,)).fetchall():
            self.delete(session_id)
        live = {session_id for (session_id,) in self.store.execute("SELECT id FROM sessions").fetchall()}
        for session_id in [known for known in self._known if known not in live]:
            del self._known[session_id]

    def _seed(self, session_id: str) -> None:
        for api in self.apis:
            seeder = api.state_seeder
            if seeder is not None:
                self.store.seed_once(state_name(api.name, session_id), seeder)

    def _remember(self, session_id: str, clock: Clock, created: float, used: float, text: str) -> Session:
        settings = self.settings
        traffic = Traffic(Journal(settings.session_journal_size, settings.session_journal_bytes), Faults())
        session = Session(session_id, clock, self.world.with_clock(clock), traffic, self.store, created, used, text)
        self._known[session_id] = session
        return session


SESSIONS = web.AppKey("sessions", Sessions)
SESSION = web.RequestKey("mock_session", Session)


async def in_session(request: web.Request) -> web.StreamResponse:
    """A request under /__session/<id>: routed as its path without the prefix, in that session."""
    session_id = request.match_info["session"]
    session = request.app[SESSIONS].get(session_id) if SESSION_ID.fullmatch(session_id) else None
    if session is None:
        return _not_found(f"no session {session_id!r}: create it with POST /__mock/sessions (it may have expired)")
    inner = request.raw_path[len(session.prefix) :] or "/"
    if not inner.startswith("/") or inner.startswith(f"{SESSION_PREFIX}/"):
        return _not_found("a session's path goes on with an API's mount or /__mock, not another session")
    routed = request.clone(rel_url=URL(inner, encoded=True))
    routed[SESSION] = session
    match = await request.app.router.resolve(routed)
    match.add_app(request.app)
    match.freeze()
    routed._match_info = match  # as aiohttp's own dispatch does, for the path without the prefix
    return await match.handler(routed)


def _not_found(message: str) -> web.Response:
    return to_response(problem_json(Problem(404, message, [Violation("request", "path", message)])))


def session_of(request: web.Request) -> Session | None:
    """The request's session (None: the default one's). A request of the default session usually
    carries nothing in its own mapping: `len` says so without the KeyError that `Mapping.get`
    raises and catches on a miss, several times per request on the hot path."""
    return request.get(SESSION) if len(request) else None


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
