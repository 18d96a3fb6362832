"""Graded comparisons (Splink's three-level model, computed with numpy/rapidfuzz, not SQL).

A `Comparison` has a null test and ordered `Level`s, best first; the last level is `else`.
`Comparison.gamma(sides)` gives one int8 per candidate pair: -1 when the null test holds, otherwise
the Splink convention `len(levels) - 1 - index` of the first level that holds (so `else` is 0 and
the best level is highest). Scoring looks m/u up by level *label*, so the model JSON stays readable
and survives re-ordering.

Every level is vectorised over the whole pair frame: equality on object arrays, pandas string
slicing, and rapidfuzz's `process.cpdist` for similarities and edit distances (character based;
DuckDB's would count UTF-8 bytes of Chinese text). Similarity results are cached per column on
the `PairSides`, so the 0.9 and 0.7 Jaro-Winkler levels share one pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, OSA

from matching.households import shared_members
from schemas.normalise import factorize_text

Mask = np.ndarray


class PairSides:
    """Left and right values of candidate pairs, column by column, fetched lazily and cached."""

    def __init__(self, records: pd.DataFrame, l_pos: np.ndarray, r_pos: np.ndarray):
        self.records, self.l_pos, self.r_pos = records, np.asarray(l_pos), np.asarray(r_pos)
        self._cache: dict[tuple, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.l_pos)

    def _get(self, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def left(self, col: str) -> np.ndarray:
        return self._get(("l", col), lambda: self.records[col].to_numpy()[self.l_pos])

    def right(self, col: str) -> np.ndarray:
        return self._get(("r", col), lambda: self.records[col].to_numpy()[self.r_pos])

    def codes(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        """Left and right value codes (`pd.factorize` of the record column: equal codes are equal
        values, -1 is missing), so equality and presence are int comparisons, not text ones."""
        def side(pos):
            codes = self._get(("codes", col), lambda: factorize_text(self.records[col])[0])
            return codes[pos]
        return (self._get(("lc", col), lambda: side(self.l_pos)),
                self._get(("rc", col), lambda: side(self.r_pos)))

    def present(self, col: str) -> Mask:
        """Both sides have a value."""
        def make():
            lc, rc = self.codes(col)
            return (lc >= 0) & (rc >= 0)
        return self._get(("present", col), make)

    def same(self, col: str) -> Mask:
        """Both sides have a value and the values are equal (`equal(left, right)`)."""
        def make():
            lc, rc = self.codes(col)
            return (lc == rc) & (lc >= 0)
        return self._get(("same", col), make)

    def derived(self, col: str, name: str, fn: Callable[[pd.Series], pd.Series]) -> tuple[np.ndarray, np.ndarray]:
        """`fn` applied once per distinct value of the record column (missing values give None),
        then spread to both sides of every pair."""
        def per_record() -> np.ndarray:
            codes, uniques = factorize_text(self.records[col])
            values = np.append(fn(pd.Series(uniques, dtype=object)).to_numpy(dtype=object), None)
            return values[codes]                  # code -1 (missing) picks the appended None

        def side(pos):
            return self._get(("rec", col, name), per_record)[pos]
        return (self._get(("l", col, name), lambda: side(self.l_pos)),
                self._get(("r", col, name), lambda: side(self.r_pos)))

    def cpdist(self, col: str, scorer, name: str) -> np.ndarray:
        """rapidfuzz `scorer` of left vs right, pair by pair; nulls are scored as empty text and
        must be masked by the caller (every level is and-ed with `present`)."""
        def run():
            fill = lambda a: np.where(pd.isna(a), "", a).tolist()  # noqa: E731
            return process.cpdist(fill(self.left(col)), fill(self.right(col)), scorer=scorer, workers=-1)
        return self._get(("cpdist", col, name), run)


def equal(a: np.ndarray, b: np.ndarray) -> Mask:
    return np.asarray(a == b, dtype=bool) & ~(pd.isna(a) | pd.isna(b))


@dataclass(frozen=True)
class Level:
    """One graded outcome: `label` (the key in the model JSON) and a vectorised test."""
    label: str
    test: Callable[[PairSides], Mask] = field(repr=False)
    description: str = ""


# --- level library -------------------------------------------------------------------------------

def exact(col: str, label: str = "exact") -> Level:
    return Level(label, lambda s: s.same(col), f"{col} equal")


def similarity_at_least(col: str, threshold: float, scorer=JaroWinkler.normalized_similarity,
                        label: str | None = None) -> Level:
    name = getattr(scorer, "__qualname__", str(scorer))
    return Level(label or f"jw_{threshold:g}",
                 lambda s: (s.cpdist(col, scorer, name) >= threshold) & s.present(col),
                 f"{name}({col}) >= {threshold:g}")


def one_edit(col: str, label: str = "one_typo") -> Level:
    """One substituted character or one adjacent transposition (optimal string alignment <= 1)."""
    return Level(label, lambda s: (s.cpdist(col, OSA.distance, "osa") <= 1) & s.present(col),
                 f"{col}: one character wrong or two adjacent swapped")


def slice_equal(col: str, start: int, stop: int, label: str) -> Level:
    def test(s: PairSides) -> Mask:
        a, b = s.derived(col, f"slice{start}:{stop}", lambda v: v.str.slice(start, stop))
        return equal(a, b) & s.present(col)
    return Level(label, test, f"{col}[{start}:{stop}] equal")


def date_month_day_swapped(col: str = "birth_date", label: str = "month_day_swap") -> Level:
    """`YYYY-MM-DD` vs `YYYY-DD-MM`: same year, month and day exchanged (and not equal)."""
    def test(s: PairSides) -> Mask:
        ly, ry = s.derived(col, "year", lambda v: v.str.slice(0, 4))
        lm, rm = s.derived(col, "month", lambda v: v.str.slice(5, 7))
        ld, rd = s.derived(col, "day", lambda v: v.str.slice(8, 10))
        return equal(ly, ry) & equal(lm, rd) & equal(ld, rm) & ~equal(lm, ld) & s.present(col)
    return Level(label, test, f"{col}: month and day exchanged")


def leading_parts_equal(col: str, parts: int, label: str, sep: str = "|") -> Level:
    """The first `parts` components of a `sep`-joined key are equal (e.g. compound|building of an
    address key `锦华苑|3|2|502`), and both keys have more components than that."""
    def test(s: PairSides) -> Mask:
        def head(v: pd.Series) -> pd.Series:
            split = v.str.split(sep, regex=False)
            return split.str[:parts].str.join(sep).where(split.str.len() > parts)
        a, b = s.derived(col, f"head{parts}", head)
        return equal(a, b) & s.present(col)
    return Level(label, test, f"first {parts} parts of {col} equal")


def id_alias(col: str = "id_number", alias_col: str = "id_alias", label: str = "alias") -> Level:
    """One side's number is the other's 15/18-digit alias: alias equals the other's number or
    alias, or the other's 18-digit number shortened to 15 digits (drop century and check digit)."""
    def legacy15(v: pd.Series) -> pd.Series:
        return (v.str.slice(0, 6) + v.str.slice(8, 17)).where(v.str.len() == 18)

    def test(s: PairSides) -> Mask:
        la, ra = s.left(alias_col), s.right(alias_col)
        l15, r15 = s.derived(col, "legacy15", legacy15)
        hit = (equal(la, s.right(col)) | equal(ra, s.left(col)) | equal(la, ra)
               | equal(la, r15) | equal(ra, l15))
        return hit & s.present(col)
    return Level(label, test, f"{col} of one side is the 15/18-digit alias of the other")


