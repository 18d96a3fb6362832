"""schemas.normalise.names: display name, keys, garbage/missing, unrepresentable, vectorised == scalar."""
from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest

from schemas.canonical import FLAGS, QUARANTINE_REASONS
from schemas.normalise.names import normalise_name, shape_key
from tests.normalise.batched import Batched


_B = Batched(normalise_name)
cases, one = _B.cases, _B.one


@pytest.mark.parametrize("raw, name, key, pinyin", cases([
    ("王静", "王静", "王静", "wangjing"),
    ("王　静", "王静", "王静", "wangjing"),                  # padded with U+3000
    (" 王 静 ", "王静", "王静", "wangjing"),
    ("王\u200b静", "王静", "王静", "wangjing"),
    ("王晶", "王晶", "王晶", "wangjing"),                     # homophone: same pinyin key
    ("王婧", "王婧", "王婧", "wangjing"),
    ("吕布", "吕布", "吕布", "lvbu"),
    ("欧阳修", "欧阳修", "欧阳修", "ouyangxiu"),
    ("於丹", "於丹", "于丹", "yudan"),                        # t2s only in the key
    ("範偉", "範偉", "范伟", "fanwei"),
    ("鬱達夫", "鬱達夫", "郁达夫", "yudafu"),
    ("ＷＡＮＧ", "WANG", "wang", "wang"),
    ("John  Smith", "John Smith", "john smith", "johnsmith"),
    ("José García", "José García", "josé garcía", "joségarcía"),
    ("O'Brien", "O'Brien", "o'brien", "o'brien"),
]))
def test_name_and_keys(raw, name, key, pinyin):
    r = one(raw)
    assert (r["name"], r["name_key"], r["name_pinyin"]) == (name, key, pinyin)
    assert r["name_error"] is None and r["name_flags"] == ""


@pytest.mark.parametrize("dot", ["\u00b7", "\u2022", "\u30fb", "\uff65", "\u2027", "\u22c5", "\u2219",
                                 "\u0387", ".", "\uff0e", "-", "－", " · "])
def test_middle_dot_variants(dot):
    r = one(f"阿依古丽{dot}买买提")
    assert r["name"] == "阿依古丽·买买提"
    assert r["name_key"] == "阿依古丽买买提"
    assert r["name_pinyin"] == "ayigulimaimaiti"


def test_dot_missing_or_space_gives_same_key():
    keys = {one(v)["name_key"] for v in ("阿依古丽·买买提", "阿依古丽买买提", "阿依古丽 买买提")}
    assert keys == {"阿依古丽买买提"}


def test_latin_name_dot_kept():
    assert one("J.Smith")["name"] == "J.Smith"


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", cases([None, float("nan"), "", "   ", "\u3000\u3000"]))
def test_error_name_missing(raw):
    r = normalise_name(pd.Series([raw], dtype=object)).iloc[0]
    assert r["name_error"] == "name_missing" and r["name"] is None and r["name_flags"] == ""


@pytest.mark.parametrize("raw", cases(["?", "？", "??", "\ufffd", "\ufffd\ufffd", "王\ufffd\ufffd", "锟斤拷",
                                 "锟斤拷锟斤拷", "烫烫烫", "#N/A", "N/A", "NULL", "null", "None", "无",
                                 "测试", "测试1", "test", "TEST", "test01", "xxx", "XXX", "123",
                                 "0", "---", "...", "abc123", "A1", "□", "12 34"]))
def test_error_name_garbage(raw):
    r = one(raw)
    assert r["name_error"] == "name_garbage"
    assert r["name"] is None and r["name_key"] is None and r["name_pinyin"] is None


@pytest.mark.parametrize("raw", cases(["John Smith", "Mary-Jane Watson", "Ali", "王静", "马"]))
def test_real_names_are_not_garbage(raw):
    assert one(raw)["name_error"] is None


# --- flags --------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", cases(["王\ue000", "\ue123明", "王□", "王?明", "王？明", "王\ufffd",
                                 "小(氵甸)", "李（氵甸）"]))
def test_flag_name_unrepresentable(raw):
    r = one(raw)
    assert r["name_error"] is None and r["name_flags"] == "name_unrepresentable"
    assert r["name"] is not None


def test_codes_are_canonical():
    assert {"name_missing", "name_garbage"} <= set(QUARANTINE_REASONS)
    assert "name_unrepresentable" in FLAGS


