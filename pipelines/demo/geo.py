"""Real Ningxia divisions (MCA 2025-12-31 table) plus synthetic communities, estates, streets, villages."""
from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import schemas

from .address import Addr
from .vocab import (ESTATE_SUFFIXES, LINGWU_HISTORY, OTHER_PROVINCES, PLACE_WORDS, RESIDENCE_COUNTIES,
                    STREET_DIRECTIONS, STREET_TYPES, STREET_WORDS, UYGHUR_ORIGINS, VILLAGE_WORDS)

DIVISIONS_CSV = Path(schemas.__file__).parent / "tables" / "ningxia_divisions_mca_20251231.csv"


@lru_cache(maxsize=1)
def divisions() -> dict[str, tuple[int, str, str]]:
    """code -> (level, parent_code, name) for all Ningxia divisions."""
    with DIVISIONS_CSV.open(encoding="utf-8") as f:
        return {r["code"]: (int(r["level"]), r["parent_code"], r["name"]) for r in csv.DictReader(f)}


def names_of(county_code: str) -> tuple[str, str, str]:
    """(province, city, county) names of a Ningxia county code."""
    d = divisions()
    _, city_code, county = d[county_code]
    _, prov_code, city = d[city_code]
    return d[prov_code][2], city, county


def townships(county_code: str) -> list[tuple[str, str]]:
    return sorted((c, v[2]) for c, v in divisions().items() if v[0] == 4 and v[1] == county_code)


def ningxia_counties() -> list[str]:
    return sorted(c for c, v in divisions().items() if v[0] == 3)


def birth_county_code(county_code: str, birth_year: int) -> str:
    """The code an ID number assigned at birth carries (灵武 changed code three times)."""
    if county_code != "640181":
        return county_code
    return next(code for until, code in LINGWU_HISTORY if birth_year < until)


def station_name(township: str) -> str:
    for suffix in ("街道", "镇", "乡"):
        if township.endswith(suffix) and len(township) > len(suffix) + 1:
            base = township[: -len(suffix)]
            return f"{base}派出所" if suffix == "街道" else f"{township}派出所"
    return f"{township}派出所"


@dataclass(slots=True)
class Community:
    county_code: str
    township_code: str
    township: str
    code: str                     # 12 digits: township + 3
    name: str
    rural: bool
    grids: int
    estates: list[tuple[str, int, int, int]] = field(default_factory=list)   # name, buildings, units, floors
    streets: list[str] = field(default_factory=list)
    used: set = field(default_factory=set)

    @property
    def station(self) -> str:
        return station_name(self.township)


