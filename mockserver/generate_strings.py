"""Strings that satisfy a schema's `pattern`, drawn by rstr from the generator's own Random.

A JSON Schema pattern is an ECMA-262 regular expression that may match anywhere in the string;
rstr reads it as Python's `re` does and draws a string the whole pattern matches. The dialects
mostly agree; where they do not (`.` and `\\r`, `\\b`, lookarounds, `$` inside a pattern, ...) each
draw is checked by the validator the server uses (`schemas.validator_of`), together with the
schema's format and length bounds, and drawn again: a few times at most. A pattern Python cannot
read, or no fitting draw, leaves the caller's plain text.

The cost is bounded before anything is drawn: a pattern longer than MAX_PATTERN is not read, an
unbounded repeat (`*`, `+`, `{n,}`) draws at most EXTRA_REPEATS more than its minimum, a class
offers at most CLASS_SAMPLE characters of each range, and a pattern whose longest draw could take
more than MAX_STEPS steps (`a{100000000}`, `(a{1000}){1000}`), or a minLength beyond MAX_TEXT, is refused. A pattern is parsed and
its validator compiled once (`PreparedPatterns`): per API when its SchemaBook keeps them (one entry
per distinct string schema of its spec, so they grow with the spec, never with traffic), else per body.
"""

from __future__ import annotations

import random
import re
import re._parser as sre_parse  # what rstr parses with (Python 3.11 and later)
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from rstr.xeger import Xeger

from .schemas import validator_of

MAX_PATTERN = 2_000  # characters of a pattern read at all (Python parses 2,000 in about 1.5 ms)
MAX_STEPS = 5_000  # parts of the parsed pattern one draw may visit (each yields at most one character)
MAX_TEXT = MAX_STEPS  # the longest string made, padding included
EXTRA_REPEATS = 5  # an unbounded repeat draws between its minimum and this many more
CLASS_SAMPLE = 256  # characters offered from each range of a class (`[\u0000-\uffff]` is 65,536)
DRAWS = 8  # draws tried before giving up on a pattern
STRING_KEYS = ("pattern", "format", "minLength", "maxLength")
# the operations rstr draws that hold no sub-pattern (a class is drawn as one character)
_LEAVES = frozenset({"LITERAL", "NOT_LITERAL", "IN", "ANY", "AT", "ASSERT_NOT", "CATEGORY"})
_DRAW_FAILURES = (IndexError, KeyError, ValueError, OverflowError, RecursionError)
_NONWORD = "".join(sorted(set(string.printable) - set(string.ascii_letters + string.digits + "_")))
_NEGATED_POOL = string.printable + "àéñöüßøÆ€"  # what a negated class draws from (rstr: printable only)


@dataclass(frozen=True)
class Prepared:
    """A string schema's pattern, read and checked once: what every draw from it starts from."""

    parsed: Any  # the pattern as `re` parses it
    extra: int  # how many repeats beyond its minimum an unbounded repeat may draw
    min_length: int
    validator: jsonschema_rs.Validator  # pattern, format and length, as the answers' validator reads them


PreparedPatterns = dict[tuple[str, ...], Prepared | None]  # by the schema's STRING_KEYS; None: not drawable


class PatternTexts:
    """The pattern-honouring strings of one generated body, drawn with its Random; each distinct
    string schema is prepared on first use, into `prepared` (a spec's, kept across bodies) when given."""

    def __init__(self, rng: random.Random, prepared: PreparedPatterns | None = None) -> None:
        self.rng = rng
        self._prepared: PreparedPatterns = {} if prepared is None else prepared
        self._draws: dict[tuple[str, ...], _PatternDraw] = {}

    def text(self, schema: dict[str, Any], plain: Callable[[], str]) -> str:
        """A string satisfying the schema's pattern; a format's own text first when it fits the
        pattern too (a date stays a real date); `plain()` when the pattern cannot be drawn."""
        key = tuple(repr(schema.get(name)) for name in STRING_KEYS)
        if key not in self._prepared:
            self._prepared[key] = _prepare(schema)
        prepared = self._prepared[key]
        if prepared is None:
            return plain()
        draw = self._draws.get(key)
        if draw is None:
            draw = self._draws[key] = _PatternDraw(self.rng, prepared)
        if "format" in schema:
            candidate = plain()
            if draw.fits(candidate):
                return candidate
        return draw.fitting() or plain()


