"""Coinbase Statements "Transaction history" CSV -> ledger entries, with every rejected row and why.

The export starts with a short preamble (a "Transactions" line, a "User" line), then the
header row and one row per transaction:

    ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,
    Subtotal,Total (inclusive of fees and/or spread),Fees and/or Spread,Notes

Older exports have no ID column and say "Spot Price Currency" / "Spot Price at Transaction";
both are read. Amounts may carry a currency sign and thousands separators ("$1,234.56").
Rows are numbered by their line in the file (1-based). Quantities are kept to 8 decimals.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from .ledger import SUPPORTED_ASSETS, Entry, short_hash
from .valuation import units

MAX_ROWS = 5000
EARLIEST = datetime(2010, 1, 1, tzinfo=UTC)
LARGEST = Decimal(10) ** 15  # no quantity, price or amount is anywhere near this
_PREAMBLE_ROWS = 20  # the header row must come within the first lines
REQUIRED_COLUMNS = ("Timestamp", "Transaction Type", "Asset", "Quantity Transacted")
_ALIASES = {
    "Spot Price Currency": "Price Currency",
    "Spot Price at Transaction": "Price at Transaction",
    "Total (inclusive of fees)": "Total (inclusive of fees and/or spread)",
    "Fees": "Fees and/or Spread",
}
KINDS = {
    "buy": "buy",
    "advanced trade buy": "buy",
    "sell": "sell",
    "advanced trade sell": "sell",
    "receive": "receive",
    "deposit": "receive",
    "send": "send",
    "withdrawal": "send",
    "staking income": "reward",
    "rewards income": "reward",
    "reward income": "reward",
    "learning reward": "reward",
    "inflation reward": "reward",
    "coinbase earn": "reward",
    "convert": "convert",
}
FIAT = frozenset({"USD", "EUR", "GBP", "CAD"})
_CONVERTED = re.compile(r"Converted\s+([0-9.,]+)\s+([A-Za-z0-9]+)\s+to\s+([0-9.,]+)\s+([A-Za-z0-9]+)", re.IGNORECASE)
_TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S")


class CsvError(ValueError):
    """The file as a whole cannot be read as a Coinbase transaction history."""


@dataclass
class Parsed:
    entries: list[tuple[int, Entry]] = field(default_factory=list)  # (line, entry); a Convert gives two
    rejected: list[dict[str, object]] = field(default_factory=list)  # {"line", "id", "reason"}
    skipped: list[dict[str, object]] = field(default_factory=list)  # rows deliberately not imported
    rows: int = 0  # data rows read (blank lines aside)


class RowError(ValueError):
    pass


def parse(data: bytes, now: datetime, source: str = "coinbase_csv") -> Parsed:
    """Every row of the file, imported or rejected with its line and reason."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    columns = _find_header(reader)
    parsed = Parsed()
    seen: set[str] = set()
    try:
        for row in reader:
            _read_row(row, reader.line_num, columns, parsed, seen, now, source)
    except csv.Error as exc:
        raise CsvError(f"the file is not a valid CSV: {exc} (line {reader.line_num})") from exc
    return parsed


def _read_row(row: list[str], line: int, columns: dict[str, int], parsed: Parsed, seen: set[str], now: datetime, source: str) -> None:
    """One data row into the entries, the skipped or the rejected rows."""
    if not any(cell.strip() for cell in row):
        return
    parsed.rows += 1
    if parsed.rows > MAX_ROWS:
        raise CsvError(f"the file has more than {MAX_ROWS} transaction rows; split it into several uploads")
    record = {name: (row[index].strip() if index < len(row) else "") for name, index in columns.items()}
    row_id = record.get("ID") or f"csv-{short_hash(*row)}"
    if row_id in seen:
        parsed.skipped.append({"line": line, "id": row_id, "reason": "duplicate of an earlier row in this file"})
        return
    seen.add(row_id)
    try:
        found = _entries(record, row_id, now, source)
    except RowError as exc:
        parsed.rejected.append({"line": line, "id": row_id, "reason": str(exc)})
        return
    if found is None:
        parsed.skipped.append({"line": line, "id": row_id, "reason": "fiat cash movements are not tracked"})
        return
    parsed.entries.extend((line, entry) for entry in found)


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise CsvError("the file is not a CSV text file: it contains binary data")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"the file is not a CSV text file: it is not UTF-8 (invalid byte at position {exc.start})") from exc
    if not text.strip():
        raise CsvError("the file is empty")
    return text


