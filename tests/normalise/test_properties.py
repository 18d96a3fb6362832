"""Property-based tests (hypothesis) for the non-address normalisers: they never raise on arbitrary
text, keep the input's index, are idempotent, round-trip where a canonical form exists, and ignore the
spelling variants the domain notes list (full-width, spaces, lower x, `'`, middle-dot variants).

Each example is a whole Series (the normalisers are vectorised), so a few hundred examples cover
many thousand values while the module stays fast.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.canonical import FLAGS, QUARANTINE_REASONS
from schemas.codes import (
    code_table, normalise_bool, normalise_code, normalise_person_type, normalise_status,
)
from schemas.normalise._text import SETTLED, extract, full_match, nfkc_strip, search
from schemas.normalise.dates import parse_date, parse_timestamp
from schemas.normalise.ids import ID_COLUMNS, check_char, normalise_id
from schemas.normalise.names import NAME_COLUMNS, normalise_name
from schemas.normalise.phones import PHONE_COLUMNS, normalise_phone

TODAY = date(2026, 11, 1)
PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies ---------------------------------------------------------------------------------------
# Text the sources really send, plus anything at all: control characters, full-width forms, zero-width
# and ideographic spaces, surrogate-free astral characters, very long values.
_ODD = "\x00\x01\x1c\x1f\x7f\x85\xa0\u2028\u2029\u200b\ufeff\u3000\ufffd\ue000　'’`×*#?？□·•・．-－/\\\"\n\t"
_DIGITS = "0123456789０１２３４５６７８９"
_HAN = "王李张刘陈杨马丁海金於範偉鬱達夫单曾阿依古丽买提静晶婧无空测试锟斤拷"
fragments = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=_DIGITS + "Xx" + _ODD, max_size=24),
    st.text(alphabet=_HAN + _ODD + " ", max_size=8),
    st.sampled_from(["", " ", "无", "NULL", "null", "#N/A", "-", "/", "不详", "6.40202E+17", "1.39123E+10",
                     "13800000000", "0000-00-00", "1900-01-01", "31118", "19850312", "锟斤拷", "?"]),
    st.text(min_size=300, max_size=2000),
)
cells = st.one_of(st.none(), st.just(float("nan")), fragments)


@st.composite
def series(draw, elements=cells, max_size=30):
    """An object Series with a non-default index (alignment must survive)."""
    values = draw(st.lists(elements, max_size=max_size))
    start = draw(st.integers(-50, 50))
    return pd.Series(values, index=pd.RangeIndex(len(values)) * 7 + start, dtype=object)


def _aligned(out: pd.DataFrame, s: pd.Series, columns: list[str]) -> None:
    assert list(out.columns) == columns
    assert out.index.equals(s.index)
    assert len(out) == len(s)


def _flag_codes(flags: pd.Series) -> set[str]:
    return {c for f in flags for c in f.split(";") if c}


# --- shared text helpers: the Arrow fast paths equal the Python forms they replace --------------------

@PROPS
@given(series())
def test_nfkc_strip_equals_python(s):
    expect = s.map(lambda v: unicodedata.normalize("NFKC", v).strip() if isinstance(v, str) else v)
    got = nfkc_strip(s)
    assert got.index.equals(s.index)
    assert [g if isinstance(g, str) else None for g in got] == [e if isinstance(e, str) else None for e in expect]


_ASCII_PATTERNS = [SETTLED, "[0-9]{17}[0-9X]", "1[3-9][0-9]{9}", "(?:\\+86 ?|86 ?)?1[3-9][0-9][ -]?[0-9]{4}",
                   "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", "无|空|不详|未知|测试.*"]


@PROPS
@given(series(st.one_of(st.none(), fragments)), st.sampled_from(_ASCII_PATTERNS))
def test_arrow_full_match_and_search_equal_python_re(s, pattern):
    rx = re.compile(pattern)
    assert full_match(s, pattern).tolist() == [isinstance(v, str) and rx.fullmatch(v) is not None for v in s]
    assert search(s, pattern).tolist() == [isinstance(v, str) and rx.search(v) is not None for v in s]


@PROPS
@given(series(st.one_of(st.none(), fragments, st.from_regex(r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}\Z"))))
def test_arrow_extract_equals_python_re(s):
    pattern = "(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})(?: (?P<H>[0-9]{2}))?"
    got = extract(s, pattern)
    for i, v in enumerate(s):
        m = re.fullmatch(pattern, v) if isinstance(v, str) else None
        assert bool(got["_hit"][i]) == (m is not None)
        for k in "ymdH":
            assert got[k][i] == (m.group(k) if m else None)


# --- ID numbers ---------------------------------------------------------------------------------------
ID_ERRORS = {None, "id_excel_precision_loss", "id_invalid_length", "id_invalid_chars"}
COUNTIES = ["640202", "640181", "642125", "110105", "440524", "810000", "830000"]


@st.composite
def valid_ids(draw, last_century=False):
    """A valid 18-digit number (check digit right) with a real birth date."""
    lo, hi = (date(1900, 1, 1), date(1999, 12, 31)) if last_century else (date(1880, 1, 1), TODAY)
    born = draw(st.dates(min_value=lo, max_value=hi))
    body = draw(st.sampled_from(COUNTIES)) + born.strftime("%Y%m%d") + f"{draw(st.integers(0, 999)):03d}"
    return body + check_char(body)


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" or c in "Xx" else c for c in text)


@PROPS
@given(series())
def test_id_never_raises_and_is_aligned(s):
    out = normalise_id(s, today=TODAY)
    _aligned(out, s, ID_COLUMNS)
    assert set(out["id_error"]) <= ID_ERRORS
    assert _flag_codes(out["id_flags"]) <= set(FLAGS)
    assert set(out["id_error"].dropna()) <= set(QUARANTINE_REASONS)
    for number, error in zip(out["id_number"], out["id_error"]):
        assert number is None or re.fullmatch(r"[0-9]{17}[0-9X]", number) or "*" in number
        assert error is None or number is None


@PROPS
@given(series(st.one_of(cells, valid_ids(), valid_ids().map(str.lower))))
def test_id_idempotent(s):
    first = normalise_id(s, today=TODAY)
    again = normalise_id(first["id_number"], today=TODAY)
    assert again["id_number"].tolist() == first["id_number"].tolist()
    assert again["id_error"].isna().all()


@PROPS
@given(valid_ids(last_century=True))
def test_id_15_digit_form_upgrades_back(number):
    n15 = number[:6] + number[8:17]
    out = normalise_id(pd.Series([n15, number], dtype=object), today=TODAY)
    assert out["id_number"].tolist() == [number, number]
    assert out["id_alias"].tolist() == [n15, None]
    assert out["id_flags"].iloc[0].split(";")[0] == "id_upgraded_15"


@PROPS
@given(valid_ids(), st.data())
def test_id_spelling_variants_are_the_same_number(number, data):
    cut = data.draw(st.lists(st.integers(1, 17), max_size=3, unique=True))
    spaced = "".join(c + (data.draw(st.sampled_from([" ", "\u3000", "\u200b", "\t", "\u00a0"])) if i in cut else "")
                     for i, c in enumerate(number, 1))
    variants = [number, number.lower(), _fullwidth(number), spaced, "'" + number, " " + number + "\u3000",
                _fullwidth(number.lower()), "‘" + _fullwidth(spaced)]
    out = normalise_id(pd.Series(variants, dtype=object), today=TODAY)
    assert out["id_number"].tolist() == [number] * len(variants)
    assert out["id_flags"].nunique() == 1 and out["id_error"].isna().all()


# --- names ----------------------------------------------------------------------------------------------
DOT_VARIANTS = ["\u00b7", "\u2022", "\u30fb", "\uff65", "\u2027", "\u22c5", "\u2219", "\u0387", ".", "\uff0e",
                "-", "\uff0d", " · "]
han_names = st.text(alphabet="王李张刘陈杨马海丁金静晶伟明阿依古丽买提於範偉鬱達夫", min_size=1, max_size=4)


@PROPS
@given(series())
def test_name_never_raises_and_is_aligned(s):
    out = normalise_name(s)
    _aligned(out, s, NAME_COLUMNS)
    assert set(out["name_error"]) <= {None, "name_missing", "name_garbage"}
    assert _flag_codes(out["name_flags"]) <= {"name_unrepresentable"}
    ok = out["name_error"].isna()
    assert out.loc[~ok, ["name", "name_key", "name_pinyin"]].isna().all().all()
    for key, pinyin in zip(out.loc[ok, "name_key"], out.loc[ok, "name_pinyin"]):
        assert isinstance(key, str) and "\u00b7" not in key and key == key.lower()
        assert isinstance(pinyin, str) and not re.search(r"\s", pinyin)


@PROPS
@given(series(st.one_of(cells, han_names)))
def test_name_idempotent(s):
    first = normalise_name(s)
    ok = first["name_error"].isna()
    again = normalise_name(first.loc[ok, "name"])
    assert again["name_error"].isna().all()
    for col in ("name", "name_key", "name_pinyin"):
        assert again[col].tolist() == first.loc[ok, col].tolist()


@PROPS
@given(han_names, han_names, st.sampled_from(DOT_VARIANTS))
def test_name_middle_dot_variants(a, b, dot):
    out = normalise_name(pd.Series([f"{a}{dot}{b}", f"{a}·{b}", f"{a}{b}", f" {a}\u3000{b} "], dtype=object))
    assert out["name"].tolist()[:2] == [f"{a}·{b}"] * 2
    assert out["name"].tolist()[2:] == [f"{a}{b}"] * 2
    assert out["name_key"].nunique() == 1 and out["name_pinyin"].nunique() == 1


# --- dates ------------------------------------------------------------------------------------------------
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
real_days = st.dates(min_value=date(1900, 1, 2), max_value=TODAY)


def _spellings(d: date) -> list[str]:
    out = [d.strftime("%Y%m%d"), d.isoformat(), f"{d.year}/{d.month}/{d.day}", d.strftime("%Y.%m.%d"),
           f"{d.year}年{d.month}月{d.day}日", f"{d.isoformat()} 00:00:00", f"{d.isoformat()}T00:00:00",
           f" {d.year} 年 {d.month} 月 {d.day} 日 ", _fullwidth(d.strftime("%Y%m%d"))]
    serial = (d - date(1899, 12, 30)).days
    if 10_000 <= serial <= 60_000:
        out += [str(serial), f"{serial}.0"]
    return out


@PROPS
@given(series())
def test_dates_never_raise_and_are_aligned(s):
    out = parse_date(s, today=TODAY)
    _aligned(out, s, ["value", "error", "flags"])
    assert set(out["error"]) <= {None, "birth_date_invalid", "birth_date_future"}
    assert set(out["flags"]) <= {"", "date_unparsed"}
    assert all(v is None or ISO_DAY.fullmatch(v) for v in out["value"])
    ts = parse_timestamp(s)
    assert ts.index.equals(s.index)
    assert all(v is None or re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", v) for v in ts)


@PROPS
@given(real_days)
def test_date_spellings_round_trip(d):
    spelled = _spellings(d)
    out = parse_date(pd.Series(spelled, dtype=object), today=TODAY)
    assert out["value"].tolist() == [d.isoformat()] * len(spelled), spelled
    assert out["error"].isna().all() and (out["flags"] == "").all()


@PROPS
@given(series(st.one_of(cells, real_days.map(lambda d: d.strftime("%Y/%m/%d")))))
def test_dates_idempotent(s):
    first = parse_date(s, today=TODAY)
    again = parse_date(first["value"], today=TODAY)
    assert again["value"].tolist() == first["value"].tolist()
    stamps = parse_timestamp(s)
    assert parse_timestamp(stamps).tolist() == stamps.tolist()


@PROPS
@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 31)))
def test_timestamp_round_trip(moment):
    moment = moment.replace(microsecond=0)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    got = parse_timestamp(pd.Series([text, moment.strftime("%Y/%m/%d %H:%M:%S"), moment.date().isoformat()],
                                    dtype=object))
    assert got.tolist() == [text, text, moment.date().isoformat() + " 00:00:00"]


@FEW
@given(st.dates(min_value=TODAY + timedelta(days=1), max_value=date(2200, 1, 1)))
def test_future_dates_are_kept_with_an_error(d):
    out = parse_date(pd.Series([d.isoformat()], dtype=object), today=TODAY).iloc[0]
    assert (out["value"], out["error"]) == (d.isoformat(), "birth_date_future")


# --- phones -----------------------------------------------------------------------------------------------
mobiles = st.builds(lambda p, rest: p + rest, st.sampled_from([f"1{d}" for d in "3456789"]),
                    st.text(alphabet="0123456789", min_size=9, max_size=9)) \
    .filter(lambda m: len(set(m[3:])) > 1 and m[3:10] != "0000000" and m != "13800138000")
landlines = st.builds(lambda area, first, rest: area + first + rest,      # Ningxia: 7-digit locals
                      st.sampled_from(["0951", "0952", "0953", "0954", "0955"]), st.sampled_from("2345678"),
                      st.text(alphabet="0123456789", min_size=6, max_size=6))


@PROPS
@given(series(), st.sampled_from([None, "0952", "952", "+86 951"]))
def test_phone_never_raises_and_is_aligned(s, area):
    out = normalise_phone(s, area_code=area)
    _aligned(out, s, PHONE_COLUMNS)
    assert set(out["phone_kind"]) <= {None, "mobile", "landline", "service"}
    assert set(out["phone_flags"]) <= {"", "phone_invalid", "phone_placeholder"}
    for phone, kind, flag in out.itertuples(index=False):
        assert (phone is None) == (kind is None)
        assert phone is None or flag == ""
        assert phone is None or re.fullmatch(r"\+86[0-9]{9,12}|[0-9]{3,10}", phone)


@PROPS
@given(series(st.one_of(cells, mobiles, landlines)))
def test_phone_idempotent(s):
    first = normalise_phone(s, area_code="0952")
    again = normalise_phone(first["phone"], area_code="0952")
    assert again["phone"].tolist() == first["phone"].tolist()
    assert again["phone_kind"].tolist() == first["phone_kind"].tolist()


@PROPS
@given(mobiles, landlines)
def test_e164_round_trip(mobile, landline):
    e164 = ["+86" + mobile, "+86" + landline[1:]]
    out = normalise_phone(pd.Series(e164, dtype=object))
    assert out["phone"].tolist() == e164
    assert out["phone_kind"].tolist() == ["mobile", "landline"]


@PROPS
@given(mobiles, st.data())
def test_mobile_spelling_variants(mobile, data):
    a, b, c = mobile[:3], mobile[3:7], mobile[7:]
    sep = data.draw(st.sampled_from([" ", "-", ""]))
    variants = [mobile, f"{a}{sep}{b}{sep}{c}", f"+86 {mobile}", f"+86{a} {b} {c}", f"86{mobile}",
                f"0086{mobile}", f"0086 {a}-{b}-{c}", _fullwidth(mobile), f"（+86）{mobile}", f"0{mobile}",
                f"{mobile}.0", f"{mobile}/139"]
    out = normalise_phone(pd.Series(variants, dtype=object))
    assert out["phone"].tolist() == ["+86" + mobile] * len(variants), variants
    assert (out["phone_kind"] == "mobile").all()


# --- code tables ---------------------------------------------------------------------------------------
TABLES = ["sex", "ethnicity", "relation", "building_use", "marriage", "education", "political", "religion"]


@FEW
@given(series(), st.sampled_from(TABLES))
def test_codes_never_raise_are_aligned_and_idempotent(s, table):
    out = normalise_code(s, table)
    _aligned(out, s, ["code", "flags"])
    assert set(out["code"].dropna()) <= set(code_table(table))
    assert set(out["flags"]) <= {"", "code_unknown"}
    again = normalise_code(out["code"], table)
    assert again["code"].tolist() == out["code"].tolist()
    assert (again["flags"] == "").all()


@FEW
@given(st.sampled_from(TABLES), st.data())
def test_codes_and_standard_names_decode(table, data):
    code, name = data.draw(st.sampled_from(sorted(code_table(table).items())))
    spelled = [code, name, _fullwidth(code), f" {code}\u3000", f"{name} "]
    if code.startswith("0") and len(code) > 1:
        spelled.append(code.lstrip("0") or "0")              # leading zero dropped by a source
    if table == "ethnicity" and name.endswith("族"):
        spelled.append(name[:-1])                            # 汉 for 汉族
    out = normalise_code(pd.Series(spelled, dtype=object), table)
    assert out["code"].tolist() == [code] * len(spelled), spelled
    assert (out["flags"] == "").all()


@FEW
@given(series())
def test_vocabularies_never_raise_and_are_idempotent(s):
    for fn in (normalise_person_type, normalise_status, normalise_bool):
        out = fn(s)
        _aligned(out, s, ["code", "flags"])
        read = out["flags"] == ""                             # decoded (or blank): decodes to itself
        again = fn(pd.Series(out.loc[read, "code"].to_numpy(dtype=object), index=out.index[read]))
        assert again["code"].tolist() == out.loc[read, "code"].tolist()
        assert set(out["flags"]) <= {"", "code_unknown"}
    assert set(normalise_status(s)["code"].dropna()) <= {"active", "deceased", "moved_out", "deregistered"}
    assert set(normalise_bool(s)["code"].dropna()) <= {True, False}
    assert np.isin(normalise_person_type(s)["code"].dropna(), ["registered", "floating", "foreign"]).all()
