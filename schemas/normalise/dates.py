"""Dates and timestamps in the spellings both systems use (shared/domain/fields.md §1).

Vectorised over the distinct values: configured strptime formats via `pd.to_datetime(format=...)`,
then the spellings below matched with Arrow (RE2) `extract_regex` (ASCII digits; Python `re` only for
the few values left over), the year/month/day groups assembled into ISO text and validated by one
`pd.to_datetime`. Values already in the ISO form skip the assembly, and the output text is that ISO
text (no `strftime` per value).
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._text import as_text, by_unique, extract, full_match, is_blank, map_settled

DATE_COLUMNS = ["value", "error", "flags"]

# (regex with named groups y, m, d) in the order they are tried; all anchored, input NFKC + stripped
_TIME = r"(?:[ T]*(?P<H>\d{1,2})[:时](?P<M>\d{1,2})(?:[:分](?P<S>\d{1,2})(?:\.\d+)?秒?)?分?)?"
_TZ = r"(?:Z|[+-]\d{2}:?\d{2})?"
_SPELLINGS = (
    r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:[ T]*(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?)?",
    rf"(?P<y>\d{{4}})[-/.](?P<m>\d{{1,2}})[-/.](?P<d>\d{{1,2}}){_TIME}{_TZ}",
    rf"(?P<y>\d{{4}})年(?P<m>\d{{1,2}})月(?P<d>\d{{1,2}})[日号]?{_TIME}",
)
_SERIAL = r"(?P<n>\d{5})(?:\.(?P<f>\d+))?"      # Excel 1900 date system, 10000-60000 accepted
_SERIAL_MIN, _SERIAL_MAX = 10000, 60000
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")       # serial 61+ (after the fake 1900-02-29)


# Arrow (RE2) forms of the spellings with ASCII digits; values they miss (e.g. other Unicode digits,
# which Python's `\d` accepts) still go through the Python patterns above, so results are unchanged.
_SPELLINGS_RE2 = tuple(p.replace(r"\d", "[0-9]") for p in _SPELLINGS)
_SERIAL_RE2 = _SERIAL.replace(r"\d", "[0-9]")
_ISO_SECONDS = "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"   # already in the ISO form below
_PARTS = ("y", "m", "d", "H", "M", "S")
# Text `_prepare` leaves unchanged: NFKC-stable, no whitespace but single spaces between two
# characters that are not date separators.
_TOKEN = "!-~年月日时分秒号"
_NOT_SEP = "!-,0-9;-~秒号"
_PREPARED = f"[{_TOKEN}]*(?:[{_NOT_SEP}] [{_NOT_SEP}][{_TOKEN}]*)*"
_RX_SPACES, _RX_AROUND = re.compile(r"\s+"), re.compile(r"\s*([年月日:时分/.-])\s*")


def _prepare_one(v: str) -> str:
    v = unicodedata.normalize("NFKC", v).strip()
    return _RX_AROUND.sub(r"\1", _RX_SPACES.sub(" ", v))


def _prepare(t: pd.Series) -> pd.Series:
    """NFKC, stripped, whitespace runs as one space, no spaces around date separators."""
    return map_settled(t, full_match(t, _PREPARED), _prepare_one)


def _spelled_parts(t: pd.Series, todo: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(matched, parts) for the rows `todo`: the first spelling whose full match succeeds, its groups
    as text (None where a group is absent)."""
    arr = t.to_numpy(dtype=object)
    parts = {k: np.full(len(t), None, dtype=object) for k in _PARTS}
    matched = np.zeros(len(t), dtype=bool)
    for engine in ("arrow", "python"):
        for pat, rx in zip(_SPELLINGS, _SPELLINGS_RE2):
            rows = np.flatnonzero(todo & ~matched)
            if not len(rows):
                return matched, parts
            if engine == "arrow":
                ext = extract(arr[rows], rx)
                if ext is None:
                    break
                hit = ext.pop("_hit")
            else:
                got = t.iloc[rows].str.extract(f"^(?:{pat})$")
                hit = got["y"].notna().to_numpy()
                ext = {k: got[k].to_numpy(dtype=object) for k in got.columns}
            for k, col in ext.items():
                parts[k][rows[hit]] = col[hit]
            matched[rows[hit]] = True
    return matched, parts


def _serials(t: pd.Series, todo: np.ndarray) -> pd.Series:
    """Excel serial day numbers (1900 date system) among the rows `todo` as timestamps (NaT elsewhere)."""
    out = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]")
    rows = np.flatnonzero(todo)
    if not len(rows):
        return out
    n, f = np.full(len(rows), None, dtype=object), np.full(len(rows), None, dtype=object)
    ext = extract(t.to_numpy(dtype=object)[rows], _SERIAL_RE2)
    hit = ext["_hit"] if ext is not None else np.zeros(len(rows), dtype=bool)
    if ext is not None:
        n[hit], f[hit] = ext["n"][hit], ext["f"][hit]
    if not hit.all():                                  # other Unicode digits: Python's `\d`
        got = t.iloc[rows[~hit]].str.extract(f"^(?:{_SERIAL})$")
        n[~hit], f[~hit] = got["n"].to_numpy(dtype=object), got["f"].to_numpy(dtype=object)
    n = pd.to_numeric(pd.Series(n, dtype=object), errors="coerce")
    ok = n.between(_SERIAL_MIN, _SERIAL_MAX)
    frac = pd.to_numeric("0." + pd.Series(f, dtype=object).fillna("0"), errors="coerce")
    days = (n + frac)[ok]
    if len(days):
        out.iloc[rows[days.index]] = (_EXCEL_EPOCH + pd.to_timedelta(days.round(6) * 86400, unit="s")
                                      .dt.round("s")).to_numpy()
    return out


