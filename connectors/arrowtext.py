"""Typed Arrow columns (Parquet columns, Excel number and date cells) → text, vectorised.

The text is what a person would type, so IDs, phones and keys never show a float's artefacts:
- integer-valued numbers below 10^15: their digits, no `.0` (`13812345678`);
- numbers of 10^15 and more held as floating point: scientific notation (`6.40202198503121E+17`). A double
  keeps 15–17 significant digits and Excel only 15, so an 18-digit ID stored as a number has already lost its
  last digits; writing it out in full would invent digits that look real. The scientific form is what
  Excel shows and what the ID normaliser quarantines (`id_excel_precision_loss`).
- other numbers: up to `significant` digits (Excel: 15, what it displays) or the shortest exact form;
- dates `1985-03-12`, date-times `1985-03-12 08:30:00` (fractions of a second kept when present);
- booleans `TRUE`/`FALSE` (as Excel shows them); decimals exact; binary as UTF-8.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EXACT_LIMIT = 1e15
_DAY = 86_400


def _per_unique(values: pa.Array, fn) -> pa.Array:
    """Apply a Python str function once per distinct value (for the rare values vectorised code cannot format)."""
    uniq = pc.unique(values.drop_null())
    texts = pa.array([fn(v) for v in uniq.to_pylist()], pa.string())
    return pc.take(texts, pc.index_in(values, value_set=uniq))


def _place(n: int, mask: np.ndarray, part: pa.Array, out: pa.Array | None = None) -> pa.Array:
    """`out` with the positions in `mask` replaced by `part` (len(part) == mask.sum())."""
    base = out if out is not None else pa.nulls(n, pa.string())
    if not mask.any():
        return base
    return pc.replace_with_mask(base, pa.array(mask), part.cast(pa.string()))


def _shortest_e(v: float) -> str:
    """The shortest exact digits of a double in scientific notation: 1e15 → `1E+15`."""
    return format(Decimal(repr(v)).normalize(), "E")


def float_text(values: pa.Array, significant: int | None = None) -> pa.Array:
    """float64 → text (rules in the module doc); NaN → null."""
    x = pc.cast(values, pa.float64())
    n = len(x)
    arr = x.to_numpy(zero_copy_only=False)
    valid = ~np.isnan(arr)
    big = valid & (np.abs(arr) >= EXACT_LIMIT)
    integral = valid & ~big & (np.floor(arr) == arr)
    other = valid & ~big & ~integral
    out = _place(n, integral, pa.array(arr[integral].astype(np.int64)))
    if big.any():
        fmt = (lambda v: f"{v:.{significant}G}") if significant else _shortest_e
        out = _place(n, big, _per_unique(pa.array(arr[big]), fmt), out)
    if other.any():
        fmt = (lambda v: f"{v:.{significant}g}") if significant else repr
        out = _place(n, other, _per_unique(pa.array(arr[other]), fmt), out)
    return out


def timestamp_text(ts: pa.Array, date_only: np.ndarray | None = None) -> pa.Array:
    """timestamp → `YYYY-MM-DD HH:MM:SS[.ffffff]`; `date_only` rows → `YYYY-MM-DD`."""
    unit = ts.type.unit
    if ts.type.tz is not None:  # show the wall-clock time of the stored zone, without the zone
        ts = pc.local_timestamp(ts)
    ts = ts.cast(pa.timestamp(unit))
    per = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    valid = np.asarray(ts.is_valid())
    ints = pc.fill_null(ts.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    whole = pa.array(ints // per, pa.timestamp("s"), mask=~valid)
    secs = pc.strftime(whole, format="%Y-%m-%d %H:%M:%S")
    frac = valid & (np.mod(ints, per) != 0)
    out = secs
    if frac.any():
        digits = {1_000: 3, 1_000_000: 6, 1_000_000_000: 9}[per]
        sub = pa.array(np.mod(ints[frac], per)).cast(pa.string())
        sub = pc.utf8_lpad(sub, digits, "0")
        out = _place(len(ts), frac, pc.binary_join_element_wise(pc.filter(secs, pa.array(frac)), sub, "."), out)
    if date_only is not None and date_only.any():
        out = _place(len(ts), date_only, pc.utf8_slice_codeunits(pc.filter(out, pa.array(date_only)), 0, 10), out)
    return out


def array_as_text(a: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Any flat Arrow column → pa.string() (rules in the module doc). Raises TypeError for nested types."""
    if isinstance(a, pa.ChunkedArray):
        return pa.chunked_array([array_as_text(c) for c in a.chunks], pa.string())
    t = a.type
    if pa.types.is_dictionary(t):
        return array_as_text(a.dictionary_decode())
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return a.cast(pa.string())
    if pa.types.is_null(t):
        return pa.nulls(len(a), pa.string())
    if pa.types.is_integer(t) or pa.types.is_decimal(t):
        return a.cast(pa.string())
    if pa.types.is_floating(t):
        if t != pa.float64():  # the shortest text of the narrower float (float32 0.1 → "0.1", not 0.100000001…)
            arr = a.to_numpy(zero_copy_only=False).astype(str)
            a = pa.array(arr, pa.string(), mask=np.asarray(a.is_null())).cast(pa.float64())
        return float_text(a)
    if pa.types.is_boolean(t):
        return pc.if_else(a, "TRUE", "FALSE")
    if pa.types.is_date(t):
        return pc.strftime(a.cast(pa.date32()).cast(pa.timestamp("s")), format="%Y-%m-%d")
    if pa.types.is_timestamp(t):
        return timestamp_text(a)
    if pa.types.is_time(t):
        return a.cast(pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return pa.array([None if v is None else v.decode("utf-8", "replace") for v in a.to_pylist()], pa.string())
    raise TypeError(f"a column of type {t} cannot be read as text")


# --- Excel serial dates ----------------------------------------------------------------------------------------
_EPOCH_1900 = dt.datetime(1899, 12, 30)
_EPOCH_1904 = dt.datetime(1904, 1, 1)
_MAX_SERIAL = 2_958_465  # 9999-12-31


def excel_serial_text(serial: np.ndarray, with_time: np.ndarray, date1904: bool) -> pa.Array:
    """Excel date serials → ISO text. Whole days → `YYYY-MM-DD` unless the cell's format shows a time;
    a time-only value (serial < 1 with a time format) → `HH:MM:SS`; out of range → the number as text."""
    serial = np.asarray(serial, dtype=np.float64)
    n = len(serial)
    ok = (serial >= 0) & (serial <= _MAX_SERIAL)
    secs = np.round(np.where(ok, serial, 0) * _DAY).astype(np.int64)
    if not date1904:  # Excel's 1900 leap-year bug: serials 1–59 are one day later than the epoch arithmetic
        secs = secs + np.where(ok & (serial < 60), _DAY, 0)
    epoch = _EPOCH_1904 if date1904 else _EPOCH_1900
    base = int((epoch - dt.datetime(1970, 1, 1)).total_seconds())
    ts = pa.array(secs + base, pa.timestamp("s"))
    whole = (secs % _DAY) == 0
    time_only = ok & with_time & (serial < 1)
    out = timestamp_text(ts, date_only=ok & whole & ~with_time)
    if time_only.any():
        out = _place(n, time_only, pc.utf8_slice_codeunits(pc.filter(out, pa.array(time_only)), 11, 19), out)
    if (~ok).any():
        out = _place(n, ~ok, float_text(pa.array(serial[~ok]), 15), out)
    return out
