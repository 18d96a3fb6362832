"""schemas.standardise: every row is loaded or quarantined whatever the text, the raw row travels as
exact JSON, batching and the input's index change nothing (hypothesis properties plus fixed cases)."""
from __future__ import annotations

import json
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.canonical import DERIVED, FIELDS, QUARANTINE_REASONS
from schemas.config import EntityConfig
from schemas.standardise import MappingError, clean_text, duplicate_keys, raw_json_lines, standardise

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PAIRS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # 2+ runs each

PERSON = EntityConfig(
    key="编号", updated_at="采集时间", area_code="0952",
    columns={"name": "姓名", "former_name": "曾用名", "sex": "性别", "ethnicity": "民族", "birth_date": "出生日期",
             "id_number": "身份证号", "phone": "联系方式", "current_address": "居住地址", "person_type": "人员类型",
             "relation": "与户主关系", "status": "人员状态", "registered_on": "登记日期"},
    values={"person_type": {"1": "registered", "2": "floating"}},
    date_formats={"registered_on": ["%d/%m/%Y"]},
)
HOUSE = EntityConfig(key="房屋编号", columns={"address": "房屋地址", "area": "建筑面积", "is_rented": "是否出租",
                                              "owner_name": "房主姓名", "owner_phone": "房主电话", "usage": "用途"})

# --- strategies: plausible values of each column, mixed with arbitrary text -------------------------
_ODD = st.sampled_from(["", " ", "\u3000", "无", "NULL", "#N/A", "?", "锟斤拷", "\u2028", "\x85", "\x1c",
                        "a\"b\\c/d", "\x00\x1f", "\ufffd\ufffd", "6.40202E+17"])
_PLAUSIBLE = {
    "编号": st.sampled_from(["P1", "P2", "P3", "P4", " P1 ", "Ｐ2"]),
    "姓名": st.sampled_from(["王静", "王　静", "阿依古丽•买买提", "範偉", "John Smith", "测试"]),
    "性别": st.sampled_from(["男", "女", "1", "2", "M", "未知"]),
    "民族": st.sampled_from(["汉族", "汉", "回", "03", "3", "穿青人"]),
    "出生日期": st.sampled_from(["19850312", "1985/3/12", "1985年3月12日", "31118", "2099-01-01", "1985-02-30"]),
    "身份证号": st.sampled_from(["11010519491231002X", "11010519491231002x", "640202900101123",
                                 "１１０１０５１９４９１２３１００２Ｘ", "'640202199001011232", "640202********123X"]),
    "联系方式": st.sampled_from(["13912345678", "139 1234 5678", "+86 139-1234-5678", "0952-2012345", "2012345",
                                 "13800000000", "13912345678/13812345678"]),
    "居住地址": st.sampled_from(["锦华苑3号楼2单元502室", "宁夏回族自治区石嘴山市大武口区长胜街道九竹社区锦华苑3号楼2单元502室"]),
    "人员类型": st.sampled_from(["1", "2", "流动人口", "户籍"]),
    "采集时间": st.sampled_from(["2023-10-26 10:31:49", "2025/10/14 15:48", "45352.5"]),
    "登记日期": st.sampled_from(["12/03/1985", "1985-03-12"]),
}
COLUMNS = ["编号", "姓名", "曾用名", "性别", "民族", "出生日期", "身份证号", "联系方式", "居住地址", "人员类型",
           "与户主关系", "人员状态", "登记日期", "采集时间", "未映射"]


def _cell(column: str):
    plausible = _PLAUSIBLE.get(column, st.text(max_size=6))
    return st.one_of(st.none(), plausible, plausible, _ODD, st.text(max_size=40))


@st.composite
def person_frames(draw, max_rows=25):
    n = draw(st.integers(0, max_rows))
    data = {c: draw(st.lists(_cell(c), min_size=n, max_size=n)) for c in COLUMNS}
    return pd.DataFrame(data, dtype=object)


def _pandas_json(row: pd.DataFrame) -> str:
    """What pandas writes for a one-row frame (the reference the JSON column must equal)."""
    return row.to_json(orient="records", force_ascii=False)[1:-1]


# --- raw JSON ------------------------------------------------------------------------------------------

@SETTINGS
@given(person_frames())
def test_raw_json_equals_pandas_and_round_trips(raw):
    lines = raw_json_lines(raw)
    assert len(lines) == len(raw)
    for i, line in enumerate(lines):
        assert line == _pandas_json(raw.iloc[[i]])
        assert json.loads(line) == {c: (None if v is None or v != v else v) for c, v in raw.iloc[i].items()}


