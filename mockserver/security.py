"""Credential checks for OpenAPI security schemes: API keys (header, query, cookie), HTTP bearer and basic.

Values are checked against configured identities, not just for presence. Every
configured value is compared with `hmac.compare_digest`, and every identity is
compared on every request, so timing does not tell which part was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import orjson
import re2

from .sandbox.world import World
from .settings import Settings, SettingsError
from .vocabulary import Identity, Violation, as_sent

CONFIGURED = "<configured>"  # how a credential from settings is shown: only bundled sandbox values are public


@dataclass(frozen=True, slots=True)
class SchemeReader:
    """Where one security scheme's credential travels and how to read it."""

    scheme: str  # name under components.securitySchemes
    kind: str  # apiKey | bearer | basic
    location: str  # header | query | cookie
    field: str  # header, query or cookie name

    @property
    def label(self) -> str:
        if self.kind == "bearer":
            return "Authorization header (Bearer token)"
        if self.kind == "basic":
            return "Authorization header (Basic credentials)"
        return f"{self.field} header" if self.location == "header" else f"{self.location} parameter {self.field!r}"

    def usage(self, value: str) -> str:
        """How a client sends `value` for this scheme, for banners and docs."""
        if self.kind == "bearer":
            return f"Authorization: Bearer {value}"
        if self.kind == "basic":
            return f"Authorization: Basic base64({value})"
        if self.location == "header":
            return f"{self.field}: {value}"
        return f"?{self.field}={value}" if self.location == "query" else f"Cookie: {self.field}={value}"

    def sent_as(self, value: str) -> tuple[str, str, str]:
        """(location, name, value as sent) for a credential of this scheme."""
        if self.kind == "bearer":
            return "header", "Authorization", f"Bearer {value}"
        if self.kind == "basic":
            return "header", "Authorization", "Basic " + base64.b64encode(value.encode()).decode()
        return self.location, self.field, value

    def read(self, headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
        if self.kind == "apiKey":
            source = headers if self.location == "header" else query if self.location == "query" else cookies
            value = source.get(self.field)
            return value or None
        authorization = headers.get("Authorization", "")
        word, _, credential = authorization.strip().partition(" ")
        if word.lower() != self.kind or not credential.strip():
            return None
        credential = credential.strip()
        if self.kind == "basic":
            try:
                return base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return "\x00"  # present but undecodable: never equal to a configured value
        return credential


def reader_for(name: str, scheme: Mapping[str, Any]) -> SchemeReader:
    kind = scheme.get("type")
    if kind == "apiKey":
        return SchemeReader(name, "apiKey", scheme.get("in", "header"), scheme.get("name", name))
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
        return SchemeReader(name, "basic", "header", "Authorization")
    # http bearer, oauth2 and openIdConnect all present a bearer token
    return SchemeReader(name, "bearer", "header", "Authorization")


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What a vendor's own authentication sees (signature schemes need the raw request)."""

    operation: str  # the operation key
    anonymous: bool  # the operation's spec security lets anyone in (an OAuth token endpoint, say)
    method: str
    path: str  # as received (still percent-encoded, no query string), including the API's mount prefix
    mount: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    identities: Sequence[Identity]
    settings: Settings
    world: World = field(default_factory=World)  # whose caches a vendor's check may keep keyed objects in; its clock
    session_prefix: str = ""  # /__session/<id> of a request in a session: a client may have signed it too


@dataclass(slots=True)
class AuthOutcome:
    identity: Identity | None
    status: int = 200
    message: str = ""
    violations: list[Violation] = field(default_factory=list)


ANONYMOUS = AuthOutcome(None)


class SecurityPlan:
    """The security alternatives of one operation (any one alternative must pass)."""

    def __init__(self, alternatives: Sequence[Sequence[SchemeReader]], identities: Sequence[Identity]) -> None:
        self.alternatives = [list(alt) for alt in alternatives]
        self.identities = list(identities)
        self.open = not self.alternatives or any(not alt for alt in self.alternatives)
        kinds = [reader.kind for alt in self.alternatives for reader in alt]
        # the WWW-Authenticate challenge a 401 carries (RFC 7235), for HTTP schemes only
        self.challenge = next((f'{k.capitalize()} realm="mockserver"' for k in kinds if k in ("bearer", "basic")), "")

    def check(self, headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str]) -> AuthOutcome:
        if self.open:
            return ANONYMOUS
        failures: list[tuple[int, AuthOutcome]] = []
        for alternative in self.alternatives:
            presented = {reader.scheme: reader.read(headers, query, cookies) for reader in alternative}
            missing = [reader for reader in alternative if presented[reader.scheme] is None]
            if missing:
                violations = [Violation(r.location, r.field, f"missing {r.label}", "missing") for r in missing]
                message = "Missing " + ", ".join(r.label for r in missing)
                failures.append((len(alternative) - len(missing), AuthOutcome(None, 401, message, violations)))
                continue
            identity, wrong = self._match(alternative, presented)
            if identity is not None:
                if identity.forbidden:
                    return AuthOutcome(identity, 403, "These credentials do not have permission to call this operation")
                return AuthOutcome(identity)
            violations = [Violation(r.location, r.field, f"{r.label} is not valid") for r in wrong]
            message = " and ".join(r.label for r in wrong) + (" is" if len(wrong) == 1 else " are") + " not valid"
            failures.append((len(alternative) + 1, AuthOutcome(None, 401, message, violations)))
        return max(failures, key=lambda item: item[0])[1]

    def _match(self, alternative: list[SchemeReader], presented: dict[str, str | None]) -> tuple[Identity | None, list[SchemeReader]]:
        """The identity every presented value matches, or the readers whose values fit no identity best."""
        found: Identity | None = None
        fewest_wrong = alternative
        for identity in self.identities:
            wrong = []
            for reader in alternative:
                expected = identity.values.get(reader.scheme)
                given = as_sent(presented[reader.scheme] or "")
                if expected is None or not hmac.compare_digest(given, expected):
                    wrong.append(reader)
            if not wrong and found is None:
                found = identity
            elif len(wrong) < len(fewest_wrong):
                fewest_wrong = wrong
        return found, ([] if found else fewest_wrong)


