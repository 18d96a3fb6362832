"""The true population: houses, households and persons both systems are derived from."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from schemas.normalise.ids import check_char

from . import geo
from .address import Addr
from .vocab import (AREA_CODES, COMPOUND_SURNAMES, FEMALE_1, FEMALE_2, HAN_SURNAMES, HUI_SURNAMES, MALE_1,
                    MALE_2, MOBILE_PREFIXES, OTHER_ETHNICITIES, RESIDENCE_COUNTIES, UYGHUR_FATHER,
                    UYGHUR_FEMALE, UYGHUR_MALE)

REF_DATE = date(2026, 11, 1)          # "today" of the demo world: everything is dated before it

REGISTERED_SIZES = ((1, 12), (2, 25), (3, 28), (4, 20), (5, 10), (6, 5))
FLOATING_SIZES = ((1, 35), (2, 25), (3, 25), (4, 15))
FLOATING_HOUSEHOLD_SHARE = 0.25       # → ~20 % of persons are 流动人口
HUI_SHARE, OTHER_ETHNIC_SHARE = 0.31, 0.02
UYGHUR_HOUSEHOLD_SHARE = 0.01
BORN_ELSEWHERE_SHARE = 0.12           # registered adults whose ID carries another county code
LINGWU_BORN_SHARE = 0.02              # … of which a fixed part in 灵武 (abolished codes 642125/642103/640382)
VACANT_HOUSE_SHARE = 0.08
PERSONS_PER_COMMUNITY = 250


@dataclass(slots=True)
class House:
    hid: str
    addr: Addr
    grid_code: str
    station: str
    usage: str
    area: str
    registered_on: date
    owner: str = ""               # truth id of the owner (a registered household head)
    rented: bool = False


@dataclass(slots=True)
class Person:
    tid: str
    name: str
    sex: str                      # 1 male / 2 female
    ethnicity: str                # GB/T 3304 code
    birth: date
    household: str
    relation: str                 # GB/T 4761 code
    house: str                    # true current house
    hukou: Addr
    floating: bool
    registered_on: date
    former_name: str = ""
    id_number: str = ""
    id_county: str = ""
    phone: str = ""
    old_phone: str = ""           # the number before the last change (for stale phones)
    uyghur: bool = False
    status: str = "active"        # active / deceased / moved_out
    status_date: date | None = None
    prev_house: str = ""          # set for persons who moved (police still shows it)


@dataclass(slots=True)
class Household:
    hhid: str
    house: str
    floating: bool
    members: list[str] = field(default_factory=list)
    household_no: str = ""


@dataclass
class Population:
    persons: dict[str, Person]
    households: dict[str, Household]
    houses: dict[str, House]
    name_twins: list[tuple[str, str]]


def _weighted(rng: random.Random, pairs) -> str:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def _zipf(rng: random.Random, items: tuple[str, ...], s: float = 0.9) -> str:
    return rng.choices(items, [1.0 / (i + 1) ** s for i in range(len(items))])[0]


def given_name(rng: random.Random, sex: str, birth_year: int) -> str:
    single = rng.random() < (0.5 if birth_year < 1990 else 0.25)
    if sex == "1":
        return _zipf(rng, MALE_1) if single else _zipf(rng, MALE_2, 0.5)
    return _zipf(rng, FEMALE_1) if single else _zipf(rng, FEMALE_2, 0.5)


def surname(rng: random.Random, ethnicity: str) -> str:
    if ethnicity == "03":
        return _weighted(rng, HUI_SURNAMES)
    if rng.random() < 0.004:
        return rng.choice(COMPOUND_SURNAMES)
    return _weighted(rng, HAN_SURNAMES)


def uyghur_name(rng: random.Random, sex: str) -> str:
    return rng.choice(UYGHUR_MALE if sex == "1" else UYGHUR_FEMALE) + "·" + rng.choice(UYGHUR_FATHER)


def birth_for_age(rng: random.Random, age: int) -> date:
    return REF_DATE - timedelta(days=int(age * 365.25) + rng.randrange(1, 365))


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10_000_000, 100_000_000):08d}"


def landline(rng: random.Random, county_code: str) -> str:
    return f"{AREA_CODES.get(county_code[:4], '0952')}-{rng.randint(2, 8)}{rng.randrange(0, 1_000_000):06d}"


def make_id(rng: random.Random, county: str, birth: date, sex: str, used: set[str]) -> str:
    """A valid 18-digit 公民身份号码: sequence parity = sex, MOD 11-2 check digit."""
    while True:
        seq = rng.randrange(0, 499) * 2 + (1 if sex == "1" else 2)
        body = f"{county}{birth:%Y%m%d}{seq:03d}"
        if body not in used:
            used.add(body)
            return body + check_char(body)


def _members(rng: random.Random, size: int, head_age: int, head_sex: str) -> list[tuple[str, str, int]]:
    """(relation code, sex, age) of every member, head first."""
    out = [("02", head_sex, head_age)]
    other = "2" if head_sex == "1" else "1"
    if size >= 2 and head_age >= 22 and rng.random() < 0.85:
        rel = "10" if rng.random() < 0.6 else ("12" if other == "2" else "11")
        out.append((rel, other, max(18, head_age + rng.randint(-5, 5))))
    sons = daughters = 0
    if head_age >= 58 and len(out) < size:
        child_sex = rng.choice("12")
        out.append(("22" if child_sex == "1" else "32", child_sex, head_age - rng.randint(24, 32)))
        sons, daughters = (1, 0) if child_sex == "1" else (0, 1)
        if len(out) < size:
            out.append(("38" if child_sex == "1" else "28", "2" if child_sex == "1" else "1", out[-1][2]))
        while len(out) < size:
            g = rng.choice("12")
            out.append(("41" if g == "1" else "42", g, max(0, out[2][2] - rng.randint(22, 34))))
        return out
    if head_age < 45 and len(out) < size and rng.random() < 0.25:
        for rel, s in (("51", "1"), ("52", "2"))[: size - len(out)]:
            out.append((rel, s, head_age + rng.randint(22, 32)))
    while len(out) < size:
        age = head_age - rng.randint(22, 36)
        if age < 0:
            s = rng.choice("12")
            out.append(("73" if s == "1" else "77", s, max(0, head_age - rng.randint(1, 6))))
            continue
        s = rng.choice("12")
        if s == "1":
            sons += 1
            rel = "20" if rng.random() < 0.3 else ("22", "23", "24", "25")[min(sons, 4) - 1]
        else:
            daughters += 1
            rel = "30" if rng.random() < 0.3 else ("32", "33", "34", "35")[min(daughters, 4) - 1]
        out.append((rel, s, age))
    return out


def build(rng: random.Random, n: int) -> Population:
    communities = geo.build_communities(rng, max(8, n // PERSONS_PER_COMMUNITY))
    share = {c: w for c, w, _ in RESIDENCE_COUNTIES}
    per_county = Counter(c.county_code for c in communities)
    weights = [share[c.county_code] / per_county[c.county_code] for c in communities]
    persons: dict[str, Person] = {}
    households: dict[str, Household] = {}
    houses: dict[str, House] = {}
    by_county: dict[str, list[str]] = {}

    def new_house(c: geo.Community) -> House:
        addr, grid = geo.new_house_addr(rng, c)
        usage = "01"
        if addr.kind == "street":
            usage = rng.choices(("01", "02", "06"), (40, 30, 30))[0]
        elif addr.kind == "estate" and rng.random() < 0.03:
            usage = "06"
        lo, hi = {"estate": (45, 150), "street": (30, 220), "rural": (80, 260)}[addr.kind]
        area = rng.uniform(lo, hi)
        h = House(f"H{len(houses) + 1:07d}", addr, grid, c.station, usage,
                  f"{area:.1f}" if rng.random() < 0.5 else f"{round(area)}",
                  date(2005, 1, 1) + timedelta(days=rng.randrange(0, 7300)))
        houses[h.hid] = h
        by_county.setdefault(c.county_code, []).append(h.hid)
        return h

    while len(persons) < n:
        c = rng.choices(communities, weights)[0]
        house = new_house(c)
        forced = n >= 200 and len(households) in (5, 9)          # a few 维吾尔族 households at any size
        floating = forced or rng.random() < FLOATING_HOUSEHOLD_SHARE
        uyghur = forced or floating and rng.random() < UYGHUR_HOUSEHOLD_SHARE / FLOATING_HOUSEHOLD_SHARE
        size = min(int(_weighted(rng, FLOATING_SIZES if floating else REGISTERED_SIZES)), n - len(persons))
        hh = Household(f"F{len(households) + 1:07d}", house.hid, floating)
        households[hh.hhid] = hh
        r = rng.random()
        eth = "05" if uyghur else ("03" if r < HUI_SHARE else
                                   rng.choice(OTHER_ETHNICITIES)[0] if r < HUI_SHARE + OTHER_ETHNIC_SHARE else "01")
        head_sex = "1" if rng.random() < 0.75 else "2"
        head_age = rng.randint(19, 45) if floating else min(90, max(20, int(rng.gauss(50, 15))))
        family = surname(rng, eth) if not (n >= 200 and len(households) == 8 and eth == "01") else \
            COMPOUND_SURNAMES[rng.randrange(len(COMPOUND_SURNAMES))]     # at least one 复姓 family
        if floating:
            hukou = geo.origin_addr(rng, c.county_code, uyghur)
        elif rng.random() < 0.12 and len(by_county[c.county_code]) > 1:
            hukou = houses[rng.choice(by_county[c.county_code])].addr        # 人户分离
        else:
            hukou = house.addr
        for rel, sex, age in _members(rng, size, head_age, head_sex):
            birth = birth_for_age(rng, age)
            spouse_like = rel in ("10", "11", "12", "28", "38", "51", "52")
            p_eth = eth if not (spouse_like and eth in ("01", "03") and rng.random() < 0.1) else \
                ("03" if eth == "01" else "01")
            if uyghur:
                name = uyghur_name(rng, sex)
            else:
                fam = surname(rng, p_eth) if spouse_like and rel not in ("51",) else family
                name = fam + given_name(rng, sex, birth.year)
            if floating:                                        # 居住登记 since 2016
                reg = date(2016, 1, 1) + timedelta(days=rng.randrange(0, 3800))
            else:                                               # birth registration, or the 1995+ system
                reg = max(birth + timedelta(days=rng.randrange(20, 400)),
                          date(1995, 1, 1) + timedelta(days=rng.randrange(0, 9000)))
            p = Person(f"T{len(persons) + 1:07d}", name, sex, p_eth, birth, hh.hhid, rel, house.hid, hukou,
                       floating, min(reg, REF_DATE - timedelta(days=200)), uyghur=uyghur)
            if not uyghur and age >= 20 and rng.random() < 0.03:
                former = name[:-1] + given_name(rng, sex, birth.year)[-1]
                p.former_name = former if former != name else ""
            persons[p.tid] = p
            hh.members.append(p.tid)
    twins = _name_twins(rng, persons, max(2, n // 500))
    _identities(rng, persons, households, houses)
    for _ in range(int(len(houses) * VACANT_HOUSE_SHARE)):
        new_house(rng.choices(communities, weights)[0])
    _owners(rng, persons, households, houses)
    return Population(persons, households, houses, twins)


def _name_twins(rng, persons, k) -> list[tuple[str, str]]:
    """Unrelated persons with the same name AND birth date (must never be merged)."""
    adults = [p for p in persons.values() if REF_DATE.year - p.birth.year >= 20 and not p.uyghur]
    out: list[tuple[str, str]] = []
    taken: set[str] = set()
    for _ in range(50 * k if len(adults) > 4 * k else 0):
        if len(out) >= k:
            break
        a, b = rng.sample(adults, 2)
        if a.household == b.household or a.sex != b.sex or abs(a.birth.year - b.birth.year) > 8 \
                or taken & {a.tid, b.tid}:
            continue
        b.name, b.birth = a.name, a.birth
        b.registered_on = max(b.registered_on, b.birth + timedelta(days=30))
        taken.update((a.tid, b.tid))
        out.append((a.tid, b.tid))
    return out


def _identities(rng, persons, households, houses) -> None:
    used: set[str] = set()
    counties = geo.ningxia_counties()
    for i, hh in enumerate(households.values(), 1):
        county = houses[hh.house].addr.county_code
        head = persons[hh.members[0]]
        head_phone = mobile(rng)
        hh.household_no = "" if hh.floating else f"{county}{i:06d}"
        for tid in hh.members:
            p = persons[tid]
            age = REF_DATE.year - p.birth.year
            if p.floating:
                origin = p.hukou.county_code
            elif age >= 18 and rng.random() < BORN_ELSEWHERE_SHARE:
                origin = "640181" if rng.random() < LINGWU_BORN_SHARE / BORN_ELSEWHERE_SHARE else rng.choice(counties)
            else:
                origin = p.hukou.county_code
            p.id_county = geo.birth_county_code(origin, p.birth.year)
            p.id_number = make_id(rng, p.id_county, p.birth, p.sex, used)
            if p is head:
                p.phone = head_phone
            elif age < 16 or (age >= 75 and rng.random() < 0.4):
                p.phone = head_phone                    # grid and police record the head's number
            elif age >= 65 and rng.random() < 0.35:
                p.phone = landline(rng, county)
            else:
                p.phone = mobile(rng)
            if (p is head or p.phone != head_phone) and p.phone.startswith("1"):
                p.old_phone = mobile(rng)                # own mobile: may be stale in one system
        if head.phone.startswith("1") and head.relation == "02" and REF_DATE.year - head.birth.year >= 70 \
                and rng.random() < 0.3:
            head.phone = landline(rng, county)         # old heads: the family landline
            for tid in hh.members[1:]:
                if persons[tid].phone == head_phone:
                    persons[tid].phone = head.phone


def _owners(rng, persons, households, houses) -> None:
    heads = [hh.members[0] for hh in households.values() if not hh.floating]
    occupied = {hh.house: hh for hh in households.values()}
    for h in houses.values():
        hh = occupied.get(h.hid)
        if hh is not None and not hh.floating:
            h.owner = hh.members[0]
        elif heads:
            h.owner = rng.choice(heads)
        h.rented = hh is not None and hh.floating
