"""GraphQL over HTTP on graphql-core, for any `specs/<name>.graphql`.

A GraphQL API is its SDL file plus, optionally, a vendor module: `mockserver.vendors.<name>`
exposing `graphql_vendor(setup: GraphQLSetup) -> GraphQLVendor`, called once at start-up (the
setup carries the API's name, settings, world, state and schema). The vendor gives the
resolvers (type name -> field name -> resolver; checked against the SDL at start-up), its
authentication (a `GraphQLRequest` -> a context value for the resolvers, or a `Refusal`),
the shape of its error entries, its identities, credential fields and banner hints. Without
a vendor module (or without that function) the API is open and answers deterministic
generated data, the same for the same query.

The transport follows GraphQL over HTTP: `POST <mount>/graphql` with an `application/json`
body (`query`, `operationName`, `variables`, `extensions`), `GET <mount>/graphql` with the
same as URL parameters for queries (a mutation over GET is 405 with `Allow: POST`). Every
error is an `errors` list: transport problems are 400/413/415, syntax and validation errors
400 with `locations`, field errors 200 next to `data` with their `path`.

A document's cost is counted before graphql-core validates it (validation compares the fields
answering under one name pair by pair: 500 copies of one field took a second): its length
before it is lexed, its tokens while it is parsed, then one walk over the parsed document,
fragments expanded where they are spread, counts its definitions, selections, the pairs of
selections that land on one response path, and its depth (`Limits`). A document over a limit
is a 400 saying which, so that no document holds the event loop for more than about 20 ms.
Parsed and validated documents (and refusals) are kept in an LRU cache keyed by the query
text and bounded by the bytes of the parsed trees; answers a vendor declares pure are kept
too, keyed by the variables the operation declares. Both caches belong to the mounted API,
so they die with the app that a reload discards.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Token,
    build_schema,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
    validate_schema,
)
from graphql.validation.validate import ValidationAbortedError

from .catalog import ApiDescription
from .cors import is_preflight, preflight_response
from .errors import LoadError
from .lru import SizedLru, trimmed
from .mounted import DescribedApi, Route, add_api_route
from .sandbox.store import ApiState
from .sandbox.world import World
from .seeding import stable_seed
from .sessions import sandbox_of, session_of
from .settings import Settings
from .traffic import OPERATION_KEY
from .validation import MAX_BODY_DEPTH, deeper_than
from .vendors import GENERIC_FRAMEWORK, Framework, ScenarioKind, Vendor, vendor_settings
from .vocabulary import Identity

log = logging.getLogger("mockserver")

ENDPOINT = "/graphql"
OPERATION = "graphql"  # the operation of both routes, for faults; the journal gets the GraphQL operation itself
METHODS = ("GET", "POST")
MAX_QUERY_CHARS = 16_384  # a longer document is refused before it is lexed
MAX_TOKENS = 1_000  # a document with more tokens (comments included) is refused before it is parsed in full
MAX_SELECTIONS = 1_000  # selections walked, fragments expanded: bounds validation and the pre-count itself
MAX_OVERLAPS = 1_000  # pairs of selections landing on one response path, which validation compares pair by pair
MAX_DEFINITIONS = 100  # operations and fragments: validation walks each operation with the fragments it spreads
MAX_DEPTH = 50  # fields nested deeper (through fragments too) are refused: answers stay small and serializable
MAX_ERRORS = 20  # validation stops after this many errors (each error scans the text for its line and column)
CACHE_ENTRIES = 512
CACHE_BYTES = 16 << 20  # the document cache's bound on the bytes of the texts, parsed trees and faults it keeps
PARSED_BYTES_PER_TOKEN = 600  # a parsed document's bytes per token, nodes included (tracemalloc: at most 560)
PREPARED_BYTES = 200  # a document cache entry, its text and tree aside (tracemalloc: about 150)
FAULT_BYTES = 200  # a fault, its message and locations aside (tracemalloc: about 130)
LOCATION_BYTES = 64  # one (line, column) of a fault
TOO_COSTLY = (
    "The document is too costly to validate: graphql-core gave up on it. "
    "Ask for each field once, give repeated fields aliases, or spread fewer fragments."
)
ANSWER_ENTRIES = 1024
ANSWER_BYTES = 4 << 20  # the answer cache's bound on the bytes of the answers and keys it keeps
ANSWER_ENTRY_BYTES = 400  # an answer cache entry, its texts and body aside (tracemalloc: about 280)
JSON = "application/json"

# Generic error codes (the GraphQL-over-HTTP and Apollo vocabulary); a vendor's `format_error`
# maps them to its own types. A resolver's FieldError carries the vendor's type directly.
BAD_REQUEST = "BAD_REQUEST"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
NOT_FOUND = "NOT_FOUND"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
OPERATION_UNKNOWN = "OPERATION_RESOLUTION_FAILURE"
BAD_VARIABLES = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
RATE_LIMITED = "TOO_MANY_REQUESTS"
STATUS_CODES = {
    400: BAD_REQUEST,
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
    429: RATE_LIMITED,
}


class FieldError(Exception):
    """Raised by a resolver for an error the client should see as is: its message and its
    vendor error type (anything else a resolver raises is a bug, answered as INTERNAL)."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