def test_alignment_and_no_mutation():
    s = pd.Series(["王　静", None, "王静", "?"], index=[10, 11, 12, 13])
    before = s.copy()
    out = normalise_name(s)
    pd.testing.assert_series_equal(s, before)
    assert list(out.index) == [10, 11, 12, 13]
    assert list(out.columns) == ["name", "name_key", "name_pinyin", "name_error", "name_flags"]
    assert out["name"].tolist() == ["王静", None, "王静", None]
    assert out["name_error"].tolist() == [None, "name_missing", None, "name_garbage"]
    assert normalise_name(pd.Series([], dtype=object)).shape == (0, 5)


@pytest.mark.skipif(importlib.util.find_spec("four_corner_method") is None,
                    reason="four-corner-method not installed")
def test_shape_key_similar_characters():
    s = pd.Series(["王己", "王已", "王巳", "戊", "戌", "戍", "侯", "候", None, "阿·木"])
    k = shape_key(s)
    assert k[0] == k[1] != k[2]
    assert k[3] == k[4] == k[5] == "53200"
    assert k[6] == k[7] == "27284"
    assert k[8] is None
    assert "·" not in k[9]


# --- 100k vectorised == slow scalar reference -----------------------------------------------------

@functools.cache
def _t2s():
    import opencc
    return opencc.OpenCC("t2s")


@functools.cache
def _ref(v: str) -> tuple:
    """Scalar reference for valid names, written independently of the module."""
    from pypinyin import lazy_pinyin
    t = unicodedata.normalize("NFKC", v).strip()
    t = re.sub(r"[\s\u200b\ufeff]", "", t)
    t = re.sub(r"(?<=[\u4e00-\u9fff])[\u00b7\u2022\u30fb.\-]+(?=[\u4e00-\u9fff])", "\u00b7", t)
    key = _t2s().convert(t).replace("\u00b7", "").lower()
    return t, key, "".join(lazy_pinyin(key)).lower()


SURNAMES = list("王李张刘陈杨黄赵马丁海金周吴徐孙朱胡郭何高林罗郑梁謝鄭")
GIVEN = list("静晶婧伟明华丽军强磊洋艳勇杰娟涛超秀霞平刚桂英芳燕玲")


def test_vectorised_matches_scalar_reference_100k():
    rng = np.random.default_rng(11)
    pool = []
    for i in range(3_000):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN, rng.integers(1, 3)))
        pool.append({0: name, 1: name[0] + "\u3000" + name[1:], 2: f" {name} ",
                     3: name[:2] + "•" + name[2:] if len(name) > 2 else name}[i % 4])
    values = pd.Series(rng.choice(np.array(pool + [None, "?", "NULL"], dtype=object), 100_000),
                       dtype=object)
    out = normalise_name(values)
    assert len(out) == 100_000
    rows = out.to_numpy()
    for i in rng.choice(len(values), 1_500, replace=False):
        v, (name, key, pinyin, error, _) = values.iloc[i], rows[i]
        if v is None:
            assert error == "name_missing"
        elif v in ("?", "NULL"):
            assert error == "name_garbage"
        else:
            assert (name, key, pinyin) == _ref(v), v


def test_names_differing_only_after_a_nul_character_stay_distinct():
    # pandas' factorize hashes strings up to a NUL; by_unique must not hand one name's result to another
    got = normalise_name(pd.Series(["张\x00三", "张\x00四", "张三", None]))
    assert [p.replace("\x00", " ") for p in got["name_pinyin"].iloc[:2]] == ["zhang san", "zhang si"]
    assert got["name"].iloc[3] is None


def test_factorize_text_keeps_texts_that_differ_after_a_nul_apart():
    from schemas.normalise import factorize_text
    codes, uniques = factorize_text(pd.Series(["a\x00b", "a\x00c", None, "a\x00b"], dtype=object))
    assert codes.tolist() == [0, 1, -1, 0] and uniques.tolist() == ["a\x00b", "a\x00c"]
    # pandas also takes "\x000" for "" (the text before the NUL): the distinct value kept has no NUL at all
    codes, uniques = factorize_text(["", "\x000", ""])
    assert codes.tolist() == [0, 1, 0] and uniques.tolist() == ["", "\x000"]
    codes, uniques = factorize_text(pd.Series(["x", None, "x", "y"], dtype=object))  # the usual, vectorised path
    assert codes.tolist() == [0, -1, 0, 1] and uniques.tolist() == ["x", "y"]
