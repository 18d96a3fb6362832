"""Property tests (hypothesis) for schemas.normalise.addresses.parse_address.

Arbitrary text never raises and stays aligned; a batch equals its rows parsed one by one; the house key
does not depend on how the house tail is written (full-width digits, whitespace, Chinese numerals,
号楼/栋/幢/#, dash characters); re-parsing the canonical spelling gives the same key. Place names are
drawn from characters that carry no parsing meaning (no numerals, markers or generic suffixes).
"""
from __future__ import annotations

import pandas as pd
from hypothesis import example, HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.normalise._text import NULL_WORDS
from schemas.normalise.addresses import ADDRESS_COLUMNS, canonical_address, parse_address
from schemas.normalise.gazetteer import Gazetteer, learn_gazetteer

SETTINGS = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

ANY_CHAR = st.characters(exclude_categories=["Cs"])
NAME_CHARS = "青禾栖霞湾柳岸杏林桃源云杉白鹭蔚蓝翡翠雁鸣枫桥芦槐荫松风梅溪竹韵兰亭锦绣瑞雪丹碧波紫薇银金桂玉泉清涟秀峰"
CN = "〇一二三四五六七八九"
DASHES = "-－—–―‐‑‒−~～"
ESTATE_SUFFIX = ("小区", "花园", "家园", "苑", "公寓")
PREFIXES = ("", "宁夏回族自治区石嘴山市大武口区", "大武口区", "宁夏银川市兴庆区", "河北省石家庄市长安区")


def _key(text: str) -> str | None:
    return parse_address(pd.Series([text], dtype=object))["address_key"].iloc[0]


def _cn(n: int) -> str:
    """Positional Chinese numeral (十二, 二十三, 一百零五, 一千零一)."""
    if n < 20:
        return CN[n] if n < 10 else "十" + (CN[n % 10] if n % 10 else "")
    out, gap = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            out += ("零" if gap else "") + CN[d] + unit
            gap = False
        elif out:
            gap = True
    return out


def _cn_digits(n: int) -> str:
    return "".join(CN[int(c)] for c in str(n))


def _fullwidth(s: str) -> str:
    return s.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789#-"})


names = st.text(alphabet=NAME_CHARS, min_size=2, max_size=4)
# pieces with parsing meaning, glued at random: reaches the deep paths that random unicode does not
TOKENS = ("宁夏", "回族自治区", "石嘴山市", "大武口区", "大武口", "银川", "北京市", "朝阳区", "省", "市", "区", "县",
          "街道", "街道办事处", "镇", "乡", "社区", "居委会", "村", "村委会", "村民小组", "新村", "小区", "花园", "苑",
          "路", "街", "大街", "巷", "胡同", "道", "里", "号楼", "号院", "号", "栋", "幢", "座", "#", "单元", "门", "层",
          "楼", "室", "户", "组", "队", "社", "期", "排", "第", "负", "地下", "东", "A", "b", "一", "二", "十", "百",
          "千", "两", "零", "〇", "五〇二", "1", "23", "502", "0", "３", "٣", "-", "－", "~", "(", ")", "（", "【",
          "】", " ", "\u3000", "13912345678", "附近", "，", "NULL", "无", "青禾", "杏林", "\x00")
token_text = st.lists(st.sampled_from(TOKENS), max_size=14).map("".join)


@st.composite
def houses(draw):
    """(head, building, unit, room): an estate house below a random prefix / 街道 / 社区."""
    head = draw(st.sampled_from(PREFIXES))
    if draw(st.booleans()):
        head += draw(names) + "街道"
    if draw(st.booleans()):
        head += draw(names) + "社区"
    head += draw(names) + draw(st.sampled_from(ESTATE_SUFFIX))
    b = draw(st.integers(1, 40))
    u = draw(st.integers(1, 9))
    room = draw(st.integers(1, 30)) * 100 + draw(st.integers(1, 9))
    return head, b, u, room


def _standard(h) -> str:
    head, b, u, r = h
    return f"{head}{b}号楼{u}单元{r}室"


# --- never raises, aligned ----------------------------------------------------------------------

@SETTINGS
@given(st.lists(st.one_of(st.none(), st.text(ANY_CHAR, max_size=60), token_text,
                          st.sampled_from(sorted(NULL_WORDS)).map(lambda w: f" {w.upper()} ")),
                max_size=20))
def test_arbitrary_text_never_raises_and_stays_aligned(values):
    index = pd.Index([f"r{i}" for i in range(len(values))][::-1])
    out = parse_address(pd.Series(values, index=index, dtype=object))
    assert list(out.columns) == ADDRESS_COLUMNS and out.index.equals(index)
    for v in out.to_numpy().ravel():
        assert v is None or isinstance(v, str)
    for raw, (_, row) in zip(values, out.iterrows()):
        if raw is None or raw.strip().lower() in NULL_WORDS:
            assert row.isna().all()