def _iso(parts: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """'YYYY-MM-DD HH:MM:SS' from the parts of `rows` (zero-padded; absent time parts are 00)."""
    pad = {k: pc.utf8_lpad(pa.array(parts[k][rows], type=pa.string(), from_pandas=True).fill_null("0"),
                           4 if k == "y" else 2, "0") for k in _PARTS}
    return pc.binary_join_element_wise(
        pc.binary_join_element_wise(pad["y"], pad["m"], pad["d"], "-"),
        pc.binary_join_element_wise(pad["H"], pad["M"], pad["S"], ":"), " ").to_numpy(zero_copy_only=False)


def _parse(t: pd.Series, formats: list[str] | None) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """(timestamps, placeholder-or-blank mask, the timestamps as 'YYYY-MM-DD HH:MM:SS' text) for
    prepared text `t`."""
    idx = t.index
    ts = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
    blank = is_blank(t)
    pending = ~blank
    for fmt in formats or ():
        got = pd.to_datetime(t.where(pending), format=fmt, errors="coerce")
        hit = pending & got.notna()
        ts[hit] = got[hit]
        pending &= ~hit
    pending = pending.to_numpy(dtype=bool)
    arr = t.to_numpy(dtype=object)
    iso = np.full(len(t), None, dtype=object)
    ready = np.zeros(len(t), dtype=bool)
    if pending.any():                              # the ISO form itself needs no assembly
        ready[pending] = full_match(arr[pending], _ISO_SECONDS)
        iso[ready] = arr[ready]
    matched, parts = _spelled_parts(t, pending & ~ready)
    if matched.any():
        iso[matched] = _iso(parts, np.flatnonzero(matched))
    serial = _serials(t, pending & ~ready & ~matched)
    ts = ts.where(serial.isna(), serial)
    spelled = matched | ready
    # placeholders among the spelled dates: 0000-00-00, 00000000, 1900-01-01
    year = parts["y"]
    if ready.any():
        year[ready] = pc.utf8_slice_codeunits(pa.array(iso[ready], type=pa.string()), 0, 4) \
            .to_numpy(zero_copy_only=False)
    year = pd.to_numeric(pd.Series(year, dtype=object), errors="coerce").to_numpy()
    zero = spelled & (year == 0)
    got = pd.to_datetime(pd.Series(np.where(spelled & ~zero, iso, None), index=idx, dtype=object),
                         format="%Y-%m-%d %H:%M:%S", errors="coerce")
    ts = ts.where(~spelled, got)
    placeholder = zero | ((ts.dt.year == 1900) & (ts.dt.month == 1) & (ts.dt.day == 1))
    ts = ts.where(~placeholder)
    # as text: a spelled value parsed from its zero-padded ISO text formats back to that same text
    valid = ts.notna().to_numpy()
    text = np.where(valid & spelled, iso, None)
    other = valid & ~spelled
    if other.any():
        text[other] = ts[other].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object)
    return ts, placeholder | blank, text


def parse_date(s, formats: list[str] | None = None, today: date | None = None) -> pd.DataFrame:
    """Parse dates -> DataFrame[value, error, flags].

    value: 'YYYY-MM-DD' or None. error: `birth_date_invalid` (unparseable or impossible date),
    `birth_date_future` (after `today`, value kept) or None. flags: `date_unparsed` where the text
    could not be read as a date (for non-birth date fields), else ''. Placeholders (empty,
    1900-01-01, 0000-00-00, 00000000, 无 …) are missing without error. Works on distinct values.
    """
    limit = pd.Timestamp(today or date.today())

    def frame(u: pd.Series) -> pd.DataFrame:
        ts, missing, text = _parse(_prepare(u), formats)
        invalid = ts.isna() & ~missing
        error = pd.Series([None] * len(u), index=u.index, dtype=object)
        error[invalid] = "birth_date_invalid"
        error[ts.dt.normalize() > limit] = "birth_date_future"
        value = pc.utf8_slice_codeunits(pa.array(text, type=pa.string()), 0, 10)
        return pd.DataFrame({"value": value.to_numpy(zero_copy_only=False), "error": error,
                             "flags": pd.Series("", index=u.index).mask(invalid, "date_unparsed")},
                            index=u.index)

    out = by_unique(as_text(s), frame, DATE_COLUMNS)
    out["flags"] = out["flags"].fillna("")
    return out


def parse_timestamp(s, formats: list[str] | None = None) -> pd.Series:
    """'YYYY-MM-DD HH:MM:SS' (date-only input gets 00:00:00) or None, e.g. for `updated_at`."""
    def frame(u: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"value": _parse(_prepare(u), formats)[2]}, index=u.index)

    return by_unique(as_text(s), frame, ["value"])["value"]