def identity_with(identities: Sequence[Identity], name: str, value: bytes) -> Identity | None:
    """The first identity whose credential `name` equals `value`. Every identity is compared,
    so timing does not tell how many there are or which came close."""
    found = None
    for identity in identities:
        if hmac.compare_digest(identity.values.get(name, b""), value) and found is None:
            found = identity
    return found


def default_identity(api: str, schemes: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Sandbox credentials for a spec that names none: one value per scheme, derived from the names."""
    identity: dict[str, str] = {}
    for name, scheme in schemes.items():
        kind = reader_for(name, scheme).kind
        if kind == "basic":
            identity[name] = f"mock-{api}-user:mock-{api}-password"
        elif kind == "bearer":
            identity[name] = f"mock-{api}-token"
        else:
            identity[name] = f"mock-{api}-{name.lower()}"
    return identity


# --- keeping secrets out of what the server says -----------------------------------------------

MASKED = "<redacted>"
MASKED_BYTES = MASKED.encode()
MIN_SECRET_LENGTH = 6  # shorter values are too likely to occur by chance to be masked wherever they appear
# identity entries that hold secrets (names of security schemes are added per API); other
# entries are data, such as a user id or owned portfolio ids
_SECRET_ENTRY = re.compile(r"secret|token|password|passphrase|key|signature|private|bearer|auth", re.IGNORECASE)
# entries among those that name a client rather than prove who it is (a client id, the key a
# secret signs for): masked when long enough, like secrets, but a short one is no reason to refuse
_IDENTIFIER_ENTRY = re.compile(r"(?:^|[-_ ])id$|^key$", re.IGNORECASE)
# a JSON Web Token (base64url of a JSON object, of the claims, the signature), as Treasure's token
# endpoint issues them: masked wherever it is echoed, like a configured secret
ISSUED_TOKEN = rb"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
_ESCAPE_DEPTH = 3  # escapes of escapes, as in a repr quoted in a JSON message in a JSON log line
_MASK_OPTIONS = re2.Options()
_MASK_OPTIONS.log_errors = False  # RE2 would print its errors, and a pattern quotes the secrets
_MASK_OPTIONS.never_capture = True


def _lower_hex(text: str) -> str:
    return re.sub("%[0-9A-F]{2}", lambda match: match.group().lower(), text)


# Every way an answer, the journal or the log may escape text, each working character by character.
_ESCAPES: tuple[Callable[[str], str], ...] = (
    lambda text: orjson.dumps(text).decode()[1:-1],  # a JSON string (orjson: non-ASCII as is)
    lambda text: json.dumps(text)[1:-1],  # a JSON string with \u escapes
    lambda text: repr(text)[1:-1],  # a Python repr
    lambda text: "".join("\\'" if char == "'" else repr(char)[1:-1] for char in text),  # one that escapes '
    lambda text: quote(text, safe=""),  # percent-encoded
    lambda text: _lower_hex(quote(text, safe="")),
    lambda text: quote_plus(text, safe=""),  # a form body
)


def _spellings(char: str) -> tuple[str, ...]:
    """How one character may come out: as is and escaped up to _ESCAPE_DEPTH times, longest first."""
    found = {char}
    latest = {char}
    for _ in range(_ESCAPE_DEPTH):
        latest = {escape(text) for text in latest for escape in _ESCAPES} - found
        found |= latest
    return tuple(sorted(found, key=len, reverse=True))


def _char_pattern(char: str) -> str:
    """An RE2 pattern for one character in any of its spellings."""
    spellings = [re2.escape(spelling) for spelling in _spellings(char)]
    return spellings[0] if len(spellings) == 1 else f"(?:{'|'.join(spellings)})"


def _mask_pattern(secrets: Iterable[str]) -> Any:
    """One RE2 pattern for every secret (the longest first, so no part of one survives) and every
    issued token: matched in time linear in the text, whatever the text and the secrets hold.
    A secret matches in any mix of its characters' spellings (a client may percent-encode some
    characters and not others); each distinct character's pattern is worked out once."""
    ordered = sorted({secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    by_char = {char: _char_pattern(char) for char in set().union(*ordered)}
    patterns = ["".join(by_char[char] for char in secret).encode() for secret in ordered]
    try:
        return re2.compile(b"|".join([*patterns, ISSUED_TOKEN]), _MASK_OPTIONS)
    except re2.error as exc:
        raise SettingsError(
            f"the credentials are too many or too long to be masked in what the server says ({len(ordered)} secrets)"
        ) from exc


ApiIdentities = tuple[str, Iterable[Identity], Iterable[str]]  # API name, its identities, its security scheme names


def checked_secrets(control_token: str | None, apis: Iterable[ApiIdentities]) -> set[str]:
    """The control token and every secret of these identities: entries named by a security scheme
    or named like a secret. SettingsError, naming the entry (never the value), for a secret too
    short to be masked; a short identifier (a client id) is merely left unmasked."""
    if control_token and len(control_token) < MIN_SECRET_LENGTH:
        raise SettingsError(_too_short("control_token"))
    found: set[str] = {control_token} if control_token else set()
    for api_name, identities, schemes in apis:
        named = {name.lower() for name in schemes}
        for identity in identities:
            for name, raw in identity.values.items():
                if name.lower() not in named and not _SECRET_ENTRY.search(name):
                    continue
                value = raw.decode("utf-8", "surrogateescape")
                if len(value) < MIN_SECRET_LENGTH and not _IDENTIFIER_ENTRY.search(name):
                    raise SettingsError(_too_short(f"credentials: {api_name}: {identity.name}: {name}"))
                found.add(value)
    return found


def _too_short(what: str) -> str:
    return (
        f"{what} is shorter than {MIN_SECRET_LENGTH} characters: a secret that short could not be told"
        " apart from other text, so it could not be kept out of answers, the journal and the log"
    )


class SecretMask:
    """Replaces every occurrence of known secrets and of issued tokens in text, bytes and JSON
    values with `<redacted>`.

    A secret is masked wherever it occurs, also inside a longer value (a client that appends a
    character to its secret must not have the secret echoed), as written and as JSON, a Python
    repr or percent-encoding escapes it, or an escape of such an escape. Values shorter than
    MIN_SECRET_LENGTH are left alone (`secrets_of` refuses such secrets). Masking is for output
    only; it makes no decision, so its timing is of no interest."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._pattern = _mask_pattern(secrets)

    def bytes(self, value: bytes) -> bytes:
        """The value itself when nothing matches: one linear search before any rewriting."""
        if self._pattern.search(value) is None:
            return value
        return self._pattern.sub(lambda _: MASKED_BYTES, value)

    def text(self, value: str) -> str:
        # surrogatepass: header values keep undecodable bytes as lone surrogates, and they survive
        data = value.encode("utf-8", "surrogatepass")
        masked = self.bytes(data)
        return value if masked is data else masked.decode("utf-8", "surrogatepass")

    def json(self, value: Any, depth: int = 0) -> Any:
        """A JSON value with every string (member names too) masked."""
        if isinstance(value, str):
            return self.text(value)
        if depth > 64:
            return value
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(item, depth + 1) for item in value]
        return value


NO_SECRETS = SecretMask(())  # issued tokens are masked all the same


def secrets_of(apis: Iterable[Any], control_token: str | None = None) -> SecretMask:
    """The mask of a whole server: every API's secrets and the control token. One API's secret
    echoed by another API is a leak all the same. (`apis` are MountedApi; REST ones name their
    security schemes in `readers`.) A secret too short to be masked is refused (SettingsError)."""
    return SecretMask(checked_secrets(control_token, ((api.name, api.identities, getattr(api, "readers", {})) for api in apis)))
