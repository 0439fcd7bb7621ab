"""Compiles each operation of an API once into an OperationPlan; the hot path uses only plans."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson
from aiohttp import web

from .catalog import ApiDescription
from .fixtures import MATCH_LOCATIONS, FixtureEntry
from .mounted import DescribedApi, Route
from .request_memo import RequestMemo
from .responses import CONTROL_QUERY_KEYS, ResponseBook, examples_of
from .sandbox.store import ApiState, Seeder
from .sandbox.world import World
from .schemas import SchemaBook, pointer
from .security import CONFIGURED, SchemeReader, SecurityPlan, default_identity, reader_for
from .settings import Settings
from .validation import BodyChecker, ParamChecker
from .vendors import Framework, Rule, ScenarioKind, Vendor, vendor_settings
from .vocabulary import Call, Envelope, Identity, Problem, Reply, SandboxHandler, to_response

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_TEMPLATE_VAR = re.compile(r"\{([^{}/]+)\}")


@dataclass
class Report:
    """Problems found while compiling: errors stop `serve` and fail `check`; warnings only fail `check`."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: Report) -> None:
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)


@dataclass
class OperationPlan:
    api: ApiRuntime
    key: str  # operationId, or "METHOD /path" when the spec gives none
    method: str
    path: str  # the spec's path template
    route: str  # aiohttp route: mount + template with variables renamed _0, _1, ...
    path_names: tuple[str, ...]  # spec names of the route variables _0, _1, ...
    params: list[ParamChecker]
    body: BodyChecker | None
    security: SecurityPlan
    responses: ResponseBook
    handler: SandboxHandler | None
    rules: tuple[Rule, ...]  # the vendor's, for this operation (vendors.Rule)
    path_regex: re.Pattern[str]  # matches concrete paths relative to the mount
    summary: str = ""
    fixtures: list[tuple[FixtureEntry, Reply]] = field(default_factory=list)

    @cached_property
    def query_names(self) -> frozenset[str]:
        """Query parameters the operation accepts, with the Prefer stand-ins."""
        return frozenset(p.name for p in self.params if p.location == "query") | CONTROL_QUERY_KEYS

    @cached_property
    def memoized(self) -> bool:
        """Whether verdicts are remembered (request_memo.py): not for an operation that takes a body."""
        return self.body is None

    @cached_property
    def deciding_headers(self) -> tuple[str, ...]:
        """The headers whose values, with the raw target and the identity, decide an authenticated
        request's verdict: the header parameters', Prefer, the fixtures' and Cookie when a cookie
        parameter is read (credentials are stood for by the identity they matched)."""
        names = {"prefer"}
        names.update(checker.name.lower() for checker in self.params if checker.location == "header")
        names.update(name.lower() for entry, _ in self.fixtures for name in entry.match.get("headers", {}))
        if any(checker.location == "cookie" for checker in self.params):
            names.add("cookie")
        return tuple(sorted(names))

    @cached_property
    def needs_cookies(self) -> bool:
        """Whether the request's cookies must be parsed (decided once, not per request)."""
        return any(p.location == "cookie" for p in self.params) or any(
            r.location == "cookie" for alt in self.security.alternatives for r in alt
        )


