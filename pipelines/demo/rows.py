"""Person rows of both systems, within-source duplicates (重户) and malformed copies.

Row lists have the key in column 0 (assigned later) and the *truth* house id in the house-key
column (replaced by the source's house key once houses have keys).
"""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta

from schemas.codes import code_table

from . import perturb as pt
from .address import grid_address, police_address
from .plan import MIN_PERSONS_ALL_KINDS, Planner, View
from .population import Population, given_name
from .truth import Truth
from .vocab import ETHNIC_NAMES, GARBAGE_NAMES

POLICE_PERSON = ("人员编号", "姓名", "曾用名", "性别代码", "民族代码", "出生日期", "公民身份号码", "联系电话",
                 "户籍地址", "现住地址", "人员类别", "户号", "与户主关系", "房屋编号", "派出所", "登记日期",
                 "更新时间", "注销标志", "注销原因", "注销日期")
GRID_PERSON = ("人口编号", "姓名", "曾用名", "性别", "民族", "出生年月", "身份证号", "联系方式", "户籍地址",
               "居住地址", "人员类型", "与户主关系", "房屋编号", "网格编码", "网格员", "采集时间", "人员状态")
HOUSE_KEY_COL = {"police": POLICE_PERSON.index("房屋编号"), "grid": GRID_PERSON.index("房屋编号")}
FIELD_COL = {"police": {"name": 1, "birth_date": 5, "id_number": 6},
             "grid": {"name": 1, "birth_date": 5, "id_number": 6}}

POLICE_DUPLICATE_RATE = 0.010
GRID_DUPLICATE_RATE = 0.015
MALFORMED_RATE = 0.005
# (quarantine reason, canonical field); "empty_row" twice: key only, then key empty too (once)
MALFORMED_KINDS = (("empty_row", "source_key"), ("empty_row", "source_key"), ("name_garbage", "name"),
                   ("name_missing", "name"), ("birth_date_invalid", "birth_date"),
                   ("birth_date_future", "birth_date"), ("id_excel_precision_loss", "id_number"),
                   ("id_invalid_length", "id_number"), ("id_invalid_chars", "id_number"))

RELATION_NAMES = code_table("relation")
STATUS_REASON = {"deceased": "死亡", "moved_out": "迁出"}


def _text(v: View, fld: str, default: str) -> str:
    return v.var[fld][2] if fld in v.var else default


def police_row(p, v: View, pop: Population) -> list:
    house = pop.houses[v.house]
    hh = pop.households[p.household]
    return [None, _text(v, "name", p.name), p.former_name, p.sex, p.ethnicity,
            _text(v, "birth_date", f"{p.birth:%Y%m%d}"), _text(v, "id_number", p.id_number),
            _text(v, "phone", p.phone), police_address(p.hukou),
            _text(v, "current_address", police_address(house.addr)), "2" if p.floating else "1",
            hh.household_no if v.household_no is None else v.household_no, "" if p.floating else p.relation,
            v.house, house.station, f"{v.registered_on or p.registered_on:%Y-%m-%d}",
            f"{v.time:%Y-%m-%d %H:%M:%S}", "0" if p.status == "active" else "1",
            STATUS_REASON.get(p.status, ""), p.status_date.isoformat() if p.status_date else ""]


def grid_row(p, v: View, pop: Population, worker: str) -> list:
    house = pop.houses[v.house]
    return [None, _text(v, "name", p.name), p.former_name if v.with_former else "", "男" if p.sex == "1" else "女",
            _text(v, "ethnicity", ETHNIC_NAMES[p.ethnicity]), _text(v, "birth_date", f"{p.birth:%Y-%m-%d}"),
            _text(v, "id_number", p.id_number), _text(v, "phone", p.phone),
            _text(v, "hukou_address", grid_address(p.hukou)),
            _text(v, "current_address", grid_address(house.addr)), "流动人口" if p.floating else "户籍人口",
            _text(v, "relation", RELATION_NAMES[p.relation]), v.house, house.grid_code, worker,
            pt.grid_timestamp(v.time, v.short_ts), _text(v, "status", v.status)]


