"""schemas.codes: code tables, normalise_code, person type, status, bool; vectorised == scalar."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from schemas.canonical import FLAGS, PERSON_TYPES, STATUSES
from schemas.codes import (
    TABLE_FILES, code_table, normalise_bool, normalise_code, normalise_person_type, normalise_status,
)


INPUTS: list[tuple[str, object]] = []


def cases(table, values):
    """Register parametrised (table, raw) inputs: `code` decodes each table's in one call."""
    for v in values:
        INPUTS.append((v[0], v[1]) if table is None else (table, v[0] if isinstance(v, tuple) else v))
    return values


@functools.cache
def _batch() -> dict:
    by_table: dict[str, list] = {}
    for table, raw in INPUTS:
        if isinstance(raw, str):
            by_table.setdefault(table, []).append(raw)
    out = {}
    for table, raws in by_table.items():
        raws = list(dict.fromkeys(raws))
        res = normalise_code(pd.Series(raws, dtype=object), table)
        out.update({(table, r): (c, f) for r, (c, f) in zip(raws, res.to_numpy())})
    return out


def code(raw, table, values=None):
    if values is None and isinstance(raw, str) and (table, raw) in _batch():
        return _batch()[(table, raw)]
    r = normalise_code(pd.Series([raw], dtype=object), table, values).iloc[0]
    return r["code"], r["flags"]


@pytest.mark.parametrize("table", sorted(TABLE_FILES))
def test_every_table_loads_and_round_trips(table):
    codes = code_table(table)
    assert codes and all(c.isdigit() for c in codes)
    s = pd.Series(list(codes) + list(codes.values()), dtype=object)
    out = normalise_code(s, table)
    assert out["code"].tolist() == list(codes) * 2
    assert set(out["flags"]) == {""}


@pytest.mark.parametrize("raw, expected", cases("sex", [
    ("1", "1"), ("2", "2"), ("0", "0"), ("9", "9"), ("01", "1"), ("1.0", "1"),
    ("男", "1"), ("男性", "1"), ("M", "1"), ("m", "1"), ("male", "1"), ("Male", "1"), (" 男 ", "1"),
    ("女", "2"), ("女性", "2"), ("F", "2"), ("female", "2"), ("未知", "0"), ("未说明", "9"),
    ("未知的性别", "0"), ("未说明的性别", "9"),
]))
def test_sex(raw, expected):
    assert code(raw, "sex") == (expected, "")


@pytest.mark.parametrize("raw, expected", cases("ethnicity", [
    ("01", "01"), ("1", "01"), ("001", "01"), ("1.0", "01"), ("汉", "01"), ("汉族", "01"),
    ("回", "03"), ("回族", "03"), ("3", "03"), ("HU", "03"), ("hu", "03"), ("蒙古", "02"),
    ("土族", "30"), ("土", "30"), ("土家族", "15"), ("土家", "15"), ("高山族", "23"),
    ("毛难族", "36"), ("崩龙族", "46"), ("其他", "97"), ("穿青人", "97"),
    ("外国血统中国籍人士", "98"), ("满族", "11"), ("维吾尔族", "05"), ("汉 族", "01"),
]))
def test_ethnicity(raw, expected):
    assert code(raw, "ethnicity") == (expected, "")


@pytest.mark.parametrize("raw, expected", cases("relation", [
    ("户主", "02"), ("本人", "01"), ("子", "20"), ("女", "30"), ("儿子", "20"), ("女儿", "30"),
    ("长子", "22"), ("妻", "12"), ("妻子", "12"), ("之妻", "12"), ("配偶", "10"), ("孙子", "41"),
    ("姨夫", "87"), ("姨父", "87"), ("非亲属", "99"), ("2", "02"), ("20", "20"),
]))
def test_relation_gbt4761(raw, expected):
    assert code(raw, "relation") == (expected, "")


@pytest.mark.parametrize("table, raw, expected", cases(None, [
    ("marriage", "已婚", "20"), ("marriage", "离异", "40"), ("marriage", "有配偶", "20"),
    ("marital_status", "未婚", "10"), ("education", "本科", "20"), ("education", "大专", "30"),
    ("education", "初中", "70"), ("education", "大学本科毕业", "21"), ("political", "群众", "13"),
    ("political", "党员", "01"), ("political", "共青团员", "03"), ("religion", "无", "00"),
    ("religion", "0", "00"), ("religion", "伊斯兰教", "70"), ("building_use", "住宅", "01"),
    ("usage", "商住", "06"), ("rental_use", "宿舍", "01"), ("hukou_category", "农业家庭户口", "2"),
    ("person_household_consistency", "人户分离", "02"),
]))
def test_other_tables(table, raw, expected):
    assert code(raw, table) == (expected, "")


