"""OpenAPI 3.0 schema objects -> JSON Schema 2020-12, compiled once with jsonschema-rs.

OpenAPI 3.0 differs from JSON Schema in a few places that matter for validation:
`nullable`, boolean `exclusiveMinimum`/`exclusiveMaximum`, the int32/int64 formats,
and `readOnly`/`writeOnly` (a read-only property must not be sent in a request and is
not required there; a write-only one likewise in a response). OpenAPI 3.1 documents are
JSON Schema already and pass through unchanged.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import jsonschema_rs
import orjson

Mode = Literal["request", "response"]

INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
# the OpenAPI format registry's `decimal`: a decimal number written as a string, of any precision
_DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
FORMATS = {"decimal": lambda text: _DECIMAL_TEXT.fullmatch(text) is not None}
COMPONENTS_POINTER = "#/components/schemas/"


def convert(schema: Any, mode: Mode, openapi_30: bool = True) -> Any:
    """Return the JSON Schema equivalent of one OpenAPI schema object (refs are kept)."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return {"$ref": schema["$ref"]}  # OpenAPI 3.0 ignores siblings of $ref
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs", "definitions"):
            out[key] = {name: convert(sub, mode, openapi_30) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "contains", "propertyNames"):
            out[key] = convert(value, mode, openapi_30)
        elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            out[key] = [convert(sub, mode, openapi_30) for sub in value]
        elif key.startswith("x-") or key in ("example", "examples", "xml", "externalDocs", "discriminator"):
            continue
        else:
            out[key] = value
    if not openapi_30:
        return out
    _exclusive_bounds(out)
    if out.get("type") == "integer" and out.get("format") in INT_RANGES:
        low, high = INT_RANGES[out["format"]]
        out["minimum"] = max(out.get("minimum", low), low)
        out["maximum"] = min(out.get("maximum", high), high)
    _hide_one_way_properties(schema, out, mode)
    if out.pop("nullable", False):
        out = _nullable(out)
    return out


def _exclusive_bounds(out: dict[str, Any]) -> None:
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(flag), bool):
            if out.pop(flag) and bound in out:
                out[flag] = out.pop(bound)


def _hide_one_way_properties(source: dict[str, Any], out: dict[str, Any], mode: Mode) -> None:
    """Forbid readOnly properties in requests and writeOnly ones in responses."""
    hidden_flag = "readOnly" if mode == "request" else "writeOnly"
    props = source.get("properties")
    if not isinstance(props, dict):
        return
    hidden = [name for name, sub in props.items() if isinstance(sub, dict) and sub.get(hidden_flag)]
    if not hidden:
        return
    for name in hidden:
        out["properties"][name] = False
    if "required" in out:
        out["required"] = [name for name in out["required"] if name not in hidden]


def _nullable(out: dict[str, Any]) -> dict[str, Any]:
    kind = out.get("type")
    if isinstance(kind, str):
        # OpenAPI 3.0.3: nullable adds null to the type only; an enum must list null itself
        out["type"] = [kind, "null"]
        return out
    if any(key in out for key in ("allOf", "anyOf", "oneOf", "enum", "$ref")):
        # if/else rather than anyOf, so that errors point inside the schema instead of at the anyOf
        return {"if": {"type": "null"}, "else": out}
    return out  # untyped: null is already allowed


def convert_components(spec: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """Converted `components.schemas`, to be attached to every compiled root so refs resolve."""
    openapi_30 = str(spec.get("openapi", "3.0")).startswith("3.0")
    schemas = spec.get("components", {}).get("schemas", {})
    return {"schemas": {name: convert(sub, mode, openapi_30) for name, sub in schemas.items()}}


class SchemaBook:
    """Compiles an API's schemas for one direction, sharing its converted components."""

    def __init__(self, spec: dict[str, Any], mode: Mode) -> None:
        self.mode = mode
        self.openapi_30 = str(spec.get("openapi", "3.0")).startswith("3.0")
        self.components = convert_components(spec, mode)
        self._compiled: dict[bytes, jsonschema_rs.Validator] = {}
        self.patterns: dict[Any, Any] = {}  # generate_strings.PreparedPatterns: one per distinct string schema of the spec

    def json_schema(self, schema: Any) -> Any:
        """The converted schema, with the API's components attached so that refs resolve."""
        converted = convert(schema, self.mode, self.openapi_30)
        if isinstance(converted, dict):
            converted = {**converted, "components": self.components}
        return converted

    def compile(self, schema: Any) -> jsonschema_rs.Validator:
        """A validator of the schema; equal schemas share one (a validator carries all the
        API's components, and most operations name the same few schemas)."""
        try:
            key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        except TypeError:  # a value JSON cannot hold: compile it on its own
            return self._validator(schema)
        validator = self._compiled.get(key)
        if validator is None:
            validator = self._compiled[key] = self._validator(schema)
        return validator

    def _validator(self, schema: Any) -> jsonschema_rs.Validator:
        return validator_of(self.json_schema(schema))

    def resolve(self, schema: Any) -> Any:
        """Follow local component refs of an already converted schema."""
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 64:
            ref = schema["$ref"]
            if not ref.startswith(COMPONENTS_POINTER):
                return {}
            schema = self.components["schemas"].get(ref[len(COMPONENTS_POINTER) :], {})
            seen += 1
        return schema


def validator_of(json_schema: Any) -> jsonschema_rs.Validator:
    """The validator of a converted schema, as every request and response is checked: formats
    asserted, the OpenAPI registry's `decimal` among them (a ValueError if it does not compile)."""
    return jsonschema_rs.Draft202012Validator(json_schema, validate_formats=True, formats=FORMATS)


def pointer(error: jsonschema_rs.ValidationError) -> str:
    """The JSON pointer of the value an error is about (`/` for the whole document)."""
    return "/" + "/".join(str(part) for part in error.instance_path)
