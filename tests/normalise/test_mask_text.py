"""mask_text: ID numbers and phones inside free text are masked exactly as mask_id / mask_phone show them;
run ids, timestamps, dates, counts, short keys and percentages are left alone (hypothesis + examples)."""
from __future__ import annotations

import io
import logging
from datetime import date, datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.normalise import mask_id, mask_phone, mask_text
from schemas.normalise import masking

PROPS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# text around a value: anything but decimal digits (a digit next to the value makes it a longer number)
around = st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=12)
not_plus = around.filter(lambda s: not s.endswith("+"))  # '+' then '86…' is the +86 prefix: masked with it
digit = st.sampled_from("0123456789")


def digits(n: int):
    return st.text(digit, min_size=n, max_size=n)


@st.composite
def id18(draw) -> str:
    area = draw(digits(6))
    born = draw(st.dates(date(1900, 1, 1), date(2026, 12, 31))).strftime("%Y%m%d")
    return area + born + draw(digits(3)) + draw(st.sampled_from("0123456789Xx"))


@st.composite
def id15(draw) -> str:
    return draw(digits(6)) + draw(st.dates(date(1900, 1, 1), date(1999, 12, 31))).strftime("%y%m%d") + draw(digits(3))


@st.composite
def mobile(draw) -> tuple[str, str]:
    """(as written, the 11 national digits)."""
    national = "1" + draw(st.sampled_from("3456789")) + draw(digits(9))
    sep = draw(st.sampled_from(["", " ", "-"]))
    written = national[:3] + sep + national[3:7] + sep + national[7:] if sep else national
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "+86-", "0086", "0086 ", "86", "86 "]))
    return prefix + written, national


@st.composite
def landline(draw) -> tuple[str, str]:
    """(as written, the national digits with the trunk 0)."""
    area = draw(st.one_of(st.just("010"), digits(1).map(lambda d: "02" + d),
                          st.tuples(st.sampled_from("3456789"), digits(2)).map(lambda t: "0" + "".join(t))))
    local = draw(digits(8)) if len(area) == 3 else draw(st.one_of(digits(7), digits(8)))
    shape = draw(st.sampled_from(["{a}{l}", "{a}-{l}", "{a} {l}", "({a}){l}", "({a}) {l}"]))
    return shape.format(a=area, l=local), area + local


def _mask_id(s: str) -> str:
    return mask_id(pd.Series([s], dtype=object)).iloc[0]


def _mask_phone(s: str) -> str:
    return mask_phone(pd.Series([s], dtype=object)).iloc[0]


@PROPS
@given(around, st.one_of(id18(), id15()), around)
def test_an_id_in_text_is_masked_as_mask_id_shows_it(before, value, after):
    out = mask_text(before + value + after)
    assert out == before + _mask_id(value) + after
    assert value not in out and value[6:14] not in out   # no birth date either


@PROPS
@given(not_plus, st.one_of(mobile(), landline()), around)
def test_a_mobile_or_landline_in_text_is_masked_as_mask_phone_shows_it(before, value, after):
    written, national = value
    out = mask_text(before + written + after)
    assert out == before + _mask_phone(national) + after
    assert national not in out


uuid_text = st.uuids().map(str)
timestamp = st.datetimes(datetime(1970, 1, 1), datetime(2100, 1, 1)).map(lambda t: t.strftime("%Y-%m-%d %H:%M:%S"))
iso_date = st.dates(date(1900, 1, 1), date(2100, 1, 1)).map(str)
count = st.integers(0, 10**15).map(lambda n: f"{n:,} rows")
key = st.one_of(st.integers(0, 10**10 - 1).map(str), st.text(digit, min_size=1, max_size=10),
                st.text(digit, min_size=1, max_size=10).map(lambda d: "P" + d))
percent = st.one_of(st.floats(0, 100).map(lambda x: f"{x:.1f}%"), st.floats(0, 1).map(lambda x: f"{x:.4f}"),
                    st.floats(0, 1e12, allow_nan=False).map(lambda x: f"{x}%"))