class Places:
    """Hands out synthetic names, unique per county (estates: unique without their suffix too)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[tuple[str, str]] = set()

    def _word(self, attempt: int, words: tuple[str, ...]) -> str:
        if attempt < 100:
            return self.rng.choice(words)
        return self.rng.choice(words)[0] + self.rng.choice(words)[1]     # a new two-character word

    def _take(self, county: str, kind: str, make) -> str:
        for attempt in range(2000):
            base, name = make(attempt)
            if (county, kind + base) not in self.used:
                self.used.add((county, kind + base))
                return name
        raise RuntimeError("place names exhausted")

    def estate(self, county: str) -> str:
        def make(k: int) -> tuple[str, str]:
            base = self._word(k, PLACE_WORDS)
            return base, base + self.rng.choice(ESTATE_SUFFIXES)
        return self._take(county, "estate:", make)

    def street(self, county: str) -> str:
        def make(k: int) -> tuple[str, str]:
            name = self._word(k, STREET_WORDS) + self.rng.choice(STREET_DIRECTIONS) + self.rng.choice(STREET_TYPES)
            return name, name
        return self._take(county, "street:", make)

    def community(self, county: str, rural: bool) -> str:
        def make(k: int) -> tuple[str, str]:
            base = self._word(k, VILLAGE_WORDS if rural else PLACE_WORDS)
            return base, base + ("村" if rural else "社区")
        return self._take(county, "community:", make)


def build_communities(rng: random.Random, n: int) -> list[Community]:
    places = Places(rng)
    counties = [c for c, _, _ in RESIDENCE_COUNTIES]
    weights = [w for _, w, _ in RESIDENCE_COUNTIES]
    rural_share = {c: s for c, _, s in RESIDENCE_COUNTIES}
    per_township: dict[str, int] = {}
    out = []
    for i in range(n):
        if i < len(counties):                       # every county once; the mostly rural one as villages
            county = counties[i]
            rural = rural_share[county] >= 0.5
        else:
            county = rng.choices(counties, weights)[0]
            rural = rng.random() < rural_share[county]
        towns = townships(county)
        if rural:
            pool = [t for t in towns if t[1].endswith(("镇", "乡"))]
        else:
            pool = [t for t in towns if t[1].endswith("街道")] or [t for t in towns if t[1].endswith("镇")]
        tcode, tname = rng.choice(pool or towns)
        per_township[tcode] = per_township.get(tcode, 0) + 1
        c = Community(county, tcode, tname, f"{tcode}{per_township[tcode]:03d}",
                      places.community(county, rural), rural, rng.randint(1, 4))
        if not rural:
            c.estates = [(places.estate(county), rng.randint(4, 30), rng.randint(2, 4), rng.randint(6, 18))
                         for _ in range(rng.randint(1, 3))]
            c.streets = [places.street(county) for _ in range(rng.randint(1, 2))]
        out.append(c)
    return out


def new_house_addr(rng: random.Random, c: Community) -> tuple[Addr, str]:
    """A not yet used house address in community c and its 15-digit grid code."""
    prov, city, county = names_of(c.county_code)
    base = dict(province=prov, city=city, county=county, county_code=c.county_code, township=c.township,
                community=c.name)
    for attempt in range(10_000):
        spread = 1 + attempt // 500
        if c.rural:
            group, door = rng.randint(1, 8), rng.randint(1, 80 * spread)
            key, grid = ("r", group, door), (group - 1) % c.grids
            a = Addr(kind="rural", place=c.name, group=group, door=door, **base)
        elif rng.random() < 0.8:
            name, nb, nu, nf = rng.choice(c.estates)
            b, u, fl, k = rng.randint(1, nb * spread), rng.randint(1, nu), rng.randint(1, nf), rng.randint(1, 2)
            key, grid = ("e", name, b, u, fl * 100 + k), (b - 1) % c.grids
            a = Addr(kind="estate", place=name, building=b, unit=u, room=fl * 100 + k, **base)
        else:
            street = rng.choice(c.streets)
            door, sub = rng.randint(1, 300 * spread), (rng.randint(1, 3) if rng.random() < 0.2 else 0)
            key, grid = ("s", street, door, sub), door % c.grids
            a = Addr(kind="street", place=street, door=door, subdoor=sub, **base)
        if key not in c.used:
            c.used.add(key)
            return a, f"{c.code}{grid + 1:03d}"
    raise RuntimeError("community full")


def origin_addr(rng: random.Random, exclude: str, uyghur: bool = False) -> Addr:
    """户籍 address of a floating resident: a village elsewhere in Ningxia or in another province."""
    group, door = rng.randint(1, 9), rng.randint(1, 99)
    village = rng.choice(VILLAGE_WORDS) + "村"
    if uyghur or rng.random() < 0.3:
        code, prov, city, county = rng.choice(UYGHUR_ORIGINS if uyghur else OTHER_PROVINCES)
        town = "城关镇"
    else:
        code = rng.choice([c for c in ningxia_counties() if c != exclude])
        prov, city, county = names_of(code)
        town = rng.choice(townships(code))[1]
    return Addr(prov, city, county, code, town, village, "rural", village, group=group, door=door, local=False)