@dataclass(frozen=True, slots=True)
class Fault:
    """One entry of an `errors` list, before the vendor gives it its shape."""

    code: str  # a generic code above, or a FieldError's vendor type
    message: str
    locations: tuple[tuple[int, int], ...] | None = None  # (line, column), for syntax, validation and field errors
    path: tuple[str | int, ...] | None = None  # for field errors

    @property
    def graphql(self) -> bool:
        """Whether it comes from the GraphQL document (rather than from the HTTP request)."""
        return self.locations is not None or self.path is not None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Authentication failed: the status and errors to answer with."""

    status: int
    faults: tuple[Fault, ...]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    """What a vendor's authentication sees of the HTTP request."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    world: World  # the sandbox the request is in: the default one's, or its session's (sessions.py)
    state: ApiState  # and its state, where a scenario keeps what it shaped


@dataclass(frozen=True, slots=True)
class GraphQLSetup:
    """What a vendor module is given at start-up."""

    name: str
    settings: Settings
    world: World
    state: ApiState
    schema: GraphQLSchema
    vendor_settings: Mapping[str, Any]  # the vendor's own settings, resolved (vendors.vendor_settings)


def standard_error(fault: Fault) -> dict[str, Any]:
    """The GraphQL specification's error entry, the code under `extensions`."""
    entry: dict[str, Any] = {"message": fault.message}
    if fault.locations:
        entry["locations"] = [{"line": line, "column": column} for line, column in fault.locations]
    if fault.path is not None:
        entry["path"] = list(fault.path)
    entry["extensions"] = {"code": fault.code}
    return entry


Resolver = Callable[..., Any]
Authenticator = Callable[[GraphQLRequest], Any]  # -> a context value for the resolvers, or a Refusal


@dataclass
class GraphQLVendor:
    resolvers: Mapping[str, Mapping[str, Resolver]] = field(default_factory=dict)  # type -> field -> resolver
    authenticate: Authenticator | None = None  # None: open, the context is None
    format_error: Callable[[Fault], dict[str, Any]] = standard_error
    credential_hints: Sequence[str] = ()
    credential_sets: Sequence[dict[str, Any]] = ()  # as MountedApi.credential_sets
    well_known: Mapping[str, str] = field(default_factory=dict)  # what to try -> what it gives
    example_query: str = "{ __typename }"  # the query of its example requests (the dashboard's curl lines and "Try it")
    identities: Sequence[Identity] = ()  # the credentials it accepts (the engine keeps other secrets apart from them)
    credential_fields: frozenset[str] = frozenset()  # lower-case header and query names that carry credentials
    field_resolver: Resolver | None = None  # for fields without a resolver; None: graphql-core's default
    type_resolver: Callable[..., Any] | None = None  # the object type of an interface or union value; None: the default
    reset: Callable[[], None] | None = None
    # When set, an answer depends only on the request's document, operation and variables and on this key of
    # the context (None: not this time); the engine then keeps answers and sends them again without executing.
    answer_key: Callable[[Any], Hashable | None] | None = None


