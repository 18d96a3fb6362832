"""House rows of both systems: presence, variations, malformed copies."""
from __future__ import annotations

import random
from datetime import date

from schemas.codes import code_table

from . import perturb as pt
from .address import grid_address, police_address, styles_for
from .plan import GRID_PLAIN_ADDRESS_SHARE, MIN_PERSONS_ALL_KINDS, quota, random_time
from .population import House, Population
from .truth import Truth

POLICE_HOUSE = ("房屋编号", "地址编码", "房屋地址", "街道", "社区", "小区", "楼栋", "单元", "房间号", "房屋用途",
                "建筑面积", "房主姓名", "房主公民身份号码", "房主联系电话", "是否出租", "登记日期", "更新时间")
GRID_HOUSE = ("房屋编号", "网格编码", "房屋地址", "楼栋号", "单元号", "房间号", "建筑用途", "建筑面积", "房主姓名",
              "房主身份证号", "房主联系方式", "是否出租", "采集时间")

VACANT_POLICE_ONLY, VACANT_GRID_ONLY = 0.30, 0.10      # houses nobody lives in
ONE_SIDED_KNOWN_BY_OTHER = 0.5                         # house of one-system-only residents, known to the other
HOUSE_TRUE_RATES = {"area_remeasured": 0.03, "rented_stale": 0.03}
HOUSE_FORMAT_RATES = {"area_decimals": 0.10, "owner_id": 0.05, "owner_phone": 0.10}
HOUSE_MALFORMED_RATE = 0.002
# the same house entered twice: a grid worker collects it again (another address spelling, the
# owner's phone often not asked again); the police register it twice (same standard address)
HOUSE_DUPLICATE_RATE = {"police": 0.003, "grid": 0.010}
GARBAGE_ADDRESSES = ("???", "锟斤拷锟斤拷", "#N/A", "NULL")

USAGE_NAMES = code_table("building_use")


def presence(rng: random.Random, pop: Population, police_refs: set[str], grid_refs: set[str]
             ) -> tuple[list[str], list[str], dict[str, dict[str, str]]]:
    police, grid = set(police_refs), set(grid_refs)
    for hid in sorted(grid_refs - police_refs):
        if rng.random() < ONE_SIDED_KNOWN_BY_OTHER:
            police.add(hid)
    for hid in sorted(police_refs - grid_refs):
        if rng.random() < ONE_SIDED_KNOWN_BY_OTHER:
            grid.add(hid)
    for hid in sorted(set(pop.houses) - police_refs - grid_refs):
        r = rng.random()
        if r >= VACANT_GRID_ONLY:
            police.add(hid)
        if r < VACANT_GRID_ONLY or r >= VACANT_GRID_ONLY + VACANT_POLICE_ONLY:
            grid.add(hid)
    only = {"police": {h: "not_in_grid" for h in police - grid}, "grid": {h: "not_in_police" for h in grid - police}}
    return sorted(police), sorted(grid), only


def _components(h: House) -> tuple[str, str, str]:
    a = h.addr
    return (str(a.building), str(a.unit), str(a.room)) if a.kind == "estate" else ("", "", "")