@settings(max_examples=10, deadline=None, database=None)
@given(st.text(ANY_CHAR, min_size=2000, max_size=6000))
def test_very_long_text_never_raises(text):
    out = parse_address(pd.Series([text, text[::-1]], dtype=object))
    assert out.shape == (2, len(ADDRESS_COLUMNS))


@settings(max_examples=50, deadline=None, database=None)
@given(st.lists(st.one_of(st.text(ANY_CHAR, max_size=30), token_text, houses().map(_standard)),
                min_size=1,
                max_size=12))
def test_batch_equals_rows_parsed_alone(values):
    values = values + values[:3]                                 # repeats go through the dedup
    batch = parse_address(pd.Series(values, dtype=object))
    for i, v in enumerate(values):
        alone = parse_address(pd.Series([v], dtype=object)).iloc[0]
        assert batch.iloc[i].to_dict() == alone.to_dict(), v


# --- the key does not depend on how the house tail is written ------------------------------------

@st.composite
def tail_spellings(draw, h):
    _, b, u, r = h
    building = draw(st.sampled_from([f"{b}号楼", f"{b}栋", f"{b}幢", f"{b}#", f"{b}#楼", f"{b}座",
                                     f"{_cn(b)}栋", f"{_cn(b)}号楼", f"{_cn(b)}幢"]))
    unit = draw(st.sampled_from([f"{u}单元", f"{_cn(u)}单元"] + (["两单元"] if u == 2 else [])))
    room = draw(st.sampled_from([f"{r}室", f"{r}", f"{r}户", f"{_cn_digits(r)}", f"{_cn_digits(r)}室",
                                 f"{_cn(r)}室"]))
    return building + unit + room


@SETTINGS
@given(st.data())
def test_key_invariant_under_tail_spellings(data):
    h = data.draw(houses())
    want = _key(_standard(h))
    assert want is not None and want.endswith(f"|{h[1]}|{h[2]}|{h[3]}")
    tail = data.draw(tail_spellings(h))
    assert _key(h[0] + tail) == want, h[0] + tail


@SETTINGS
@given(houses(), st.sampled_from(DASHES), st.sampled_from(DASHES))
def test_key_invariant_under_dash_notation(h, d1, d2):
    head, b, u, r = h
    assert _key(f"{head}{b}{d1}{u}{d2}{r}") == _key(_standard(h))


@SETTINGS
@given(houses(), st.data())
def test_key_invariant_under_fullwidth_and_whitespace(h, data):
    text = _standard(h)
    spaced = list(_fullwidth(text))
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, len(spaced)))
        spaced.insert(at, data.draw(st.sampled_from([" ", "\u3000", "\t", "\u00a0", "\u200b"])))
    assert _key("".join(spaced)) == _key(text)


# --- idempotence -----------------------------------------------------------------------------------

@st.composite
def addresses(draw):
    """Estate, street-door and village addresses in assorted spellings."""
    kind = draw(st.sampled_from(["estate", "street", "village"]))
    if kind == "estate":
        h = draw(houses())
        return h[0] + draw(tail_spellings(h))
    head = draw(st.sampled_from(PREFIXES))
    if kind == "street":
        road = draw(names) + draw(st.sampled_from(["路", "街", "大街", "东路", "巷"]))
        door = str(draw(st.integers(1, 400))) + draw(st.sampled_from(["", "-1", "-12"]))
        return f"{head}{road}{door}号"
    group = draw(st.integers(1, 12))
    group_text = draw(st.sampled_from([f"{group}组", f"{_cn(group)}组", f"第{_cn(group)}村民小组",
                                       f"{group}队"]))
    return f"{head}{draw(names)}村{group_text}{draw(st.integers(1, 99))}号"


@SETTINGS
@given(addresses())
def test_canonical_spelling_parses_to_the_same_key(text):
    first = parse_address(pd.Series([text], dtype=object))
    key = first["address_key"].iloc[0]
    assert key is not None, text
    again = canonical_address(first).iloc[0]
    assert _key(again) == key, (text, again)
    assert _key(first["address_norm"].iloc[0]) == key                 # without the prefix too


@SETTINGS
@given(st.lists(st.one_of(addresses(), token_text), min_size=1, max_size=15))
@example(["丹丹小区1号楼1单元101室"] * 3 + ["宁夏街道镇，1"])     # an estate name no gazetteer can hold was "rewritten"
def test_a_gazetteer_learned_from_addresses_leaves_their_keys_alone(values):
    """Reference addresses keep their key, except that an estate whose stem another estate shares
    keeps its full name (which can only split keys, never merge them)."""
    s = pd.Series(values, dtype=object)
    gz = learn_gazetteer(s)
    plain, learned = parse_address(s), parse_address(s, gz)
    for a, b, estate in zip(learned["address_key"], plain["address_key"], plain["compound"]):
        assert a == b or estate in gz.shared_stem_compounds
    pairs = pd.DataFrame({"with": learned["address_key"], "without": plain["address_key"]}).dropna()
    assert (pairs.groupby("with")["without"].nunique() == 1).all()
    back = Gazetteer.from_dict(gz.to_dict())
    assert back.to_dict() == gz.to_dict()