def _find_header(reader: Iterator[list[str]]) -> dict[str, int]:
    """Column name -> index, from the first row that has the required columns."""
    try:
        for _ in range(_PREAMBLE_ROWS):
            row = next(reader, None)
            if row is None:
                break
            names = [_ALIASES.get(cell.strip(), cell.strip()) for cell in row]
            if all(column in names for column in REQUIRED_COLUMNS):
                return {name: index for index, name in enumerate(names) if name}
    except csv.Error as exc:
        raise CsvError(f"the file is not a valid CSV: {exc}") from exc
    raise CsvError("the file is not a Coinbase 'Transaction history' CSV: no header row with the columns " + ", ".join(REQUIRED_COLUMNS))


def _timestamp(text: str, now: datetime) -> datetime:
    for pattern in _TIMESTAMP_FORMATS:
        try:
            at = datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
        if at > now:
            raise RowError(f"Timestamp {text!r} is in the future")
        if at < EARLIEST:
            raise RowError(f"Timestamp {text!r} is before {EARLIEST.year}, when crypto trading began")
        return at
    raise RowError(f"Timestamp {text!r} is not a date and time like '2024-01-05 14:03:11 UTC'")


def amount(text: str, column: str) -> Decimal | None:
    """A money or quantity cell: optional sign, currency symbol and thousands separators; None when blank."""
    cleaned = text.replace(",", "").replace(" ", "")
    if not cleaned:
        return None
    sign = -1 if cleaned.startswith("-") else 1
    cleaned = cleaned.lstrip("+-").lstrip("$€£").lstrip("+-")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise RowError(f"{column} {text!r} is not a number") from None
    if not value.is_finite():
        raise RowError(f"{column} {text!r} is not a number")
    if value.copy_abs() > LARGEST:  # copy_abs: abs() rounds to the context, and 1e999999999 overflows it
        raise RowError(f"{column} {text!r} is too large")
    return value * sign


def _asset(text: str) -> str:
    asset = text.upper()
    if asset not in SUPPORTED_ASSETS:
        raise RowError(f"unsupported asset {text!r} (the sandbox prices {', '.join(SUPPORTED_ASSETS)})")
    return asset


def _entries(record: dict[str, str], row_id: str, now: datetime, source: str) -> list[Entry] | None:
    type_text = record["Transaction Type"]
    kind = KINDS.get(type_text.lower())
    if kind is None:
        raise RowError(f"unsupported Transaction Type {type_text!r}")
    at = _timestamp(record["Timestamp"], now)
    asset_text = record["Asset"].upper()
    if asset_text in FIAT:
        return None
    asset = _asset(asset_text)
    quantity = amount(record["Quantity Transacted"], "Quantity Transacted")
    if quantity is None or units(abs(quantity)) == 0:
        raise RowError("Quantity Transacted is missing, zero or below 0.00000001")
    quantity = units(abs(quantity))
    currency = record.get("Price Currency", "USD").upper() or "USD"
    if currency != "USD":
        raise RowError(f"Price Currency {currency!r} is not supported; the sandbox values everything in USD")
    unit = amount(record.get("Price at Transaction", ""), "Price at Transaction")
    if unit is None or unit < 0:
        raise RowError("Price at Transaction is missing or negative")
    fee = abs(amount(record.get("Fees and/or Spread", ""), "Fees and/or Spread") or Decimal(0))
    subtotal = amount(record.get("Subtotal", ""), "Subtotal")
    note = record.get("Notes", "")
    if kind == "convert":
        return _convert(row_id, at, asset, quantity, unit, fee, subtotal, note, source)
    if kind in ("buy", "sell") and subtotal is not None and subtotal != 0:
        unit = abs(subtotal) / quantity  # what was actually paid or received per unit, spread included
    if kind not in ("buy", "sell"):
        fee = Decimal(0)  # transfers and income carry no cost besides their market value
    return [Entry(row_id, at, kind, asset, quantity, unit, fee, "coinbase", source, note)]


def _convert(
    row_id: str, at: datetime, asset: str, quantity: Decimal, unit: Decimal, fee: Decimal, subtotal: Decimal | None, note: str, source: str
) -> list[Entry]:
    """A Convert row sells `quantity` of the asset and buys what the Notes name ("Converted 1 ETH to 2.5 SOL")."""
    match = _CONVERTED.search(note)
    if match is None:
        raise RowError("a Convert row must say what it converted to in Notes, like 'Converted 0.5 ETH to 1,000 USDC'")
    target = _asset(match.group(4))
    received = amount(match.group(3), "Notes")
    received = units(received) if received is not None else None
    if received is None or received <= 0:
        raise RowError("the converted-to quantity in Notes is zero")
    value = abs(subtotal) if subtotal else quantity * unit
    return [
        Entry(row_id, at, "convert_out", asset, quantity, value / quantity, fee, "coinbase", source, note),
        Entry(f"{row_id}-in", at, "convert_in", target, received, value / received, Decimal(0), "coinbase", source, note),
    ]
