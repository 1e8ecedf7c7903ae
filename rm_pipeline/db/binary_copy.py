"""Frames in PostgreSQL's binary COPY format, encoded column by column with Arrow and NumPy.

In the binary format every field is its type's own binary value, so the server parses no text: a
UUID, a DATE or a NUMERIC costs it a copy instead of a parse. Each encoder below turns one Arrow
column into an Arrow array of whole fields (the int32 length, -1 for NULL, then the value's
bytes), and Arrow's `binary_join_element_wise` lays the fields out row after row.

The values stored are those the CSV text of the same frame gave (the text pyarrow's CSV writer
prints, parsed by the server's input functions): NUMERIC is the one type where this takes care,
see `_numeric_fields`. A pair of Arrow and PostgreSQL types with no encoder here (a string bound
for a NUMERIC or DATE column, timestamps, an unconstrained NUMERIC, ...) makes `frame_encoder`
return None, and the loader sends that frame as CSV for the server to parse as before.

A value its column cannot hold is refused before anything is sent (`EncodingError`, naming the row
and the column); what only the server checks (a VARCHAR's length, a date's range) fails the COPY
with the row and the column in its context, as with CSV.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from rm_pipeline.db.ids import ID_TYPE, id_bytes

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # the signature, no flags, no header extension
TRAILER = b"\xff\xff"
POSTGRES_EPOCH_DAYS = 10_957  # PostgreSQL counts dates from 2000-01-01, Arrow from 1970-01-01
JSONB_VERSION = b"\x01"

NUMERIC_POSITIVE, NUMERIC_NEGATIVE, NUMERIC_NAN = 0x0000, 0x4000, 0xC000
NUMERIC_BASE = 10_000  # a NUMERIC's digits are base 10,000
MAX_EXACT_SCALE = 22  # 10.0 ** scale is exact up to here
FAST_LIMIT = 2.0**48  # below it a float's scaled value is exact enough to round in NumPy

BINARY = pa.large_binary()
EMPTY = pa.scalar(b"", BINARY)


@dataclass(frozen=True)
class TargetColumn:
    """A column as the server describes it; `type_name` is PostgreSQL's (`int8`, `numeric`, ...)."""

    name: str
    type_name: str
    precision: int | None = None
    scale: int | None = None


def describe(cursor: psycopg.Cursor[Any]) -> list[TargetColumn]:
    """The columns of the cursor's last result, e.g. of `SELECT ... FROM table LIMIT 0`."""
    types = cursor.connection.adapters.types
    return [
        TargetColumn(
            column.name,
            info.name if (info := types.get(column.type_code)) else str(column.type_code),
            column.precision,
            column.scale,
        )
        for column in cursor.description or ()
    ]


class EncodingError(ValueError):
    """A value its column cannot hold; `row` is its position in the encoded frame."""

    def __init__(self, row: int, column: str, reason: str) -> None:
        super().__init__(f"row {row}, field {column}: {reason}")
        self.row = row
        self.column = column
        self.reason = reason


FieldEncoder = Callable[[pa.Array, TargetColumn], pa.Array]


@dataclass(frozen=True)
class FrameEncoder:
    """Encodes frames of one Arrow schema (the whole frame's, so every slice converts alike)."""

    schema: pa.Schema
    columns: tuple[TargetColumn, ...]
    encoders: tuple[FieldEncoder, ...]

    def encode(self, frame: pd.DataFrame) -> pa.Buffer:
        """The frame's rows as binary COPY tuples, without the header and the trailer."""
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        fields = [
            encode(values.combine_chunks(), column)
            for values, encode, column in zip(
                table.columns, self.encoders, self.columns, strict=True
            )
        ]
        field_count = pa.scalar(len(fields).to_bytes(2, "big"), BINARY)
        return _joined(pc.binary_join_element_wise(field_count, *fields, EMPTY))


