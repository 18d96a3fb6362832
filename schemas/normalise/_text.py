"""Helpers shared by the normalisers: text coercion, unique-value evaluation, flag joining, and
Arrow (RE2) kernels that carve out the rows a plain fast path can take.

Every normaliser takes a pandas Series of str/None (object dtype) and returns new objects aligned with
the input index. Missing values are always `None` in the outputs (never NaN), so the frames can go to
Arrow/DuckDB without surprises.

Arrow kernels are used only where they are provably equivalent to the Python `re`/`str` form they
replace: patterns given to `full_match`/`extract` use explicit ASCII classes (`[0-9]`, never `\\d`,
`\\s`, `\\w`, `\\b`, look-arounds or back-references), and a value Arrow cannot hold (a lone surrogate,
a non-str cell) falls back to Python `re` - same answer, only slower.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Characters that are whitespace for our purposes but not all matched by `\s` in Python's `re`.
WS = r"\s\u200b\u200c\u200d\u2060\ufeff\u3000\u00a0"

# Text that means "no value" in every column (compared after NFKC + strip + casefold).
NULL_WORDS = frozenset({
    "无", "暂无", "没有", "空", "不详", "未知", "null", "none", "nan", "nat", "n/a", "#n/a", "na",
    "-", "--", "/", "\\",
})
_NULL_LEN = max(map(len, NULL_WORDS))

# Text that NFKC + strip leave unchanged: printable ASCII and CJK Unified Ideographs (no
# decompositions, no combining marks), not starting or ending with a space.
_STABLE = "!-~\u4e00-\u9fff"
SETTLED = f"[{_STABLE}](?:[ {_STABLE}]*[{_STABLE}])?"


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


# --- Arrow kernels --------------------------------------------------------------------------------

def text_array(values) -> pa.Array | None:
    """`values` (str / missing) as an Arrow string array, or None when Arrow cannot hold them."""
    arr = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else np.asarray(values, dtype=object)
    try:
        return pa.array(arr, type=pa.string(), from_pandas=True)
    except (pa.ArrowException, UnicodeError, TypeError, ValueError):
        return None


def true_mask(arr: pa.Array) -> np.ndarray:
    """An Arrow boolean array as a numpy bool array, null -> False."""
    return arr.fill_null(False).to_numpy(zero_copy_only=False)


def full_match(values, pattern: str) -> np.ndarray:
    """Bool per value: the whole str matches `pattern` (RE2 syntax, ASCII classes; see module doc).
    False for missing and non-str values."""
    arr = text_array(values)
    if arr is not None:
        return true_mask(pc.match_substring_regex(arr, f"^(?:{pattern})$"))
    rx = re.compile(pattern)
    return np.array([isinstance(v, str) and rx.fullmatch(v) is not None
                     for v in np.asarray(values, dtype=object)], dtype=bool)


def search(values, pattern: str) -> np.ndarray:
    """Bool per value: `pattern` (RE2 syntax, ASCII classes) occurs in the str; False for missing."""
    arr = text_array(values)
    if arr is not None:
        return true_mask(pc.match_substring_regex(arr, pattern))
    rx = re.compile(pattern)
    return np.array([isinstance(v, str) and rx.search(v) is not None
                     for v in np.asarray(values, dtype=object)], dtype=bool)


def extract(values, pattern: str) -> dict[str, np.ndarray] | None:
    """Named groups of a full match of `pattern` (RE2, ASCII classes) per value, as object arrays
    with None where the value does not match or the group did not take part; None when Arrow
    cannot hold `values` (the caller then takes its general path)."""
    arr = text_array(values)
    if arr is None:
        return None
    got = pc.extract_regex(arr, f"^(?:{pattern})$")
    hit = got.is_valid().to_numpy(zero_copy_only=False)
    out = {"_hit": hit}
    for i in range(got.type.num_fields):
        col = got.field(i).to_numpy(zero_copy_only=False).astype(object)
        col[~hit | (col == "")] = None
        out[got.type.field(i).name] = col
    return out


def str_len(values) -> np.ndarray:
    """Length in code points per value (float, NaN for missing) - `Series.str.len()`."""
    arr = text_array(values)
    if arr is None:
        return np.array([len(v) if isinstance(v, str) else np.nan
                         for v in np.asarray(values, dtype=object)], dtype=float)
    return pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(float)


def map_settled(s: pd.Series, settled: np.ndarray, func: Callable[[str], object]) -> pd.Series:
    """`s` with `func` applied once per distinct str value outside the `settled` mask (rows whose
    value `func` would leave unchanged); missing values stay as they are."""
    arr = s.to_numpy(dtype=object, copy=True)
    todo = np.flatnonzero(~settled)
    todo = todo[[isinstance(v, str) for v in arr[todo]]] if len(todo) else todo
    if len(todo):
        sub = arr[todo]
        conv = {v: func(v) for v in set(sub.tolist())}
        arr[todo] = [conv[v] for v in sub]
    return pd.Series(arr, index=s.index, dtype=object, name=s.name)


def _nfkc_strip(v: str) -> str:
    return unicodedata.normalize("NFKC", v).strip()


def nfkc_strip(s: pd.Series) -> pd.Series:
    """`s.str.normalize("NFKC").str.strip()` for an object Series of str/missing: the common
    already-clean values (ASCII, CJK ideographs) are recognised by one Arrow pass and kept; the rest
    is normalised once per distinct value."""
    return map_settled(s, full_match(s, SETTLED), _nfkc_strip)


def truthy(s: pd.Series) -> pd.Series:
    """A bool Series from a `.str` predicate result (NaN for missing inputs -> False)."""
    return s.eq(True)


def is_blank(t: pd.Series) -> pd.Series:
    """True where `t` (already NFKC + stripped) is missing, empty or a null word."""
    arr = t.to_numpy(dtype=object)
    out = pd.isna(arr) | (arr == "")
    short = ~out & (str_len(arr) <= _NULL_LEN)       # null words are short: lower-case those only
    if short.any():
        out[short] = [isinstance(v, str) and v.lower() in NULL_WORDS for v in arr[short]]
    return pd.Series(out.astype(bool), index=t.index)


def none_if_na(s: pd.Series) -> pd.Series:
    """Object Series with every missing value as `None`."""
    arr = s.to_numpy(dtype=object, copy=True)
    arr[pd.isna(arr)] = None
    return pd.Series(arr, index=s.index, dtype=object, name=s.name)


def factorize_text(values) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values in first-seen order) of a text column; missing values get code -1.

    `pd.factorize`, except that pandas' string hash table compares texts only up to a NUL character, so
    `'张\\x00三'` == `'张\\x00四'` and `'\\x000'` == `''`. Each value is checked against the distinct value it
    was given (one vectorised comparison); when any differs, the column is factorized by a dict instead (rare:
    garbled exports). Every factorize of text goes through here."""
    arr = values.to_numpy(dtype=object) if isinstance(values, (pd.Series, pd.Index)) else \
        np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    present = codes >= 0
    if present.any() and not (uniques[codes[present]] == arr[present]).all():
        index: dict = {}
        codes = np.fromiter((-1 if not isinstance(v, str) else index.setdefault(v, len(index)) for v in arr),
                            dtype=np.int64, count=len(arr))
        uniques = np.array(list(index), dtype=object)
    return codes, uniques


