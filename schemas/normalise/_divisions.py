"""Administrative prefixes of addresses: province / city / county names, aliases, generic suffixes.

Names come from a built-in list of the 34 province-level units plus
schemas/tables/ningxia_divisions_mca_20251231.csv (cities, counties, with short aliases such as
石嘴山 = 石嘴山市, 大武口 = 大武口区). Other provinces' cities and counties are recognised by their
generic suffix (市/地区/自治州/盟, 区/县/旗/市) once a higher level has been seen.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

PROVINCES = (
    ("北京市", "北京"), ("天津市", "天津"), ("河北省", "河北"), ("山西省", "山西"),
    ("内蒙古自治区", "内蒙古"), ("辽宁省", "辽宁"), ("吉林省", "吉林"), ("黑龙江省", "黑龙江"),
    ("上海市", "上海"), ("江苏省", "江苏"), ("浙江省", "浙江"), ("安徽省", "安徽"), ("福建省", "福建"),
    ("江西省", "江西"), ("山东省", "山东"), ("河南省", "河南"), ("湖北省", "湖北"), ("湖南省", "湖南"),
    ("广东省", "广东"), ("广西壮族自治区", "广西"), ("海南省", "海南"), ("重庆市", "重庆"),
    ("四川省", "四川"), ("贵州省", "贵州"), ("云南省", "云南"), ("西藏自治区", "西藏"),
    ("陕西省", "陕西"), ("甘肃省", "甘肃"), ("青海省", "青海"), ("宁夏回族自治区", "宁夏"),
    ("新疆维吾尔自治区", "新疆"), ("台湾省", "台湾"), ("香港特别行政区", "香港"),
    ("澳门特别行政区", "澳门"),
)
H = "\u4e00-\u9fff"
# an alias without its suffix must not run on into a street/estate name (贺兰山路, 同心路, 西夏花园)
_ALIAS_STOP = ("(?!山|路|街|巷|道|大街|大道|里|弄|村|镇|乡|苑|园|花园|家园|城|广场|小区|新村|公寓"
               "|大厦|中心|市场)")
# after a generic 市/区 these characters mean the word was something else (市场, 市政, 小区 …)
_GENERIC_STOP = "(?![场政民委级辖中心])"
_NOT_ESTATE_QU = "".join(f"(?<!{c})" for c in "小社园校厂矿景片营城新") + "(?<!生活)(?<!住宅)(?<!开发)"

_COUNTY = rf"[{H}]{{1,6}}?(?:{_NOT_ESTATE_QU}区|县|旗|市){_GENERIC_STOP}"


@dataclass(frozen=True)
class Level:
    """One prefix level: a regex alternative per form and a map of matched text -> canonical name."""
    named: str            # full names and aliases (usable without context)
    alias: str            # short aliases: only after a higher level or before a lower one
    alias_free: str       # aliases of 3+ characters (石嘴山, 大武口): also without context
    generic: str          # generic suffix pattern (only with context)
    generic_free: str     # generic pattern usable without context (city followed by a county)
    canonical: dict


def _alt(names) -> str:
    return "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True)) or "(?!)"


@cache
def _ningxia() -> list[dict]:
    path = files("schemas").joinpath("tables", "ningxia_divisions_mca_20251231.csv")
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _short(name: str, suffixes: tuple[str, ...]) -> str | None:
    for suf in suffixes:
        if name.endswith(suf) and len(name) - len(suf) >= 2:
            return name[: -len(suf)]
    return None


@cache
def levels() -> dict[str, Level]:
    rows = _ningxia()
    canon: dict[str, dict] = {"province": {}, "city": {}, "district": {}}
    for full, short in PROVINCES:
        canon["province"][full] = full
        canon["province"][short] = full
    # 宁夏自治区, 广西自治区 …
    for full, short in PROVINCES:
        if full.endswith("自治区"):
            canon["province"][short + "自治区"] = full
    short_city, short_dist = {}, {}
    for r in rows:
        lvl, name = r["level"], r["name"]
        if lvl == "2":
            canon["city"][name] = name
            if (s := _short(name, ("市", "地区", "自治州", "盟"))):
                short_city[s] = name
        elif lvl == "3":
            canon["district"][name] = name
            if (s := _short(name, ("区", "县", "市", "旗"))):
                short_dist[s] = name
    canon["city"].update(short_city)
    canon["district"].update(short_dist)
    short_prov = [s for _, s in PROVINCES]
    lower = rf"(?=[{H}]{{1,8}}?(?:市|地区|自治州|盟|区|县|旗))"    # a lower level follows
    return {
        "province": Level(
            named=_alt(n for n in canon["province"] if n not in short_prov),
            alias=rf"(?:{_alt(short_prov)})(?:省|市)?{lower}", alias_free="(?!)",
            generic="(?!)", generic_free="(?!)", canonical=canon["province"]),
        "city": Level(
            named=_alt(n for n in canon["city"] if n not in short_city),
            alias=rf"(?:{_alt(short_city)}){_ALIAS_STOP}",
            alias_free=rf"(?:{_alt(n for n in short_city if len(n) >= 3)}){_ALIAS_STOP}",
            generic=rf"[{H}]{{2,6}}?(?:市|地区|自治州|盟){_GENERIC_STOP}",
            generic_free=rf"[{H}]{{2,6}}?(?:市|地区|自治州|盟){_GENERIC_STOP}(?={_COUNTY})",
            canonical=canon["city"]),
        "district": Level(
            named=_alt(n for n in canon["district"] if n not in short_dist),
            alias=rf"(?:{_alt(short_dist)}){_ALIAS_STOP}",
            alias_free=rf"(?:{_alt(n for n in short_dist if len(n) >= 3)}){_ALIAS_STOP}",
            generic=_COUNTY, generic_free="(?!)",
            canonical=canon["district"]),
    }