def test_raw_json_of_mixed_cells_falls_back_to_pandas():
    raw = pd.DataFrame({"a": ["x/y", None, "z"], "n": [1, 2.5, None], "t": pd.to_datetime(["2020-01-01"] * 3)})
    assert raw_json_lines(raw).tolist() == [_pandas_json(raw.iloc[[i]]) for i in range(3)]
    assert raw_json_lines(raw.iloc[:0]).tolist() == []


@pytest.mark.parametrize("odd", ["\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "line\nbreak", "\r\n"])
def test_line_separators_inside_values_do_not_split_rows(odd):
    """Regression: str.splitlines() also splits on U+2028, NEL and \\x1c-\\x1e, which pandas writes raw."""
    raw = pd.DataFrame({"编号": ["P1", "P2"], "姓名": [f"王{odd}静", "李明"]}, dtype=object)
    stg, q = standardise(raw, "grid", "person", EntityConfig(key="编号", columns={"name": "姓名"}))
    rows = pd.concat([stg[["source_key", "raw"]], q[["source_key", "raw"]]])
    assert sorted(rows["source_key"]) == ["P1", "P2"]
    assert {k: json.loads(r)["姓名"] for k, r in rows.itertuples(index=False)} == {"P1": f"王{odd}静", "P2": "李明"}


# --- clean_text ------------------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(float("nan")), st.text(max_size=30)), max_size=40))
def test_clean_text_is_nfkc_strip_with_empty_as_none(values):
    s = pd.Series(values, index=pd.RangeIndex(len(values)) * 3 + 1, dtype=object)
    expect = [None if not isinstance(v, str) or not unicodedata.normalize("NFKC", v).strip()
              else unicodedata.normalize("NFKC", v).strip() for v in values]
    got = clean_text(s)
    assert got.tolist() == expect and got.index.equals(s.index)


def test_clean_text_of_mixed_cells_keeps_the_old_rule():
    assert clean_text(pd.Series([" a ", 5, None, 2.5, "", "ｂ"], dtype=object)).tolist() == ["a", None, None, None,
                                                                                            None, "b"]


# --- standardise: accounting, batching, index ---------------------------------------------------------

@SETTINGS
@given(person_frames())
def test_every_row_is_loaded_or_quarantined(raw):
    stg, q = standardise(raw, "grid", "person", PERSON)
    assert len(stg) + len(q) == len(raw)
    assert list(stg.columns) == ["source", *FIELDS["person"], *DERIVED["person"]]
    assert list(q.columns) == ["source", "entity", "source_key", "reason", "raw"]
    assert set(q["reason"]) <= set(QUARANTINE_REASONS)
    assert stg.index.equals(pd.RangeIndex(len(stg))) and q.index.equals(pd.RangeIndex(len(q)))
    # each input row appears once, carrying its own raw JSON
    lines = raw_json_lines(raw).tolist()
    assert sorted(stg["raw"].tolist() + q["raw"].tolist()) == sorted(lines)
    assert stg["source_key"].notna().all() and not stg["source_key"].duplicated().any()
    keys = clean_text(raw["编号"])
    assert (q["reason"] == "key_missing").sum() == (keys.isna() & ~raw.drop(columns=["编号", "未映射", "采集时间"])
                                                    .apply(clean_text).isna().all(axis=1)).sum()


@PAIRS
@given(person_frames(max_rows=20), st.integers(2, 8))
def test_batches_with_extract_wide_duplicates_equal_the_whole(raw, rows):
    whole_stg, whole_q = standardise(raw, "grid", "person", PERSON)
    dup = duplicate_keys(raw["编号"]).to_numpy()
    parts = [standardise(raw.iloc[i:i + rows], "grid", "person", PERSON, duplicate=dup[i:i + rows])
             for i in range(0, len(raw), rows)] or [(whole_stg, whole_q)]
    stg = pd.concat([p[0] for p in parts], ignore_index=True)
    q = pd.concat([p[1] for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(stg.astype(object), whole_stg.astype(object))
    pd.testing.assert_frame_equal(q.astype(object), whole_q.astype(object))


@PAIRS
@given(person_frames())
def test_the_input_index_changes_nothing(raw):
    shuffled = raw.set_axis(pd.Index([f"r{i}" for i in range(len(raw))][::-1]))
    for a, b in zip(standardise(raw, "grid", "person", PERSON), standardise(shuffled, "grid", "person", PERSON)):
        pd.testing.assert_frame_equal(a, b)


def test_fixed_person_rows():
    raw = pd.DataFrame([
        {"编号": "P1", "姓名": "王　静", "身份证号": "11010519491231002x", "出生日期": "1949/12/31", "性别": "女",
         "联系方式": "139 1234 5678", "采集时间": "2025/10/14 15:48"},
        {"编号": "P2", "姓名": "???", "身份证号": "", "出生日期": "", "性别": "", "联系方式": "", "采集时间": ""},
        {"编号": "P1", "姓名": "李明", "身份证号": "", "出生日期": "", "性别": "", "联系方式": "", "采集时间": ""},
        {"编号": "", "姓名": "李明", "身份证号": "", "出生日期": "", "性别": "", "联系方式": "", "采集时间": ""},
        {"编号": "P5", "姓名": "", "身份证号": "", "出生日期": "", "性别": "", "联系方式": "", "采集时间": "2025-01-01"},
        {"编号": "P6", "姓名": "赵六", "身份证号": "6.40202E+17", "出生日期": "", "性别": "", "联系方式": "",
         "采集时间": ""},
    ], dtype=object)
    ent = EntityConfig(key="编号", updated_at="采集时间", columns={
        "name": "姓名", "id_number": "身份证号", "birth_date": "出生日期", "sex": "性别", "phone": "联系方式"})
    stg, q = standardise(raw, "police", "person", ent)
    assert stg.loc[0, ["source_key", "name", "name_pinyin", "id_number", "birth_date", "sex", "phone", "updated_at",
                       "status", "flags"]].tolist() == [
        "P1", "王静", "wangjing", "11010519491231002X", "1949-12-31", "2", "+8613912345678", "2025-10-14 15:48:00",
        "active", ""]
    assert len(stg) == 1
    assert dict(zip(q["source_key"], q["reason"])) == {"P2": "name_garbage", "P1": "key_duplicate",
                                                       "": "key_missing", "P5": "empty_row",
                                                       "P6": "id_excel_precision_loss"}
    assert json.loads(q["raw"].iloc[0])["姓名"] == "???"


def test_house_numbers_and_flags():
    raw = pd.DataFrame({"房屋编号": ["H1", "H2", "H3", "H4", "H5"],
                        "房屋地址": ["锦华苑3号楼2单元502室", "???", "胜利东街23-1号", "锟斤拷锟斤拷", "暂无"],
                        "建筑面积": ["74.5", "-3", "abc", "60", "60"], "是否出租": ["是", "否", "也许", "否", "否"],
                        "房主姓名": ["王静", "???", "", "王静", "王静"], "房主电话": ["13912345678", "123", "", "", ""],
                        "用途": ["住宅", "01", "火星基地", "住宅", "住宅"]}, dtype=object)
    stg, q = standardise(raw, "grid", "house", HOUSE)
    # mojibake (锟斤拷: U+FFFD written back as GBK) and null words (暂无) are no address either
    assert dict(zip(q["source_key"], q["reason"])) == {"H2": "address_missing", "H4": "address_missing",
                                                       "H5": "address_missing"}
    assert stg["area"].tolist()[0] == 74.5 and np.isnan(stg["area"].tolist()[1])
    assert stg["is_rented"].tolist() == [True, None]
    assert stg["usage"].tolist() == ["01", None]
    assert stg["owner_name"].tolist() == ["王静", None]
    assert stg["flags"].tolist() == ["", "code_unknown;code_unknown"]


def test_missing_mapped_column_is_one_line_error():
    raw = pd.DataFrame({"编号": ["P1"], "名字": ["王静"]})
    with pytest.raises(MappingError) as info:
        standardise(raw, "grid", "person", EntityConfig(key="编号", columns={"name": "姓名"}))
    assert str(info.value) == "grid.person: column '姓名' (mapped to name) not found in the source"


def test_a_values_map_is_applied_once():
    """`values:` is applied by the vocabulary handler itself: {'1': '2', '2': '流动'} reads '2' as floating,
    and '1' as '2' — a code that is no person type — not as floating after a second pass."""
    ent = EntityConfig(key="编号", columns={"name": "姓名", "person_type": "类型"},
                       values={"person_type": {"1": "2", "2": "流动"}})
    raw = pd.DataFrame({"编号": ["a", "b"], "姓名": ["王静", "马丽"], "类型": ["2", "1"]}, dtype=object)
    stg, _ = standardise(raw, "grid", "person", ent)
    assert stg["person_type"].tolist()[0] == "floating"
    assert stg["person_type"].tolist()[1] != "floating"