class PersonRows:
    """Builds both person tables and records every row and variation in the truth."""

    def __init__(self, rng: random.Random, pop: Population, plan: Planner, truth: Truth):
        self.rng, self.pop, self.plan, self.truth = rng, pop, plan, truth
        self.tables: dict[str, list[list]] = {"police": [], "grid": []}
        self.workers: dict[str, list[str]] = {}
        self.keyless: list[list] = []

    def worker(self, grid_code: str) -> str:
        if grid_code not in self.workers:
            self.workers[grid_code] = [self.rng.choice("王李张马杨刘丁海") + given_name(self.rng, "2", 1990)
                                       for _ in range(self.rng.randint(1, 2))]
        return self.rng.choice(self.workers[grid_code])

    def emit(self, side: str, tid: str | None, v: View | None, row: list | None = None) -> list:
        if row is None:
            p = self.pop.persons[tid]
            row = police_row(p, v, self.pop) if side == "police" else \
                grid_row(p, v, self.pop, self.worker(self.pop.houses[v.house].grid_code))
        self.tables[side].append(row)
        self.truth.record(tid, side, "person", row)
        for fld, (kind, detail, _) in (v.var.items() if v else ()):
            self.truth.inject(side, "person", row, fld, kind, detail)
        return row

    def build(self) -> "PersonRows":
        plan = self.plan
        for side, views in (("police", plan.police), ("grid", plan.grid)):
            for tid, v in views.items():
                row = self.emit(side, tid, v)
                if tid in plan.only_here[side]:
                    self.truth.inject(side, "person", row, "source_key", "only_here", plan.only_here[side][tid])
        self._duplicates()
        for side in ("police", "grid"):
            self._malformed(side)
        return self

    def _active(self, side: str) -> list[str]:
        views = self.plan.police if side == "police" else self.plan.grid
        return sorted(t for t, v in views.items() if v.status == "正常" and self.pop.persons[t].status == "active")

    def _duplicates(self) -> None:
        rng, n = self.rng, self.plan.n
        for side, rate in (("police", POLICE_DUPLICATE_RATE), ("grid", GRID_DUPLICATE_RATE)):
            views = self.plan.police if side == "police" else self.plan.grid
            active = self._active(side)
            k = round(rate * len(active))
            k = min(len(active), max(1, k) if n >= MIN_PERSONS_ALL_KINDS else k)
            for tid in rng.sample(active, k):
                p, v = self.pop.persons[tid], views[tid]
                d = replace(v, var=dict(v.var))
                if side == "police":
                    span = max(0, (v.time.date() - p.registered_on).days)
                    d.registered_on = p.registered_on + timedelta(days=rng.randint(0, span))
                    d.time = min(v.time, datetime_of(d.registered_on) + timedelta(days=rng.randint(0, 90)))
                    if not p.floating and rng.random() < 0.5:
                        d.household_no = f"{self.pop.houses[p.house].addr.county_code}9{rng.randrange(10**5):05d}"
                    detail = "double_registration"
                else:
                    d.time = v.time - timedelta(days=rng.randint(30, 700))
                    pv = self.plan.police.get(tid)
                    if pv and any(x[0] == "true" for x in pv.var.values()):     # still after the police update
                        d.time = max(d.time, pv.time + timedelta(days=rng.randint(1, 20)))
                    if p.phone and d.var.get("phone", ("",))[0] != "true" and rng.random() < 0.5:
                        d.var["phone"] = ("missing", "empty", "")
                    else:
                        d.date_style = rng.choice([s for s in pt.DATE_STYLES if s != v.date_style])
                        d.addr_style = self.plan.pick_style(d.house)
                        self.plan.style_entries(d, p)
                    detail = "collected_twice"
                row = self.emit(side, tid, d)
                self.truth.inject(side, "person", row, "source_key", "duplicate", detail)

    def _malformed(self, side: str) -> None:
        rng, n = self.rng, self.plan.n
        views = self.plan.police if side == "police" else self.plan.grid
        active = self._active(side)
        k = round(MALFORMED_RATE * len(active))
        plain = [t for t in active if all(kind != "true" for kind, _, _ in views[t].var.values())] or active
        if n >= MIN_PERSONS_ALL_KINDS:
            k = max(k, len(MALFORMED_KINDS))
        width = len(POLICE_PERSON if side == "police" else GRID_PERSON)
        for i in range(k):
            reason, fld = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
            if reason == "empty_row":
                row = self.emit(side, None, None, [None] * width)
                if i == 1:
                    self.keyless.append(row)            # not even a key
                self.truth.inject(side, "person", row, fld, "malformed", reason)
                continue
            while True:                                 # a broken copy of a person without true differences
                tid = rng.choice(plain)
                p = self.pop.persons[tid]
                if reason != "id_excel_precision_loss" or p.id_number[-1].isdigit():
                    break
            v = views[tid]
            clean = View(tid, v.house, v.time + timedelta(minutes=rng.randint(5, 600)), date_style=v.date_style,
                         short_ts=v.short_ts)
            row = self.emit(side, tid, clean)
            row[FIELD_COL[side][fld]] = self._broken(reason, p, side, clean, i)
            self.truth.inject(side, "person", row, fld, "malformed", reason)

    def _broken(self, reason: str, p, side: str, v: View, i: int) -> str:
        rng, b = self.rng, p.birth
        style = "compact" if side == "police" else v.date_style
        if reason == "name_garbage":
            return GARBAGE_NAMES[0] if i < len(MALFORMED_KINDS) else rng.choice(GARBAGE_NAMES)
        if reason == "name_missing":
            return ""
        if reason == "birth_date_invalid":
            y, m, d = rng.choice(((b.year, 2, 30), (b.year, 13, 45), (b.year, b.month + 12, b.day),
                                  (b.year, 4, 31), (b.year, b.month, 32)))
            return pt.date_text(y, m, d, style)
        if reason == "birth_date_future":
            f = date(b.year + 100, b.month, min(b.day, 28))
            return pt.date_text(f.year, f.month, f.day, style)
        if reason == "id_excel_precision_loss":
            return pt.id_excel_sci(p.id_number)
        if reason == "id_invalid_length":
            return pt.id_wrong_length(p.id_number, rng, (16, 17, 19)[i // len(MALFORMED_KINDS) % 3])
        return pt.id_letters(p.id_number, rng)


def datetime_of(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 9)
