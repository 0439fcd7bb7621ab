"""The text of a generated string without a pattern: one valid for its format as the server checks
formats (`schemas.validator_of`), else realistic text for a well-known property name (Faker), else
the property's name and a few random hex digits."""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
_YEAR_OF_MINUTES = 60 * 24 * 365

_NAME_HINTS: dict[str, str] = {
    "email": "email",
    "name": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "city": "city",
    "country": "country",
    "company": "company",
    "description": "sentence",
    "message": "sentence",
    "phone": "phone_number",
    "url": "url",
    "address": "street_address",
}


def _moment(rng: random.Random) -> datetime:
    """A minute of the year before the sandbox's default clock."""
    return _EPOCH - timedelta(minutes=rng.randint(0, _YEAR_OF_MINUTES))


def _decimal(rng: random.Random) -> str:
    return f"{rng.uniform(0, 10_000):.2f}"


def _uri(rng: random.Random) -> str:
    return f"https://example.com/{rng.getrandbits(32):08x}"


def _email(rng: random.Random) -> str:
    return f"user{rng.randint(1, 9999)}@example.com"


def _hostname(rng: random.Random) -> str:
    return f"host-{rng.getrandbits(16):04x}.example.com"


_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date-time": lambda rng: _moment(rng).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "date": lambda rng: _moment(rng).date().isoformat(),
    "time": lambda rng: _moment(rng).strftime("%H:%M:%SZ"),
    "duration": lambda rng: f"P{rng.randint(1, 30)}DT{rng.randint(0, 23)}H",
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "uri": _uri,
    "url": _uri,
    "iri": _uri,
    "uri-reference": _uri,
    "iri-reference": _uri,
    "email": _email,
    "idn-email": _email,
    "hostname": _hostname,
    "idn-hostname": _hostname,
    "ipv4": lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    "ipv6": lambda rng: "2001:db8::" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(4)),
    "decimal": _decimal,
    "double": _decimal,  # a number written as a string
    "float": _decimal,
    "int32": lambda rng: str(rng.randint(0, 1000)),
    "int64": lambda rng: str(rng.randint(0, 1000)),
    "byte": lambda rng: base64.b64encode(rng.randbytes(12)).decode(),
}


def formatted(fmt: str, name: str, rng: random.Random) -> str:
    """A string valid for the format, else one that suits the property's name."""
    maker = _FORMATS.get(fmt)
    if maker is not None:
        return maker(rng)
    hint = _NAME_HINTS.get(name.lower())
    if hint:
        from .fakes import FAKER  # imported by the first value that needs it: slow to load, and most answers never do

        FAKER.seed_instance(rng.getrandbits(32))
        return str(getattr(FAKER, hint)())
    return f"{name or 'value'}-{rng.getrandbits(24):06x}"