def _name_parts(v: pd.Series) -> pd.Series:
    """Former names as a tuple of keys: split on list separators, whitespace and dots removed."""
    return (v.str.replace(r"[\s·•・.]", "", regex=True)
             .str.split(r"[,，;；、/]", regex=True)
             .map(lambda xs: tuple(x for x in xs if x) if isinstance(xs, list) else None))


def former_name(col: str = "name_key", former_col: str = "former_name",
                label: str = "former_name") -> Level:
    """One side's current name key is among the other side's former names (曾用名).

    The per-pair membership test loops in Python only over pairs where a former name exists.
    """
    def test(s: PairSides) -> Mask:
        lf, rf = s.derived(former_col, "parts", _name_parts)
        ln, rn = s.left(col), s.right(col)
        out = np.zeros(len(s), dtype=bool)
        for i in np.flatnonzero(~pd.isna(lf) | ~pd.isna(rf)):
            out[i] = bool((lf[i] and rn[i] in lf[i]) or (rf[i] and ln[i] in rf[i]))
        return out & s.present(col)
    return Level(label, test, f"{col} of one side is a {former_col} of the other")


def relative_difference_at_most(col: str, tolerance: float, label: str) -> Level:
    def test(s: PairSides) -> Mask:
        a, b = s.left(col).astype(float), s.right(col).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))
        return (rel <= tolerance) | (a == b)
    return Level(label, test, f"{col} within {tolerance:.0%}")


def household_co_member(house_col: str = "house_id", id_col: str = "id_number", label: str = "co_member") -> Level:
    """Same matched house, and another resident of it has one ID number in both sources (see
    `households`): the household is already known to be the same on both sides."""
    def test(s: PairSides) -> Mask:
        count, own = s._get(("households", house_col, id_col), lambda: shared_members(s.records, house_col, id_col))
        lc, rc = s.codes(id_col)
        other = count[s.l_pos] - own[s.l_pos] - (own[s.r_pos] & (lc != rc))
        return s.same(house_col) & (other >= 1)
    return Level(label, test, f"same {house_col}, and another resident's {id_col} is in both sources")


ELSE = Level("else", lambda s: np.ones(len(s), dtype=bool), "anything else")


