"""schemas.normalise.addresses: components, house keys, numerals, prefixes, vectorised == scalar."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from schemas.normalise.addresses import ADDRESS_COLUMNS, parse_address
from schemas.normalise.numerals import cn_to_int
from tests.normalise.batched import Batched


_B = Batched(parse_address)
cases, one = _B.cases, _B.one


# --- the required table: police full form == grid short forms ------------------------------------

SAME_HOUSE = [
    "宁夏回族自治区石嘴山市大武口区长胜街道九竹社区锦华苑3号楼2单元502室",
    "大武口区锦华苑三栋二单元五〇二",
    "锦华苑３#２单元５０２户",
    "长胜街道锦华苑小区3-2-502",
    "锦华苑3幢2门5楼2号",
    "锦华苑3座2单元502",
    "锦华苑3#楼2单元502",
    "锦华苑三号楼两单元五零二室",
    "宁夏石嘴山大武口区锦华苑 3 号楼 2 单元 502 室",
    "宁夏宁夏回族自治区石嘴山市大武口区锦华苑3号楼2单元502室(出租)",
    "锦华苑3号楼2单元502室 13912345678",
    "锦华苑3-2-502号",
]


@pytest.mark.parametrize("raw", cases(SAME_HOUSE))
def test_same_house_same_key(raw):
    r = one(raw)
    assert r["address_key"] == one(SAME_HOUSE[0])["address_key"]
    assert (r["building"], r["unit"], r["floor"], r["room"]) == ("3", "2", "5", "502")
    assert r["compound"].startswith("锦华苑")


def test_police_full_form_components():
    r = one(SAME_HOUSE[0])
    assert r == {
        "province": "宁夏回族自治区", "city": "石嘴山市", "district": "大武口区",
        "street_office": "长胜街道", "community": "九竹社区", "road": None, "door_no": None,
        "compound": "锦华苑", "building": "3", "unit": "2", "floor": "5", "room": "502",
        "group_no": None, "address_key": "锦华|3|2|502",
        "address_norm": "长胜街道九竹社区锦华苑3号楼2单元502室",
    }


def test_street_door_with_sub_number():
    r = one("胜利东街23-1号")
    assert (r["road"], r["door_no"], r["building"], r["unit"]) == ("胜利东街", "23-1", None, None)
    assert r["address_key"] == "胜利东街|23-1"


def test_rural_group():
    r = one("潮湖村三组15号")
    assert (r["community"], r["group_no"], r["door_no"]) == ("潮湖村", "3", "15")
    assert r["address_key"] == "潮湖村|3|15"


@pytest.mark.parametrize("raw", cases(["潮湖村3组15号", "潮湖村第三村民小组15号", "潮湖村3队15号", "潮湖村三社15号",
                                 "潮湖村村委会三组15号", "大武口区星海镇潮湖村三组15号"]))
def test_rural_group_spellings(raw):
    assert one(raw)["address_key"] == "潮湖村|3|15"


@pytest.mark.parametrize("raw, road", cases([("五一路8号", "五一路"), ("三里屯路8号", "三里屯路"),
                                       ("十里铺街8号", "十里铺街")]))
def test_numerals_in_place_names_are_kept(raw, road):
    r = one(raw)
    assert (r["road"], r["door_no"], r["address_key"]) == (road, "8", f"{road}|8")


@pytest.mark.parametrize("raw, community", cases([("九竹社区", "九竹社区"), ("十里铺村", "十里铺村"),
                                            ("千户村", "千户村")]))
def test_numerals_in_community_names_are_kept(raw, community):
    assert one(raw + "2组5号")["community"] == community


@pytest.mark.parametrize("raw, b, u, f, r", cases([
    ("锦华苑3号楼502", "3", None, "5", "502"),
    ("锦华苑3-502", "3", None, "5", "502"),
    ("锦华苑3号楼2-502", "3", "2", "5", "502"),
    ("锦华苑3楼2单元301", "3", "2", "3", "301"),           # 楼 before 单元 = building
    ("锦华苑3号楼2单元3楼301", "3", "2", "3", "301"),       # 楼 after a unit = floor
    ("锦华苑5号楼3楼301", "5", None, "3", "301"),
    ("锦华苑A座1203", "A", None, "12", "1203"),
    ("锦华苑十二栋二单元一二〇一", "12", "2", "12", "1201"),
    ("锦华苑二十三号楼1单元101", "23", "1", "1", "101"),
    ("锦华苑3号楼负1层2号", "3", None, "-1", "2"),
    ("锦华苑3号楼东单元201", "3", "东", "2", "201"),
    ("锦华苑03号楼02单元0502室", "3", "2", "5", "502"),
]))
def test_house_tail(raw, b, u, f, r):
    got = one(raw)
    assert (got["building"], got["unit"], got["floor"], got["room"]) == (b, u, f, r)


@pytest.mark.parametrize("raw, key", cases([
    ("锦华花园3号楼2单元502", "锦华|3|2|502"),
    ("锦华家园3号楼2单元502", "锦华|3|2|502"),
    ("锦华小区3号楼2单元502", "锦华|3|2|502"),
    ("锦华苑二期3号楼2单元502", "锦华2期|3|2|502"),           # phases stay apart
    ("胜利东街23号院3号楼2单元502", "胜利东街|23|3|2|502"),
    ("胜利东街23号锦华苑3号楼2单元502", "锦华|3|2|502"),      # the estate wins over the street
    ("九竹社区3号楼2单元502", "九竹社区|3|2|502"),
    ("锦华苑", None), ("胜利东街", None), ("大武口区", None),
]))
def test_keys(raw, key):
    assert one(raw)["address_key"] == key


@pytest.mark.parametrize("raw, prov, city, dist, key", cases([
    ("河北省石家庄市长安区建设北大街100号", "河北省", "石家庄市", "长安区", "建设北大街|100"),
    ("北京市朝阳区建国路88号", "北京市", None, "朝阳区", "建国路|88"),
    ("广东省深圳市南山区科技园小区1栋2单元301", "广东省", "深圳市", "南山区", "科技|1|2|301"),
    ("新疆维吾尔自治区乌鲁木齐市天山区解放南路1号", "新疆维吾尔自治区", "乌鲁木齐市", "天山区",
     "解放南路|1"),
    ("四川成都市武侯区人民南路4段1号", "四川省", "成都市", "武侯区", None),
    ("三门峡市湖滨区六峰路1号", None, "三门峡市", "湖滨区", "六峰路|1"),
    ("宁夏银川市兴庆区胜利街街道丽景花园3-502", "宁夏回族自治区", "银川市", "兴庆区", "丽景|3||502"),
    ("吴忠市青铜峡市小坝镇", None, "吴忠市", "青铜峡市", None),
]))
def test_prefixes_not_only_ningxia(raw, prov, city, dist, key):
    r = one(raw)
    assert (r["province"], r["city"], r["district"]) == (prov, city, dist)
    if key is not None:
        assert r["address_key"] == key


@pytest.mark.parametrize("raw, dist, compound", cases([
    ("大武口锦华苑3号楼", "大武口区", "锦华苑"),
    ("石嘴山大武口锦华苑3号楼", "大武口区", "锦华苑"),
    ("金凤凰花园1号楼", None, "金凤凰花园"),          # 2-char alias 金凤 needs context
    ("银川市贺兰山路1号", None, None),               # 贺兰 must not eat 贺兰山路
    ("大武口区梦里水乡小区1号楼", "大武口区", "梦里水乡小区"),
]))
def test_aliases_and_guards(raw, dist, compound):
    r = one(raw)
    assert (r["district"], r["compound"]) == (dist, compound)


def test_remarks_and_noise_dropped():
    r = one("锦华苑3号楼2单元502室（东侧）【出租】附近")
    assert r["address_norm"] == "锦华苑3号楼2单元502室"


@pytest.mark.parametrize("raw", cases([None, "", "  ", "无", "NULL", "???", "-"]))
def test_missing_and_garbage(raw):
    r = parse_address(pd.Series([raw], dtype=object)).iloc[0]
    assert r.isna().all()


def test_alignment_and_no_mutation():
    s = pd.Series(["锦华苑3-2-502", None, "胜利东街23号"], index=["x", "y", "z"])
    before = s.copy()
    out = parse_address(s)
    pd.testing.assert_series_equal(s, before)
    assert list(out.index) == ["x", "y", "z"] and list(out.columns) == ADDRESS_COLUMNS
    assert out["address_key"].tolist() == ["锦华|3|2|502", None, "胜利东街|23"]
    assert parse_address(pd.Series([], dtype=object)).shape == (0, len(ADDRESS_COLUMNS))


@pytest.mark.parametrize("tok, n", [("三", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23),
                                    ("一百零五", 105), ("两", 2), ("五〇二", 502), ("一二〇一", 1201),
                                    ("零", 0), ("路", None), ("", None)])
def test_cn_to_int(tok, n):
    assert cn_to_int(tok) == n


# --- 100k vectorised == reference (the generator knows the house) --------------------------------

ESTATES = {"锦华苑": "锦华", "金林花园": "金林", "九竹家园": "九竹", "星海小区": "星海", "幸福新村": "幸福",
           "丽景公寓": "丽景"}


def _cn(n: int) -> str:
    d = "〇一二三四五六七八九"
    if n < 10:
        return d[n]
    return ("" if n < 20 else d[n // 10]) + "十" + ("" if n % 10 == 0 else d[n % 10])


def _digits_cn(n: int) -> str:
    return "".join("〇一二三四五六七八九"[int(c)] for c in str(n))


def _spell(rng, estate, b, u, r) -> str:
    k = rng.integers(0, 6)
    return [
        f"宁夏回族自治区石嘴山市大武口区长胜街道九竹社区{estate}{b}号楼{u}单元{r}室",
        f"大武口区{estate}{_cn(b)}栋{_cn(u)}单元{_digits_cn(r)}",
        f"{estate}{b}#{u}单元{r}户",
        f"长胜街道{estate}{b}-{u}-{r}",
        f"{estate}{b}幢{u}门{r // 100}楼{r % 100}号",
        f"宁夏石嘴山大武口区{estate}{b}号楼{u}单元{r}",
    ][k]


def test_vectorised_matches_reference_100k():
    rng = np.random.default_rng(9)
    raw, want = [], []
    names = list(ESTATES)
    for i in range(4_000):
        kind = i % 10
        if kind < 8:
            e = names[rng.integers(0, len(names))]
            b, u = int(rng.integers(1, 31)), int(rng.integers(1, 7))
            r = int(rng.integers(1, 19)) * 100 + int(rng.integers(1, 5))
            raw.append(_spell(rng, e, b, u, r))
            want.append(f"{ESTATES[e]}|{b}|{u}|{r}")
        elif kind == 8:
            road = ["胜利东街", "人民路", "五一路", "朝阳西街"][rng.integers(0, 4)]
            door = f"{rng.integers(1, 300)}" + ("" if rng.integers(0, 2) else f"-{rng.integers(1, 5)}")
            raw.append(f"{road}{door}号")
            want.append(f"{road}|{door}")
        else:
            g, door = int(rng.integers(1, 13)), int(rng.integers(1, 80))
            raw.append(f"潮湖村{[str(g), _cn(g), '第' + _cn(g) + '村民小组'][i % 3]}"
                       f"{'' if i % 3 == 2 else '组'}{door}号")
            want.append(f"潮湖村|{g}|{door}")
    pick = rng.integers(0, len(raw), 100_000)
    values = pd.Series(np.array(raw, dtype=object)[pick], dtype=object)
    keys = parse_address(values)["address_key"].tolist()
    assert len(keys) == 100_000
    for i in rng.choice(100_000, 3_000, replace=False):
        assert keys[i] == want[pick[i]], values.iloc[i]


def test_community_followed_by_road_starting_with_min():
    """Regression: 宏图社区民族南路 — the 社区 must be split off although the road begins with 民."""
    out = parse_address(pd.Series(["宁夏回族自治区银川市金凤区北京中路街道宏图社区民族南路43号", "民族南路四十三号"]))
    assert out.loc[0, "community"] == "宏图社区" and out.loc[0, "road"] == "民族南路"
    assert out.loc[0, "address_key"] == out.loc[1, "address_key"] == "民族南路|43"


# --- the vectorised parts agree with their one-value definitions ---------------------------------

def test_re2_whitespace_class_is_pythons():
    """_addr_text.WS_RE2 (Arrow/RE2) removes exactly what `[_text.WS]` removes in Python `re`."""
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    from schemas.normalise._addr_text import WS_RE2
    from schemas.normalise._text import WS
    chars = [chr(i) for i in range(0x10000) if not 0xD800 <= i <= 0xDFFF]
    re2 = pc.match_substring_regex(pa.array(chars), WS_RE2).to_pylist()
    py = [re.fullmatch(f"[{WS}]", c) is not None for c in chars]
    assert re2 == py


def test_parse_tails_equals_parse_tail():
    from schemas.normalise._house import parse_tail, parse_tails
    tails = ["", "3号楼2单元502室", "3#2单元502户", "3#楼2门502号", "03栋02单元0502", "3-2-502",
             "3-502室", "3-2-502号", "12座1203", "3号楼25号", "3号楼2单元3楼301", "5楼2号", "A座1203",
             "3号楼负1层2号", "15号", "3组15号", "1234567890号楼1单元1室", "٣号楼2单元502", "3号楼2单元",
             "3号楼东单元201", "2期3号楼2单元502", "-1层2号", "B1层", "3号楼2单元0050室", "0号楼0单元0室"]
    rural = [False, True] * len(tails)
    both = [t for t in tails for _ in (0, 1)]
    got = parse_tails(both, np.array(rural))
    for i, (t, r) in enumerate(zip(both, rural)):
        assert {f: got[f][i] for f in got} == parse_tail(t, r), (t, r)


def test_texts_differing_after_a_nul_character_stay_apart():
    """pandas' string hashing stops at NUL; the parser must not merge such addresses."""
    out = parse_address(pd.Series(["锦华苑\x00甲3-2-502", "锦华苑\x00乙3-2-502", "锦华苑"]))
    assert out["compound"].tolist() == ["锦华苑\x00甲", "锦华苑\x00乙", "锦华苑"]