@dataclass
class ApiRuntime(DescribedApi):
    description: ApiDescription
    vendor: Vendor
    vendor_settings: dict[str, Any]  # the vendor's own settings, resolved (vendors.vendor_settings)
    identities: list[Identity]
    identities_from: str  # "spec", "settings" or "default"
    world: World
    settings: Settings
    readers: dict[str, SchemeReader]
    state: ApiState
    plans: list[OperationPlan] = field(default_factory=list)
    memo: RequestMemo = field(init=False)
    kind = "openapi"

    def __post_init__(self) -> None:
        self.memo = RequestMemo(self.identities)

    @property
    def framework(self) -> Framework:
        return self.vendor.framework

    @cached_property
    def credential_fields(self) -> frozenset[str]:
        return frozenset(
            "authorization" if reader.kind in ("bearer", "basic") else reader.field.lower() for reader in self.readers.values()
        )

    def well_known(self) -> list[dict[str, str]]:
        """Ids a user can try: the fixtures' matches and the vendor's named cases."""
        found = [
            {"name": entry.name, "operation": entry.operation, "try": _match_hint(entry.match)}
            for plan in self.plans
            for entry, _ in plan.fixtures
        ]
        found.extend({"name": description, "operation": "", "try": hint} for hint, description in self.vendor.well_known.items())
        return found

    def call(
        self,
        operation: str,
        params: dict[str, dict[str, Any]],
        body: Any,
        identity: Identity | None,
        sandbox: tuple[World, ApiState],
    ) -> Call:
        """What a vendor's rule sees of a valid request; `sandbox`: the world and state of the session
        it is in (sessions.sandbox_of)."""
        world, state = sandbox
        return Call(operation, params, body, identity, world, state, self.vendor_settings)

    def error_response(self, status: int, message: str) -> web.Response:
        return to_response(self.envelope(Problem(status, message)))

    def routes(self) -> list[Route]:
        return [Route(plan.method, self.mount + plan.path, plan.key) for plan in self.plans]

    def summary(self) -> str:
        fixtures = sum(len(plan.fixtures) for plan in self.plans)
        return f"{len(self.plans)} operations, {fixtures} fixtures"

    @property
    def state_seeder(self) -> Seeder | None:
        return self.vendor.seed_state

    @property
    def scenario(self) -> ScenarioKind | None:
        return self.vendor.scenario

    def prepare_state(self) -> None:
        """Seed the API's state unless it already exists (a restart with --state, another worker)."""
        if self.vendor.seed_state is not None:
            self.state.store.seed_once(self.name, self.vendor.seed_state)

    def reset(self) -> None:
        with self.state.transaction():  # one commit: no other worker sees the state empty in between
            self.state.clear()
            self.prepare_state()

    @property
    def envelope(self) -> Envelope:
        return self.vendor.envelope

    def credential_sets(self) -> list[dict[str, Any]]:
        """Each identity as what a client sends: headers, query parameters, cookies (and every
        raw value, for signature schemes). Values from settings are shown as `<configured>`."""
        sets = []
        for identity in self.identities:
            sent: dict[str, dict[str, str]] = {"header": {}, "query": {}, "cookie": {}}
            values = {}
            for scheme, raw in identity.values.items():
                value = CONFIGURED if self.identities_from == "settings" else raw.decode()
                values[scheme] = value
                reader = self.readers.get(scheme)
                if reader is not None:
                    location, name, shown = reader.sent_as(value)
                    sent[location][name] = shown
            sets.append(
                {
                    "identity": identity.name,
                    "forbidden": identity.forbidden,
                    "headers": sent["header"],
                    "query": sent["query"],
                    "cookies": sent["cookie"],
                    "values": values,
                }
            )
        return sets

    def credential_hints(self) -> list[str]:
        """How to authenticate, one line per identity. Values that came from settings are
        not shown: only the bundled sandbox values are public."""
        lines = []
        for identity in self.identities:
            parts = []
            for scheme, value in identity.values.items():
                shown = CONFIGURED if self.identities_from == "settings" else value.decode()
                reader = self.readers.get(scheme)
                parts.append(reader.usage(shown) if reader is not None else f"{scheme}: {shown}")
            if parts:
                lines.append(", ".join(parts) + ("  (forbidden: answers 403)" if identity.forbidden else ""))
        return lines


def _match_hint(match: dict[str, dict[str, str]]) -> str:
    return " ".join(f"{name}={value}" for values in match.values() for name, value in values.items())


def deref(spec: dict[str, Any], obj: Any, depth: int = 0) -> Any:
    """Follow a local `#/...` $ref of a non-schema object (parameter, requestBody, response)."""
    while isinstance(obj, dict) and "$ref" in obj and depth < 32:
        node: Any = spec
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
        obj, depth = node, depth + 1
    return obj


# a variable of a route that routes on the decoded path does not take an encoded slash (%2F): aiohttp
# matches the path with its slashes still encoded, Starlette once they are decoded
_UNDECODED_SEGMENT = r"(?:[^/%]|%(?!2[fF]))+"


