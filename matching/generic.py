"""Generic comparisons and record preparation for non-Chinese data: Latin-letter names, dates in any
fixed format, numeric identifiers, postcodes and street addresses (FEBRL-style data).

The person/house sets in `comparisons` read the canonical gridbridge schema; these builders take
any column names, so the same engine (`blocking`, `compute_gammas`, `score`, `cluster_pairs`) links
two arbitrary tables. Every level is vectorised like the rest of `comparisons`: rapidfuzz
`cpdist` for edit distances and similarities, numpy for dates (parsed once per record, not per
pair).

    records = prepare_generic({"a": df_a, "b": df_b}, key="rec_id", columns=[...])
    comps = (name_comparison("given_name", swapped_with="surname"), date_comparison("dob"), ...)
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler

from matching.comparisons import Comparison, Level, Mask, PairSides, equal, exact, similarity_at_least
from matching.records import with_record_ids
from matching.training import smoothed_shares
from schemas.normalise import NULL_WORDS



# --- records -------------------------------------------------------------------------------------

def clean_text(values: pd.Series, lower: bool = True) -> np.ndarray:
    """Stripped (and lower-cased) text as an object array; blanks and null words become None."""
    s = values.astype("string").str.strip()
    if lower:
        s = s.str.lower()
    s = s.mask(s.isna() | (s == "") | s.str.lower().isin(NULL_WORDS))
    return s.astype(object).where(s.notna(), None).to_numpy(dtype=object)


def prepare_generic(tables: Mapping[str, pd.DataFrame], key: str, columns: Sequence[str],
                    lower: bool = True) -> pd.DataFrame:
    """One matching frame from several source tables: `record_id` (`source:key`), `source`,
    `source_key` and the cleaned text `columns` (a column a table lacks is all None)."""
    parts = []
    for source, table in tables.items():
        if key not in table.columns:
            raise ValueError(f"table {source!r} has no key column {key!r}")
        n = len(table)
        part = {"source": np.full(n, source, dtype=object),
                "source_key": clean_text(table[key], lower=False)}
        for c in columns:
            part[c] = clean_text(table[c], lower) if c in table.columns else np.full(n, None, dtype=object)
        parts.append(pd.DataFrame(part))
    frame = pd.concat(parts, ignore_index=True)
    if frame["source_key"].isna().any():
        raise ValueError(f"empty {key!r} in the input tables")
    return with_record_ids(frame)


# --- levels --------------------------------------------------------------------------------------

def edits_at_most(col: str, k: int, label: str | None = None) -> Level:
    """Optimal-string-alignment distance at most `k`: inserted, deleted, substituted characters and
    adjacent transpositions (Damerau–Levenshtein without editing a substring twice)."""
    return Level(label or f"dl_{k}",
                 lambda s: (s.cpdist(col, OSA.distance, "osa") <= k) & s.present(col),
                 f"{col}: at most {k} edit(s)")


def token_sort_at_least(col: str, threshold: float, label: str | None = None) -> Level:
    """rapidfuzz token-sort ratio (0–1) at least `threshold`: word order ignored."""
    return Level(label or f"tokens_{threshold:g}",
                 lambda s: (s.cpdist(col, fuzz.token_sort_ratio, "token_sort") >= 100 * threshold)
                 & s.present(col),
                 f"token_sort_ratio({col}) >= {threshold:g}")


def swapped(col: str, other: str, label: str = "swapped") -> Level:
    """`col` of one side equals `other` of the other side and vice versa (given name and surname
    exchanged)."""
    def test(s: PairSides) -> Mask:
        return equal(s.left(col), s.right(other)) & equal(s.left(other), s.right(col))
    return Level(label, test, f"{col} and {other} exchanged")



def _date_parts(fmt: str):
    """record column -> days since epoch, year, month, day (float arrays, NaN when unparsable)."""
    def parse(v: pd.Series) -> pd.Series:
        return pd.to_datetime(v, format=fmt, errors="coerce")

    def days(v: pd.Series) -> pd.Series:
        d = parse(v)
        return (d - pd.Timestamp("1970-01-01")).dt.days.astype("float64")

    def part(name: str):
        return lambda v: getattr(parse(v).dt, name).astype("float64")
    return days, part("year"), part("month"), part("day")


def _floats(pair: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return pair[0].astype(float), pair[1].astype(float)


def date_month_day_swapped(col: str, fmt: str = "%Y-%m-%d", label: str = "month_day_swap") -> Level:
    """Same year, month and day exchanged (and not equal), for dates in format `fmt`."""
    _, year, month, day = _date_parts(fmt)

    def test(s: PairSides) -> Mask:
        ly, ry = _floats(s.derived(col, f"year{fmt}", year))
        lm, rm = _floats(s.derived(col, f"month{fmt}", month))
        ld, rd = _floats(s.derived(col, f"day{fmt}", day))
        with np.errstate(invalid="ignore"):
            return (ly == ry) & (lm == rd) & (ld == rm) & (lm != ld) & s.present(col)
    return Level(label, test, f"{col}: month and day exchanged")


def date_within_days(col: str, days: int, fmt: str = "%Y-%m-%d", label: str | None = None) -> Level:
    """Both dates parse (format `fmt`) and are at most `days` apart."""
    to_days = _date_parts(fmt)[0]

    def test(s: PairSides) -> Mask:
        a, b = _floats(s.derived(col, f"days{fmt}", to_days))
        with np.errstate(invalid="ignore"):
            return (np.abs(a - b) <= days) & s.present(col)
    return Level(label or f"within_{days}d", test, f"{col}: at most {days} days apart")


# --- u for linking two tables ----------------------------------------------------------------------

class FilledPairSides(PairSides):
    """`PairSides` whose rapidfuzz inputs are built once per record column (nulls as empty text,
    masked by `present` as usual) and then indexed, instead of once per scorer over the pairs:
    the same results, less work for large pair samples."""

    def cpdist(self, col: str, scorer, name: str) -> np.ndarray:
        def run():
            def fill():
                values = self.records[col].to_numpy(dtype=object)
                return np.where(pd.isna(values), "", values)
            filled = self._get(("filled", col), fill)
            return process.cpdist(filled[self.l_pos].tolist(), filled[self.r_pos].tolist(),
                                  scorer=scorer, workers=-1)
        return self._get(("cpdist", col, name), run)


def exact_share(records: pd.DataFrame, col: str, left: str) -> float:
    """P(`col` equal) over ALL left×right record pairs with both values present, from the value
    frequencies of each side (Σ_v n_l(v)·n_r(v) / (N_l·N_r)): exact, O(records), no sampling."""
    is_left = records["source"].to_numpy() == left
    values = records[col]
    a, b = values[is_left].dropna(), values[~is_left].dropna()
    if not len(a) or not len(b):
        return 0.0
    both = a.value_counts().to_frame("a").join(b.value_counts().rename("b"), how="inner")
    return float((both["a"] * both["b"]).sum()) / (len(a) * len(b))


def estimate_u_link_only(records: pd.DataFrame, comparisons, n: int, seed: int = 0,
                         alpha: float = 0.5, floor: float = 1e-8) -> tuple[list[np.ndarray], int]:
    """u per comparison (indexed by gamma) for linking source A (the first) to the others.

    An `exact` first level on a single column gets its u exactly from value frequencies
    (`exact_share`); the other levels share the rest as in `n` random A×B pairs (drawn as integer
    positions, with replacement) that are not exact. Same level definitions as the linker.
    """
    rng = np.random.default_rng(seed)
    source = records["source"].to_numpy()
    left = source[0]
    a, b = np.flatnonzero(source == left), np.flatnonzero(source != left)
    if not len(a) or not len(b):
        raise ValueError("estimate_u_link_only needs records of two sources")
    sides = FilledPairSides(records, rng.choice(a, n), rng.choice(b, n))
    out = []
    for comp in comparisons:
        g = comp.gamma(sides).astype(np.int64)
        counts = np.bincount(g[g >= 0], minlength=len(comp.levels)).astype(float)
        col, best = comp.null_columns[0], len(comp.levels) - 1
        first = comp.levels[0]
        if (first.label == "exact" and first.description == f"{col} equal"
                and len(comp.null_columns) == 1):
            u_exact = max(exact_share(records, col, left), floor)
            rest = smoothed_shares(counts[:best], alpha, floor) * (1 - u_exact)
            out.append(np.append(rest, u_exact))
        else:
            out.append(smoothed_shares(counts, alpha, floor))
    return out, n


# --- comparisons ---------------------------------------------------------------------------------

def exact_comparison(col: str, name: str | None = None) -> Comparison:
    return Comparison(name or col, (col,), (exact(col),))


def name_comparison(col: str, swapped_with: str | None = None, name: str | None = None) -> Comparison:
    """Latin-letter name: exact, [exchanged with `swapped_with`], one edit, Jaro–Winkler ≥ 0.92 and
    ≥ 0.8."""
    levels = [exact(col)]
    columns = [col]
    if swapped_with:
        levels.append(swapped(col, swapped_with))
        columns.append(swapped_with)
    levels += [edits_at_most(col, 1, "one_edit"),
               similarity_at_least(col, 0.92, JaroWinkler.normalized_similarity),
               similarity_at_least(col, 0.8, JaroWinkler.normalized_similarity)]
    return Comparison(name or col, tuple(columns), tuple(levels))


def date_comparison(col: str, fmt: str = "%Y-%m-%d", name: str | None = None) -> Comparison:
    """Date: exact, month/day exchanged, one edit of the text, within a month, within a year."""
    return Comparison(name or col, (col,), (
        exact(col), date_month_day_swapped(col, fmt), edits_at_most(col, 1, "one_edit"),
        date_within_days(col, 31, fmt, "within_month"), date_within_days(col, 366, fmt, "within_year")))


def code_comparison(col: str, max_edits: int = 2, name: str | None = None) -> Comparison:
    """Identifier or postcode: exact, then 1..`max_edits` edits (`edits_at_most`)."""
    levels = [exact(col)] + [edits_at_most(col, k) for k in range(1, max_edits + 1)]
    return Comparison(name or col, (col,), tuple(levels))


def text_comparison(col: str, name: str | None = None) -> Comparison:
    """Street or place text: exact, Jaro–Winkler ≥ 0.9, token-sort ≥ 0.8 (words reordered)."""
    return Comparison(name or col, (col,), (
        exact(col), similarity_at_least(col, 0.9, JaroWinkler.normalized_similarity),
        token_sort_at_least(col, 0.8)))