# --- documents --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """What a document may cost. Each bound is checked before the step it protects, so that no
    document holds the event loop for more than about 20 ms: the text's length before it is
    lexed, the tokens while it is parsed, the definitions, selections, overlaps and depth
    before it is validated (graphql-core's time grows with each of them)."""

    chars: int = MAX_QUERY_CHARS
    tokens: int = MAX_TOKENS
    selections: int = MAX_SELECTIONS
    overlaps: int = MAX_OVERLAPS
    definitions: int = MAX_DEFINITIONS
    depth: int = MAX_DEPTH


@dataclass(frozen=True, slots=True)
class Shape:
    """What one pass over a parsed document counts, each fragment walked wherever it is spread
    (as validation and execution meet it). The pass stops once a count is over its limit."""

    definitions: int  # operations and fragments
    selections: int  # fields, inline fragments and fragment spreads walked
    overlaps: int  # pairs of selections landing on one response path: validation compares each pair
    depth: int  # how many fields deep the document reaches
    crowded: tuple[str, ...]  # the response path with the most selections ("..." for fragment spreads)
    copies: int  # how many land there

    def refusal(self, limits: Limits) -> str | None:
        """Why the document is too costly to validate, or None."""
        if self.definitions > limits.definitions:
            return f"The document has {self.definitions} operations and fragments; the limit is {limits.definitions}."
        if self.selections > limits.selections:
            return (
                f"The document is too costly to validate: it has more than {limits.selections} selections "
                "(fields, fragments and spreads, a fragment counted each time it is spread). Ask for fewer fields."
            )
        if self.overlaps > limits.overlaps:
            return (
                f"The document is too costly to validate: {self._crowd()}, and validation compares them pair by pair "
                f"(more than {limits.overlaps} pairs in all). Ask for each field once, or give the copies aliases."
            )
        if self.depth > limits.depth:
            return f"The query is nested {self.depth} fields deep (fragments included); the limit is {limits.depth}."
        return None

    def _crowd(self) -> str:
        *above, name = self.crowded
        if name != "...":
            return f"it asks for `{'.'.join(self.crowded)}` {self.copies} times under one name"
        return f"it spreads {self.copies} fragments " + (f"in `{'.'.join(above)}`" if above else "at the root")


class _Walk:
    """A walk over a document's selections, fragments expanded where they are spread, that
    counts the selections landing on each response path: validation compares the fields
    answering at one path pair by pair, and the fragments spread there."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode], limits: Limits) -> None:
        self.fragments = fragments
        self.limits = limits
        self.expanded: set[str] = set()  # the fragments walked so far
        self.ids: dict[tuple[int, str], int] = {}  # (parent path, response name) -> path; roots are negative
        self.keys: list[tuple[int, str]] = []
        self.copies: list[int] = []
        self.crowded = -1  # the path with the most copies
        self.roots = self.selections = self.overlaps = self.depth = 0

    def over(self) -> bool:
        return self.selections > self.limits.selections or self.overlaps > self.limits.overlaps

    def root(self, selection_set: SelectionSetNode, fragment: str | None = None) -> None:
        """Walk one operation or fragment, iteratively; stop once a count is over its limit.
        A fragment spread inside itself is not walked again (validation reports the cycle)."""
        self.roots += 1
        chain = (fragment,) if fragment else ()
        stack: list[tuple[SelectionSetNode, int, int, tuple[str, ...]]] = [(selection_set, -self.roots, 0, chain)]
        while stack and not self.over():
            selection_set, parent, depth, chain = stack.pop()
            self.selections += len(selection_set.selections)
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    at = self.land(parent, (selection.alias or selection.name).value)
                    self.depth = max(self.depth, depth + 1)
                    if selection.selection_set is not None:
                        stack.append((selection.selection_set, at, depth + 1, chain))
                elif isinstance(selection, FragmentSpreadNode):
                    self.land(parent, "...")
                    name = selection.name.value
                    if name in self.fragments and name not in chain:
                        self.expanded.add(name)
                        stack.append((self.fragments[name].selection_set, parent, depth, (*chain, name)))
                elif selection.selection_set is not None:  # an inline fragment: same path, same depth
                    stack.append((selection.selection_set, parent, depth, chain))

    def land(self, parent: int, name: str) -> int:
        """The path `name` answers at under `parent`, with one more copy there."""
        at = self.ids.setdefault((parent, name), len(self.keys))
        if at == len(self.keys):
            self.keys.append((parent, name))
            self.copies.append(0)
        self.overlaps += self.copies[at]
        self.copies[at] += 1
        if self.crowded < 0 or self.copies[at] > self.copies[self.crowded]:
            self.crowded = at
        return at

    def names(self, at: int) -> tuple[str, ...]:
        names: list[str] = []
        while at >= 0:
            at, name = self.keys[at]
            names.append(name)
        return tuple(reversed(names))


def shape_of(document: DocumentNode, limits: Limits) -> Shape:
    """Count the document's definitions and selections, the pairs of selections that land on
    one response path, and its depth, in one pass that stops as soon as a count passes its
    limit: its own cost is bounded by the limits, whatever fragments multiply. Operations are
    walked first; a fragment no operation spreads (an invalid document) is walked on its own."""
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    fragments = {node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)}
    walk = _Walk(fragments, limits)
    for operation in operations:
        walk.root(operation.selection_set)
    for name, fragment in fragments.items():
        if name not in walk.expanded:
            walk.root(fragment.selection_set, name)
    crowded = walk.crowded
    return Shape(
        len(operations) + len(fragments),
        walk.selections,
        walk.overlaps,
        walk.depth,
        walk.names(crowded),
        walk.copies[crowded] if crowded >= 0 else 0,
    )


@dataclass(frozen=True, slots=True)
class Prepared:
    """A query text parsed and validated once: its document, or why it cannot run."""

    document: DocumentNode | None
    faults: tuple[Fault, ...]  # syntax, cost or validation errors; empty when the document is valid

    def size(self, query: str) -> int:
        """The bytes it keeps with its text: the text, the parsed tree (its tokens times
        PARSED_BYTES_PER_TOKEN, which covers every node and token the parser keeps) and the faults."""
        size = PREPARED_BYTES + sys.getsizeof(query)
        if self.document is not None and self.document.loc is not None:
            size += PARSED_BYTES_PER_TOKEN * _tokens(self.document.loc.start_token)
        return size + sum(FAULT_BYTES + sys.getsizeof(fault.message) + LOCATION_BYTES * len(fault.locations or ()) for fault in self.faults)


def _tokens(token: Token | None) -> int:
    """How many tokens the parser kept (comments included): the linked list a document's
    locations hold on to."""
    count = 0
    while token is not None:
        count += 1
        token = token.next
    return count


class DocumentCache:
    """Least recently used documents by query text, bounded in entries and in the bytes of the
    texts, the parsed trees and the faults it keeps."""

    def __init__(self, schema: GraphQLSchema, entries: int = CACHE_ENTRIES, size: int = CACHE_BYTES, limits: Limits = Limits()) -> None:
        self.schema = schema
        self.limits = limits
        self.items: SizedLru[str, Prepared] = SizedLru(entries, size, lambda query, prepared: prepared.size(query))

    def __len__(self) -> int:
        return len(self.items)

    @property
    def hits(self) -> int:
        return self.items.hits

    @property
    def misses(self) -> int:
        return self.items.misses

    def get(self, query: str) -> Prepared:
        """The prepared document; a text over the length limit is refused at once, and not kept."""
        if len(query) > self.limits.chars:
            message = f"The document is {len(query)} characters long; the limit is {self.limits.chars}."
            return Prepared(None, (Fault(PARSE_FAILED, message, ((1, 1),)),))
        prepared = self.items.get(query)
        if prepared is None:
            prepared = self._prepare(query)
            self.items.put(query, prepared)
        return prepared

    def _prepare(self, query: str) -> Prepared:
        limits = self.limits
        try:
            document = parse(query, max_tokens=limits.tokens)
        except GraphQLError as error:
            return Prepared(None, (_fault(error, PARSE_FAILED),))
        shape = shape_of(document, limits)
        refusal = shape.refusal(limits)
        if refusal is not None:
            return Prepared(None, (Fault(VALIDATION_FAILED, refusal, ((1, 1),)),))
        errors = validate(self.schema, document, max_errors=MAX_ERRORS)
        return Prepared(document, tuple(_validation_fault(error) for error in errors))


def _validation_fault(error: GraphQLError) -> Fault:
    """graphql-core gives up on a document whose fragments or comparisons cost too much,
    saying only "Validation aborted."; say why instead."""
    if isinstance(error, ValidationAbortedError) and error.message == "Validation aborted.":
        return Fault(VALIDATION_FAILED, TOO_COSTLY, ((1, 1),))
    return _fault(error, VALIDATION_FAILED)


def _fault(error: GraphQLError, code: str) -> Fault:
    locations = tuple((location.line, location.column) for location in error.locations or ())
    return Fault(code, error.message, locations, tuple(error.path) if error.path is not None else None)


# --- generated data for APIs without a vendor module -----------------------------------------


class _Generated:
    """A generated object: its fields are generated in turn."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def generated_resolver(seed: int) -> Resolver:
    """A resolver answering any field with data generated from (seed, the field's path): the
    same query gets the same answer. Lists have two items near the root and one below, so the
    size of an answer grows with the query, not exponentially with its depth."""

    def resolve(source: Any, info: GraphQLResolveInfo, **_: Any) -> Any:
        path = info.path.as_list()
        return _generate(info.return_type, info.field_name, stable_seed(seed, *path), len(path), info.schema)

    return resolve


def _generate(kind: GraphQLOutputType, name: str, seed: int, depth: int, schema: GraphQLSchema) -> Any:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if isinstance(kind, GraphQLList):
        count = 2 if depth < 4 else 1
        return [_generate(kind.of_type, name, stable_seed(seed, index), depth + 1, schema) for index in range(count)]
    if isinstance(kind, GraphQLObjectType):
        return _Generated(kind.name)
    if isinstance(kind, GraphQLAbstractType):
        possible = schema.get_possible_types(kind)
        return _Generated(possible[seed % len(possible)].name) if possible else None
    if isinstance(kind, GraphQLEnumType):
        values = list(kind.values)
        return values[seed % len(values)] if values else None
    scalar = getattr(kind, "name", "String")
    if scalar == "Int":
        return seed % 1000
    if scalar == "Float":
        return (seed % 100_000) / 100
    if scalar == "Boolean":
        return seed % 2 == 0
    if scalar == "ID":
        return f"{seed:016x}"
    return f"{name}-{seed % 10_000}"


def generated_type(value: Any, info: GraphQLResolveInfo, abstract: GraphQLAbstractType) -> str | None:
    return value.type_name if isinstance(value, _Generated) else None


# --- the mounted API --------------------------------------------------------------------------


def load_schema(path: Path) -> GraphQLSchema:
    """The schema of an SDL file, checked in full (a problem is a LoadError naming the file)."""
    try:
        schema = build_schema(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoadError(str(path), f"cannot read: {exc.strerror}") from exc
    except (GraphQLError, TypeError) as exc:
        raise LoadError(str(path), f"not a valid GraphQL schema: {exc}") from exc
    problems = validate_schema(schema)
    if problems:
        raise LoadError(str(path), "not a valid GraphQL schema: " + "; ".join(problem.message for problem in problems))
    return schema


def bind_resolvers(schema: GraphQLSchema, resolvers: Mapping[str, Mapping[str, Resolver]], source: Path) -> None:
    """Attach the vendor's resolvers to the schema; each must name a field the SDL has."""
    for type_name, fields in resolvers.items():
        kind = schema.get_type(type_name)
        if not isinstance(kind, GraphQLObjectType):
            raise LoadError(str(source), f"the vendor module resolves type {type_name!r}, which the schema does not define")
        for field_name, resolver in fields.items():
            if field_name not in kind.fields:
                raise LoadError(str(source), f"the vendor module resolves {type_name}.{field_name}, which the schema does not define")
            kind.fields[field_name].resolve = resolver


AnswerKey = tuple[str, str | None, bytes, Hashable]  # query, operation name, the declared variables as JSON, the vendor's key


def _answer_size(key: AnswerKey, answer: tuple[int, bytes]) -> int:
    """The bytes a kept answer holds: its texts and body, and the entry around them (the
    vendor's key is small and fixed)."""
    query, name, variables, _ = key
    return (
        ANSWER_ENTRY_BYTES
        + sys.getsizeof(query)
        + (sys.getsizeof(name) if name else 0)
        + sys.getsizeof(variables)
        + sys.getsizeof(answer[1])
    )


class GraphQLApi(DescribedApi):
    """One GraphQL API mounted at `/<name>`: its endpoint and its own 404/405 catch-all."""

    kind = "graphql"

    def __init__(
        self,
        description: ApiDescription,
        settings: Settings,
        world: World,
        schema: GraphQLSchema,
        vendor: GraphQLVendor,
        state: ApiState,
        scenario: ScenarioKind | None = None,
    ) -> None:
        self.description = description
        self.settings = settings
        self.world = world
        self.state = state  # the default session's (a session's: Session.state)
        self.scenario = scenario
        self.schema = schema
        self.vendor = vendor
        self.documents = DocumentCache(schema)
        self.answers: SizedLru[AnswerKey, tuple[int, bytes]] = SizedLru(ANSWER_ENTRIES, ANSWER_BYTES, _answer_size)

    @property
    def endpoint(self) -> str:
        return self.mount + ENDPOINT

    @property
    def identities(self) -> list[Identity]:
        return list(self.vendor.identities)

    @property
    def framework(self) -> Framework:
        return GENERIC_FRAMEWORK

    @property
    def credential_fields(self) -> frozenset[str]:
        return self.vendor.credential_fields

    def add_routes(self, app: web.Application) -> None:
        add_api_route(app, "GET", self.endpoint, self.handle, self, OPERATION)
        add_api_route(app, "POST", self.endpoint, self.handle, self, OPERATION)
        add_api_route(app, "*", self.mount, self.fallback, self, None)
        add_api_route(app, "*", self.mount + "/{tail:.*}", self.fallback, self, None)

    def routes(self) -> list[Route]:
        return [Route(method, self.endpoint, OPERATION) for method in METHODS]

    def summary(self) -> str:
        queries = len(self.schema.query_type.fields) if self.schema.query_type else 0
        mutations = len(self.schema.mutation_type.fields) if self.schema.mutation_type else 0
        types = sum(1 for name in self.schema.type_map if not name.startswith("__"))
        return f"GraphQL, {queries} query fields, {mutations} mutations, {types} types"

    def credential_hints(self) -> list[str]:
        return list(self.vendor.credential_hints)

    def credential_sets(self) -> list[dict[str, Any]]:
        return list(self.vendor.credential_sets)

    def well_known(self) -> list[dict[str, str]]:
        return [{"name": description, "operation": OPERATION, "try": hint} for hint, description in self.vendor.well_known.items()]

    @property
    def state_seeder(self) -> None:
        return None  # its vendor keeps what it needs (vendor.reset)

    def reset(self) -> None:
        """A GraphQL API keeps no state here unless its vendor does (the document cache is not
        state: it never changes an answer)."""
        self.answers.clear()
        if self.vendor.reset is not None:
            self.vendor.reset()

    # --- answers ---

    def reply(self, status: int, payload: dict[str, Any] | bytes, headers: Mapping[str, str] | None = None) -> web.Response:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        return web.Response(body=body, status=status, content_type=JSON, headers=headers)

    def errors(self, status: int, faults: Sequence[Fault], headers: Mapping[str, str] | None = None) -> web.Response:
        return self.reply(status, self._errors_body(faults), headers)

    def _errors_body(self, faults: Sequence[Fault]) -> bytes:
        return orjson.dumps({"errors": [self.vendor.format_error(fault) for fault in faults]})

    def error(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
        return self.errors(status, [Fault(code, message)], headers)

    def error_response(self, status: int, message: str) -> web.Response:
        """Any status as an `errors` list (injected faults)."""
        return self.error(status, STATUS_CODES.get(status, INTERNAL if status >= 500 else BAD_REQUEST), message)

    async def fallback(self, request: web.Request) -> web.StreamResponse:
        """Anything under the mount that the endpoint's GET and POST did not take."""
        if request.path == self.endpoint:
            if is_preflight(request):
                return preflight_response(request, list(METHODS))
            message = f"{request.method} is not supported on {self.endpoint}: send the GraphQL request with POST (or GET for a query)"
            return self.error(405, METHOD_NOT_ALLOWED, message, {"Allow": ", ".join(METHODS)})
        message = f"no endpoint at {request.path}: the {self.name} GraphQL API answers at {self.endpoint}"
        return self.error(404, NOT_FOUND, message)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except web.HTTPException:
            raise
        except Exception:  # a bug must still answer as an `errors` list, never as a traceback
            log.exception("unhandled error in %s %s", request.method, self.endpoint)
            return self.error(500, INTERNAL, "the mock server failed to handle this request")

    async def _handle(self, request: web.Request) -> web.Response:
        context = None
        if self.vendor.authenticate is not None:
            world, state = sandbox_of(self, session_of(request))
            view = GraphQLRequest(request.method, request.path, request.headers, request.query, world, state)
            context = self.vendor.authenticate(view)
            if isinstance(context, Refusal):
                return self.errors(context.status, context.faults, context.headers)
        params = await (self._post_params(request) if request.method == "POST" else self._get_params(request))
        if isinstance(params, web.Response):
            return params
        query, operation_name, variables = params
        prepared = self.documents.get(query)
        if prepared.document is None:
            return self.errors(400, prepared.faults)
        operation = get_operation_ast(prepared.document, operation_name)
        if operation is None:
            return (
                self.errors(400, prepared.faults)
                if prepared.faults
                else self.error(400, OPERATION_UNKNOWN, _no_operation(prepared.document, operation_name))
            )
        request[OPERATION_KEY] = f"{operation.operation.value} {operation.name.value}" if operation.name else operation.operation.value
        if request.method == "GET" and operation.operation != OperationType.QUERY:
            kind = operation.operation.value
            return self.error(405, METHOD_NOT_ALLOWED, f"a {kind} cannot be sent with GET: use POST", {"Allow": "POST"})
        if prepared.faults:
            return self.errors(400, prepared.faults)
        key = self._answer_key(query, operation, variables, context)
        answer = self.answers.get(key) if key is not None else None
        if answer is None:
            answer = self._execute(prepared.document, operation_name, variables, context)
            if key is not None:
                self.answers.put(key, (answer[0], trimmed(answer[1])))
        return self.reply(*answer)

    def _answer_key(
        self, query: str, operation: OperationDefinitionNode, variables: dict[str, Any] | None, context: Any
    ) -> AnswerKey | None:
        """The key an answer is kept under. Only the variables the operation declares count:
        others cannot change the answer, nor make the key bigger."""
        vendor_key = self.vendor.answer_key(context) if self.vendor.answer_key is not None else None
        if vendor_key is None:
            return None
        declared = (definition.variable.name.value for definition in operation.variable_definitions or ())
        used = {name: variables[name] for name in declared if name in variables} if variables else {}
        name = operation.name.value if operation.name else None
        return query, name, trimmed(orjson.dumps(used, option=orjson.OPT_SORT_KEYS)), vendor_key

    def _execute(
        self, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None, context: Any
    ) -> tuple[int, bytes]:
        """The status and body of one execution."""
        result = execute_sync(
            self.schema,
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
            field_resolver=self.vendor.field_resolver,
            type_resolver=self.vendor.type_resolver,
        )
        errors = result.errors or []
        if result.data is None and errors and all(error.path is None for error in errors):
            # the request could not start: its variables do not fit the operation
            return 400, self._errors_body([_fault(error, BAD_VARIABLES) for error in errors])
        payload: dict[str, Any] = {"data": result.data}
        if errors:
            payload["errors"] = [self.vendor.format_error(self._field_fault(error)) for error in errors]
        return 200, orjson.dumps(payload)

    def _field_fault(self, error: GraphQLError) -> Fault:
        original = error.original_error
        fault = _fault(error, INTERNAL)
        if isinstance(original, FieldError):
            return Fault(original.error_type, original.message, fault.locations, fault.path)
        if original is not None and not isinstance(original, GraphQLError):
            log.error("resolver failed at %s", fault.path, exc_info=original)
            return Fault(INTERNAL, "the mock server failed to resolve this field", fault.locations, fault.path)
        return fault

    # --- parameters ---

    async def _post_params(self, request: web.Request) -> tuple[str, str | None, dict[str, Any] | None] | web.Response:
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return self._too_large(limit)
        if not request.body_exists:
            return self.error(400, BAD_REQUEST, 'Request body is empty: send a JSON object such as {"query": "{ __typename }"}.')
        media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != JSON and not media_type.endswith("+json"):
            shown = f"Content-Type {media_type!r}" if media_type else "a missing Content-Type"
            return self.error(415, UNSUPPORTED_MEDIA_TYPE, f"{shown} is not supported: send the request as application/json")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._too_large(limit)
        if not raw.strip():
            return self.error(400, BAD_REQUEST, 'Request body is empty: send a JSON object such as {"query": "{ __typename }"}.')
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return self.error(400, BAD_REQUEST, f"Request body is not valid JSON: {exc}")
        if not isinstance(body, dict):
            return self.error(400, BAD_REQUEST, f"Request body must be a JSON object with a `query` string, not {_json_kind(body)}.")
        return self._params(body, "body")

    async def _get_params(self, request: web.Request) -> tuple[str, str | None, dict[str, Any] | None] | web.Response:
        query = request.query
        repeated = sorted(
            {name for name in query if name in ("query", "operationName", "variables", "extensions") and len(query.getall(name)) > 1}
        )
        if repeated:
            return self.error(400, BAD_REQUEST, f"URL parameter {repeated[0]!r} is given more than once")
        params: dict[str, Any] = {name: query[name] for name in ("query", "operationName") if name in query}
        for name in ("variables", "extensions"):
            if name in query and query[name].strip():
                try:
                    params[name] = orjson.loads(query[name])
                except orjson.JSONDecodeError as exc:
                    return self.error(400, BAD_REQUEST, f"URL parameter `{name}` is not valid JSON: {exc}")
        return self._params(params, "URL")

    def _params(self, params: Mapping[str, Any], where: str) -> tuple[str, str | None, dict[str, Any] | None] | web.Response:
        source = "Request body" if where == "body" else "URL"
        query = params.get("query")
        if query is None:
            return self.error(400, BAD_REQUEST, f"{source} has no `query`: give the GraphQL document as a string.")
        if not isinstance(query, str):
            return self.error(400, BAD_REQUEST, f"`query` must be a string, not {_json_kind(query)}.")
        if not query.strip():
            return self.error(400, BAD_REQUEST, "`query` is empty: give a GraphQL document.")
        operation_name = params.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            return self.error(400, BAD_REQUEST, f"`operationName` must be a string or null, not {_json_kind(operation_name)}.")
        variables = params.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return self.error(400, BAD_REQUEST, f"`variables` must be a JSON object or null, not {_json_kind(variables)}.")
        if variables is not None and deeper_than(variables, MAX_BODY_DEPTH):
            return self.error(400, BAD_REQUEST, f"`variables` are nested more than {MAX_BODY_DEPTH} levels deep.")
        extensions = params.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            return self.error(400, BAD_REQUEST, f"`extensions` must be a JSON object or null, not {_json_kind(extensions)}.")
        return query, operation_name or None, variables

    def _too_large(self, limit: int) -> web.Response:
        return self.error(413, PAYLOAD_TOO_LARGE, f"Request body is larger than the limit of {limit} bytes.")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _no_operation(document: DocumentNode, operation_name: str | None) -> str:
    names = [op.name.value for op in document.definitions if isinstance(op, OperationDefinitionNode) and op.name]
    if operation_name:
        return f"Unknown operation named {operation_name!r}; the document has: {', '.join(names) or 'no named operation'}."
    if not any(isinstance(op, OperationDefinitionNode) for op in document.definitions):
        return "The document has no operation to run."
    return f"The document has several operations: give `operationName` (one of {', '.join(names)})."


def compile_graphql(description: ApiDescription, vendor: Vendor, settings: Settings, world: World, state: ApiState) -> GraphQLApi:
    """The mounted API of one SDL file, with its vendor's resolvers and authentication (generated
    data for every field when its vendor is not a GraphQL one)."""
    schema = load_schema(description.path)
    if vendor.graphql is None:
        engine = GraphQLVendor(field_resolver=generated_resolver(stable_seed(world.seed, description.name)), type_resolver=generated_type)
    else:
        own = vendor_settings(vendor, description, settings)
        engine = vendor.graphql(GraphQLSetup(description.name, settings, world, state, schema, own))
        bind_resolvers(schema, engine.resolvers, description.path)
    return GraphQLApi(description, settings, world, schema, engine, state, vendor.scenario)