class HouseRows:
    def __init__(self, rng: random.Random, pop: Population, truth: Truth, persons: int):
        self.rng, self.pop, self.truth, self.n = rng, pop, truth, persons
        self.tables: dict[str, list[list]] = {"police": [], "grid": []}
        self.real: dict[str, dict[str, list]] = {"police": {}, "grid": {}}     # hid -> its (non-broken) row

    def _owner(self, h: House):
        return self.pop.persons[h.owner] if h.owner else None

    def police_row(self, h: House, var: dict) -> list:
        a, o = h.addr, self._owner(h)
        b, u, r = _components(h)
        updated = random_time(self.rng, h.registered_on, date(2026, 9, 30))
        rented = var["is_rented"][2] if "is_rented" in var else ("1" if h.rented else "0")
        return [None, f"{h.grid_code[:12]}{int(h.hid[1:]):08d}", police_address(a), a.township,
                a.community, a.place if a.kind == "estate" else "", b, u, r, h.usage, h.area,
                o.name if o else "", o.id_number if o else "", o.phone if o else "", rented,
                f"{h.registered_on:%Y-%m-%d}", f"{updated:%Y-%m-%d %H:%M:%S}"]

    def grid_row(self, h: House, var: dict) -> list:
        o = self._owner(h)
        b, u, r = _components(h)
        t = lambda f, d: var[f][2] if f in var else d  # noqa: E731
        collected = random_time(self.rng, date(2023, 1, 1), date(2026, 10, 31))
        return [None, h.grid_code, t("address", grid_address(h.addr)), b, u, r, USAGE_NAMES[h.usage],
                t("area", h.area), o.name if o else "", t("owner_id_number", o.id_number if o else ""),
                t("owner_phone", o.phone if o else ""), "是" if h.rented else "否",
                pt.grid_timestamp(collected, self.rng.random() < 0.3)]

    def _variations(self, police: list[str], grid: list[str]) -> dict[tuple[str, str], dict]:
        rng, houses = self.rng, self.pop.houses
        var: dict[tuple[str, str], dict] = {}
        both = sorted(set(police) & set(grid))
        k = lambda rate, m: quota(rate, m, self.n)  # noqa: E731
        for hid in rng.sample(both, k(HOUSE_TRUE_RATES["area_remeasured"], len(both))):
            area = float(houses[hid].area) * (1 + rng.choice((-1, 1)) * rng.uniform(0.03, 0.15))
            var.setdefault(("grid", hid), {})["area"] = ("true", "area_remeasured", f"{area:.1f}")
        for hid in rng.sample(both, k(HOUSE_TRUE_RATES["rented_stale"], len(both))):
            stale = "0" if houses[hid].rented else "1"               # the grid visited more recently
            var.setdefault(("police", hid), {})["is_rented"] = ("true", "rented_stale", stale)
        for hid in rng.sample(both, k(HOUSE_FORMAT_RATES["area_decimals"], len(both))):
            v = var.setdefault(("grid", hid), {})
            if "area" not in v:
                v["area"] = ("format", "area_decimals", f"{float(houses[hid].area):.2f}")
        owned = [h for h in grid if houses[h].owner]
        for hid in rng.sample(owned, k(HOUSE_FORMAT_RATES["owner_id"], len(owned))):
            n = self.pop.persons[houses[hid].owner].id_number
            detail, text = ("lower_x", n.lower()) if n.endswith("X") else ("fullwidth", pt.id_fullwidth(n))
            var.setdefault(("grid", hid), {})["owner_id_number"] = ("format", detail, text)
        for hid in rng.sample(owned, k(HOUSE_FORMAT_RATES["owner_phone"], len(owned))):
            ph = self.pop.persons[houses[hid].owner].phone
            style = rng.choice(pt.LANDLINE_STYLES if ph.startswith("0") else pt.MOBILE_STYLES)
            var.setdefault(("grid", hid), {})["owner_phone"] = ("format", f"phone_{style}", pt.phone_text(ph, style))
        for hid in grid:
            a = houses[hid].addr
            if rng.random() >= GRID_PLAIN_ADDRESS_SHARE:
                style = rng.choice(styles_for(a)[1:])
                text = grid_address(a, style)
                if text != grid_address(a):
                    var.setdefault(("grid", hid), {})["address"] = ("format", f"addr_{style}", text)
        return var

    def build(self, police_refs: set[str], grid_refs: set[str]) -> "HouseRows":
        police, grid, only = presence(self.rng, self.pop, police_refs, grid_refs)
        var = self._variations(police, grid)
        for side, hids in (("police", police), ("grid", grid)):
            make = self.police_row if side == "police" else self.grid_row
            for hid in hids:
                v = var.get((side, hid), {})
                row = make(self.pop.houses[hid], v)
                self._emit(side, hid, row)
                self.real[side][hid] = row
                for fld, (kind, detail, _) in v.items():
                    self.truth.inject(side, "house", row, fld, kind, detail)
                if hid in only[side]:
                    self.truth.inject(side, "house", row, "source_key", "only_here", only[side][hid])
            self._duplicates(side, hids, make)
            self._malformed(side, hids, make)
        return self

    def _duplicates(self, side: str, hids: list[str], make) -> None:
        rng = self.rng
        k = round(HOUSE_DUPLICATE_RATE[side] * len(hids))
        k = min(len(hids), max(1, k) if self.n >= MIN_PERSONS_ALL_KINDS else k)
        for hid in rng.sample(hids, k):
            h = self.pop.houses[hid]
            v: dict = {}
            if side == "grid":
                styles = styles_for(h.addr)[1:]
                if styles:
                    v["address"] = ("format", "collected_twice", grid_address(h.addr, rng.choice(styles)))
                if h.owner and rng.random() < 0.5:
                    v["owner_phone"] = ("missing", "empty", "")
            row = make(h, v)
            self._emit(side, hid, row)
            detail = "collected_twice" if side == "grid" else "double_registration"
            self.truth.inject(side, "house", row, "source_key", "duplicate", detail)

    def _emit(self, side: str, hid: str, row: list) -> None:
        self.tables[side].append(row)
        self.truth.record(hid, side, "house", row)

    def _malformed(self, side: str, hids: list[str], make) -> None:
        if self.n < MIN_PERSONS_ALL_KINDS or not hids:
            return
        col_addr, col_area = (2, 10) if side == "police" else (2, 7)
        for i in range(max(2, round(HOUSE_MALFORMED_RATE * len(hids)))):
            hid = self.rng.choice(hids)
            row = make(self.pop.houses[hid], {})
            row[col_addr] = "" if i % 2 == 0 else GARBAGE_ADDRESSES[i // 2 % len(GARBAGE_ADDRESSES)]
            self._emit(side, hid, row)
            self.truth.inject(side, "house", row, "address", "malformed", "address_missing")
        hid = self.rng.choice(hids)
        row = make(self.pop.houses[hid], {})
        row[col_area] = f"-{self.pop.houses[hid].area}"
        self._emit(side, hid, row)
        self.truth.inject(side, "house", row, "area", "malformed", "area_negative")
