"""Turn whatever a driver returns into an all-text Arrow batch (IDs, phones and keys must stay text).

DB-API rows arrive as Python objects. A column whose values share one Python type (the usual case: a
typed database column) becomes a typed Arrow array in one call and is then written out by the project's
text rules for typed columns (`connectors.arrowtext.array_as_text`), so a DOUBLE in a database reads like
a double in Parquet or a number cell in Excel:

    int / Decimal      exact digits ("640202198503120013"; a DECIMAL keeps its scale: "12.50")
    date               "1985-03-12"
    datetime           "2024-05-01 08:30:00", "2024-05-01 08:30:00.123000" (tz-aware: wall-clock, no zone)
    float              "85.5", "13995201234" (integral: no ".0"), "6.402021985031201E+17" (lost digits show)
    bool               "TRUE" / "FALSE"

A column mixing types (SQLite's dynamic typing) is converted type group by type group with the same rules;
values Arrow cannot hold (integers beyond 64 bits, NaN decimals) go through `str`.
"""
from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence

import pyarrow as pa

from connectors.arrowtext import array_as_text

_ARROW_TYPE = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), dt.date: pa.date32(),
               dt.datetime: None, decimal.Decimal: None, dt.time: None, bytes: pa.binary()}
_ARROW_FAILS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError, TypeError)


def _str(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", errors="replace")
    return str(v)


def _typed(kind: type, values: Sequence) -> pa.Array:
    """Values of one Python type (or None) → text via Arrow; `str` when Arrow cannot hold them."""
    if kind is str:
        return pa.array(values, type=pa.string())
    if kind in _ARROW_TYPE:
        try:
            return array_as_text(pa.array(values, type=_ARROW_TYPE[kind]))
        except _ARROW_FAILS:
            pass
    return pa.array([_str(v) for v in values], type=pa.string())


def column_as_text(values: Sequence) -> pa.Array:
    """One column of driver values as an Arrow string array (None stays null)."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if len(kinds) <= 1:
        return _typed(kinds.pop() if kinds else str, values)
    out: list[str | None] = [None] * len(values)  # mixed column: one conversion per type present
    for kind in kinds:
        at = [i for i, v in enumerate(values) if type(v) is kind]
        for i, text in zip(at, _typed(kind, [values[i] for i in at]).to_pylist()):
            out[i] = text
    return pa.array(out, type=pa.string())


def rows_to_batch(columns: Sequence[str], rows: Sequence[Sequence]) -> pa.RecordBatch:
    """DB-API rows → an all-text record batch, column by column."""
    cols = list(zip(*rows)) if rows else [() for _ in columns]
    arrays = [column_as_text(col) for col in cols]
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))
