"""An example request for every route of a mounted API: what the dashboard shows as a curl line and
sends with its "Try it" button, each answering 2xx against the default sandbox exactly as shown.

A parameter's value is the first of: the vendor's example for the operation (`Vendor.examples`, the
only source of optional ones), the sandbox identity's value of that name (bitcain's `user_id`), a
well-known id (the fixtures' matches, the vendor's named cases), the spec's example, its default, its
first enum value; a required one none of them gives stays `{name}` and is listed in `unfilled`. The
body is the vendor's, else the spec's example. Credentials are those of the first identity that is
not forbidden; values that came from settings are shown as `<configured>` (only the bundled sandbox
values are public), and such an example says so (`configured`): it needs the user's values.

A signed API (`Vendor.signing`, Omniex) cannot have a fixed line: the signature covers a timestamp
checked within a short window. Its example says how to sign (`signing`), and its curl text is a
short shell snippet that signs with openssl, then sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from .graphql import GraphQLApi
from .mounted import MountedApi, Route
from .plan import ApiRuntime, OperationPlan, deref
from .responses import examples_of
from .security import CONFIGURED
from .vendors import Example, Signing

JSON = "application/json"
NO_EXAMPLE = Example()
NO_IDENTITY: dict[str, Any] = {"headers": {}, "query": {}, "cookies": {}, "values": {}}
_PATH_SAFE = ":@,"  # left as they are in a path segment or a query value: easier to read, and legal there


@dataclass(frozen=True)
class TryRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None = None  # the text sent (JSON), None without one
    file: tuple[str, str, str] | None = None  # a multipart body's one file: (field, file name, its text)
    signing: dict[str, str] | None = None  # how to sign it: digest, key, secret and the three header names
    unfilled: tuple[str, ...] = ()  # required values it has no example of, left as {name}
    configured: bool = False  # it carries `<configured>` credentials: the user's own values are needed

    def as_dict(self) -> dict[str, Any]:
        file = None if self.file is None else {"field": self.file[0], "filename": self.file[1], "content": self.file[2]}
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body": self.body,
            "file": file,
            "signing": self.signing,
            "unfilled": list(self.unfilled),
            "configured": self.configured,
            "curl": curl_text(self),
        }


def try_requests(api: MountedApi, base: str) -> list[TryRequest]:
    """One example per route of `api.routes()`, in that order; `base`: scheme, host and the session's prefix."""
    identity = _usable_identity(api.credential_sets())
    if isinstance(api, GraphQLApi):
        return [_graphql_request(api, route, base, identity) for route in api.routes()]
    if isinstance(api, ApiRuntime):
        plans = {(plan.method, plan.key): plan for plan in api.plans}
        return [_operation_request(api, plans[route.method, route.operation], base, identity) for route in api.routes()]
    return [TryRequest(route.method, base + route.path, {}) for route in api.routes()]


# --- credentials


def _usable_identity(sets: list[dict[str, Any]]) -> dict[str, Any]:
    """The first identity that is not forbidden (none when the API takes no credentials)."""
    return next((entry for entry in sets if not entry["forbidden"]), NO_IDENTITY)


def _credential_headers(identity: dict[str, Any]) -> dict[str, str]:
    headers = dict(identity["headers"])
    if identity["cookies"]:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in identity["cookies"].items())
    return headers


def _is_configured(identity: dict[str, Any]) -> bool:
    return CONFIGURED in identity["values"].values()


def _signing(signing: Signing | None, identity: dict[str, Any]) -> dict[str, str] | None:
    if signing is None:
        return None
    values = identity["values"]
    return {
        "digest": signing.digest,
        "key": values.get("key", ""),
        "secret": values.get("secret", ""),
        "keyHeader": signing.key_header,
        "timestampHeader": signing.timestamp_header,
        "signatureHeader": signing.signature_header,
    }


# --- GraphQL


def _graphql_request(api: GraphQLApi, route: Route, base: str, identity: dict[str, Any]) -> TryRequest:
    """The vendor's example query, in the query string of a GET or as the JSON body of a POST."""
    query = api.vendor.example_query
    headers = _credential_headers(identity)
    url = base + route.path
    if route.method == "GET":
        return TryRequest("GET", url + "?" + urlencode({"query": query}, quote_via=quote), headers, configured=_is_configured(identity))
    body = orjson.dumps({"query": query}).decode()
    return TryRequest(route.method, url, {**headers, "Content-Type": JSON}, body, configured=_is_configured(identity))


# --- OpenAPI operations