# --- comparisons ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """A named, graded comparison. `columns` are read; the pair is null (gamma -1) when any of
    `null_columns` (default: the first column) is missing on either side — or, with
    `null_if="none_shared"`, unless one of them is present on both sides (a house known by its room
    columns only still compares on them)."""
    name: str
    columns: tuple[str, ...]
    levels: tuple[Level, ...]
    null_columns: tuple[str, ...] = ()
    description: str = ""
    null_if: str = "any"

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "null_columns", tuple(self.null_columns or self.columns[:1]))
        if not self.levels or self.levels[-1].label != "else":
            object.__setattr__(self, "levels", (*self.levels, ELSE))
        labels = [lv.label for lv in self.levels]
        if len(set(labels)) != len(labels):
            raise ValueError(f"comparison {self.name!r} has repeated level labels {labels}")
        if self.null_if not in ("any", "none_shared"):
            raise ValueError(f"comparison {self.name!r}: null_if must be 'any' or 'none_shared'")

    @property
    def labels(self) -> dict[int, str]:
        """gamma value -> level label (-1 is `null`)."""
        n = len(self.levels)
        return {-1: "null", **{n - 1 - i: lv.label for i, lv in enumerate(self.levels)}}

    def gamma(self, sides: PairSides) -> np.ndarray:
        n = len(self.levels)
        out = np.full(len(sides), -1, dtype=np.int8)
        if self.null_if == "any":
            todo = np.ones(len(sides), dtype=bool)
            for c in self.null_columns:
                todo &= sides.present(c)
        else:
            todo = np.zeros(len(sides), dtype=bool)
            for c in self.null_columns:
                todo |= sides.present(c)
        for i, level in enumerate(self.levels):
            if not todo.any():
                break
            hit = todo & level.test(sides)
            out[hit] = n - 1 - i
            todo &= ~hit
        return out


PERSON_COMPARISONS = (
    Comparison("id", ("id_number", "id_alias"), (
        exact("id_number"), id_alias(), one_edit("id_number"))),
    Comparison("name", ("name_key", "name_pinyin", "former_name"), (
        exact("name_key"), exact("name_pinyin", "homophone"), former_name(),
        similarity_at_least("name_key", 0.9), similarity_at_least("name_key", 0.7))),
    Comparison("birth_date", ("birth_date",), (
        exact("birth_date"), date_month_day_swapped(), one_edit("birth_date"),
        slice_equal("birth_date", 0, 4, "same_year"))),
    Comparison("sex", ("sex",), (exact("sex"),)),
    Comparison("ethnicity", ("ethnicity",), (exact("ethnicity"),)),
    Comparison("phone", ("phone",), (exact("phone"),)),
    Comparison("address", ("address_key",), (
        exact("address_key"), leading_parts_equal("address_key", 2, "same_building"))),
    Comparison("house", ("house_id", "id_number"), (
        household_co_member(), exact("house_id", "same_house")), null_columns=("house_id",)),
)

_ROOM = ("compound", "building", "unit", "room")


def _same_room(s: PairSides) -> Mask:
    out = np.ones(len(s), dtype=bool)
    for c in _ROOM:
        out &= s.same(c)
    return out


def _contradicts(s: PairSides, col: str) -> Mask:
    return s.present(col) & ~s.same(col)


def _compatible_locality(s: PairSides) -> Mask:
    return ~_contradicts(s, "street") & ~_contradicts(s, "district")


HOUSE_COMPARISONS = (
    Comparison("address", ("address_key", *_ROOM), (
        exact("address_key"), Level("same_room", _same_room, "compound, building, unit, room equal")),
        null_columns=("address_key", *_ROOM), null_if="none_shared"),
    # one village or estate name in two townships or counties (前进村, 红星村): the key alone would merge them
    Comparison("locality", ("street", "district"), (
        Level("same_street", lambda s: s.same("street") & ~_contradicts(s, "district"),
              "street (街道/乡镇) equal, district not different"),
        Level("compatible", _compatible_locality, "neither street nor district differs")),
        null_columns=("street", "district"), null_if="none_shared"),
    Comparison("owner_id", ("owner_id_number",), (exact("owner_id_number"), one_edit("owner_id_number"))),
    Comparison("owner_name", ("owner_name",), (exact("owner_name"),)),
    Comparison("owner_phone", ("owner_phone",), (exact("owner_phone"),)),
    Comparison("usage", ("usage",), (exact("usage"),)),
    Comparison("area", ("area",), (relative_difference_at_most("area", 0.05, "within_5pct"),
                                   relative_difference_at_most("area", 0.2, "within_20pct"))),
)
DEFAULT_COMPARISONS = {"person": PERSON_COMPARISONS, "house": HOUSE_COMPARISONS}


def compute_gammas(records: pd.DataFrame, pairs: pd.DataFrame, comparisons) -> pd.DataFrame:
    """`pairs` (`l_id`, `r_id`, …) with one `gamma_<name>` int8 column per comparison added.

    `records` is the prepared frame (`records.prepare_records`) the pair ids refer to.
    """
    index = pd.Index(records["record_id"])
    l_pos, r_pos = index.get_indexer(pairs["l_id"]), index.get_indexer(pairs["r_id"])
    if (l_pos < 0).any() or (r_pos < 0).any():
        raise ValueError("pairs refer to record ids that are not in records")
    sides = PairSides(records, l_pos, r_pos)
    out = pairs.copy()
    for comp in comparisons:
        out[f"gamma_{comp.name}"] = comp.gamma(sides)
    return out
