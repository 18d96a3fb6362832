"""schemas.normalise.phones: E.164, kinds, flags, masking, vectorised == scalar."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from schemas.canonical import FLAGS
from schemas.normalise.phones import mask_id, mask_phone, normalise_phone


INPUTS: list = []


def cases(values):
    """Register parametrised inputs so that `one` normalises them all in one vectorised call."""
    INPUTS.extend(v[0] if isinstance(v, tuple) else v for v in values)
    return values


@functools.cache
def _batch() -> dict:
    vals = list(dict.fromkeys(v for v in INPUTS if isinstance(v, str)))
    return dict(zip(vals, normalise_phone(pd.Series(vals, dtype=object)).to_dict("records")))


def one(value, area_code=None) -> tuple:
    if isinstance(value, str) and value in _batch() and area_code is None:
        return tuple(_batch()[value].values())
    return tuple(normalise_phone(pd.Series([value], dtype=object), area_code).iloc[0])


@pytest.mark.parametrize("raw", cases([
    "13912345678", "139 1234 5678", "139-1234-5678", "+86 139 1234 5678", "+8613912345678",
    "008613912345678", "86-13912345678", "8613912345678", "0139 1234 5678", "１３９１２３４５６７８",
    "13912345678.0", "(139)12345678", "手机：13912345678", " 13912345678 ",
]))
def test_mobile(raw):
    assert one(raw) == ("+8613912345678", "mobile", "")


@pytest.mark.parametrize("raw, e164", cases([
    ("0952-2012345", "+869522012345"), ("(0952)2012345", "+869522012345"),
    ("（0952）2012345", "+869522012345"), ("0952 2012345", "+869522012345"),
    ("09522012345", "+869522012345"), ("+86 952 2012345", "+869522012345"),
    ("86 0952 2012345", "+869522012345"), ("(0951)5012345", "+869515012345"),
    ("010-62345678", "+861062345678"), ("+86 10 6234 5678", "+861062345678"),
    ("0951-5012345-8001", "+869515012345"), ("0951-5012345转8001", "+869515012345"),
    ("0755-12345678", "+8675512345678"),
]))
def test_landline(raw, e164):
    assert one(raw) == (e164, "landline", "")


@pytest.mark.parametrize("area", ["0952", "952", "+86 952", ("0952",)])
def test_bare_local_number_takes_area_code(area):
    area = pd.Series(list(area)) if isinstance(area, tuple) else area
    assert one("2012345", area) == ("+869522012345", "landline", "")


def test_area_code_per_row():
    s = pd.Series(["2012345", "2012345", "13912345678"], index=[7, 8, 9])
    out = normalise_phone(s, area_code=pd.Series(["0951", None, None], index=[7, 8, 9]))
    assert out["phone"].tolist() == ["+869512012345", None, "+8613912345678"]
    assert out["phone_flags"].tolist() == ["", "phone_invalid", ""]


@pytest.mark.parametrize("raw, phone", cases([
    ("13912345678/13812345678", "+8613912345678"), ("13912345678,13812345678", "+8613912345678"),
    ("13912345678，13812345678", "+8613912345678"), ("13912345678;13812345678", "+8613912345678"),
    ("13912345678；备用13812345678", "+8613912345678"), ("13912345678、0952-2012345", "+8613912345678"),
    ("13912345678或13812345678", "+8613912345678"), ("13912345678 13812345678", "+8613912345678"),
    ("无/13812345678", "+8613812345678"), ("0952-2012345/13812345678", "+869522012345"),
]))
def test_several_numbers_keep_first_usable(raw, phone):
    assert one(raw)[0] == phone


@pytest.mark.parametrize("raw, phone", cases([
    ("4008123123", "+864008123123"), ("400-812-3123", "+864008123123"),
    ("8008101234", "+868008101234"), ("95588", "95588"), ("110", "110"), ("10086", "10086"),
    ("12345", "12345"), ("96123", "96123"),
]))
def test_service_numbers(raw, phone):
    assert one(raw) == (phone, "service", "")


@pytest.mark.parametrize("raw", cases(["13800000000", "13800000001", "13911111111", "11111111111",
                                 "00000000", "0000", "13800138000", "12345678901", "1234567", "无",
                                 "暂无", "NULL", "-", "/", "不详"]))
def test_flag_phone_placeholder(raw):
    assert one(raw) == (None, None, "phone_placeholder")


@pytest.mark.parametrize("raw", cases(["1391234567", "139123456789", "12012345678", "1.39123E+10",
                                 "2012345", "abc", "0951-50123456", "010-6234567", "ab12",
                                 "+1 415 555 2671"]))
def test_flag_phone_invalid(raw):
    assert one(raw) == (None, None, "phone_invalid")


@pytest.mark.parametrize("raw", cases([None, float("nan"), "", "   "]))
def test_missing_is_not_flagged(raw):
    assert one(raw) == (None, None, "")


def test_bare_8_digit_local_is_not_a_ningxia_landline():
    """Ningxia locals are 7 digits: completing an 8-digit one with 0952 gives no landline (as for 0952+8)."""
    assert one("20120345", "0952") == (None, None, "phone_invalid")
    assert one("0952-20120345") == (None, None, "phone_invalid")
    assert one("62345678", "010") == ("+861062345678", "landline", "")


@pytest.mark.parametrize("raw", ["4001234567", "+86 400 123 4567", "+864001234567", "800-123-4567"])
def test_service_numbers_with_or_without_country_code(raw):
    first = one(raw)
    assert first[1:] == ("service", "") and first[0] in ("+864001234567", "+868001234567")
    assert one(first[0]) == first                       # normalising the E.164 form keeps it a service number


@pytest.mark.parametrize("raw", ["139١٢٣٤٥٦٧٨", "١٣٩١٢٣٤٥٦٧٨", "0952-٢٠١٢٣٤٥"])
def test_digits_of_other_scripts_are_not_phone_digits(raw):
    assert one(raw) == (None, None, "phone_invalid")


def test_codes_are_canonical():
    assert {"phone_invalid", "phone_placeholder"} <= set(FLAGS)


def test_alignment_and_no_mutation():
    s = pd.Series(["139 1234 5678", None, "x"], index=["a", "b", "c"])
    before = s.copy()
    out = normalise_phone(s)
    pd.testing.assert_series_equal(s, before)
    assert list(out.index) == ["a", "b", "c"]
    assert list(out.columns) == ["phone", "phone_kind", "phone_flags"]
    assert normalise_phone(pd.Series([], dtype=object)).shape == (0, 3)


@pytest.mark.parametrize("raw, masked", cases([
    ("+8613912345678", "139****5678"), ("13912345678", "139****5678"),
    ("+869522012345", "095****2345"), ("95588", "***88"), (None, None), ("", None),
]))
def test_mask_phone(raw, masked):
    assert mask_phone(pd.Series([raw], dtype=object)).tolist() == [masked]


@pytest.mark.parametrize("raw, masked", cases([
    ("640202199001011232", "640202********1232"), ("64020219900101123X", "640202********123X"),
    ("640202900101123", "640202******123"), ("E12345678", "E1*****78"), (None, None),
]))
def test_mask_id(raw, masked):
    assert mask_id(pd.Series([raw], dtype=object)).tolist() == [masked]


# --- 100k vectorised == scalar reference (the generator knows the number) -------------------------

def _spell(rng, d: str) -> str:
    if d.startswith("1"):
        return [d, f"{d[:3]} {d[3:7]} {d[7:]}", f"{d[:3]}-{d[3:7]}-{d[7:]}", f"+86 {d}", f"0086{d}",
                f"{d}.0", f"{d}/13900000001"][rng.integers(0, 7)]
    return [d, f"{d[:4]}-{d[4:]}", f"({d[:4]}){d[4:]}", f"+86 {d[1:4]} {d[4:]}"][rng.integers(0, 4)]


def test_vectorised_matches_scalar_reference_100k():
    rng = np.random.default_rng(5)
    raw, want = [], []
    for i in range(5_000):
        if i % 3:
            d = f"1{rng.choice(list('3456789'))}{rng.integers(0, 10**9):09d}"
            e164, kind = "+86" + d, "mobile"
        else:
            d = f"095{rng.integers(1, 6)}{rng.integers(2, 10)}{rng.integers(0, 10**6):06d}"
            e164, kind = "+86" + d[1:], "landline"
        if d[3:] == d[3] * 8 or d[3:10] == "0000000":
            continue                                          # would be a placeholder
        raw.append(_spell(rng, d))
        want.append((e164, kind, ""))
    raw += ["无", None, "12345"]
    want += [(None, None, "phone_placeholder"), (None, None, ""), ("12345", "service", "")]
    pick = rng.integers(0, len(raw), 100_000)
    values = pd.Series(np.array(raw, dtype=object)[pick], dtype=object)
    out = normalise_phone(values)
    assert len(out) == 100_000
    rows = out.to_numpy()
    for i in rng.choice(100_000, 2_000, replace=False):
        assert tuple(rows[i]) == want[pick[i]], values.iloc[i]


def test_duplicate_index_labels_and_all_missing():
    s = pd.Series(["13912345678", "0952-2012345/13812345678", None], index=[5, 5, "a"])
    out = normalise_phone(s)
    assert out.index.equals(s.index)
    assert out["phone"].tolist() == ["+8613912345678", "+869522012345", None]
    assert normalise_phone(pd.Series([None, None])).to_numpy().tolist() == [[None, None, ""]] * 2

