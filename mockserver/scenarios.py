"""Scenarios: the sandbox shaped at run time, in each API's own terms, still coherent.

A scenario is one JSON (or YAML) document: a member per API whose vendor can be shaped
(`Vendor.scenario`: Mesh's users, ...) and `fixtures`, a list of runtime fixtures
(runtime_fixtures.py) for any OpenAPI API:

    {"mesh": {"users": [...]}, "fixtures": [{"api": "omniex", "operation": "...", "response": {...}}]}

`POST /__mock/scenarios` checks all of it first and answers 422 listing every problem, else
installs all of it (added to what the sandbox holds) and answers 201; `GET /__mock/scenarios`
exports what is installed in the same shape, so a world can be saved and loaded again (at start-up
with `--scenario FILE`). Under `/__session/<id>` both act on that session; without, on the default
session, which takes no runtime fixtures (its answers are remembered per request: give them to a
session, or to the fixture files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from . import runtime_fixtures
from .appkeys import APIS
from .catalog import load_document
from .envelopes import problem_json
from .errors import LoadError
from .mounted import MountedApi
from .plan import ApiRuntime
from .sandbox.store import StateFull
from .sessions import Session, sandbox_of, session_of
from .vocabulary import Problem, Violation, json_reply, to_response

FIXTURES = "fixtures"


class ScenarioError(ValueError):
    """A scenario that cannot be installed: its status and every problem."""

    def __init__(self, status: int, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.status = status
        self.problems = problems


def install(apis: list[MountedApi], scenario: Any, session: Session | None) -> list[str]:
    """Checks the whole scenario, then installs it into the session's states (the default session's
    without one); the names of the members installed. ScenarioError when anything is wrong."""
    named = {api.name: api for api in apis}
    if not isinstance(scenario, dict):
        raise ScenarioError(400, ["a scenario is an object: an API's name or `fixtures` -> what to install"])
    problems = list(dict.fromkeys(_problems(named, scenario, session)))  # one schema error can come twice
    if problems:
        raise ScenarioError(422, problems)
    states = {name: sandbox_of(api, session)[1] for name, api in named.items()}
    store = next(iter(states.values())).store
    with store.transaction():
        for name, payload in scenario.items():
            if name == FIXTURES:
                position = max((len(runtime_fixtures.exported(state)) for state in states.values()), default=0)
                for offset, raw in enumerate(payload):
                    runtime_fixtures.install(states[raw["api"]], raw, position + offset)
            else:
                kind = named[name].scenario
                assert kind is not None
                kind.install(states[name], payload)
    return list(scenario)


def export(apis: list[MountedApi], session: Session | None) -> dict[str, Any]:
    """What the session (or the default session) holds, as a scenario document."""
    found: dict[str, Any] = {}
    fixtures: list[dict[str, Any]] = []
    for api in apis:
        state = sandbox_of(api, session)[1]
        payload = api.scenario.export(state) if api.scenario is not None else None
        if payload is not None:
            found[api.name] = payload
        fixtures.extend(runtime_fixtures.exported(state))
    if fixtures:
        found[FIXTURES] = sorted(fixtures, key=lambda raw: raw.get("priority", 0), reverse=True)
    return found


def _problems(named: dict[str, MountedApi], scenario: dict[str, Any], session: Session | None) -> list[str]:
    problems: list[str] = []
    for name, payload in scenario.items():
        if name == FIXTURES:
            if session is None:
                problems.append(
                    f"{FIXTURES}: runtime fixtures are a session's (POST /__mock/sessions, then /__session/<id>/__mock/scenarios)"
                )
            else:
                problems.extend(_fixture_problems(named, payload))
            continue
        api = named.get(name)
        kind = api.scenario if api is not None else None
        if kind is None:
            shaped = [api_name for api_name, found in named.items() if found.scenario is not None]
            problems.append(f"{name}: no API of that name takes a scenario (these do: {', '.join([*shaped, FIXTURES])})")
            continue
        problems.extend(kind.check(payload))
    return problems


def _fixture_problems(named: dict[str, MountedApi], payload: Any, start_up: bool = False) -> list[str]:
    """Every problem of a scenario's `fixtures`; `start_up`: of a scenario loaded at start-up, whose
    fixtures join the fixture files' and so cannot count their uses or answer in turn."""
    if not isinstance(payload, list):
        return [f"{FIXTURES}: a list of fixtures"]
    if not start_up and len(payload) > runtime_fixtures.MAX_FIXTURES:
        return [f"{FIXTURES}: at most {runtime_fixtures.MAX_FIXTURES} at once"]
    runtimes = {name: api for name, api in named.items() if isinstance(api, ApiRuntime)}
    problems = []
    for index, raw in enumerate(payload):
        where = f"{FIXTURES}[{index}]"
        api = runtimes.get(raw.get("api")) if isinstance(raw, dict) and isinstance(raw.get("api"), str) else None
        if api is None:
            problems.append(f"{where}.api: one of {', '.join(runtimes)} (the OpenAPI ones)")
        elif start_up and ("times" in raw or "responses" in raw):
            problems.append(f"{where}: `times` and `responses` count a session's requests; at start-up, give `response`")
        else:
            problems.extend(runtime_fixtures.fixture_problems_of(api, raw, where))
    return problems