def frame_encoder(frame: pd.DataFrame, columns: Sequence[TargetColumn]) -> FrameEncoder | None:
    """The encoder of `frame` (whose columns are `columns`, in order), or None when one of its
    columns has no binary encoding here."""
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    encoders = []
    for field, column in zip(schema, columns, strict=True):
        encoder = _encoder(field.type, column)
        if encoder is None:
            return None
        encoders.append(encoder)
    return FrameEncoder(schema, tuple(columns), tuple(encoders))


def _encoder(arrow_type: pa.DataType, column: TargetColumn) -> FieldEncoder | None:
    if pa.types.is_null(arrow_type):
        return _null_fields
    if column.type_name not in ENCODERS:
        return None
    if column.type_name == "numeric" and not _exact_numeric(column):
        return None
    accepts, encode = ENCODERS[column.type_name]
    return encode if accepts(arrow_type) else None


def _exact_numeric(column: TargetColumn) -> bool:
    """NUMERIC(p, s) with 0 <= s <= 22: a rounding `_numeric_fields` reproduces exactly."""
    return (
        column.precision is not None
        and column.scale is not None
        and 0 <= column.scale <= MAX_EXACT_SCALE
    )


def _joined(values: pa.Array) -> pa.Buffer:
    """The bytes of a binary array's values, one after the other."""
    offsets = np.frombuffer(values.buffers()[1], np.int64)[
        values.offset : values.offset + len(values) + 1
    ]
    return values.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def _fields(sizes: np.ndarray, data: np.ndarray) -> pa.Array:
    """A binary array of consecutive values in `data`, of `sizes` bytes each."""
    offsets = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return pa.Array.from_buffers(
        BINARY, len(sizes), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _big_endian(values: np.ndarray, dtype: str) -> np.ndarray:
    """Each value's bytes in network order, one row per value."""
    return np.ascontiguousarray(values, dtype=dtype).view(np.uint8).reshape(len(values), -1)


def _valid(values: pa.Array) -> np.ndarray | None:
    """Which rows hold a value, or None when all do."""
    if values.null_count == 0:
        return None
    return np.asarray(values.is_valid().to_numpy(zero_copy_only=False))


def _fixed_fields(payload: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """A field per row of `payload` (values x bytes), NULL where not `valid`."""
    rows, width = payload.shape
    fields = np.empty((rows, 4 + width), np.uint8)
    fields[:, :4] = _big_endian(np.array([width]), ">i4")
    fields[:, 4:] = payload
    if valid is None:
        return _fields(np.full(rows, 4 + width), fields)
    fields[~valid, :4] = 0xFF
    kept = np.ones(fields.shape, bool)
    kept[~valid, 4:] = False
    return _fields(np.where(valid, 4 + width, 4), fields[kept])


def _refuse(column: TargetColumn, bad: np.ndarray, reason: str) -> None:
    if bad.any():
        raise EncodingError(int(bad.argmax()), column.name, reason)


def _null_fields(values: pa.Array, column: TargetColumn) -> pa.Array:
    return _fixed_fields(np.empty((len(values), 0), np.uint8), np.zeros(len(values), bool))


def _bool_fields(values: pa.Array, column: TargetColumn) -> pa.Array:
    flags = pc.fill_null(values, False).to_numpy(zero_copy_only=False)
    return _fixed_fields(flags.astype(np.uint8).reshape(-1, 1), _valid(values))


INTEGER_WIDTHS = {"int2": 2, "int4": 4, "int8": 8}


def _integer_fields(values: pa.Array, column: TargetColumn) -> pa.Array:
    width = INTEGER_WIDTHS[column.type_name]
    numbers = pc.fill_null(values, 0).to_numpy(zero_copy_only=False)
    if np.issubdtype(numbers.dtype, np.floating):
        _refuse(column, numbers != np.floor(numbers), "not an integer")
    bound = 2 ** (8 * width - 1)
    _refuse(column, (numbers < -bound) | (numbers >= bound), f"out of range for {column.type_name}")
    return _fixed_fields(_big_endian(numbers.astype(np.int64), f">i{width}"), _valid(values))


def _float_fields(values: pa.Array, column: TargetColumn) -> pa.Array:
    numbers = pc.fill_null(values.cast(pa.float64(), safe=False), 0.0).to_numpy()
    return _fixed_fields(_big_endian(numbers, ">f8"), _valid(values))


def _date_fields(values: pa.Array, column: TargetColumn) -> pa.Array:
    days = pc.fill_null(values.cast(pa.int32()), 0).to_numpy().astype(np.int64)
    return _fixed_fields(_big_endian(days - POSTGRES_EPOCH_DAYS, ">i4"), _valid(values))


def _text_fields(values: pa.Array, column: TargetColumn, prefix: bytes = b"") -> pa.Array:
    """The values' UTF-8 bytes after `prefix` (jsonb's version byte)."""
    text = values.cast(BINARY)
    if prefix:
        text = pc.binary_join_element_wise(pa.scalar(prefix, BINARY), text, EMPTY)
    sizes = pc.fill_null(pc.binary_length(text), -1).to_numpy()
    lengths = _fields(np.full(len(text), 4), _big_endian(sizes, ">i4"))
    return pc.binary_join_element_wise(lengths, pc.fill_null(text, EMPTY), EMPTY)


HEX_VALUES = np.full(256, 0xFF, np.uint8)
HEX_VALUES[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
HEX_VALUES[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)
UUID_TEXT = "00000000-0000-0000-0000-000000000000"
UUID_DASHES = [8, 13, 18, 23]
UUID_HEX_DIGITS = np.setdiff1d(np.arange(len(UUID_TEXT)), UUID_DASHES)


def _uuid_fields(values: pa.Array, column: TargetColumn) -> pa.Array:
    """UUIDs from their 16 bytes (`db/ids.py` makes them so) or their canonical text, 8-4-4-4-12
    hex digits."""
    if values.type == ID_TYPE:
        return _fixed_fields(id_bytes(values), _valid(values))
    text = pc.fill_null(values.cast(BINARY), UUID_TEXT.encode())
    reason = "not a UUID of 8-4-4-4-12 hex digits"
    _refuse(column, pc.binary_length(text).to_numpy() != len(UUID_TEXT), reason)
    offsets = np.frombuffer(text.buffers()[1], np.int64)[text.offset : text.offset + 1]
    chars = np.frombuffer(
        text.buffers()[2], np.uint8, len(text) * len(UUID_TEXT), int(offsets[0])
    ).reshape(len(text), len(UUID_TEXT))
    nibbles = HEX_VALUES[chars[:, UUID_HEX_DIGITS]]
    bad = (nibbles == 0xFF).any(axis=1) | (chars[:, UUID_DASHES] != ord("-")).any(axis=1)
    _refuse(column, bad, reason)
    return _fixed_fields((nibbles[:, 0::2] << 4) | nibbles[:, 1::2], _valid(values))


def _numeric_fields(values: pa.Array, column: TargetColumn) -> pa.Array:
    """NUMERIC(p, s) fields holding exactly what the server stores for the values' CSV text.

    That text is a float's shortest round-trip form, which the server rounds half away from zero at
    s digits. NumPy gets the same rounding from x * 10**s (one rounding error, at most half a unit
    in the last place): unless that product lies within a few units in the last place of a
    half-way point, the shortest form and the float round alike. The few values that do (and those
    too large for the margin, 2**48 after scaling) are rounded from their CSV text with `Decimal`.
    Values the column cannot hold are refused here, as the server would.
    """
    assert column.precision is not None and column.scale is not None
    precision, scale = column.precision, column.scale
    numbers = pc.fill_null(values.cast(pa.float64(), safe=False), 0.0).to_numpy()
    with np.errstate(invalid="ignore"):  # infinities and NaN: not `fast`, rounded below
        scaled = np.abs(numbers) * 10.0**scale
        whole = np.floor(scaled)
        fraction = scaled - whole
        fast = (scaled < FAST_LIMIT) & (np.abs(fraction - 0.5) > 4 * np.spacing(scaled))
    units = np.where(fast, whole + (fraction > 0.5), 0).astype(np.int64)
    signs = np.where((numbers < 0) & (units != 0), NUMERIC_NEGATIVE, NUMERIC_POSITIVE)
    overflows = units >= 10**precision

    fraction_groups = -(-scale // 4)
    integer_groups = max(1, -(-(precision - scale) // 4))
    shift = 10 ** (4 * fraction_groups - scale)
    digits = np.zeros((len(numbers), integer_groups + fraction_groups), np.int64)
    magnitudes = units * shift
    for group in reversed(range(digits.shape[1])):
        magnitudes, digits[:, group] = np.divmod(magnitudes, NUMERIC_BASE)

    slow = np.flatnonzero(~fast)  # never a NULL: those are 0 here
    for row, text in zip(slow, values.take(slow).cast(pa.string()).to_pylist(), strict=True):
        rounded = _rounded(Decimal(text), precision, scale)
        if rounded is None:
            overflows[row] = True
            continue
        signs[row], magnitude = rounded
        magnitude *= shift
        for group in reversed(range(digits.shape[1])):
            magnitude, digits[row, group] = divmod(magnitude, NUMERIC_BASE)
    _refuse(column, overflows, f"overflows numeric({precision},{scale})")

    record = np.zeros(
        len(numbers),
        dtype=[
            ("ndigits", ">i2"),
            ("weight", ">i2"),
            ("sign", ">u2"),
            ("dscale", ">u2"),
            ("digits", ">i2", (digits.shape[1],)),
        ],
    )
    record["ndigits"] = digits.shape[1]
    record["weight"] = integer_groups - 1
    record["sign"] = signs
    record["dscale"] = scale
    record["digits"] = digits
    return _fixed_fields(record.view(np.uint8).reshape(len(numbers), -1), _valid(values))


def _rounded(value: Decimal, precision: int, scale: int) -> tuple[int, int] | None:
    """The sign word and the magnitude in units of 10**-scale of `value` rounded half away from
    zero, as the server rounds it; None when NUMERIC(precision, scale) cannot hold it."""
    if value.is_nan():
        return NUMERIC_NAN, 0
    if value.is_infinite():
        return None
    units = int(value.scaleb(scale).to_integral_value(rounding=ROUND_HALF_UP))
    if abs(units) >= 10**precision:
        return None
    return (NUMERIC_NEGATIVE if units < 0 else NUMERIC_POSITIVE), abs(units)


def _is_text(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    )


def _is_uuid(arrow_type: pa.DataType) -> bool:
    return _is_text(arrow_type) or arrow_type == ID_TYPE


def _is_number(arrow_type: pa.DataType) -> bool:
    """Integers and doubles: a narrower float's CSV text is its own shortest form, which widening
    it to a double would not keep."""
    return bool(pa.types.is_integer(arrow_type) or pa.types.is_float64(arrow_type))


ENCODERS: dict[str, tuple[Callable[[pa.DataType], bool], FieldEncoder]] = {
    "bool": (pa.types.is_boolean, _bool_fields),
    **dict.fromkeys(INTEGER_WIDTHS, (_is_number, _integer_fields)),
    "float8": (_is_number, _float_fields),
    "numeric": (_is_number, _numeric_fields),
    "date": (pa.types.is_date32, _date_fields),
    "uuid": (_is_uuid, _uuid_fields),
    **dict.fromkeys(("text", "varchar", "bpchar", "json"), (_is_text, _text_fields)),
    "jsonb": (_is_text, partial(_text_fields, prefix=JSONB_VERSION)),
}
