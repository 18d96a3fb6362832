"""Free-text addresses → components and a house key (shared/domain/address.md §3, in that order).

Runs on the distinct addresses only (`by_unique`). Cleaning and the administrative / township /
community / street / estate levels are peeled off the front with anchored `str.extract` over the
unique values; Chinese numerals before unit markers and the house tail (`_house.parse_tail`) are
converted per unique value.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from . import _divisions
from ._house import parse_tail
from ._text import NULL_WORDS, WS, as_text, by_unique, coalesce, truthy
from .numerals import NUMERAL_CHARS, cn_to_digits

ADDRESS_COLUMNS = ["province", "city", "district", "street_office", "community", "road", "door_no",
                   "compound", "building", "unit", "floor", "room", "group_no", "address_key",
                   "address_norm"]
H = "\u4e00-\u9fff"
ESTATE_SUFFIXES = ("小区", "住宅区", "生活区", "宿舍区", "宿舍", "花园", "家园", "公寓", "新村", "大院",
                   "苑", "园")
_ESTATE = "|".join(ESTATE_SUFFIXES)
_STOP = rf"(?!{_ESTATE}|路|街|大街|大道|巷|广场|城)"        # a level must not be an estate's start

# Chinese numerals -> digits only in the token right before a unit marker (never 五一路, 九竹社区)
_MARKERS = (r"号楼|号院|号|栋|幢|座|单元|门(?!峡|头沟|口|诊|卫|市|面|店)|层|楼|室|户|村民小组|小组|组|队"
            r"|社(?!区|会)|期|区(?!域)|排")
# a numeral token with at least one digit or 十 (千户村, 百户 stay text)
_NUM_TOKEN = rf"(?<![{NUMERAL_CHARS}])([{NUMERAL_CHARS}]*[零〇○一二两三四五六七八九十][{NUMERAL_CHARS}]*)"
_CN_BEFORE_MARKER = rf"{_NUM_TOKEN}(?={_MARKERS})"
_CN_ROOM_AT_END = rf"(?:(?<=单元)|(?<=[门层楼号栋幢座#室户-]))([{NUMERAL_CHARS}]+)$"

_TOWNSHIP = rf"(?P<v>[{H}]{{2,8}}?(?:街道办事处|街道办|街道|镇|乡|苏木)){_STOP}"
# 村 must not swallow 村民小组 (hence 民); 社区 may be followed by a road such as 民族南路
_COMMUNITY = (rf"(?P<v>[{H}]{{1,10}}?(?:社区(?!委|路|街|道|{_ESTATE})|(?:(?<!新)村|嘎查)(?!民|委|路|街|道|{_ESTATE})))"
              r"(?:居民委员会|居委会|村民委员会|村委会)?"
              rf"|(?P<v2>[{H}]{{1,10}}?)(?:社区居民委员会|社区居委会|居民委员会|居委会)"
              rf"|(?P<v3>[{H}]{{1,10}}?)(?:村民委员会|村委会)")
_GROUP = r"第?(?P<v>\d+)(?:村民小组|村民组|小组|组|队|社)"
_ROAD = (rf"(?P<v>[{H}A-Za-z]{{1,15}}?(?:大街|大道|路|街(?!道)|巷|胡同|道(?=\d)|里(?=\d+号)|弄(?=\d)"
         rf"|段(?=\d)))(?!{_ESTATE}|社区|村|区|坊|心|口|道)"
         r"(?:(?P<door>\d+(?:-\d+)?)(?=号院|号(?!楼)|$)(?:号院|号)?)?")
_DOOR = r"(?P<v>\d+(?:-\d+)?)(?:号院|号(?!楼)|(?=$))"
_COMPOUND = (r"(?P<v>[^\d#\-]+?)(?=\d|[A-Za-z]\d*(?:号楼|#|栋|幢|座|号|单元|区|期)|负\d|地下|-|$)")


def _clean(u: pd.Series) -> pd.Series:
    """§3.1-2: NFKC, no whitespace, one dash, no bracketed remarks / trailing 附近 / phone numbers."""
    t = u.str.normalize("NFKC").str.replace(f"[{WS}]+", "", regex=True)
    t = t.str.replace(r"[－—–―‐‑‒−~～]+|-{2,}", "-", regex=True)
    t = t.str.replace(r"\([^()]*\)|\[[^\]]*\]|【[^】]*】|〔[^〕]*〕|\([^)]*$", "", regex=True)
    t = t.str.replace(r"(?<!\d)(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)", "", regex=True)
    t = t.str.replace(r"(?:附近|对面|旁边|旁|隔壁|[东西南北]侧)$", "", regex=True)
    return t.str.strip("-,，。.;；:：")


def _numerals(t: pd.Series) -> pd.Series:
    """Numerals before a unit marker (三栋, 二单元, 第三村民小组) and a trailing room (五〇二)."""
    def repl(m: re.Match) -> str:   # per unique address (pandas calls it once per match)
        return cn_to_digits(m.group(1))
    t = t.str.replace(_CN_BEFORE_MARKER, repl, regex=True)
    return t.str.replace(_CN_ROOM_AT_END, repl, regex=True)


def _peel(rest: pd.Series, pattern: str, where: pd.Series | None = None):
    """Match `pattern` at the start of `rest` -> (groups DataFrame, remaining text)."""
    rx = re.compile(f"^(?:{pattern})(?P<_rest>.*)$", re.S)
    todo = np.ones(len(rest), dtype=bool) if where is None else where.to_numpy(dtype=bool)
    vals = np.full((len(rest), len(rx.groupindex)), None, dtype=object)
    if todo.any():
        ext = rest[todo].str.extract(rx)
        vals[todo] = ext.to_numpy(dtype=object)
        vals[pd.isna(vals)] = None
    ext = pd.DataFrame(vals, index=rest.index, columns=list(rx.groupindex))
    hit = ext["_rest"].notna().to_numpy()
    return ext, pd.Series(np.where(hit, vals[:, -1], rest.to_numpy(dtype=object)), index=rest.index,
                          dtype=object)


def _admin(rest: pd.Series, level: str, context: pd.Series) -> tuple[pd.Series, pd.Series]:
    """One administrative level: full names anywhere, aliases/generic suffixes only in context."""
    lv = _divisions.levels()[level]
    ext, rest2 = _peel(rest, f"(?P<v>{lv.named})")
    got = ext["v"]
    anywhere = pd.Series(True, index=rest.index)
    for pat, ctx in ((lv.alias, context | (level == "province")), (lv.generic, context),
                     (lv.alias_free, anywhere), (lv.generic_free, anywhere)):
        if pat == "(?!)":
            continue
        e, r = _peel(rest2, f"(?P<v>{pat})", where=got.isna() & ctx)
        got = coalesce(got, e["v"])
        rest2 = r
    canon = got.map(lv.canonical)
    canon = coalesce(canon, got.str.replace("[省市]$", "", regex=True).map(lv.canonical), got)
    return canon, rest2


def _compound_key(c: pd.Series) -> pd.Series:
    """Estate key: generic suffixes removed from the end while 2+ characters remain."""
    key = c
    for _ in range(3):
        stripped = key.str.replace(f"({_ESTATE})$", "", regex=True)
        key = key.where(stripped.str.len() < 2, stripped)
    return key


def _parse_unique(u: pd.Series) -> pd.DataFrame:
    t = _numerals(_clean(u))
    blank = truthy(t.isna() | (t == "") | t.str.lower().isin(NULL_WORDS)
                   | ~truthy(t.str.contains(f"[{H}\\d]")))
    rest = t.where(~blank, "")
    out = pd.DataFrame(index=u.index, columns=ADDRESS_COLUMNS, dtype=object)
    no = pd.Series(False, index=u.index)
    out["province"], rest = _admin(rest, "province", no)
    _, rest = _admin(rest, "province", out["province"].notna())          # 宁夏宁夏回族自治区
    out["city"], rest = _admin(rest, "city", out["province"].notna())
    out["district"], rest = _admin(rest, "district",
                                   out["province"].notna() | out["city"].notna())
    out["address_norm"] = rest.where(rest != "", None)
    ext, rest = _peel(rest, _TOWNSHIP)
    out["street_office"] = ext["v"].str.replace("街道办事处$|街道办$", "街道", regex=True)
    ext, rest = _peel(rest, _COMMUNITY)
    out["community"] = coalesce(ext["v"], ext["v2"] + "社区", ext["v3"] + "村")
    ext, rest = _peel(rest, _GROUP)
    out["group_no"] = ext["v"]
    ext, rest = _peel(rest, _ROAD)
    out["road"], out["door_no"] = ext["v"], ext["door"]
    rural = out["group_no"].notna() | truthy(out["community"].str.endswith("村"))
    ext, rest = _peel(rest, _DOOR, where=(rural | out["road"].notna()) & out["door_no"].isna())
    out["door_no"] = coalesce(out["door_no"], ext["v"])
    ext, rest = _peel(rest, _COMPOUND)
    out["compound"] = ext["v"].where(ext["v"] != "", None)
    # the house tail (3号楼2单元502室, 3-2-502 …): a small state machine per unique address
    tail = pd.DataFrame([parse_tail(x, r) for x, r in zip(rest, rural)], index=u.index)
    for col in ("building", "unit", "floor", "room"):
        out[col] = tail[col]
    out["door_no"] = coalesce(out["door_no"], tail["door_no"])
    out["group_no"] = coalesce(out["group_no"], tail["group_no"])
    out["group_no"] = out["group_no"].where(out["group_no"].isna(), out["group_no"].str.lstrip("0"))
    ckey = _compound_key(out["compound"]) + tail["phase"].fillna("")      # 锦华 + 2期
    out["address_key"] = _house_key(out, ckey)
    return out.where(~blank, None)


def _house_key(o: pd.DataFrame, ckey: pd.Series) -> pd.Series:
    def j(*cols):
        acc = coalesce(cols[0], "")
        for c in cols[1:]:
            acc = acc + "|" + coalesce(c, "")
        return acc
    b, u_, r = o["building"], o["unit"], o["room"]
    has_house = b.notna() | u_.notna() | r.notna()
    estate = ckey.notna() & (has_house | o["door_no"].notna())
    street = ~estate & o["road"].notna() & o["door_no"].notna()
    rural = ~estate & ~street & o["community"].notna() & (o["group_no"].notna()
                                                         | o["door_no"].notna())
    flat = ~estate & ~street & ~rural & o["community"].notna() & has_house
    key = pd.Series([None] * len(o), index=o.index, dtype=object)
    key[estate] = j(ckey, coalesce(b, o["door_no"]), u_, r)[estate]
    street_key = j(o["road"], o["door_no"]).where(~has_house, j(o["road"], o["door_no"], b, u_, r))
    key[street] = street_key[street]
    key[rural] = j(o["community"], o["group_no"], o["door_no"])[rural]
    key[flat] = j(o["community"], b, u_, r)[flat]
    return key


def parse_address(s) -> pd.DataFrame:
    """Parse addresses -> DataFrame[province, city, district, street_office, community, road,
    door_no, compound, building, unit, floor, room, group_no, address_key, address_norm].

    address_key is equal for the same house written in police full form and grid short form:
    `compound key|building|unit|room` (estate), `road|door` (street; + `|building|unit|room` when
    present), `village|group|door` (rural); None if no house can be identified. address_norm is the
    cleaned text without the province/city/county prefix. All None for empty/garbage input.
    """
    return by_unique(as_text(s), _parse_unique, ADDRESS_COLUMNS)
