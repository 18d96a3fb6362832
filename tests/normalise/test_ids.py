"""schemas.normalise.ids: worked examples of id-card.md, every flag and error, vectorised == scalar."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

import numpy as np
import pandas as pd
import pytest

from schemas.canonical import FLAGS, QUARANTINE_REASONS
from schemas.normalise.ids import (
    check_char, id_birth_date, id_sex, is_valid_checksum, normalise_id, upgrade_15_to_18,
)
from tests.normalise.batched import Batched

TODAY = date(2026, 11, 1)


_B = Batched(lambda s: normalise_id(s, today=TODAY))
cases, one = _B.cases, _B.one


# --- worked examples (id-card.md §3) ------------------------------------------------------------

@pytest.mark.parametrize("number, check, birth, sex", cases([
    ("11010519491231002X", "X", "1949-12-31", "2"),
    ("440524188001010014", "4", "1880-01-01", "1"),
    ("640202199001011232", "2", "1990-01-01", "1"),
    ("640181200506150022", "2", "2005-06-15", "2"),
    ("810000199408230021", "1", "1994-08-23", "2"),
    ("830000199201300022", "2", "1992-01-30", "2"),
]))
def test_worked_examples(number, check, birth, sex):
    assert check_char(number[:17]) == check
    s = pd.Series([number])
    assert is_valid_checksum(s).tolist() == [True]
    assert id_birth_date(s).tolist() == [birth]
    assert id_sex(s).tolist() == [sex]
    assert one(number) == {"id_number": number, "id_alias": None, "id_error": None, "id_flags": ""}


def test_upgrade_15_scalar_and_vectorised():
    assert upgrade_15_to_18("640202900101123") == "640202199001011232"
    r = one("640202900101123")
    assert r == {"id_number": "640202199001011232", "id_alias": "640202900101123",
                 "id_error": None, "id_flags": "id_upgraded_15"}
    assert id_birth_date(pd.Series(["640202900101123"])).tolist() == ["1990-01-01"]
    assert id_sex(pd.Series(["640202900101124"])).tolist() == ["2"]


# --- cleaning (id-card.md §6) -------------------------------------------------------------------

@pytest.mark.parametrize("raw", cases([
    "11010519491231002x", "１１０１０５１９４９１２３１００２Ｘ", "1101 0519 4912 3100 2X",
    "\u00a011010519491231002X\u3000", "1101\u200b0519491231002X\ufeff", "\t11010519491231002X\n",
    "110105-19491231-002X", "110105.19491231.002X", "110105/19491231/002X", "'11010519491231002X",
    "11010519491231002×", "１１０１０５１９４９１２３１００２ｘ",
]))
def test_cleaning_variants(raw):
    assert one(raw)["id_number"] == "11010519491231002X"
    assert one(raw)["id_flags"] == ""


# --- one test per flag ---------------------------------------------------------------------------

@pytest.mark.parametrize("raw", cases([None, float("nan"), "", "   ", "无", "NULL", "null", "#N/A",
                                 "000000000000000000", "111111111111111111", "123456789012345678",
                                 "-", "******", "暂无", "未知", "没有", "nat", "n/a"]))
def test_flag_id_missing(raw):
    r = normalise_id(pd.Series([raw], dtype=object)).iloc[0]
    assert r["id_number"] is None and r["id_error"] is None and r["id_flags"] == "id_missing"


def test_flag_id_masked():
    r = one("640202********123X")
    assert r == {"id_number": "640202********123X", "id_alias": None, "id_error": None,
                 "id_flags": "id_masked"}
    assert one("640202199001011*")["id_flags"] == "id_masked"


def test_flag_id_checksum_is_loaded():
    r = one("11010519491231020X")                          # 002 -> 020 transposition
    assert r["id_number"] == "11010519491231020X"
    assert r["id_error"] is None and r["id_flags"] == "id_checksum"


@pytest.mark.parametrize("raw", cases(["640202199013011232", "640202199002301232", "640202203001011232"]))
def test_flag_id_birth_invalid(raw):
    r = one(raw)
    assert r["id_error"] is None and r["id_number"] == raw
    assert "id_birth_invalid" in r["id_flags"].split(";")


def test_flag_id_upgraded_15_with_bad_date():
    r = one("640202901301123")
    assert r["id_flags"] == "id_upgraded_15;id_birth_invalid"


# --- one test per error --------------------------------------------------------------------------

@pytest.mark.parametrize("raw", cases(["6.40202E+17", "6.40202e+17", "6.402021990010112e+17",
                                 "640202199001011000", "640202199001011232.0"]))
def test_error_excel_precision_loss(raw):
    r = one(raw)
    assert r["id_error"] == "id_excel_precision_loss" and r["id_number"] is None


@pytest.mark.parametrize("raw", cases(["12345", "6402021990010112", "6402021990010112321",
                                 "64020219900101123", "E12345678"]))
def test_error_invalid_length(raw):
    assert one(raw)["id_error"] == "id_invalid_length"


@pytest.mark.parametrize("raw", cases(["1101051949123100X2", "X10105194912310023", "11010519491231002Y",
                                 "11010519491231O02X", "11010549123100X", "1101054912310#2"]))
def test_error_invalid_chars(raw):
    assert one(raw)["id_error"] == "id_invalid_chars"


def test_full_width_digits_without_x_are_normalised():
    """Regression: an all-digit full-width number once passed the `\\d` fast path unnormalised."""
    assert one("６４０２０２１９９００１０１１２３２") == {"id_number": "640202199001011232", "id_alias": None,
                                                 "id_error": None, "id_flags": ""}
    assert one("６４０２０２９００１０１１２３")["id_number"] == "640202199001011232"


@pytest.mark.parametrize("raw", cases(["٦٤٠٢٠٢١٩٩٠٠١٠١١٢٣٢", "64020219900101123٢", "６٤0202199001011232"]))
def test_digits_of_other_scripts_are_invalid_chars(raw):
    assert one(raw)["id_error"] == "id_invalid_chars"


def test_codes_are_canonical():
    assert {"id_excel_precision_loss", "id_invalid_length", "id_invalid_chars"} <= set(QUARANTINE_REASONS)
    assert {"id_missing", "id_masked", "id_upgraded_15", "id_checksum", "id_birth_invalid"} <= set(FLAGS)


def test_15_digit_float_suffix_is_repaired():
    assert one("640202900101123.0")["id_number"] == "640202199001011232"


# --- helpers ------------------------------------------------------------------------------------

def test_helpers_on_odd_input():
    s = pd.Series(["11010519491231002Y", None, "640202********123X", "abc", "11010519491301002X"],
                  index=[5, 6, 7, 8, 9])
    assert is_valid_checksum(s).tolist() == [False] * 5
    assert id_birth_date(s).tolist() == ["1949-12-31", None, None, None, None]
    assert id_sex(s).tolist() == ["2", None, "1", None, "2"]          # masked: digit 17 visible
    assert list(is_valid_checksum(s).index) == [5, 6, 7, 8, 9]


def test_alignment_and_no_mutation():
    s = pd.Series(["640202900101123", None, "11010519491231002x"], index=["a", "b", "c"])
    before = s.copy()
    out = normalise_id(s)
    pd.testing.assert_series_equal(s, before)
    assert list(out.index) == ["a", "b", "c"]
    assert list(out.columns) == ["id_number", "id_alias", "id_error", "id_flags"]
    assert out["id_number"].tolist() == ["640202199001011232", None, "11010519491231002X"]
    assert normalise_id(pd.Series([], dtype=object)).shape == (0, 4)


# --- 100k vectorised == slow scalar reference ----------------------------------------------------

def _ref(v) -> tuple:
    """Scalar reference written straight from id-card.md, one value at a time."""
    if v is None:
        return None, None, None, "id_missing"
    t = unicodedata.normalize("NFKC", v)
    t = re.sub(r"[\s\u200b\u200c\u200d\u2060\ufeff]", "", t).lstrip("'‘’`").upper().replace("×", "X")
    if re.fullmatch(r"\d(\.\d+)?E\+?\d+", t) or re.fullmatch(r"\d{16,}\.0*", t):
        return None, None, "id_excel_precision_loss", ""
    t = re.sub(r"^(\d{15})\.0+$", r"\1", t)
    t = re.sub(r"[-./]", "", t)
    if t in ("", "无", "NULL", "123456789012345678") or len(set(t)) == 1 and t[0] in "0123456789*":
        return None, None, None, "id_missing"
    if "*" in t:
        return t, None, None, "id_masked"
    if len(t) not in (15, 18):
        return None, None, "id_invalid_length", ""
    if not (re.fullmatch(r"\d{15}", t) or re.fullmatch(r"\d{17}[\dX]", t)):
        return None, None, "id_invalid_chars", ""
    flags, alias = [], None
    if len(t) == 15:
        alias, t = t, upgrade_15_to_18(t)
        flags.append("id_upgraded_15")
    elif check_char(t[:17]) != t[17]:
        if t.endswith("000"):
            return None, None, "id_excel_precision_loss", ""
        flags.append("id_checksum")
    try:
        born = date(int(t[6:10]), int(t[10:12]), int(t[12:14]))
        if born > TODAY:
            raise ValueError
    except ValueError:
        flags.append("id_birth_invalid")
    return t, alias, None, ";".join(flags)


def _population(rng: np.random.Generator, n: int) -> list:
    counties = ["640202", "640181", "642125", "110105", "440524", "640382"]
    out = []
    for i in range(n):
        y, m, d = rng.integers(1900, 2026), rng.integers(1, 13), rng.integers(1, 29)
        body = f"{counties[i % len(counties)]}{y:04d}{m:02d}{d:02d}{rng.integers(0, 1000):03d}"
        good = body + check_char(body)
        kind = i % 12
        out.append({
            0: good, 1: good.lower(), 2: " ".join([good[:6], good[6:14], good[14:]]),
            3: good[:6] + good[8:17],                                  # 15-digit form
            4: good[:16] + good[17] + good[16],                        # transposition
            5: good[:6] + "********" + good[14:], 6: None, 7: f"{float(good[:17]):.5E}",
            8: good[:10] + "13" + good[12:], 9: good[:17], 10: "'" + good, 11: good + "1",
        }[kind])
    return out


def test_vectorised_matches_scalar_reference_100k():
    rng = np.random.default_rng(7)
    pool = _population(rng, 5_000)
    values = pd.Series(rng.choice(np.array(pool, dtype=object), 100_000), dtype=object)
    out = normalise_id(values, today=TODAY)
    assert len(out) == 100_000
    rows = out.to_numpy()
    for i in rng.choice(len(values), 2_000, replace=False):
        assert tuple(rows[i]) == _ref(values.iloc[i]), values.iloc[i]


def test_helpers_when_nothing_has_id_shape():
    s = pd.Series([None, "x", None])
    assert id_sex(s).tolist() == [None, None, None]
    assert id_birth_date(s).tolist() == [None, None, None]
    assert normalise_id(pd.Series([None, None]))["id_flags"].tolist() == ["id_missing"] * 2


def test_removing_a_separator_before_a_combining_mark_is_still_idempotent():
    # hypothesis found '*U/¯': dropping '/' left U + U+0304 uncomposed, so a second pass changed the text
    first = normalise_id(pd.Series(["*U/\u00af"]))["id_number"]
    assert first.tolist() == normalise_id(first)["id_number"].tolist() == ["*\u016a"]
