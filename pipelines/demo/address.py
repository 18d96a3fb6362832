"""Standard addresses: the police full form and the grid workers' spellings of the same house.

Pure functions. Every grid style renders the *same* house (format-only difference), see
shared/domain/address.md §3 for the variants a matcher has to normalise.
"""
from __future__ import annotations

from dataclasses import dataclass

from .vocab import CN_DIGITS

_FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789#-X"})

ESTATE_STYLES = ("plain", "community_prefix", "hash", "dong", "cn_numerals", "dash", "hu", "fullwidth",
                 "county_prefix")
STREET_STYLES = ("plain", "community_prefix", "fullwidth", "cn_numerals", "county_prefix")
RURAL_STYLES = ("plain", "arabic_group", "villager_group", "team", "township_prefix")
OUTSIDE_STYLES = ("plain", "province_alias")


@dataclass(frozen=True, slots=True)
class Addr:
    province: str
    city: str
    county: str
    county_code: str
    township: str
    community: str          # 社区 / 村 (for rural addresses the village itself)
    kind: str               # estate | street | rural
    place: str              # estate, street or village name
    building: int = 0
    unit: int = 0
    room: int = 0
    door: int = 0
    subdoor: int = 0
    group: int = 0
    local: bool = True      # inside the districts the two systems cover


def fullwidth(s: str) -> str:
    return s.translate(_FULLWIDTH)


def cn_number(n: int) -> str:
    """Chinese numeral for 0..99 (十, 十一, 二十三)."""
    if n < 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else CN_DIGITS[tens]
    return head + "十" + (CN_DIGITS[ones] if ones else "")


def cn_digits(n: int) -> str:
    """Digit by digit, as rooms are read out: 502 -> 五〇二."""
    return "".join(CN_DIGITS[int(d)] for d in str(n))


def _door(a: Addr) -> str:
    return f"{a.door}-{a.subdoor}号" if a.subdoor else f"{a.door}号"


def detail(a: Addr) -> str:
    """The part below the community, in the standard spelling."""
    if a.kind == "estate":
        return f"{a.place}{a.building}号楼{a.unit}单元{a.room}室"
    if a.kind == "street":
        return f"{a.place}{_door(a)}"
    return f"{a.place}{cn_number(a.group)}组{a.door}号"


def police_address(a: Addr) -> str:
    """宁夏回族自治区石嘴山市大武口区长胜街道九竹社区锦华苑3号楼2单元502室."""
    community = "" if a.kind == "rural" else a.community
    return f"{a.province}{a.city}{a.county}{a.township}{community}{detail(a)}"


def styles_for(a: Addr) -> tuple[str, ...]:
    if not a.local:
        return OUTSIDE_STYLES
    return {"estate": ESTATE_STYLES, "street": STREET_STYLES, "rural": RURAL_STYLES}[a.kind]


def grid_address(a: Addr, style: str = "plain") -> str:
    """The grid worker's spelling; "plain" = no 省市区 prefix, standard detail."""
    if not a.local:
        full = police_address(a)
        if style == "province_alias":
            return full.replace("回族自治区", "", 1).replace("维吾尔自治区", "", 1).replace("省", "", 1)
        return full
    if a.kind == "estate":
        return _estate(a, style)
    if a.kind == "street":
        return _street(a, style)
    return _rural(a, style)


def _estate(a: Addr, style: str) -> str:
    b, u, r = a.building, a.unit, a.room
    if style == "community_prefix":
        return f"{a.community}{detail(a)}"
    if style == "hash":
        return f"{a.place}{b}#{u}单元{r}室"
    if style == "dong":
        return f"{a.place}{b}栋{u}单元{r}"
    if style == "cn_numerals":
        return f"{a.place}{cn_number(b)}栋{cn_number(u)}单元{cn_digits(r)}"
    if style == "dash":
        place = a.place if a.place.endswith("小区") else a.place + "小区"
        return f"{place}{b}-{u}-{r}"
    if style == "hu":
        return f"{a.place}{b}号楼{u}单元{r}户"
    if style == "fullwidth":
        return fullwidth(f"{a.place}{b}#{u}单元{r}户")
    if style == "county_prefix":
        return f"{a.county}{a.place}{cn_number(b)}栋{cn_number(u)}单元{cn_digits(r)}"
    return detail(a)


def _street(a: Addr, style: str) -> str:
    if style == "community_prefix":
        return f"{a.community}{detail(a)}"
    if style == "fullwidth":
        return fullwidth(detail(a))
    if style == "cn_numerals":
        door = cn_number(a.door) if a.door < 100 else str(a.door)
        return f"{a.place}{door}号" if not a.subdoor else f"{a.place}{a.door}-{a.subdoor}号"
    if style == "county_prefix":
        return f"{a.county}{detail(a)}"
    return detail(a)


def _rural(a: Addr, style: str) -> str:
    if style == "arabic_group":
        return f"{a.place}{a.group}组{a.door}号"
    if style == "villager_group":
        return f"{a.place}第{cn_number(a.group)}村民小组{a.door}号"
    if style == "team":
        return f"{a.place}{a.group}队{a.door}号"
    if style == "township_prefix":
        return f"{a.township}{detail(a)}"
    return detail(a)
