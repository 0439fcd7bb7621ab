"""Request limits, and the checks every request passes before any API sees it, answered in the
error envelope of the API the path belongs to (problem+json for paths no API owns).

Two layers. aiohttp's HTTP parser refuses a request line, a header or a header count over its
own limits with a plain-text 400 before any application code runs, so the server sets the
parser (`parser_limits`) to a hard ceiling at twice each setting. Up to that ceiling a request
reaches the limits stage (pipeline.py), the first check around every route's handler, which answers:

- 414 when the request target (path and query) is over `max_url_bytes`;
- 431 when one header line (name, ": ", value) is over `max_header_bytes`, all of them
  together over four times that, or there are more than `max_headers` fields;
- 413 when the body is over `max_body_bytes`, by its Content-Length or, chunked or compressed,
  once read that far; 400 when it cannot be read at all (a broken Content-Encoding);
- 408 with `Connection: close` when the body does not arrive within `body_read_timeout` seconds
  of the head (the connection fails the read with `BodyTimeout`, see connections.py);
- 400 when the target's percent-escapes decode to a NUL or to bytes that are not UTF-8, or when
  a credential header or query parameter of the API is given more than once (unless the API's
  framework serves both, `Framework.lenient_requests`: FastAPI's);

Only requests beyond the ceiling get the parser's plain 400, and so do requests that are not
HTTP at all (raw non-ASCII bytes in the request line or a header name, a repeated Host). Refused
requests are neither faulted nor journalled: they never reached an operation.

The parser's 400 never quotes the request (connections.malformed). How many connections one
process keeps open at once is `connection_cap`.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from itertools import chain
from urllib.parse import unquote_to_bytes

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from .envelopes import problem_json
from .mounted import MountedApi
from .settings import Settings
from .validation import echo
from .vocabulary import Problem, Violation, as_sent, to_response

CEILING_FACTOR = 2  # the parser's limits, times each setting: beyond them, the parser's own 400
HEADERS_TOTAL_FACTOR = 4  # all header lines together may take this many times max_header_bytes
# descriptors kept free of connections: the store, logs, the listening sockets, the event loop's own
DESCRIPTOR_HEADROOM = 64


class BodyTimeout(TimeoutError):
    """A request body did not arrive within body_read_timeout seconds of its head.

    A TimeoutError, so that aiohttp, draining an unread body after the answer, closes the
    connection quietly."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request body did not arrive within {seconds:g} s (setting body_read_timeout)")


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one server, from its settings."""

    max_body_bytes: int
    max_url_bytes: int
    max_header_bytes: int
    max_headers: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_body_bytes,
            settings.max_url_bytes,
            settings.max_header_bytes,
            settings.max_headers,
        )

    @property
    def max_headers_total_bytes(self) -> int:
        return HEADERS_TOTAL_FACTOR * self.max_header_bytes


def parser_limits(settings: Settings) -> dict[str, int]:
    """Keyword arguments for web.AppRunner: the HTTP parser's hard ceiling above the settings.

    `max_line_size` bounds the request target (the whole request line with the pure-Python
    parser), `max_field_size` one header's name and value, `max_headers` the header count."""
    return {
        "max_line_size": CEILING_FACTOR * settings.max_url_bytes,
        "max_field_size": CEILING_FACTOR * settings.max_header_bytes,
        "max_headers": CEILING_FACTOR * settings.max_headers,
    }


