"""Fixtures made at run time, in a session's scenario: a request match -> an answer, checked against
the operation's spec when made (an answer its schema refuses is refused with every violation).

A runtime fixture is a fixture file's entry (fixtures.py) with, besides:
- `priority` (default 0): the highest that matches answers; equal ones in the order they were made;
- `times`: it answers that many matching requests, then no longer matches;
- `responses` (instead of `response`): answers for successive matching requests, the last one
  repeating (with `times`, until it is spent).

They are documents of the session's state (kind `fixture`, owned by their operation), so every
worker sees them and counts their uses; they are checked after `Prefer` and before the fixture
files, and a reset of the session clears them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import LoadError
from .fixtures import fixture_entry
from .plan import ApiRuntime, OperationPlan, fixture_problems, fixture_reply
from .vocabulary import Reply

if TYPE_CHECKING:
    from .sandbox.store import ApiState

KIND = "fixture"
MAX_FIXTURES = 200  # in one scenario (what a session holds in all is bounded by max_state_bytes)
_MEMBERS = {"api", "name", "operation", "match", "response", "responses", "priority", "times"}


def fixture_problems_of(api: ApiRuntime, raw: Any, where: str) -> list[str]:
    """Everything wrong with one runtime fixture of `api` (`where`: its place in the scenario)."""
    if not isinstance(raw, dict):
        return [f"{where}: a fixture is an object"]
    problems = [f"{where}.{name}: unknown member" for name in sorted(set(raw) - _MEMBERS)]
    priority, times = raw.get("priority", 0), raw.get("times")
    if isinstance(priority, bool) or not isinstance(priority, int):
        problems.append(f"{where}.priority: an integer")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        problems.append(f"{where}.times: a positive integer")
    answers = _answers(raw)
    if answers is None:
        return [*problems, f"{where}: give `response`, or `responses` (a non-empty list), not both"]
    plans = {plan.key: plan for plan in api.plans}
    for index, response in enumerate(answers):
        label = f"{where}.responses[{index}]" if "responses" in raw else where
        try:
            entry = fixture_entry(api.name, label, {**_entry_of(raw), "response": response})
        except LoadError as exc:
            problems.append(f"{label}: {exc.why}")
            continue
        plan = plans.get(entry.operation)
        if plan is None:
            problems.append(f"{where}.operation: no operation {entry.operation!r} in {api.name} (its operations: {', '.join(plans)})")
            break
        problems.extend(f"{label}: {problem}" for problem in fixture_problems(plan, entry))
    return problems


def install(state: ApiState, raw: dict[str, Any], position: int) -> None:
    """A checked fixture into a session's state."""
    doc = {"fixture": raw, "used": 0, "position": position}
    state.put(KIND, f"{position:06d}", doc, owner=str(raw["operation"]))


def answer(
    plan: OperationPlan, state: ApiState, query: Mapping[str, str], headers: Mapping[str, str], path: Mapping[str, str]
) -> Reply | None:
    """The answer of the runtime fixture that takes this request, counting its use; None: none does."""
    with state.transaction():
        docs = state.find(KIND, owner=plan.key)
        if not docs:
            return None
        docs.sort(key=lambda doc: (-int(doc["fixture"].get("priority", 0)), doc["position"]))
        for doc in docs:
            raw = doc["fixture"]
            times = raw.get("times")
            if times is not None and doc["used"] >= times:
                continue
            answers = _answers(raw) or []
            response = answers[min(doc["used"], len(answers) - 1)]
            entry = fixture_entry(plan.api.name, "scenario", {**_entry_of(raw), "response": response})
            if not entry.matches(query, headers, path):
                continue
            doc["used"] += 1
            state.put(KIND, f"{doc['position']:06d}", doc, owner=plan.key)
            return fixture_reply(plan, entry)
    return None


def attach(api: ApiRuntime, raw: dict[str, Any]) -> None:
    """A checked fixture (one `response`) as a fixture of its operation, ahead of those attached
    before it: a scenario loaded at start-up (`--scenario`)."""
    plan = next(plan for plan in api.plans if plan.key == raw["operation"])
    entry = fixture_entry(api.name, "scenario", {**_entry_of(raw), "response": raw["response"]})
    plan.fixtures.insert(0, (entry, fixture_reply(plan, entry)))


def exported(state: ApiState) -> list[dict[str, Any]]:
    """The session's runtime fixtures as they were given, in the order they were made."""
    return [doc["fixture"] for doc in sorted(state.find(KIND), key=lambda doc: doc["position"])]


def _answers(raw: dict[str, Any]) -> list[Any] | None:
    if ("response" in raw) == ("responses" in raw):
        return None
    if "response" in raw:
        return [raw["response"]]
    responses = raw["responses"]
    return responses if isinstance(responses, list) and responses else None


def _entry_of(raw: dict[str, Any]) -> dict[str, Any]:
    """What a fixture file's entry holds (its `response` apart)."""
    return {"name": raw.get("name", "scenario"), "operation": raw.get("operation"), "match": raw.get("match") or {}}
