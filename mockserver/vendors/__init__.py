"""Vendors: what a spec cannot say, one module or package per API, behind one protocol and one look-up.

A vendor module exposes `VENDOR`, a `Vendor`. A REST vendor fills in its error envelope, its
authentication (signatures, tokens), its sandbox handlers (operation key -> `SandboxHandler`), its
seed state and its own settings; a GraphQL vendor sets `graphql`, called once at start-up with a
`GraphQLSetup` (graphql.py) and returning its resolvers, authentication and error format.

`vendor_for(description)` looks the vendor of an API up, by the spec's `x-mock.vendor` or else the
API's name, in this order:

1. a `vendors/<name>/` package or `vendors/<name>.py` module in the spec's own folder (a sixth API
   is a spec file plus one vendor folder, with no change to mockserver);
2. the bundled `mockserver.vendors.<name>`;
3. `GENERIC`: the spec alone (validation, examples, generated data, problem+json).

A vendor's settings are declared with their defaults in `Vendor.settings`; the spec's
`x-mock.settings` and then the `vendors.<name>` section of the settings override them
(`vendor_settings`), and a sandbox handler reads them as `call.settings`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..envelopes import problem_json
from ..errors import LoadError
from ..sandbox.store import ApiState, Seeder
from ..security import AuthOutcome, AuthRequest
from ..settings import Settings
from ..vocabulary import Call, Envelope, Reply, SandboxHandler

if TYPE_CHECKING:
    from ..catalog import ApiDescription
    from ..graphql import GraphQLSetup, GraphQLVendor

Authenticator = Callable[[AuthRequest], AuthOutcome]
# A rule the spec cannot state (a sum, a range, a supported value): a 4xx Reply, or None when the call
# keeps it. It sees only the call (never the state or the clock), so its verdict can be remembered.
Rule = Callable[[Call], "Reply | None"]
VENDOR_FOLDER = "vendors"  # beside a user's specs: <specs>/vendors/<name>/


@dataclass(frozen=True)
class Framework:
    """What the vendor's web framework does where its description is silent (generic: the strict
    reading below; bitcain: FastAPI's, `FASTAPI`)."""

    lax_scalars: bool = False  # parameters and JSON body values coerced as pydantic's lax mode (`1.0`, `yes`)
    last_repeat_wins: bool = False  # a scalar query parameter given twice takes its last value (else 4xx)
    redirect_slashes: bool = False  # a path that matches once its trailing slash is added or removed: 307 there
    first_route_allow: bool = False  # a 405's Allow lists the methods of the first route matching the path
    # JSON bodies read with Python's json (a BOM, UTF-16, NaN, integers of any size), forms as Starlette
    # reads them (the last of a repeated field wins; unfinished parts are dropped); a malformed body
    # is answered before authentication (FastAPI parses the body before its security dependencies)
    fastapi_bodies: bool = False
    decoded_paths: bool = False  # routes on the path once its escapes are decoded: `a%2Fb` is two segments
    # a target whose escapes decode to a NUL or to bytes that are not UTF-8 is served (else 400), and of a
    # repeated credential header the first counts (else 400)
    lenient_requests: bool = False


GENERIC_FRAMEWORK = Framework()
FASTAPI = Framework(
    lax_scalars=True,
    last_repeat_wins=True,
    redirect_slashes=True,
    first_route_allow=True,
    fastapi_bodies=True,
    decoded_paths=True,
    lenient_requests=True,
)


@dataclass(frozen=True)
class ScenarioKind:
    """How a vendor's world is shaped at run time, in its own terms (a scenario, scenarios.py)."""

    check: Callable[[Any], list[str]]  # a payload -> every problem in it, "<where>: <what>" (none: it is sound)
    install: Callable[[ApiState, Any], None]  # a sound payload into a state (added to what is there)
    export: Callable[[ApiState], Any]  # what a state holds, as a payload (None: nothing)


def listed(payload: Any, where: str, member: str, most: int) -> tuple[list[Any], list[str]]:
    """A scenario payload `{member: [...]}`: its items to check (at most `most`) and what is wrong with its shape."""
    if not isinstance(payload, dict) or set(payload) != {member} or not isinstance(payload[member], list):
        return [], [f'{where}: {{"{member}": [...]}}']
    items = payload[member]
    return items[:most], [f"{where}.{member}: at most {most}"] if len(items) > most else []


def unknown_members(given: Mapping[str, Any], known: Collection[str], where: str) -> list[str]:
    """A scenario problem for each member of `given` not in `known` (a set of names is shown sorted, a
    sequence in its own order)."""
    shown = ", ".join(known if isinstance(known, (list, tuple)) else sorted(known))
    return [f"{where}.{name}: unknown member (known: {shown})" for name in sorted(set(given) - set(known), key=str)]


def each_item_problems(items: list[Any], where: str, check: Callable[..., list[str]], *shared: Any) -> list[str]:
    """The problems of every item of a scenario's list, each item named by its place, `where[index]`;
    `shared`: what the check keeps across items (the ids seen so far, say)."""
    return [problem for index, item in enumerate(items) for problem in check(item, f"{where}[{index}]", *shared)]


def exported(state: ApiState, kind: str, member: str) -> Any:
    """`{member: [the documents of kind]}`, None when there is none: what a scenario installed, as given."""
    documents = state.find(kind)
    return {member: documents} if documents else None