def _prepare(schema: dict[str, Any]) -> Prepared | None:
    pattern = schema["pattern"]
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        return None
    try:
        parsed = sre_parse.parse(pattern)
        shortest = parsed.getwidth()[0]
    except (re.error, RecursionError, OverflowError):
        return None
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if low > MAX_TEXT or (high is not None and shortest > high):
        return None  # longer than this draws, or every match is longer than the string may be
    extra = max(EXTRA_REPEATS, low - shortest)
    if high is not None:
        extra = min(extra, max(high - shortest, 0))
    try:
        if _steps(parsed.data, extra, {}) > MAX_STEPS:
            return None
        validator = validator_of({"type": "string", **{name: schema[name] for name in STRING_KEYS if name in schema}})
    except (_Unreadable, ValueError, RecursionError):  # jsonschema_rs.ValidationError is a ValueError
        return None
    return Prepared(parsed, extra, low, validator)


class _Unreadable(Exception):
    """A construct rstr cannot draw (conditional groups, atomic groups, possessive repeats)."""


def _steps(parsed: list[tuple[Any, Any]], extra: int, groups: dict[int, int]) -> int:
    """An upper bound of the parts one draw visits (`groups`: each group's own bound, for the
    references to it), stopping early once it exceeds MAX_STEPS."""
    total = 0
    for opcode, value in parsed:
        name = opcode.name
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            low, high, sub = value
            total += 1 + min(high, low + extra) * _steps(sub.data, extra, groups)
        elif name == "BRANCH":
            total += 1 + max((_steps(option.data, extra, groups) for option in value[1]), default=0)
        elif name == "SUBPATTERN":
            inner = _steps(value[-1].data, extra, groups)
            if value[0] is not None:
                groups[value[0]] = inner
            total += 1 + inner
        elif name == "ASSERT":
            total += 1 + _steps(value[1].data, extra, groups)
        elif name == "GROUPREF":
            total += 1 + groups.get(value, MAX_STEPS)
        elif name in _LEAVES:
            total += 1
        else:
            raise _Unreadable(name)
        if total > MAX_STEPS:
            return total
    return total


class _PatternDraw(Xeger):
    """rstr's drawing of one parsed pattern with the generator's Random, its repeats and classes
    bounded and every choice made in a fixed order (rstr's negated classes and its `\\W` alphabet
    come from sets, whose order changes from one process to the next)."""

    def __init__(self, rng: random.Random, prepared: Prepared) -> None:
        super().__init__(rng, nonword=_NONWORD)
        self._parsed = prepared.parsed
        self._extra = prepared.extra
        self._min_length = prepared.min_length
        self._validator = prepared.validator
        self._classes: dict[int, tuple[Any, list[str]]] = {}

    def fits(self, text: str) -> bool:
        return bool(self._validator.is_valid(text))

    def fitting(self) -> str | None:
        """The first of a few draws the validator accepts, or None. A draw shorter than minLength
        is also tried padded at either end: an unanchored pattern is still found in it."""
        for _ in range(DRAWS):
            try:
                text = self._build_string(self._parsed)
            except _DRAW_FAILURES:  # an empty class, a reference to a group never drawn
                continue
            finally:
                self._cache.clear()
            padding = "x" * (self._min_length - len(text))
            for candidate in (text, text + padding, padding + text) if padding else (text,):
                if self.fits(candidate):
                    return candidate
        return None

    def _handle_repeat(self, start_range: int, end_range: int, value: Any) -> str:
        times = self._random.randint(start_range, min(end_range, start_range + self._extra))
        return "".join(self._build_string(value) for _ in range(times))

    def _handle_in(self, value: Any) -> str:
        # keyed by the class's own list, kept beside its members so that the key stays its own
        known = self._classes.get(id(value))
        if known is None:
            known = self._classes[id(value)] = (value, self._members(value))
        return self._random.choice(known[1])

    def _members(self, items: list[tuple[Any, Any]]) -> list[str]:
        """The characters a class offers, in a fixed order; a negated class's from _NEGATED_POOL."""
        members: list[str] = []
        negated = False
        for item in items:
            opcode, value = item
            if opcode.name == "NEGATE":
                negated = True
            elif opcode.name == "RANGE":
                members.extend(chr(code) for code in range(value[0], min(value[1], value[0] + CLASS_SAMPLE - 1) + 1))
            else:  # a literal's character, a category's alphabet, as rstr draws them
                members.extend(self._handle_state(item))
        if negated:
            excluded = set(members)
            return [char for char in _NEGATED_POOL if char not in excluded]
        return members
