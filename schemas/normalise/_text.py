"""Helpers shared by the normalisers: text coercion, unique-value evaluation, flag joining.

Every normaliser takes a pandas Series of str/None (object dtype) and returns new objects aligned with
the input index. Missing values are always `None` in the outputs (never NaN), so the frames can go to
Arrow/DuckDB without surprises.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

# Characters that are whitespace for our purposes but not all matched by `\s` in Python's `re`.
WS = r"\s\u200b\u200c\u200d\u2060\ufeff\u3000\u00a0"

# Text that means "no value" in every column (compared after NFKC + strip + casefold).
NULL_WORDS = frozenset({
    "无", "暂无", "没有", "空", "不详", "未知", "null", "none", "nan", "nat", "n/a", "#n/a", "na",
    "-", "--", "/", "\\",
})


def as_series(s) -> pd.Series:
    """`s` as a Series (a list or array is accepted for convenience in tests and scripts)."""
    return s if isinstance(s, pd.Series) else pd.Series(s, dtype=object)


def as_text(s) -> pd.Series:
    """An object Series of `str` or `None`, same index; non-str cells (numbers, dates) become text.

    Conversion of non-str cells is done once per distinct value, not per row.
    """
    s = as_series(s)
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.dt.strftime("%Y-%m-%d %H:%M:%S")
        return out.astype(object).where(out.notna(), None)
    out = s.astype(object)
    kind = pd.api.types.infer_dtype(out, skipna=True)
    if kind not in ("string", "empty"):
        # per distinct non-str value: numbers, datetimes, bools read from Excel/Arrow
        conv = {v: _scalar_text(v) for v in pd.unique(out.dropna())}
        out = out.map(conv, na_action="ignore")
    return out.where(out.notna(), None)


def _scalar_text(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (float, np.floating)) and float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))          # 19850312.0 -> "19850312" (exact below 1e15)
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)


def truthy(s: pd.Series) -> pd.Series:
    """A bool Series from a `.str` predicate result (NaN for missing inputs -> False)."""
    return s.eq(True)


def nfkc(s: pd.Series) -> pd.Series:
    """NFKC (full-width digits/letters/brackets -> ASCII, U+3000 -> space) and strip."""
    return s.str.normalize("NFKC").str.strip()


def is_blank(t: pd.Series) -> pd.Series:
    """True where `t` (already NFKC + stripped) is missing, empty or a null word."""
    return (t.isna() | (t == "") | t.str.lower().isin(NULL_WORDS)).astype(bool)


def none_if_na(s: pd.Series) -> pd.Series:
    """Object Series with every missing value as `None`."""
    arr = s.to_numpy(dtype=object, copy=True)
    arr[pd.isna(arr)] = None
    return pd.Series(arr, index=s.index, dtype=object, name=s.name)


def coalesce(first: pd.Series, *others) -> pd.Series:
    """First non-missing value per row among `first` and `others` (Series aligned with it, or scalars)."""
    out = first.to_numpy(dtype=object, copy=True)
    for other in others:
        fill = np.asarray(other, dtype=object) if isinstance(other, pd.Series) else \
            np.full(len(out), other, dtype=object)
        gap = pd.isna(out)
        out[gap] = fill[gap]
    out[pd.isna(out)] = None
    return pd.Series(out, index=first.index, dtype=object)


def by_unique(s: pd.Series, func: Callable[[pd.Series], pd.DataFrame],
              columns: Iterable[str]) -> pd.DataFrame:
    """Evaluate `func` on the distinct non-missing values of `s` and broadcast back to every row.

    `func` receives a Series of the unique values (RangeIndex) and returns a DataFrame with one row per
    unique value. Rows whose input is missing get `None` in every column.
    """
    columns = list(columns)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    table = np.full((len(uniques) + 1, len(columns)), None, dtype=object)
    if len(uniques):
        res = func(pd.Series(np.asarray(uniques, dtype=object), dtype=object))
        table[:-1] = res[columns].to_numpy(dtype=object)
    # the extra all-None last row takes the missing inputs (code -1)
    out = table[codes]
    out[pd.isna(out)] = None
    return pd.DataFrame(out, index=s.index, columns=columns)


def join_flags(index: pd.Index, pairs: Iterable[tuple[pd.Series, str]]) -> pd.Series:
    """`;`-joined flag codes per row ('' when none) from `(mask, code)` pairs, in the given order."""
    acc = np.full(len(index), "", dtype=object)
    for mask, code in pairs:
        m = pd.Series(mask, index=index).eq(True).to_numpy()
        acc = acc + np.where(m, code + ";", "")
    return pd.Series(acc, index=index, dtype=object).str.rstrip(";")


def first_code(index: pd.Index, pairs: Iterable[tuple[pd.Series, str]]) -> pd.Series:
    """The first code whose mask is true per row, else `None` (error columns: one code per row)."""
    out = pd.Series([None] * len(index), index=index, dtype=object)
    for mask, code in pairs:
        m = pd.Series(mask, index=index).eq(True) & out.isna()
        out[m] = code
    return out