def _operation_request(api: ApiRuntime, plan: OperationPlan, base: str, identity: dict[str, Any]) -> TryRequest:
    document = api.description.document
    path_item = deref(document, document["paths"][plan.path])
    operation = path_item[plan.method.lower()]
    example = api.vendor.examples.get(plan.key, NO_EXAMPLE)
    sources = [
        example.params,
        api.vendor.examples.get("*", NO_EXAMPLE).params,
        identity["values"],
        *_well_known(api, plan.key),
    ]
    if not (api.vendor.signing or any(plan.security.alternatives)):
        identity = NO_IDENTITY  # an operation that takes no credentials is shown without them
    path, query, headers = plan.path, dict(identity["query"]), _credential_headers(identity)
    unfilled: list[str] = []
    for param in _parameters(document, path_item, operation):
        name, where = param["name"], param["in"]
        if not (param.get("required") or where == "path" or name in example.params):
            continue
        value = _value(name, param, document, sources)
        if value is None:
            unfilled.append(name)
            continue
        if where == "path":
            path = path.replace("{" + name + "}", quote(value, safe=_PATH_SAFE))
        elif where == "query":
            query[name] = value
        elif where == "header":
            headers[name] = value
    body, file = None, example.file
    if plan.body is not None and file is None:
        body = _body(document, operation, example)
        if body is None and plan.body.required:
            body, unfilled = "{}", [*unfilled, "body"]
        if body is not None:
            headers["Content-Type"] = JSON
    target = base + api.mount + path + ("?" + urlencode(query, quote_via=quote, safe=_PATH_SAFE) if query else "")
    return TryRequest(
        plan.method,
        target,
        headers,
        body,
        file,
        _signing(api.vendor.signing, identity),
        tuple(unfilled),
        _is_configured(identity),
    )


def _parameters(document: dict[str, Any], path_item: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's parameters, its own over the path's (as compile_api merges them)."""
    merged = {}
    for raw in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
        param = deref(document, raw)
        merged[param.get("name"), param.get("in")] = param
    return [param for param in merged.values() if param.get("in") in ("path", "query", "header")]


def _well_known(api: ApiRuntime, operation: str) -> list[dict[str, str]]:
    """The well-known ids as name -> value, those of this operation first."""
    entries = api.well_known()
    ordered = [entry for entry in entries if entry["operation"] == operation] + [entry for entry in entries if not entry["operation"]]
    return [dict(part.split("=", 1) for part in entry["try"].split() if "=" in part) for entry in ordered]


def _value(name: str, param: dict[str, Any], document: dict[str, Any], sources: list[Any]) -> str | None:
    for source in sources:
        if name in source:
            return str(source[name])
    examples = examples_of(param)
    if examples:
        return _text(next(iter(examples.values())))
    schema = deref(document, param.get("schema") or {})
    if "default" in schema:
        return _text(schema["default"])
    if schema.get("enum"):
        return _text(schema["enum"][0])
    return None


def _text(value: Any) -> str:
    """A parameter value as a client writes it (JSON's true and false)."""
    return orjson.dumps(value).decode() if isinstance(value, bool) else str(value)


def _body(document: dict[str, Any], operation: dict[str, Any], example: Example) -> str | None:
    if example.body is not None:
        return orjson.dumps(example.body).decode()
    content = (deref(document, operation.get("requestBody")) or {}).get("content") or {}
    for media_type, media in content.items():
        if "json" in media_type:
            found = examples_of(media or {})
            if found:
                return orjson.dumps(next(iter(found.values()))).decode()
    return None


# --- curl


def shell_quote(text: str) -> str:
    """`text` as one bash word: in single quotes, or in $'...' when it holds a control character."""
    if all(char >= " " or char == "\n" for char in text):
        return "'" + text.replace("'", "'\\''") + "'"
    escaped = "".join(char if " " <= char and char not in "\\'" else f"\\x{ord(char):02x}" for char in text)
    return "$'" + escaped + "'"


def curl_text(example: TryRequest) -> str:
    """The example as bash runs it: one curl line, or for a signed request the snippet that signs it first."""
    if example.signing is not None:
        return _signed_snippet(example, example.signing)
    words = ["curl", "-sS"]
    if example.method != "GET":
        words += ["-X", example.method]
    for name, value in example.headers.items():
        words += ["-H", shell_quote(f"{name}: {value}")]
    if example.body is not None:
        words += ["--data-binary", shell_quote(example.body)]
    if example.file is None:
        return " ".join([*words, shell_quote(example.url)])
    field, filename, text = example.file
    return " ".join([*words, "-F", shell_quote(f"{field}=@-;filename={filename}"), shell_quote(example.url), "<<'EOF'"]) + f"\n{text}EOF"


def _signed_snippet(example: TryRequest, signing: dict[str, str]) -> str:
    """A timestamp in milliseconds, the HMAC of METHOD + PATH + BODY + TIMESTAMP with openssl, then curl."""
    parts = urlsplit(example.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    query = f"?{parts.query}" if parts.query else ""
    body = example.body or ""
    lines = [
        f"ts=$(($(date +%s) * 1000)); path={shell_quote(parts.path)}" + (f"; body={shell_quote(body)}" if body else ""),
        f'sig=$(printf %s "{example.method}$path{"$body" if body else ""}$ts"'
        f" | openssl dgst -{signing['digest']} -hmac {shell_quote(signing['secret'])} | sed 's/^.* //')",
    ]
    words = ["curl", "-sS"] + (["-X", example.method] if example.method != "GET" else [])
    words += ["-H", shell_quote(f"{signing['keyHeader']}: {signing['key']}")]
    words += ["-H", f'"{signing["timestampHeader"]}: $ts"', "-H", f'"{signing["signatureHeader"]}: $sig"']
    words += [f"-H {shell_quote(f'{name}: {value}')}" for name, value in example.headers.items()]
    if body:
        words += ["--data-binary", '"$body"']
    words.append(shell_quote(origin) + '"$path"' + (shell_quote(query) if query else ""))
    return "\n".join([*lines, " ".join(words)])
