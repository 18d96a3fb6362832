"""The levels of an address, peeled off the front one after another (address.md §2-3).

Administrative prefix (province / city / county, `_divisions`), then 街道/镇/乡, 社区/村, 组, road + 门牌,
小区. Each level is a pattern anchored at the start of the remaining text. The functions here read
one distinct text each; the caller (addresses.py) only calls them on distinct *digit-masked* texts:
no level pattern looks at the value of a digit, so masking changes no match and no span.
"""
from __future__ import annotations

import re
from functools import cache

from . import _divisions

H = "\u4e00-\u9fff"
ESTATE_SUFFIXES = ("小区", "住宅区", "生活区", "宿舍区", "宿舍", "花园", "家园", "公寓", "新村", "大院",
                   "苑", "园")
ESTATE = "|".join(ESTATE_SUFFIXES)
_STOP = rf"(?!{ESTATE}|路|街|大街|大道|巷|广场|城)"        # a level must not be an estate's start

TOWNSHIP = rf"(?P<v>[{H}]{{2,8}}?(?:街道办事处|街道办|街道|镇|乡|苏木)){_STOP}"
# 村 must not swallow 村民小组 (hence 民); 社区 may be followed by a road such as 民族南路
COMMUNITY = (rf"(?P<v>[{H}]{{1,10}}?(?:社区(?!委|路|街|道|{ESTATE})|(?:(?<!新)村|嘎查)(?!民|委|路|街|道|{ESTATE})))"
             r"(?:居民委员会|居委会|村民委员会|村委会)?"
             rf"|(?P<v2>[{H}]{{1,10}}?)(?:社区居民委员会|社区居委会|居民委员会|居委会)"
             rf"|(?P<v3>[{H}]{{1,10}}?)(?:村民委员会|村委会)")
GROUP = r"第?(?P<v>\d+)(?:村民小组|村民组|小组|组|队|社)"
ROAD_TYPES = ("大街", "大道", "胡同", "路", "街", "巷", "道", "里", "弄", "段")
ROAD = (rf"(?P<v>[{H}A-Za-z]{{1,15}}?(?:大街|大道|路|街(?!道)|巷|胡同|道(?=\d)|里(?=\d+号)|弄(?=\d)"
        rf"|段(?=\d)))(?!{ESTATE}|社区|村|区|坊|心|口|道)"
        r"(?:(?P<door>\d+(?:-\d+)?)(?=号院|号(?!楼)|$)(?:号院|号)?)?")
DOOR = r"(?P<v>\d+(?:-\d+)?)(?:号院|号(?!楼)|(?=$))"
COMPOUND = r"(?P<v>[^\d#\-]+?)(?=\d|[A-Za-z]\d*(?:号楼|#|栋|幢|座|号|单元|区|期)|负\d|地下|-|$)"


def anchored(pattern: str) -> re.Pattern:
    return re.compile(f"^(?:{pattern})(?P<_rest>.*)$", re.S)


_TOWNSHIP_RX, _COMMUNITY_RX = anchored(TOWNSHIP), anchored(COMMUNITY)
_GROUP_RX, _ROAD_RX, _DOOR_RX = anchored(GROUP), anchored(ROAD), anchored(DOOR)
_COMPOUND_RX = anchored(COMPOUND)
_OFFICE = re.compile("街道办事处$|街道办$")
_PROV_CITY_SUFFIX = re.compile("[省市]$")
_ESTATE_END = re.compile(f"({ESTATE})$")


@cache
def _admin_patterns() -> dict:
    """Per level: the `named` pattern and the (pattern, context rule) fall-backs, compiled."""
    out = {}
    for level, lv in _divisions.levels().items():
        rules = [(lv.alias, "alias"), (lv.generic, "ctx"), (lv.alias_free, "any"), (lv.generic_free, "any")]
        out[level] = (anchored(f"(?P<v>{lv.named})"),
                      [(anchored(f"(?P<v>{p})"), rule) for p, rule in rules if p != "(?!)"],
                      lv.canonical)
    return out


def _admin(rest: str, level: str, context: bool) -> tuple[str | None, str]:
    """One administrative level: full names anywhere, aliases/generic suffixes only in context."""
    named, rules, canonical = _admin_patterns()[level]
    m = named.match(rest)
    if m is None:
        for rx, rule in rules:
            if rule == "any" or context or (rule == "alias" and level == "province"):
                m = rx.match(rest)
                if m is not None:
                    break
    if m is None:
        return None, rest
    got = m.group("v")
    canon = canonical.get(got) or canonical.get(_PROV_CITY_SUFFIX.sub("", got)) or got
    return canon, m.group("_rest")


def admin_prefix(text: str) -> tuple[str | None, str | None, str | None, int]:
    """(province, city, county, characters consumed) of one text."""
    prov, rest = _admin(text, "province", False)
    _, rest = _admin(rest, "province", prov is not None)                    # 宁夏宁夏回族自治区
    city, rest = _admin(rest, "city", prov is not None)
    dist, rest = _admin(rest, "district", prov is not None or city is not None)
    return prov, city, dist, len(text) - len(rest)


def upper_levels(text: str) -> tuple[str | None, str | None, int]:
    """(街道/镇/乡, 社区/村, characters consumed) at the start of the text below the county."""
    office = community = None
    rest = text
    m = _TOWNSHIP_RX.match(rest)
    if m is not None:
        office, rest = _OFFICE.sub("街道", m.group("v")), m.group("_rest")
    m = _COMMUNITY_RX.match(rest)
    if m is not None:
        g = m.groupdict()
        community = g["v"] or (g["v2"] + "社区" if g["v2"] is not None else None) or \
            (g["v3"] + "村" if g["v3"] is not None else None)
        rest = m.group("_rest")
    return office, community, len(text) - len(rest)


Span = tuple[int, int] | None


def lower_levels(text: str, village: bool) -> tuple[Span, str | None, Span, Span, str | None, int]:
    """(group span, road, road-door span, door span, compound, characters consumed) of the text after
    the community. Spans are offsets into `text` (the caller reads the digits from the unmasked text).
    `village`: the community is a 村 (a bare number is then a door number)."""
    pos, group, road, road_door, door, compound = 0, None, None, None, None, None
    m = _GROUP_RX.match(text)
    if m is not None:
        group, pos = m.span("v"), m.start("_rest")
    m = _ROAD_RX.match(text[pos:])
    if m is not None:
        road = m.group("v")
        if m.group("door") is not None:
            road_door = (pos + m.start("door"), pos + m.end("door"))
        pos += m.start("_rest")
    if (group is not None or village or road is not None) and road_door is None:
        m = _DOOR_RX.match(text[pos:])
        if m is not None:
            door = (pos + m.start("v"), pos + m.end("v"))
            pos += m.start("_rest")
    m = _COMPOUND_RX.match(text[pos:])
    if m is not None:
        compound = m.group("v") or None
        pos += m.start("_rest")
    return group, road, road_door, door, compound, pos


def compound_key(name: str | None) -> str | None:
    """Estate key: generic suffixes removed from the end while 2+ characters remain."""
    if name is None:
        return None
    key = name
    for _ in range(3):
        stripped = _ESTATE_END.sub("", key)
        if len(stripped) >= 2:
            key = stripped
    return key