def test_values_map_is_applied_first():
    s = pd.Series(["0", "1", "男", "X"], dtype=object)
    out = normalise_code(s, "sex", values={"0": "2", "X": "女"})    # legacy female = 0
    assert out["code"].tolist() == ["2", "1", "1", "2"]
    out = normalise_code(pd.Series(["A", "B"]), "building_use", values={"A": "住宅", "B": 99})
    assert out["code"].tolist() == ["01", "99"]


@pytest.mark.parametrize("table, raw", cases(None, [
    ("sex", "x"), ("sex", "3"), ("ethnicity", "汉人"), ("ethnicity", "57"), ("relation", "邻居"),
    ("education", "abc"),
]))
def test_flag_code_unknown(table, raw):
    assert code(raw, table) == (None, "code_unknown")


@pytest.mark.parametrize("raw", [None, float("nan"), "", " ", "NULL", "-"])
def test_empty_is_missing_not_unknown(raw):
    assert code(raw, "sex") == (None, "")


@pytest.mark.parametrize("raw, expected", [
    ("户籍", "registered"), ("户籍人口", "registered"), ("常住", "registered"), ("常住人口", "registered"),
    ("流动", "floating"), ("流动人口", "floating"), ("暂住", "floating"), ("境外", "foreign"),
    ("境外人员", "foreign"), ("registered", "registered"),
])
def test_person_type(raw, expected):
    out = normalise_person_type(pd.Series([raw])).iloc[0]
    assert (out["code"], out["flags"]) == (expected, "")
    assert expected in PERSON_TYPES


def test_person_type_values_and_unknown():
    out = normalise_person_type(pd.Series(["1", "2", "人户分离", None]), values={"1": "户籍", "2": "流动"})
    assert out["code"].tolist() == ["registered", "floating", None, None]
    assert out["flags"].tolist() == ["", "", "code_unknown", ""]


@pytest.mark.parametrize("raw, expected", [
    ("正常", "active"), ("在册", "active"), ("空", "active"), ("0", "active"), ("", "active"),
    (None, "active"), ("死亡", "deceased"), ("迁出", "moved_out"), ("离开", "moved_out"),
    ("注销", "deregistered"), ("已注销", "deregistered"),
])
def test_status(raw, expected):
    out = normalise_status(pd.Series([raw], dtype=object)).iloc[0]
    assert (out["code"], out["flags"]) == (expected, "")
    assert expected in STATUSES


def test_status_values_and_unknown():
    out = normalise_status(pd.Series(["0", "1", "9"]), values={"0": "active", "1": "deregistered"})
    assert out["code"].tolist() == ["active", "deregistered", None]
    assert out["flags"].tolist() == ["", "", "code_unknown"]


@pytest.mark.parametrize("raw, expected", [
    ("是", True), ("否", False), ("1", True), ("0", False), ("Y", True), ("N", False), ("y", True),
    ("true", True), ("false", False), ("TRUE", True), ("yes", True), ("no", False), (True, True),
    (False, False), (1, True), (0.0, False),
])
def test_bool(raw, expected):
    out = normalise_bool(pd.Series([raw], dtype=object)).iloc[0]
    assert out["code"] is expected and out["flags"] == ""


def test_bool_values_unknown_and_missing():
    out = normalise_bool(pd.Series(["出租", "自住", "maybe", None]), values={"出租": True, "自住": False})
    assert out["code"].tolist() == [True, False, None, None]
    assert out["flags"].tolist() == ["", "", "code_unknown", ""]


def test_code_unknown_is_canonical():
    assert "code_unknown" in FLAGS


def test_alignment_and_no_mutation():
    s = pd.Series(["男", None, "?"], index=[3, 1, 2])
    before = s.copy()
    out = normalise_code(s, "sex")
    pd.testing.assert_series_equal(s, before)
    assert list(out.index) == [3, 1, 2] and list(out.columns) == ["code", "flags"]


def test_vectorised_matches_scalar_reference_100k():
    spellings = {"汉": "01", "汉族": "01", "1": "01", "01": "01", "回": "03", "回族": "03", "3": "03",
                 "HU": "03", "满族": "11", "土族": "30", "土家族": "15", "蒙古族": "02", "x": None}
    keys = np.array(list(spellings), dtype=object)
    rng = np.random.default_rng(2)
    values = pd.Series(rng.choice(keys, 100_000), dtype=object)
    out = normalise_code(values, "ethnicity")
    rows = out.to_numpy()
    for i in rng.choice(100_000, 2_000, replace=False):
        want = spellings[values.iloc[i]]
        assert tuple(rows[i]) == (want, "" if want else "code_unknown")
