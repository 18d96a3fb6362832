"""Decide, per true person, what each system shows: presence, true/format/missing variations, timestamps.

Every rate is a quota (round(rate * eligible)); with persons >= MIN_PERSONS_ALL_KINDS every kind occurs
at least once. One variation per (system, field); at most MAX_TRUE_PER_PERSON true differences.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from . import perturb as pt
from .address import grid_address, police_address, styles_for
from .population import REF_DATE, Population
from .vocab import ETHNIC_NAMES, PLACEHOLDER_PHONE

MIN_PERSONS_ALL_KINDS = 200
MAX_TRUE_PER_PERSON = 2
# presence
ONLY_GRID_RATE = 0.06                 # floating households the police never registered
DEREGISTERED_RATE = 0.02              # 死亡 / 迁出 in the police system …
DEREGISTERED_IN_GRID_SHARE = 0.25     # … of which still listed by the grid (half still as 正常)
UNVISITED_RATE = 0.015                # registered households the grid never visited
# true differences (share of persons present in both systems)
TRUE_RATES = {"id_digit": 0.010, "id_transposition": 0.007, "id_excel_zeroed": 0.002, "homophone": 0.015,
              "shape": 0.005, "month_day_swap": 0.010, "stale_phone": 0.040, "moved": 0.020}
# format-only differences
FORMAT_RATES = {"lower_x": 0.5, "fullwidth": 0.015, "spaces": 0.015, "apostrophe": 0.015, "id15": 0.02,
                "padded": 0.02, "traditional": 0.01, "middle_dot": 0.6, "ethnic_short": 0.10,
                "head_as_self": 0.10, "relation_group": 0.3, "phone_style": 0.15}
GRID_DATE_STYLE_WEIGHTS = (40, 15, 15, 15, 15)        # iso, slash, compact, cn, dot
GRID_PLAIN_ADDRESS_SHARE = 0.4
# missing values
MISSING_RATES = {("grid", "id_number"): 0.02, ("grid", "phone"): 0.03, ("police", "phone"): 0.04}
PLACEHOLDER_PHONE_RATE = 0.005


@dataclass(slots=True)
class View:
    """What one system shows of one person (a copy of it for duplicates)."""
    tid: str
    house: str
    time: datetime
    var: dict[str, tuple[str, str, str]] = field(default_factory=dict)   # field -> (kind, detail, text)
    status: str = "正常"
    date_style: str = "iso"
    addr_style: str = "plain"
    short_ts: bool = False
    with_former: bool = True
    household_no: str | None = None
    registered_on: date | None = None


def quota(rate: float, eligible: int, persons: int) -> int:
    k = round(rate * eligible)
    return max(k, 1) if persons >= MIN_PERSONS_ALL_KINDS and eligible else k


def random_time(rng: random.Random, lo: date, hi: date) -> datetime:
    """A working-hours moment between two dates (lo when hi is not after it)."""
    days = max(0, (hi - lo).days)
    return datetime(lo.year, lo.month, lo.day, 8) + timedelta(days=rng.randint(0, days),
                                                              seconds=rng.randrange(0, 36_000))


class Planner:
    def __init__(self, rng: random.Random, pop: Population):
        self.rng, self.pop, self.n = rng, pop, len(pop.persons)
        self.police: dict[str, View] = {}
        self.grid: dict[str, View] = {}
        self.only_here: dict[str, dict[str, str]] = {"police": {}, "grid": {}}
        self.true_count: dict[str, int] = {}

    def run(self) -> "Planner":
        self._presence()
        both = sorted(set(self.police) & set(self.grid) - {t for t in self.grid if self.grid[t].status != "正常"})
        self._true(both)
        self._missing()
        self._formats(both)
        self._styles()
        return self

    # ---- presence ----------------------------------------------------------------------------
    def _presence(self) -> None:
        rng, pop = self.rng, self.pop
        floating = [hh for hh in pop.households.values() if hh.floating]
        registered = [hh for hh in pop.households.values() if not hh.floating]
        only_grid: set[str] = set()
        for hh in rng.sample(floating, len(floating)):
            if len(only_grid) >= ONLY_GRID_RATE * self.n:
                break
            only_grid.update(hh.members)
        adults = [t for hh in registered for t in hh.members if REF_DATE.year - pop.persons[t].birth.year >= 18]
        dereg = rng.sample(adults, min(len(adults), quota(DEREGISTERED_RATE, self.n, self.n)))
        in_grid = set(dereg[: quota(DEREGISTERED_IN_GRID_SHARE, len(dereg), self.n)])
        unvisited: set[str] = set()
        dereg_set = set(dereg)
        for hh in rng.sample(registered, len(registered)):
            if len(unvisited) >= UNVISITED_RATE * self.n:
                break
            if dereg_set.isdisjoint(hh.members):
                unvisited.update(hh.members)
        for i, tid in enumerate(dereg):
            p = pop.persons[tid]
            p.status = "deceased" if (REF_DATE.year - p.birth.year >= 60 or i % 2) else "moved_out"
            p.status_date = max(date(2019, 1, 1) + timedelta(days=rng.randrange(0, 2800)),
                                p.registered_on + timedelta(days=30))
        for tid, p in pop.persons.items():
            if tid not in only_grid:
                t = random_time(rng, p.registered_on, date(2026, 9, 30))
                if p.status_date:
                    t = datetime(p.status_date.year, p.status_date.month, p.status_date.day, 10)
                self.police[tid] = View(tid, p.house, t)
            if tid in unvisited or (p.status != "active" and tid not in in_grid):
                self.only_here["police"][tid] = "not_visited" if tid in unvisited else "deregistered"
                continue
            v = View(tid, p.house, random_time(rng, date(2023, 1, 1), date(2026, 10, 31)),
                     date_style=rng.choices(pt.DATE_STYLES, GRID_DATE_STYLE_WEIGHTS)[0],
                     addr_style=self.pick_style(p.house), short_ts=rng.random() < 0.3,
                     with_former=rng.random() < 0.5)
            if tid in only_grid:
                self.only_here["grid"][tid] = "floating_unregistered"
                v.status = "离开" if rng.random() < 0.05 else "正常"
            elif p.status != "active":
                v.status = {"deceased": "死亡", "moved_out": "迁出"}[p.status]
                v.time = max(v.time, self.police[tid].time + timedelta(days=5))
            self.grid[tid] = v
        # The grid missed the deregistration: a steward case (status), not a value conflict, so it is not
        # an `injected` row; truth.person.status says deceased/moved_out while the grid row says 正常.
        for tid in sorted(in_grid)[: len(in_grid) // 2]:
            self.grid[tid].time = self.police[tid].time - timedelta(days=rng.randint(30, 600))
            self.grid[tid].status = "正常"

    # ---- variations --------------------------------------------------------------------------
    def assign(self, side: str, fld: str, kind: str, detail: str, k: int, cands: list[str], make) -> int:
        views = self.police if side == "police" else self.grid
        done = 0
        order = self.rng.sample(cands, min(len(cands), 6 * k + 20))
        if len(order) < len(cands):
            order += self.rng.sample(cands, len(cands))
        for tid in order:
            if done >= k:
                break
            v = views.get(tid)
            if v is None or fld in v.var:
                continue
            if kind == "true" and self.true_count.get(tid, 0) >= MAX_TRUE_PER_PERSON:
                continue
            text = make(self.pop.persons[tid], v)
            if text is None:
                continue
            v.var[fld] = (kind, detail, text)
            if kind == "true":
                self.true_count[tid] = self.true_count.get(tid, 0) + 1
            done += 1
        return done

    def _true(self, both: list[str]) -> None:
        rng, n, pop = self.rng, self.n, self.pop
        k = {d: quota(r, len(both), n) for d, r in TRUE_RATES.items()}
        grid_date = lambda p, v, d: pt.date_text(d.year, d.month, d.day, v.date_style)  # noqa: E731
        self.assign("grid", "id_number", "true", "id_digit", k["id_digit"], both,
                    lambda p, v: pt.id_digit_typo(p.id_number, rng))
        self.assign("grid", "id_number", "true", "id_transposition", k["id_transposition"], both,
                    lambda p, v: pt.id_transposition(p.id_number, rng))
        # Excel kept 15 significant digits (…000): unrepairable, so the pipeline quarantines it (id-card.md §6)
        self.assign("grid", "id_number", "malformed", "id_excel_precision_loss", k["id_excel_zeroed"], both,
                    lambda p, v: (z if p.id_number[-1].isdigit() and p.id_number[-3:] != "000"
                                  and not pt.id_valid(z := pt.id_excel_zeroed(p.id_number)) else None))
        self.assign("grid", "name", "true", "homophone", k["homophone"], both,
                    lambda p, v: None if p.uyghur else pt.homophone(p.name, rng))
        self.assign("grid", "name", "true", "shape", k["shape"], both,
                    lambda p, v: None if p.uyghur else pt.shape(p.name, rng))
        self.assign("grid", "birth_date", "true", "month_day_swap", k["month_day_swap"], both,
                    lambda p, v: grid_date(p, v, pt.month_day_swap(p.birth))
                    if p.birth.day <= 12 and p.birth.day != p.birth.month else None)
        self.assign("police", "phone", "true", "stale_phone", k["stale_phone"], both,
                    lambda p, v: p.old_phone or None)
        vacant = sorted(set(pop.houses) - {p.house for p in pop.persons.values()})
        self.assign("police", "current_address", "true", "moved", k["moved"], both,
                    lambda p, v: self._move(p, v, vacant))
        for tid, v in self.police.items():
            if v.var.get("phone", ("",))[0] == "true" or "current_address" in v.var:
                g, reg = self.grid[tid], pop.persons[tid].registered_on
                g.time = random_time(rng, max(date(2025, 6, 1), reg + timedelta(days=60)), date(2026, 10, 31))
                v.time = random_time(rng, reg, g.time.date() - timedelta(days=30))

    def _move(self, p, v: View, vacant: list[str]) -> str | None:
        """The person moved: truth and grid show the new house, the police still the old one."""
        if not vacant:
            return None
        new = vacant.pop(self.rng.randrange(len(vacant)))
        p.prev_house, p.house = p.house, new
        v.house = p.prev_house
        self.grid[p.tid].house = new
        return police_address(self.pop.houses[p.prev_house].addr)

    def _missing(self) -> None:
        n = self.n
        # a true difference must stay visible: no missing value on the other side of the same field
        true_elsewhere = {(side, t, f) for side, views in (("grid", self.police), ("police", self.grid))
                          for t, v in views.items() for f, (kind, _, _) in v.var.items() if kind == "true"}
        for (side, fld), rate in MISSING_RATES.items():
            views = self.police if side == "police" else self.grid
            cands = sorted(t for t, v in views.items()
                           if v.status == "正常" and (side, t, fld) not in true_elsewhere
                           and (fld != "phone" or self.pop.persons[t].phone))
            self.assign(side, fld, "missing", "empty", quota(rate, len(cands), n), cands, lambda p, v: "")
        cands = sorted(t for t in self.grid
                       if self.pop.persons[t].phone and ("grid", t, "phone") not in true_elsewhere)
        self.assign("grid", "phone", "missing", "placeholder", quota(PLACEHOLDER_PHONE_RATE, len(cands), n),
                    cands, lambda p, v: PLACEHOLDER_PHONE)

    def _formats(self, both: list[str]) -> None:
        rng, n, persons = self.rng, self.n, self.pop.persons
        grid = sorted(self.grid)
        police = sorted(self.police)

        def fmt(side, fld, detail, cands, make, rate=None):
            ok = [t for t in cands if make(persons[t], None) is not None] if rate is None else cands
            self.assign(side, fld, "format", detail, quota(rate or FORMAT_RATES[detail], len(ok), n), ok, make)

        fmt("grid", "id_number", "lower_x", grid, lambda p, v: pt.id_lower_x(p.id_number)
            if p.id_number.endswith("X") else None)
        for detail, make in (("fullwidth", pt.id_fullwidth), ("apostrophe", pt.id_apostrophe),
                             ("spaces", lambda s: pt.id_spaced(s, rng))):
            fmt("grid", "id_number", detail, grid, lambda p, v, m=make: m(p.id_number), FORMAT_RATES[detail])
        k15 = quota(FORMAT_RATES["id15"], len(both), n)
        for side, k in (("police", (k15 + 1) // 2), ("grid", k15 // 2)):
            old = [t for t in both if 1900 <= persons[t].birth.year <= 1999
                   and "id_number" not in self.police[t].var and "id_number" not in self.grid[t].var]
            self.assign(side, "id_number", "format", "id15", k, old, lambda p, v: pt.id15(p.id_number))
        fmt("police", "name", "padded", police, lambda p, v: pt.padded(p.name)
            if len(p.name) == 2 and not p.uyghur else None)
        fmt("police", "name", "traditional", police, lambda p, v: pt.traditional(p.name)
            if pt.has_traditional(p.name) else None)
        fmt("grid", "name", "middle_dot", grid, lambda p, v: pt.dot_variant(p.name, rng) if p.uyghur else None)
        fmt("grid", "ethnicity", "ethnic_short", grid, lambda p, v: ETHNIC_NAMES[p.ethnicity][:-1]
            if p.ethnicity in ("01", "03") else None)
        fmt("grid", "relation", "head_as_self", grid, lambda p, v: "本人" if p.relation == "02" else None)
        fmt("grid", "relation", "relation_group", grid, lambda p, v: {"2": "子", "3": "女"}[p.relation[0]]
            if p.relation[0] in "23" and p.relation[1] != "0" and p.relation[1] != "8" else None)
        for t in grid:
            p = persons[t]
            if p.phone and "phone" not in self.grid[t].var and rng.random() < FORMAT_RATES["phone_style"]:
                style = rng.choice(pt.LANDLINE_STYLES if p.phone.startswith("0") else pt.MOBILE_STYLES)
                self.grid[t].var["phone"] = ("format", f"phone_{style}", pt.phone_text(p.phone, style))

    def pick_style(self, hid: str) -> str:
        if self.rng.random() < GRID_PLAIN_ADDRESS_SHARE:
            return "plain"
        return self.rng.choice(styles_for(self.pop.houses[hid].addr)[1:])

    def _styles(self) -> None:
        """Grid spellings of dates and addresses; recorded as format variations unless plain."""
        for t, v in self.grid.items():
            self.style_entries(v, self.pop.persons[t])

    def style_entries(self, v: View, p) -> None:
        houses = self.pop.houses
        if "birth_date" not in v.var or v.var["birth_date"][0] == "format":
            v.var.pop("birth_date", None)
            if v.date_style != "iso":
                text = pt.date_text(p.birth.year, p.birth.month, p.birth.day, v.date_style)
                v.var["birth_date"] = ("format", f"date_{v.date_style}", text)
        for fld, addr in (("current_address", houses[v.house].addr), ("hukou_address", p.hukou)):
            if fld in v.var and v.var[fld][0] != "format":
                continue
            v.var.pop(fld, None)
            style = v.addr_style if v.addr_style in styles_for(addr) else styles_for(addr)[-1]
            text = grid_address(addr, style)
            if text != grid_address(addr, "plain"):
                v.var[fld] = ("format", f"addr_{style}", text)
