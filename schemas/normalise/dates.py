"""Dates and timestamps in the spellings both systems use (shared/domain/fields.md §1).

Vectorised: configured strptime formats via `pd.to_datetime(format=...)`, then regex `str.extract`
of year/month/day groups per spelling, assembled into ISO text and validated by one `pd.to_datetime`.
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from ._text import as_text, by_unique, is_blank, none_if_na

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


def _prepare(t: pd.Series) -> pd.Series:
    t = t.str.normalize("NFKC").str.strip()
    return t.str.replace(r"\s+", " ", regex=True).str.replace(r"\s*([年月日:时分/.-])\s*", r"\1",
                                                               regex=True)


def _parse(t: pd.Series, formats: list[str] | None) -> tuple[pd.Series, pd.Series]:
    """(timestamps, placeholder-or-blank mask) for prepared text `t`."""
    idx = t.index
    ts = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
    pending = ~is_blank(t)
    for fmt in formats or ():
        got = pd.to_datetime(t.where(pending), format=fmt, errors="coerce")
        hit = pending & got.notna()
        ts[hit] = got[hit]
        pending &= ~hit
    parts = pd.DataFrame(index=idx, columns=["y", "m", "d", "H", "M", "S"], dtype=object)
    matched = pd.Series(False, index=idx)
    for pat in _SPELLINGS:
        sub = t[pending & ~matched]
        if sub.empty:
            break
        ext = sub.str.extract(f"^(?:{pat})$")
        hit = ext["y"].notna()
        cols = [c for c in parts.columns if c in ext.columns]
        parts.loc[hit[hit].index, cols] = ext.loc[hit, cols].to_numpy()
        matched[hit[hit].index] = True
    # Excel serials
    ser = t[pending & ~matched].str.extract(f"^(?:{_SERIAL})$")
    n = pd.to_numeric(ser["n"], errors="coerce")
    ok = n.between(_SERIAL_MIN, _SERIAL_MAX)
    frac = pd.to_numeric("0." + ser["f"].fillna("0"), errors="coerce")
    days = (n + frac)[ok]
    ts[days.index] = _EXCEL_EPOCH + pd.to_timedelta(days.round(6) * 86400, unit="s").dt.round("s")
    # placeholders among the spelled dates: 0000-00-00, 00000000, 1900-01-01
    zero = matched & (pd.to_numeric(parts["y"], errors="coerce") == 0)
    iso = (parts["y"].str.zfill(4) + "-" + parts["m"].str.zfill(2) + "-" + parts["d"].str.zfill(2)
           + " " + parts["H"].fillna("0").str.zfill(2) + ":" + parts["M"].fillna("0").str.zfill(2)
           + ":" + parts["S"].fillna("0").str.zfill(2))
    spelled = pd.to_datetime(iso.where(matched & ~zero), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    ts = ts.where(~matched, spelled)
    placeholder = zero | ((ts.dt.year == 1900) & (ts.dt.month == 1) & (ts.dt.day == 1))
    return ts.where(~placeholder), placeholder | is_blank(t)


def parse_date(s, formats: list[str] | None = None, today: date | None = None) -> pd.DataFrame:
    """Parse dates -> DataFrame[value, error, flags].

    value: 'YYYY-MM-DD' or None. error: `birth_date_invalid` (unparseable or impossible date),
    `birth_date_future` (after `today`, value kept) or None. flags: `date_unparsed` where the text
    could not be read as a date (for non-birth date fields), else ''. Placeholders (empty,
    1900-01-01, 0000-00-00, 00000000, 无 …) are missing without error. Works on distinct values.
    """
    limit = pd.Timestamp(today or date.today())

    def frame(u: pd.Series) -> pd.DataFrame:
        ts, missing = _parse(_prepare(u), formats)
        invalid = ts.isna() & ~missing
        error = pd.Series([None] * len(u), index=u.index, dtype=object)
        error[invalid] = "birth_date_invalid"
        error[ts.dt.normalize() > limit] = "birth_date_future"
        return pd.DataFrame({"value": none_if_na(ts.dt.strftime("%Y-%m-%d")), "error": error,
                             "flags": pd.Series("", index=u.index).mask(invalid, "date_unparsed")})

    out = by_unique(as_text(s), frame, DATE_COLUMNS)
    out["flags"] = out["flags"].fillna("")
    return out


def parse_timestamp(s, formats: list[str] | None = None) -> pd.Series:
    """'YYYY-MM-DD HH:MM:SS' (date-only input gets 00:00:00) or None, e.g. for `updated_at`."""
    def frame(u: pd.Series) -> pd.DataFrame:
        ts, _ = _parse(_prepare(u), formats)
        return pd.DataFrame({"value": ts.dt.strftime("%Y-%m-%d %H:%M:%S")})

    return by_unique(as_text(s), frame, ["value"])["value"]
