"""multipart/form-data request bodies, parsed with python-multipart (the parser FastAPI uses)."""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from .vocabulary import as_sent

MAX_PARTS = 100  # a form with thousands of tiny parts is refused rather than collected


INVALID = "Invalid multipart data."


class FormError(ValueError):
    """A body that is not a form, with what Starlette (FastAPI's framework) answers it with."""

    def __init__(self, message: str, starlette: str = INVALID) -> None:
        super().__init__(message)
        self.starlette = starlette


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a form."""

    filename: str | None
    content_type: str | None
    data: bytes

    def as_schema_value(self) -> str:
        """What the part's schema (`type: string, format: binary`) is checked against."""
        return self.filename or ""


@dataclass(slots=True)
class _Part:
    headers: dict[str, bytes]
    data: bytearray
    ended: bool = False  # its closing boundary was read


def parse_multipart(content_type: str, raw: bytes, starlette: bool = False) -> dict[str, str | Upload]:
    """Part name -> text (plain fields) or Upload (parts with a filename).

    Strictly (the default), the first of a repeated name wins, and a body with no parts or that
    ends before its closing boundary is refused. `starlette`: as Starlette (FastAPI) reads a form,
    the last of a repeated name wins, and an empty body, no parts and an unfinished last part
    are a form without those fields (the model then says which one it misses).
    """
    _, options = parse_options_header(_as_latin1(content_type))
    boundary = options.get(b"boundary")
    if boundary is None:
        raise FormError("the Content-Type has no boundary parameter", "Missing boundary in multipart.")
    if not boundary:
        raise FormError("the Content-Type's boundary parameter is empty")
    if starlette and not raw:
        return {}
    parts: list[_Part] = []
    header_name = bytearray()
    header_value = bytearray()

    def begin() -> None:
        if len(parts) == MAX_PARTS:
            raise FormError(f"more than {MAX_PARTS} parts")
        parts.append(_Part({}, bytearray()))

    def end_header() -> None:
        parts[-1].headers[header_name.decode("latin-1").lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    callbacks = {
        "on_part_begin": begin,
        "on_header_field": lambda data, start, end: header_name.extend(data[start:end]),
        "on_header_value": lambda data, start, end: header_value.extend(data[start:end]),
        "on_header_end": end_header,
        "on_part_data": lambda data, start, end: parts[-1].data.extend(data[start:end]),
        "on_part_end": lambda: setattr(parts[-1], "ended", True),
    }
    try:  # the parser refuses some boundaries (longer than 256 bytes) when it is made, the body while it reads
        parser = MultipartParser(boundary, callbacks)
        parser.write(raw)
        parser.finalize()
    except FormParserError as exc:
        raise FormError(str(exc)) from exc
    if starlette:
        parts = [part for part in parts if part.ended]
    elif not parts:
        raise FormError("the body has no parts")
    elif not parts[-1].ended:
        raise FormError("the body ends before its closing boundary")
    form: dict[str, str | Upload] = {}
    for part in parts:
        disposition, params = parse_options_header(part.headers.get("content-disposition", b""))
        name = params.get(b"name")
        if disposition != b"form-data" or name is None:
            raise FormError(
                "a part has no Content-Disposition: form-data; name=...", 'The Content-Disposition header field "name" must be provided.'
            )
        key = name.decode("utf-8", "replace")
        if key in form and not starlette:
            continue
        filename = params.get(b"filename")
        if filename is not None:
            part_type = part.headers.get("content-type")
            form[key] = Upload(filename.decode("utf-8", "replace"), part_type.decode("latin-1") if part_type else None, bytes(part.data))
        else:
            try:
                form[key] = part.data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FormError(f"field {key!r} is not UTF-8 text") from exc
    return form


def _as_latin1(header: str) -> str:
    """The header's bytes read as Latin-1, as Starlette reads them: aiohttp decodes header values as
    UTF-8 (bytes that are not become surrogates), which the parser could not encode back to Latin-1."""
    return as_sent(header).decode("latin-1")