def documents_scenario(check: Callable[[Any], list[str]], member: str, kind: str, id_of: Callable[[Any], str]) -> ScenarioKind:
    """A scenario `{member: [item, ...]}` kept as one document of `kind` per item (`id_of`: its id): an
    item given again replaces the earlier one."""

    def install(state: ApiState, payload: Any) -> None:
        for item in payload[member]:
            state.put(kind, id_of(item), item)

    return ScenarioKind(check, install, lambda state: exported(state, kind, member))


@dataclass(frozen=True)
class Example:
    """What a vendor fills in of one operation's example request (the dashboard's curl lines and "Try
    it"), where the spec's examples and the sandbox credentials do not make a request that succeeds."""

    params: Mapping[str, str] = field(default_factory=dict)  # parameter name -> value (optional ones too)
    body: Any = None  # a JSON body replacing the spec's example
    file: tuple[str, str, str] | None = None  # a multipart body's one file: (field, file name, its text)


@dataclass(frozen=True)
class Signing:
    """How a client signs a request: the lowercase hex HMAC of METHOD + PATH + BODY + TIMESTAMP (Unix
    milliseconds, PATH as sent without its query), keyed with the identity's `secret` value, sent with
    its `key` value and the timestamp in the three headers."""

    digest: str  # hashlib's name: "sha384"
    key_header: str
    timestamp_header: str
    signature_header: str


@dataclass
class Vendor:
    envelope: Envelope = problem_json
    validation_status: int = 400  # status for parameter and body violations
    handlers: dict[str, SandboxHandler] = field(default_factory=dict)  # operation key -> handler
    # operation key -> its rules, checked after the spec's validation and before any answer is chosen:
    # `Prefer`, a fixture or an example never skips them
    rules: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    authenticate: Authenticator | None = None  # replaces the spec's security check (signatures)
    strict_query: bool = False  # a query parameter the operation does not define is a violation
    seed_state: Seeder | None = None  # fills the store at first start and after a reset
    well_known: dict[str, str] = field(default_factory=dict)  # id a user can try -> what it gives (dashboard, catalog)
    examples: dict[str, Example] = field(default_factory=dict)  # operation key ("*": every one) -> its example's values
    signing: Signing | None = None  # how its requests are signed (authenticate checks it), for the examples
    settings: dict[str, Any] = field(default_factory=dict)  # its own settings, with their defaults
    graphql: Callable[[GraphQLSetup], GraphQLVendor] | None = None  # a GraphQL API's resolvers, auth and errors
    framework: Framework = GENERIC_FRAMEWORK
    scenario: ScenarioKind | None = None  # its world shaped at run time (None: fixtures only)


GENERIC = Vendor()


def vendor_for(description: ApiDescription) -> Vendor:
    """The vendor of an API: beside its spec, else bundled, else GENERIC."""
    name = str(description.extension.get("vendor") or description.name)
    module = _beside(description.path.parent / VENDOR_FOLDER, name) or _bundled(name)
    if module is None:
        return GENERIC
    vendor = getattr(module, "VENDOR", None)
    if not isinstance(vendor, Vendor):
        raise LoadError(str(module.__file__), "a vendor module must expose VENDOR = Vendor(...)")
    return vendor


def vendor_settings(vendor: Vendor, description: ApiDescription, settings: Settings) -> dict[str, Any]:
    """The vendor's settings: its defaults < the spec's `x-mock.settings` < a top-level setting of the
    same name (bitcain's per-user limits, which were top-level before vendors owned their settings)
    < the `vendors.<api name>` section of the settings. Each value takes the type of its default."""
    own = description.extension.get("settings") or {}
    given = settings.vendors.get(description.name, {})
    top_level = {item.name for item in fields(Settings)}
    unknown = sorted(set(own) - set(vendor.settings)) + sorted(set(given) - set(vendor.settings))
    if unknown:
        known = ", ".join(sorted(vendor.settings)) or "none"
        raise LoadError(description.name, f"no vendor setting {unknown[0]!r} (its settings: {known})")
    values: dict[str, Any] = {}
    for name, default in vendor.settings.items():
        value = given.get(name, getattr(settings, name) if name in top_level else own.get(name, default))
        values[name] = _typed(description.name, name, value, default)
    return values


def _typed(api: str, name: str, value: Any, default: Any) -> Any:
    kind = type(default)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    try:
        return kind(value) if kind is not bool else str(value).strip().lower() in ("1", "true", "yes", "on")
    except (TypeError, ValueError) as exc:
        raise LoadError(api, f"vendor setting {name!r} must be {kind.__name__}, got {value!r}") from exc


def _bundled(name: str) -> ModuleType | None:
    target = f"{__name__}.{name}"
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):  # no such module (a dotted name stops at its first part)
            return None
        raise


def _beside(folder: Path, name: str) -> ModuleType | None:
    """`<folder>/<name>/__init__.py` or `<folder>/<name>.py`, imported once under a name of its own
    (its path's hash: two spec folders may each have a vendor of one name)."""
    package, single = folder / name / "__init__.py", folder / f"{name}.py"
    location = package if package.is_file() else single if single.is_file() else None
    if location is None:
        return None
    digest = hashlib.blake2b(str(location.resolve()).encode(), digest_size=6).hexdigest()
    module_name = f"mockserver_vendor_{name}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    search = [str(location.parent)] if location is package else None
    spec = importlib.util.spec_from_file_location(module_name, location, submodule_search_locations=search)
    if spec is None or spec.loader is None:
        raise LoadError(str(location), "cannot be imported as a vendor module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise LoadError(str(location), f"the vendor module failed to import: {type(exc).__name__}: {exc}") from exc
    return module