def load_scenario_file(path: Path, apis: list[MountedApi]) -> dict[str, Any]:
    """`--scenario FILE`: a saved scenario (what `GET /__mock/scenarios` exports) into the default
    session at start-up; what a reset of the default session installs again (its APIs' members).
    Its fixtures join the fixture files' (ahead of them, by priority): the default session
    remembers answers, so one that counts its uses (`times`) or answers in turn (`responses`) is
    refused; give those to a session. LoadError lists every problem."""
    document = load_document(path)
    fixtures = document.pop(FIXTURES, [])
    named = {api.name: api for api in apis}
    problems = _fixture_problems(named, fixtures, start_up=True)
    if document and not problems:
        try:
            install(apis, document, None)
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise LoadError(str(path), "the scenario cannot be loaded:\n  " + "\n  ".join(problems))
    # each goes ahead of those before it: the lowest priority first, so the highest ends up first
    for raw in reversed(sorted(fixtures, key=lambda raw: -int(raw.get("priority", 0)))):
        api = named[raw["api"]]
        assert isinstance(api, ApiRuntime)  # _fixture_problems said so
        runtime_fixtures.attach(api, raw)
    return document


def reinstall_start_up(apis: list[MountedApi], path: Path | None) -> None:
    """After a reset of the default session: what `--scenario` installed at start-up, again."""
    if path is None:
        return
    document = load_document(path)
    document.pop(FIXTURES, None)  # attached to the operations for good at start-up
    if document:
        install(apis, document, None)


# --- the control routes


async def post_scenario(request: web.Request) -> web.Response:
    try:
        scenario = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return _refused(ScenarioError(400, [f"the body is not valid JSON: {exc}"]))
    try:
        installed = install(request.app[APIS], scenario, session_of(request))
    except ScenarioError as exc:
        return _refused(exc)
    except StateFull as exc:
        return _refused(ScenarioError(507, [f"the sandbox state is full: {exc}"]))
    return to_response(json_reply(201, {"installed": installed}))


async def get_scenario(request: web.Request) -> web.Response:
    return to_response(json_reply(200, export(request.app[APIS], session_of(request))))


def _refused(error: ScenarioError) -> web.Response:
    message = f"the scenario was not installed: {len(error.problems)} problem{'s' if len(error.problems) > 1 else ''}"
    violations = [Violation("body", problem.partition(":")[0], problem) for problem in error.problems]
    return to_response(problem_json(Problem(error.status, message, violations)))
