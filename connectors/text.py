"""Turn whatever a driver returns into an all-text Arrow batch (IDs, phones and keys must stay text)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, float):
        return repr(v) if v != int(v) or abs(v) >= 1e15 else str(int(v)) + ".0"
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    return str(v)


def rows_to_batch(columns: Sequence[str], rows: Sequence[Sequence]) -> pa.RecordBatch:
    """Column-wise conversion of DB-API rows (Python objects, so one pass per value is unavoidable)."""
    cols = list(zip(*rows)) if rows else [() for _ in columns]
    arrays = [pa.array([_text(v) for v in col], type=pa.string()) for col in cols]
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))


def table_as_text(table: pa.Table) -> pa.Table:
    """Cast every column of an Arrow table to string (for Parquet/CSV sources)."""
    return table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))