benign = st.lists(st.one_of(uuid_text, timestamp, iso_date, count, key, percent), min_size=1, max_size=6)


@PROPS
@given(benign, around)
def test_run_ids_timestamps_dates_counts_keys_and_percentages_are_left_alone(tokens, words):
    text = f"{words}: " + "; ".join(tokens)
    assert mask_text(text) == text


@PROPS
@given(st.lists(st.one_of(st.text(max_size=20), id18(), id15(), mobile().map(lambda m: m[0]),
                          landline().map(lambda m: m[0]), benign.map("; ".join)), max_size=6))
def test_masking_twice_changes_nothing(parts):
    once = mask_text(" ".join(parts))
    assert mask_text(once) == once


@pytest.mark.parametrize("text, masked", [
    ("公民身份号码640202199001011234重复", "公民身份号码640202********1234重复"),
    ("id=64020219900101123x;", "id=640202********123x;"),
    ("640202 19900101 123X", "640202********123X"),
    ("６４０２０２１９９００１０１１２３４", "６４０２０２********１２３４"),
    ("两个号码 13912345678,13987654321", "两个号码 139****5678,139****4321"),
    ("电话: +86 139 1234 5678 / 0952-2012345", "电话: 139****5678 / 095****2345"),
    ("+86 952 2012345 and +86 10 62345678", "095****2345 and 010****5678"),
    ("Tel.13912345678.", "Tel.139****5678."),
    ("unrecognized token: \"64042519841214859X\"", "unrecognized token: \"640425********859X\""),
    ("a 19-digit typo 6402021990010112345", "a 19-digit typo 640202***********45"),
    # a 15-digit grid code whose digits 7-12 read as YYMMDD (街道 001, 社区 001 → 2000-10-01) is masked as a
    # legacy ID: the two cannot be told apart
    ("grid 640202001001001", "grid 640202******001"),
    # left alone: a 15-digit grid code with no date in digits 7-12 ("004001"); a uuid; short keys; decimals
    ("grid 640202004001001", "grid 640202004001001"),
    ("run c57bc2b1-d46a-4ec9-b99f-013912345678", "run c57bc2b1-d46a-4ec9-b99f-013912345678"),
    ("key 0123456789 and 9876543210", "key 0123456789 and 9876543210"),
    ("share 0.13912345678 and 13912345678.5", "share 0.13912345678 and 13912345678.5"),
    ("", ""),
])
def test_examples(text, masked):
    assert mask_text(text) == masked


def test_log_records_are_masked_whatever_logger_or_handler_makes_them(monkeypatch):
    """The record factory masks every record as it is made: on a logger outside the `logging.getLogger`
    hierarchy (Dagster's per-run console logger is such an object), with %-args, with a traceback, and on a
    named logger whose handler was added after the masking was installed."""
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(masking, "_installed", False)
    named = logging.getLogger("some.library")
    try:
        masking.install_log_masking()
        installed = logging.getLogRecordFactory()
        masking.install_log_masking()
        assert logging.getLogRecordFactory() is installed is not factory   # idempotent: one masking factory
        out = io.StringIO()
        detached = logging.Logger("dagster", logging.DEBUG)
        detached.addHandler(logging.StreamHandler(out))
        detached.error("step failed: bad value %s in row %d", "640202199001011234", 7)
        try:
            raise ValueError("cannot parse 13912345678")
        except ValueError:
            detached.exception("failed")
        named.addHandler(logging.StreamHandler(out))
        named.warning("phone %s", "0952-2012345")
        text = out.getvalue()
        assert "640202********1234" in text and "row 7" in text
        assert "139****5678" in text and "ValueError" in text and "095****2345" in text
        for full in ("640202199001011234", "13912345678", "2012345"):
            assert full not in text
    finally:
        logging.setLogRecordFactory(factory)
        for h in list(named.handlers):
            named.removeHandler(h)
