"""schemas.normalise.dates: spellings, placeholders, errors/flags, timestamps, vectorised == scalar."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from schemas.canonical import FLAGS, QUARANTINE_REASONS
from schemas.normalise.dates import parse_date, parse_timestamp
from tests.normalise.batched import Batched

TODAY = date(2026, 11, 1)


_B = Batched(lambda s: parse_date(s, today=TODAY))
cases, one = _B.cases, _B.one


@pytest.mark.parametrize("raw", cases([
    "19850312", "1985-03-12", "1985-3-12", "1985/3/12", "1985/03/12", "1985.03.12", "1985.3.12",
    "1985年3月12日", "1985年03月12日", "1985年3月12号", "1985年3月12", "1985 年 3 月 12 日",
    "1985-03-12 00:00:00", "1985-03-12T00:00:00", "1985-03-12 00:00:00.000", "1985/3/12 0:00",
    "31118", "31118.0", "１９８５０３１２", "１９８５－０３－１２", " 1985-03-12 ",
    "19850312000000",
]))
def test_spellings(raw):
    assert one(raw) == {"value": "1985-03-12", "error": None, "flags": ""}


def test_real_excel_cells_and_numbers():
    s = pd.Series([datetime(1985, 3, 12), pd.Timestamp("1985-03-12"), 19850312, 19850312.0, None],
                  dtype=object)
    assert parse_date(s, today=TODAY)["value"].tolist() == ["1985-03-12"] * 4 + [None]
    dt = pd.Series(pd.to_datetime(["1985-03-12", None]))
    assert parse_date(dt, today=TODAY)["value"].tolist() == ["1985-03-12", None]


def test_configured_formats_first():
    s = pd.Series(["12/03/1985", "03121985", "19850312"])
    out = parse_date(s, formats=["%d/%m/%Y", "%m%d%Y"], today=TODAY)
    assert out["value"].tolist() == ["1985-03-12", "1985-03-12", "1985-03-12"]
    # without the format, the day-first spelling is not guessed
    assert one("12/03/1985")["error"] == "birth_date_invalid"


@pytest.mark.parametrize("raw", cases([None, float("nan"), "", "  ", "1900-01-01", "1900/1/1", "19000101",
                                 "1900年1月1日", "0000-00-00", "00000000", "0000/00/00", "无", "NULL",
                                 "null", "-", "/", "不详"]))
def test_placeholders_are_missing_without_error(raw):
    r = parse_date(pd.Series([raw], dtype=object), today=TODAY).iloc[0]
    assert r["value"] is None and r["error"] is None and r["flags"] == ""


@pytest.mark.parametrize("raw", cases(["19851345", "1985-02-30", "1985-13-01", "1985-00-10", "19850230",
                                 "2023-02-29", "1985年2月30日"]))
def test_error_birth_date_invalid_impossible(raw):
    assert one(raw) == {"value": None, "error": "birth_date_invalid", "flags": "date_unparsed"}


@pytest.mark.parametrize("raw", cases(["hello", "1985", "198503", "85-3-12", "三月", "1985-03", "99999",
                                 "1.5", "abc123"]))
def test_error_birth_date_invalid_unparseable_and_flag_date_unparsed(raw):
    r = one(raw)
    assert r["error"] == "birth_date_invalid" and r["flags"] == "date_unparsed" and r["value"] is None


def test_error_birth_date_future():
    r = one("2030-01-01")
    assert r == {"value": "2030-01-01", "error": "birth_date_future", "flags": ""}
    assert one("2026-11-01")["error"] is None                  # today itself is fine
    assert one("2026-11-02")["error"] == "birth_date_future"


def test_leap_day_and_old_dates():
    assert one("2024-02-29")["value"] == "2024-02-29"
    assert one("18800101")["value"] == "1880-01-01"            # the GB 11643 example person


def test_codes_are_canonical():
    assert {"birth_date_invalid", "birth_date_future"} <= set(QUARANTINE_REASONS)
    assert "date_unparsed" in FLAGS


def test_alignment_and_no_mutation():
    s = pd.Series(["19850312", None, "x"], index=["p", "q", "r"])
    before = s.copy()
    out = parse_date(s, today=TODAY)
    pd.testing.assert_series_equal(s, before)
    assert list(out.index) == ["p", "q", "r"] and list(out.columns) == ["value", "error", "flags"]
    assert parse_date(pd.Series([], dtype=object)).shape == (0, 3)


@pytest.mark.parametrize("raw, expected", cases([
    ("2024-03-01 12:00:00", "2024-03-01 12:00:00"),
    ("2024/3/1 12:00", "2024-03-01 12:00:00"),
    ("2024/3/1 8:05:09", "2024-03-01 08:05:09"),
    ("20240301120000", "2024-03-01 12:00:00"),
    ("202403011200", "2024-03-01 12:00:00"),
    ("20240301", "2024-03-01 00:00:00"),
    ("2024-03-01", "2024-03-01 00:00:00"),
    ("2024-03-01T12:00:00", "2024-03-01 12:00:00"),
    ("2024-03-01T12:00:00.123+08:00", "2024-03-01 12:00:00"),
    ("2024年3月1日 12时30分", "2024-03-01 12:30:00"),
    ("45352.5", "2024-03-01 12:00:00"),
    ("2024-02-30 12:00:00", None),
    ("2024-03-01 25:00:00", None),
    ("1900-01-01 00:00:00", None),
    ("", None),
    (None, None),
    ("garbage", None),
]))
def test_parse_timestamp(raw, expected):
    assert parse_timestamp(pd.Series([raw], dtype=object)).tolist() == [expected]


def test_parse_timestamp_configured_format():
    s = pd.Series(["01.03.2024 12:00"])
    assert parse_timestamp(s, formats=["%d.%m.%Y %H:%M"]).tolist() == ["2024-03-01 12:00:00"]


# --- 100k vectorised == scalar reference (the generator knows the true date) ---------------------

SPELL = [
    lambda d: d.strftime("%Y%m%d"),
    lambda d: d.strftime("%Y-%m-%d"),
    lambda d: f"{d.year}-{d.month}-{d.day}",
    lambda d: f"{d.year}/{d.month}/{d.day}",
    lambda d: d.strftime("%Y.%m.%d"),
    lambda d: f"{d.year}年{d.month}月{d.day}日",
    lambda d: d.strftime("%Y-%m-%d 00:00:00"),
    lambda d: str((d - date(1899, 12, 30)).days),
    lambda d: d.strftime("%Y%m%d").translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)}),
]


def test_vectorised_matches_scalar_reference_100k():
    rng = np.random.default_rng(3)
    true, raw = [], []
    for i in range(5_000):
        d = date(1930, 1, 1) + timedelta(days=int(rng.integers(0, 33_000)))
        k = i % (len(SPELL) + 2)
        if k == len(SPELL):                                  # impossible date
            true.append("invalid")
            raw.append(f"{d.year}0230")
        elif k == len(SPELL) + 1:                            # placeholder
            true.append(None)
            raw.append(["1900-01-01", "0000-00-00", "", None][i % 4])
        else:
            true.append(d.isoformat() if d <= TODAY else "future")
            raw.append(SPELL[k](d))
    pick = rng.integers(0, len(raw), 100_000)
    values = pd.Series(np.array(raw, dtype=object)[pick], dtype=object)
    out = parse_date(values, today=TODAY)
    assert len(out) == 100_000
    rows = out.to_numpy()
    for i in rng.choice(100_000, 2_000, replace=False):
        want, (value, error, _) = true[pick[i]], rows[i]
        if want == "invalid":
            assert error == "birth_date_invalid", values.iloc[i]
        elif want == "future":
            assert error == "birth_date_future", values.iloc[i]
        else:
            assert (value, error) == (want, None), values.iloc[i]
