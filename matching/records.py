"""The input frame of one matching run: standardised records of both sources, one entity.

`prepare_records` copies only the columns matching uses, gives every record its id
(`source:source_key`), and turns every missing value (None, NaN, blank text, placeholders such as
`000000000000000000` or `未知`) into None, so the blocking SQL and the vectorised comparisons see
one kind of null.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.normalise import NULL_WORDS, factorize_text

RECORD_ID = "record_id"

# Columns read by the default blocking rules and comparisons, per entity.
MATCH_COLUMNS = {
    "person": ("name", "name_key", "name_pinyin", "former_name", "sex", "ethnicity", "birth_date",
               "id_number", "id_alias", "phone", "address_key", "house_id"),
    "house": ("address", "address_key", "street", "district", "compound", "building", "unit", "room", "owner_name",
              "owner_id_number", "owner_phone", "usage", "area"),
}
NUMERIC_COLUMNS = frozenset({"area"})
ID_COLUMN = {"person": "person_id", "house": "house_id"}
ID_PREFIX = {"person": "P", "house": "H"}


def match_columns(entity: str, rules, comparisons, tf_columns, available) -> tuple[str, ...]:
    """The columns one run reads: the entity's defaults, every comparison's, the columns of `available`
    the blocking rules mention, and the term-frequency columns (link, train and explain agree)."""
    extra = {c for rule in rules for c in rule.columns(available)}
    return tuple(dict.fromkeys([*MATCH_COLUMNS[entity], *(c for comp in comparisons for c in comp.columns),
                                *sorted(extra), *tf_columns]))


def record_ids(source: pd.Series, source_key: pd.Series) -> pd.Series:
    """`source:source_key`, the record id used in pairs (`l_id < r_id`) and clusters."""
    return source.astype(str) + ":" + source_key.astype(str)


def with_record_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (with `source`, `source_key`) with the record id as its first column; ids must be unique."""
    frame.insert(0, RECORD_ID, record_ids(frame["source"], frame["source_key"]))
    dup = frame[RECORD_ID][frame[RECORD_ID].duplicated()]
    if len(dup):
        raise ValueError(f"record ids are not unique, e.g. {dup.iloc[0]!r}")
    return frame


# Text that means "unknown" in one of the sources (compared lower-cased); such values never block
# and compare as null.
PLACEHOLDER_WORDS = NULL_WORDS | {"123456789012345678", "12345678901", "+8612345678901"}


def is_placeholder(s: pd.Series) -> pd.Series:
    """Blank, separators only (`|||`, `--`), a placeholder word, or one character repeated at
    least 6 times after an optional `+86` (000000000000000000, +8611111111111)."""
    core = s.str.replace(r"[\s|\-_/.,;:·]+", "", regex=True)
    digits = s.str.replace(r"^\+86", "", regex=True)
    repeated = (digits.str.len() >= 6) & digits.str.fullmatch(r"(.)\1*")
    return (core == "") | s.str.lower().isin(PLACEHOLDER_WORDS) | repeated.fillna(False).astype(bool)


def _text(values: pd.Series, placeholders: bool = True) -> np.ndarray:
    """Cleaned text per row, computed once per distinct value (records repeat names, dates, codes)."""
    codes, uniques = factorize_text(values)
    if len(uniques) > 0.8 * len(values):
        return _text_rows(values, placeholders)  # mostly distinct (keys): nothing to share
    cleaned = _text_rows(pd.Series(uniques, dtype=object), placeholders)
    out = np.full(len(values), None, dtype=object)
    hit = codes >= 0
    out[hit] = cleaned[codes[hit]]
    return out


def _text_rows(values: pd.Series, placeholders: bool = True) -> np.ndarray:
    s = values.astype("string").str.strip()
    s = s.mask(s.isna() | (is_placeholder(s).fillna(True) if placeholders else (s == "")))
    return s.astype(object).where(s.notna(), None).to_numpy(dtype=object)


def _as_text_date(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d")
    return values


def prepare_records(records: pd.DataFrame, entity: str,
                    columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """A clean copy of `records` for matching, index 0..n-1.

    Absent optional columns become all-null columns (a source may lack a field); `source` and
    `source_key` are required and the record id must be unique.
    """
    if entity not in MATCH_COLUMNS:
        raise ValueError(f"unknown entity {entity!r}; expected one of {sorted(MATCH_COLUMNS)}")
    missing = [c for c in ("source", "source_key") if c not in records.columns]
    if missing:
        raise ValueError(f"records lack required column(s) {missing}")
    cols = tuple(dict.fromkeys(columns or MATCH_COLUMNS[entity]))
    n = len(records)
    out = {c: _text(records[c], placeholders=False) for c in ("source", "source_key")}
    if any(v is None for v in out["source"]) or any(v is None for v in out["source_key"]):
        raise ValueError("source and source_key must not be empty")
    for c in cols:
        if c not in records.columns:
            out[c] = np.full(n, np.nan) if c in NUMERIC_COLUMNS else np.full(n, None, dtype=object)
        elif c in NUMERIC_COLUMNS:
            out[c] = pd.to_numeric(records[c], errors="coerce").to_numpy(dtype=float)
        else:
            out[c] = _text(_as_text_date(records[c]) if c == "birth_date" else records[c])
    return with_record_ids(pd.DataFrame(out))