def route_for(mount: str, template: str, decoded: bool = False) -> tuple[str, tuple[str, ...]]:
    """The aiohttp route of a template (variables renamed _0, _1, ...) and the variables' names;
    `decoded`: as a framework that routes on the decoded path (`Framework.decoded_paths`)."""
    names: list[str] = []

    def rename(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return f"{{_{len(names) - 1}:{_UNDECODED_SEGMENT}}}" if decoded else f"{{_{len(names) - 1}}}"

    return mount + _TEMPLATE_VAR.sub(rename, template), tuple(names)


def template_regex(template: str) -> re.Pattern[str]:
    """Matches concrete paths of a template, its variables as groups _0, _1, ...; used only off
    the hot path (405, preflight, a path routed once decoded)."""
    parts = re.split(r"(\{[^{}/]+\})", template)
    variables = iter(range(len(parts)))
    return re.compile("".join(f"(?P<_{next(variables)}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts))


def specificity(template: str) -> tuple[int, ...]:
    """Sort key putting literal segments before variables, so `/history` wins over `/{id}`."""
    return tuple(1 if "{" in segment else 0 for segment in template.strip("/").split("/"))


def _identities(api: ApiDescription, schemes: dict[str, Any], configured: list[dict[str, Any]] | None) -> tuple[list[Identity], str]:
    if configured is not None:
        raw, source = configured, "settings"
    elif api.extension.get("credentials"):
        raw, source = api.extension["credentials"], "spec"
    else:
        raw, source = ([default_identity(api.name, schemes)] if schemes else []), "default"
    return [Identity.from_config(item, index) for index, item in enumerate(raw)], source


def compile_api(
    api: ApiDescription, vendor: Vendor, settings: Settings, world: World, state: ApiState, fixtures: list[FixtureEntry]
) -> tuple[ApiRuntime, Report]:
    spec = api.document
    report = Report()
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    readers = {name: reader_for(name, deref(spec, scheme)) for name, scheme in schemes.items()}
    identities, source = _identities(api, schemes, settings.credentials.get(api.name))
    runtime = ApiRuntime(api, vendor, vendor_settings(vendor, api, settings), identities, source, world, settings, readers, state)
    request_book, response_book = SchemaBook(spec, "request"), SchemaBook(spec, "response")
    coercers, lax_reader = _lax() if vendor.framework.lax_scalars else (None, None)

    for template, path_item in (spec.get("paths") or {}).items():
        path_item = deref(spec, path_item)
        shared = [deref(spec, p) for p in path_item.get("parameters", [])]
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            key = operation.get("operationId") or f"{method.upper()} {template}"
            own = [deref(spec, p) for p in operation.get("parameters", [])]
            merged = {(p["name"], p["in"]): p for p in [*shared, *own]}
            requirements = operation.get("security", spec.get("security", []))
            alternatives = [[readers[name] for name in req if name in readers] for req in requirements]
            route, path_names = route_for(api.mount, template, vendor.framework.decoded_paths)
            body = deref(spec, operation.get("requestBody"))
            report.warnings.extend(_request_example_problems(api, key, list(merged.values()), body, request_book))
            runtime.plans.append(
                OperationPlan(
                    api=runtime,
                    key=key,
                    method=method.upper(),
                    path=template,
                    route=route,
                    path_names=path_names,
                    params=[
                        ParamChecker(p, request_book, coercers, vendor.framework.last_repeat_wins)
                        for p in merged.values()
                        if p.get("in") in ("query", "path", "header", "cookie")
                    ],
                    body=BodyChecker(body, request_book, vendor.framework.fastapi_bodies, lax_reader) if body else None,
                    security=SecurityPlan(alternatives, identities),
                    responses=ResponseBook({k: deref(spec, v) for k, v in (operation.get("responses") or {}).items()}, response_book),
                    handler=vendor.handlers.get(key),
                    rules=vendor.rules.get(key, ()),
                    summary=str(operation.get("summary") or ""),
                    path_regex=template_regex(template),
                )
            )
    runtime.plans.sort(key=lambda plan: specificity(plan.path))
    report.extend(_attach_fixtures(runtime, fixtures))
    report.extend(check_examples(runtime))
    runtime.prepare_state()
    return runtime, report


def _lax() -> tuple[dict[str, Any], Any]:
    """pydantic's coercion of parameters and of JSON bodies (lax.py), imported only for a vendor
    whose framework coerces as pydantic does."""
    from .lax import LAX_COERCERS, lax_reader

    return LAX_COERCERS, lax_reader


def _request_example_problems(api: ApiDescription, key: str, params: list[dict[str, Any]], body: Any, book: SchemaBook) -> list[str]:
    """Parameter and request body examples that break their own schema."""
    subjects = [(f"parameter {p.get('name')!r}", p, p.get("schema", {})) for p in params]
    if isinstance(body, dict):
        subjects += [
            (f"request body {media_type}", media, media.get("schema")) for media_type, media in (body.get("content") or {}).items()
        ]
    found = []
    for label, holder, schema in subjects:
        examples = examples_of(holder or {})
        if not examples or schema is None:
            continue
        validator = book.compile(schema)
        for name, value in examples.items():
            found.extend(f"{api.path}: {key} {label} example {name!r}: {error.message}" for error in validator.iter_errors(value))
    return found


def _attach_fixtures(runtime: ApiRuntime, fixtures: list[FixtureEntry]) -> Report:
    report = Report()
    by_key = {plan.key: plan for plan in runtime.plans}
    for entry in fixtures:
        plan = by_key.get(entry.operation)
        if plan is None:
            report.errors.append(f"{entry.source} ({entry.name}): no operation {entry.operation!r} in {runtime.name}")
            continue
        problems = fixture_problems(plan, entry)
        if problems:
            report.errors.extend(f"{entry.source} ({entry.name}): {problem}" for problem in problems)
            continue
        plan.fixtures.append((entry, fixture_reply(plan, entry)))
    return report


def fixture_problems(plan: OperationPlan, entry: FixtureEntry) -> list[str]:
    problems: list[str] = []
    known = {
        "query": {p.name for p in plan.params if p.location == "query"},
        "headers": {p.name.lower() for p in plan.params if p.location == "header"},
        "path": set(plan.path_names),
    }
    for where in MATCH_LOCATIONS:
        for name in entry.match.get(where, {}):
            if (name.lower() if where == "headers" else name) not in known[where]:
                problems.append(f"match.{where}.{name} is not a parameter of {plan.key}")
    spec = plan.responses.for_status(entry.status)
    if spec is None:
        return [*problems, f"{plan.key} documents no {entry.status} response"]
    if entry.example is not None and entry.example not in spec.examples:
        return [*problems, f"{plan.key} {entry.status} has no example {entry.example!r} (it has: {', '.join(spec.examples) or 'none'})"]
    if entry.has_body and spec.validator is not None:
        for error in spec.validator.iter_errors(entry.body):
            problems.append(f"response body at {pointer(error)}: {error.message}")
    return problems


def fixture_reply(plan: OperationPlan, entry: FixtureEntry) -> Reply:
    spec = plan.responses.for_status(entry.status)
    assert spec is not None  # checked by _fixture_problems
    if entry.example is not None:
        reply = plan.responses.example_reply(spec, entry.example, entry.status)
        assert reply is not None
    elif entry.has_body:
        reply = Reply(entry.status, orjson.dumps(entry.body), spec.content_type or "application/json")
    else:
        reply = plan.responses.generated_reply(spec, 0, entry.status)
    reply.headers.update(entry.headers)
    return reply


def check_examples(runtime: ApiRuntime) -> Report:
    """Spec examples that break their own schema (warnings: vendor documents are not always right)."""
    report = Report()
    for plan in runtime.plans:
        for spec in [*plan.responses.by_status.values(), *([plan.responses.default] if plan.responses.default else [])]:
            if spec.validator is None:
                continue
            for name, value in spec.examples.items():
                for error in spec.validator.iter_errors(value):
                    label = f"{plan.key} response {spec.status or 'default'} example {name!r}"
                    report.warnings.append(f"{runtime.description.path}: {label} at {pointer(error)}: {error.message}")
    return report