def connection_cap(settings: Settings) -> int:
    """Connections one process keeps open at once: `max_connections`, at most (and when 0,
    exactly) what its descriptor limit leaves after a tenth of it, or DESCRIPTOR_HEADROOM
    when that is more, for everything else (RLIMIT_NOFILE, as `ulimit -n` sets it)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    descriptors = soft if soft != resource.RLIM_INFINITY else 1 << 20
    automatic = max(descriptors - max(DESCRIPTOR_HEADROOM, descriptors // 10), descriptors // 2)
    return min(settings.max_connections, automatic) if settings.max_connections else automatic


def request_problem(request: web.Request, limits: Limits, strict_target: bool = True) -> Problem | None:
    """What is over a limit in the request line and headers, checked in that order; with
    `strict_target`, also escapes that decode to a NUL or to bytes that are not UTF-8."""
    target = _size(request.raw_path)
    if target > limits.max_url_bytes:
        message = f"the request target is {target} bytes; the limit is {limits.max_url_bytes} bytes (setting max_url_bytes)"
        return Problem(414, message, [Violation("request", "url", message)])
    return headers_problem(request.raw_headers, limits) or (target_problem(request.raw_path) if strict_target else None)


def target_problem(raw_target: str) -> Problem | None:
    """Percent-escapes in the path or query that decode to a NUL or to bytes that are not UTF-8.

    aiohttp would pass them on as U+FFFD or as literal `%ff` text, so `UserId=al%ffice` and
    `UserId=al%EF%BF%BDice` would look alike to an API: such a target is refused instead."""
    if "%" not in raw_target:
        return None
    path, _, query = raw_target.partition("?")
    for location, part in (("path", path), ("query", query)):
        if "%" not in part:
            continue
        decoded = unquote_to_bytes(as_sent(part))
        if b"\x00" in decoded:
            message = f"the {location} holds a percent-encoded NUL (%00)"
            return Problem(400, message, [Violation(location, "", message, "malformed")])
        try:
            decoded.decode("utf-8")
        except UnicodeDecodeError:
            message = f"the {location} is not valid UTF-8 once percent-decoded"
            return Problem(400, message, [Violation(location, "", message, "malformed")])
    return None


def headers_problem(raw_headers: tuple[tuple[bytes, bytes], ...], limits: Limits) -> Problem | None:
    count = len(raw_headers)
    if count > limits.max_headers:
        message = f"the request has {count} header fields; the limit is {limits.max_headers} (setting max_headers)"
        return Problem(431, message, [Violation("header", "", message)])
    if sum(map(len, chain.from_iterable(raw_headers))) + 4 * count <= limits.max_header_bytes:
        return None  # all of them together fit in one line's limit: no line and no total is over
    total = 0
    for name, value in raw_headers:
        line = len(name) + 2 + len(value)  # name, ": ", value
        if line > limits.max_header_bytes:
            shown = name.decode("latin-1")
            message = (
                f"header {echo(shown)} is {line} bytes; the limit for one header line is "
                f"{limits.max_header_bytes} bytes (setting max_header_bytes)"
            )
            return Problem(431, message, [Violation("header", shown[:64], message)])
        total += line + 2  # and its CRLF
    if total > limits.max_headers_total_bytes:
        message = (
            f"the headers take {total} bytes together; the limit is {limits.max_headers_total_bytes} bytes "
            f"({HEADERS_TOTAL_FACTOR} times the setting max_header_bytes)"
        )
        return Problem(431, message, [Violation("header", "", message)])
    return None


async def body_problem(request: web.Request, limits: Limits) -> Problem | None:
    """A body over the limit (by its Content-Length, or by reading it: chunked, compressed), one
    that cannot be read (a broken Content-Encoding) or that stalls, before any handler or the
    journal reads it.

    aiohttp keeps the body read here for the handler, so every API, whether or not its
    operation reads bodies, refuses such a body the same way."""
    if not request.body_exists:
        return None
    length = request.content_length
    try:
        if length is None or length <= limits.max_body_bytes:
            await request.read()
            return None
    except RequestPayloadError as exc:
        cause = exc.__cause__
        reason = cause.message if isinstance(cause, HttpProcessingError) else str(exc)
        message = f"the request body cannot be read: {reason}"
        return Problem(400, message, [Violation("body", "", message, "malformed")])
    except web.HTTPRequestEntityTooLarge:
        pass
    except BodyTimeout as exc:
        message = str(exc)
        return Problem(408, message, [Violation("body", "", message)])
    message = f"request body is larger than the limit of {limits.max_body_bytes} bytes (setting max_body_bytes)"
    return Problem(413, message, [Violation("body", "", message)])


def repeated_credential_problem(request: web.Request, names: tuple[str, ...]) -> Problem | None:
    """A credential header or query parameter (`names`, lower case) given more than once: which
    copy counts would be a guess, so the request is refused (RFC 6750's invalid_request for a
    repeated token, 400)."""
    headers = request.headers
    query = request.query if request.query_string else None  # most requests have none to look at
    for name in names:
        location, count = "header", len(headers.getall(name, ()))
        if count <= 1 and query is not None:
            location, count = "query", len(query.getall(name, ()))
        if count > 1:
            message = f"the {location} {echo(name)} is given {count} times; send it once"
            return Problem(400, message, [Violation(location, name, message, "malformed")])
    return None


def refusal(api: MountedApi | None, problem: Problem) -> web.Response:
    """The problem in the envelope of `api`; problem+json without one."""
    if api is None:
        return to_response(problem_json(problem))
    envelope = getattr(api, "envelope", None)  # REST APIs render a Problem with its violations
    if envelope is not None:
        return to_response(envelope(problem))
    return api.error_response(problem.status, problem.message)


def _size(text: str) -> int:
    """Bytes of a value as the parser received it (non-UTF-8 bytes arrive as surrogates)."""
    return len(text) if text.isascii() else len(as_sent(text))