def by_unique(s: pd.Series, func: Callable[[pd.Series], pd.DataFrame],
              columns: Iterable[str]) -> pd.DataFrame:
    """Evaluate `func` on the distinct non-missing values of `s` and broadcast back to every row.

    `func` receives a Series of the unique values (RangeIndex) and returns a DataFrame with one row per
    unique value. Rows whose input is missing get `None` in every column.
    """
    columns = list(columns)
    codes, uniques = factorize_text(s)
    table = np.full((len(uniques) + 1, len(columns)), None, dtype=object)
    if len(uniques):
        res = func(pd.Series(np.asarray(uniques, dtype=object), dtype=object))
        table[:-1] = res[columns].to_numpy(dtype=object)
    table[pd.isna(table)] = None
    # the extra all-None last row takes the missing inputs (code -1)
    return pd.DataFrame(table[codes], index=s.index, columns=columns)


def join_flags(index: pd.Index, pairs: Iterable[tuple[pd.Series, str]]) -> pd.Series:
    """`;`-joined flag codes per row ('' when none) from `(mask, code)` pairs, in the given order."""
    bits = np.zeros(len(index), dtype=np.int64)
    codes = []
    for i, (mask, code) in enumerate(pairs):
        m = pd.Series(mask, index=index).eq(True).to_numpy()
        bits |= m.astype(np.int64) << i
        codes.append(code)
    uniq, inv = np.unique(bits, return_inverse=True)      # a handful of flag combinations
    text = np.array([";".join(c for i, c in enumerate(codes) if b >> i & 1) for b in uniq.tolist()],
                    dtype=object)
    return pd.Series(text[inv.reshape(-1)] if len(index) else np.array([], dtype=object),
                     index=index, dtype=object)


def first_code(index: pd.Index, pairs: Iterable[tuple[pd.Series, str]]) -> pd.Series:
    """The first code whose mask is true per row, else `None` (error columns: one code per row)."""
    out = np.full(len(index), None, dtype=object)
    free = np.ones(len(index), dtype=bool)
    for mask, code in pairs:
        m = pd.Series(mask, index=index).eq(True).to_numpy() & free
        out[m] = code
        free &= ~m
    return pd.Series(out, index=index, dtype=object)
