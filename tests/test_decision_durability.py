"""Steward decisions survive 30 consecutive syncs of changing sources.

A 200-person demo is synced once; stewards then decide conflicts (persons and houses) through
`State.add_decision`, and 30 syncs follow (incremental, and full where rows were deleted). Between syncs
the source databases change: unrelated rows are edited, `updated_at` is touched (decided persons too),
persons are added and deleted, decided values change at the source (and one changes back), a steward
re-decides a reopened conflict, a decided person is deleted and a look-alike is added (it must get a new id
and not the decision), and two persons merge and split again. After every sync:

* `steward_decision` holds exactly the rows written, byte for byte (state.sqlite and the warehouse copy);
* a decision whose values are unchanged is applied (status `resolved`, golden value = decided value,
  `<field>_source` = `steward`) on the person/house that holds the record it was made on, merged or split;
* a decision whose values changed is `open` and keeps its `decision_id`; no other conflict carries a
  decision, and a deleted person's decision lands on nobody;
* every id new to this sync is larger than every id any earlier sync published (freed ids are not reused).

Match-review (same/different person) decisions are tested on their own (tests/matching/test_match_constraints.py);
here only conflict decisions are exercised. The HTML run report is stubbed out: it is about a third of each sync and not what
this test is about (about 2.5 s per sync without it on 2 cores, ~85 s in all).
"""
from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from matching.ids import id_number
from pipelines.cli import run_sync
from schemas.normalise import parse_timestamp
from tests.demos import demo_sources
from warehouse.idstate import IdState
from warehouse.state import State

SYNCS = 30
TABLE = {"police": ("实有人口", "人员编号", "更新时间"), "grid": ("人口信息", "人口编号", "采集时间")}
HOUSE_TABLE = {"police": ("实有房屋", "房屋编号", "更新时间"), "grid": ("房屋信息", "房屋编号", "采集时间")}
PHONE = {"police": "联系电话", "grid": "联系方式"}


class Sources:
    """The demo's police and grid SQLite databases, edited the way the source systems would."""

    def __init__(self, paths):
        self.db = {"police": sqlite3.connect(paths.police_db, isolation_level=None),
                   "grid": sqlite3.connect(paths.grid_db, isolation_level=None)}
        newest = max(parse_timestamp(pd.read_sql_query(f'SELECT "{upd}" FROM "{table}"', self.db[side])[upd]).dropna().max()
                     for tables in (TABLE, HOUSE_TABLE) for side, (table, _, upd) in tables.items())
        self.clock = dt.datetime.fromisoformat(str(newest)) + dt.timedelta(hours=1)   # every edit is newer

    def stamp(self) -> str:
        self.clock += dt.timedelta(seconds=7)
        return self.clock.strftime("%Y-%m-%d %H:%M:%S")

    def row(self, side: str, key: str, house: bool = False) -> dict:
        table, key_col, _ = (HOUSE_TABLE if house else TABLE)[side]
        cur = self.db[side].execute(f'SELECT * FROM "{table}" WHERE "{key_col}" = ?', (key,))
        values = cur.fetchone()
        assert values is not None, (side, key)
        return dict(zip([d[0] for d in cur.description], values))

    def set(self, side: str, key: str, house: bool = False, **values) -> None:
        """Change columns of one row and stamp its updated_at."""
        table, key_col, upd = (HOUSE_TABLE if house else TABLE)[side]
        values = {**values, upd: self.stamp()}
        sets = ", ".join(f'"{c}" = ?' for c in values)
        self.db[side].execute(f'UPDATE "{table}" SET {sets} WHERE "{key_col}" = ?', [*values.values(), key])

    def insert(self, side: str, row: dict) -> None:
        table, _, upd = TABLE[side]
        row = {**row, upd: self.stamp()}
        cols = ", ".join(f'"{c}"' for c in row)
        self.db[side].execute(f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(row))})', list(row.values()))

    def delete(self, side: str, key: str) -> None:
        table, key_col, _ = TABLE[side]
        self.db[side].execute(f'DELETE FROM "{table}" WHERE "{key_col}" = ?', (key,))


def id_with_check(first17: str) -> str:
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(a) * b for a, b in zip(first17, w)) % 11]


@dataclass
class Tracked:
    """A decision and where it must show: the conflict of `field` on the entity holding police record `key`."""
    decision_id: int
    entity: str                 # person | house
    key: str                    # police source_key of a record of the entity the decision is about
    grid_key: str
    field: str
    value: str
    expect: str = "resolved"    # resolved | open | gone (the entity no longer exists)


class Warehouse:
    def __init__(self, path: Path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            self.xref = {e: con.execute(f"SELECT source, source_key, {e}_id AS id FROM {e}_xref").df()
                         for e in ("person", "house")}
            self.conflicts = {e: con.execute(f"SELECT {e}_id AS id, * FROM {e}_conflict").df() for e in ("person", "house")}
            self.golden = {e: con.execute(f'SELECT * FROM "{e}"').df().set_index(f"{e}_id") for e in ("person", "house")}
            self.decisions = con.execute("SELECT * FROM steward_decision ORDER BY decision_id").fetchall()
        finally:
            con.close()

    def holder(self, entity: str, key: str) -> str | None:
        x = self.xref[entity]
        got = x.loc[(x["source"] == "police") & (x["source_key"] == key), "id"]
        return got.iloc[0] if len(got) else None

    def conflict(self, entity: str, key: str, field: str):
        c = self.conflicts[entity]
        got = c[(c["id"] == self.holder(entity, key)) & (c["field"] == field)]
        assert len(got) == 1, (entity, key, field, got.to_dict("records"))
        return got.iloc[0]


def audit_rows(state_path: Path) -> list[tuple]:
    con = sqlite3.connect(state_path)
    try:
        return con.execute("SELECT * FROM steward_decision ORDER BY decision_id").fetchall()
    finally:
        con.close()


def same_value(golden, value: str) -> bool:
    if isinstance(golden, (pd.Timestamp, dt.date)):
        golden = golden.strftime("%Y-%m-%d")
    if str(golden) == value:
        return True
    try:
        return abs(float(golden) - float(value)) < 1e-9
    except (TypeError, ValueError):
        return False


def check(wh: Warehouse, tracked: list[Tracked], written: list[tuple], state_path: Path, seen_max: dict,
          previous_ids: dict) -> None:
    assert audit_rows(state_path) == written, "steward_decision changed"
    assert [tuple(r) for r in wh.decisions] == written, "the warehouse copy of steward_decision differs"
    want_resolved, want_open = set(), set()
    for t in tracked:
        if t.expect == "gone":
            assert wh.holder(t.entity, t.key) is None
            continue
        c = wh.conflict(t.entity, t.key, t.field)
        assert not pd.isna(c["decision_id"]) and int(c["decision_id"]) == t.decision_id, (t, c.to_dict())
        assert c["status"] == t.expect, (t, c.to_dict())
        if t.expect == "resolved":
            want_resolved.add(t.decision_id)
            g = wh.golden[t.entity].loc[c["id"]]
            assert c["chosen_value"] == t.value and same_value(g[t.field], t.value), (t, g[t.field])
            assert g[f"{t.field}_source"] == "steward", t
            assert c["resolved_by"] is not None and c["resolved_at"] is not None
        else:
            want_open.add(t.decision_id)
    for entity in ("person", "house"):       # no decision lands anywhere else
        c = wh.conflicts[entity]
        got_resolved = set(c.loc[c["status"] == "resolved", "decision_id"].astype(int))
        got_open = set(c.loc[(c["status"] == "open") & c["decision_id"].notna(), "decision_id"].astype(int))
        assert got_resolved == {t.decision_id for t in tracked if t.entity == entity and t.decision_id in want_resolved}
        assert got_open == {t.decision_id for t in tracked if t.entity == entity and t.decision_id in want_open}
        ids = set(wh.xref[entity]["id"])
        fresh = sorted(ids - previous_ids.get(entity, set()))
        prefix = "P" if entity == "person" else "H"
        if fresh and entity in seen_max:
            assert id_number(pd.Series(fresh), prefix).min() > seen_max[entity], \
                f"a freed {entity} id was issued again: {fresh}"
        nums = id_number(pd.Series(sorted(ids)), prefix)
        seen_max[entity] = max(seen_max.get(entity, 0), int(nums.max()) if len(nums) else 0)
        previous_ids[entity] = ids


@pytest.mark.slow
def test_decisions_survive_thirty_syncs(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    # the HTML run report (matplotlib, about a third of a 200-person sync) is not what this test is about
    monkeypatch.setattr("pipelines.publish.write_report", lambda *a, **k: None)
    paths = demo_sources(tmp_path, persons=200, seed=20261123)
    config = str(tmp_path / "gridbridge.yaml")
    state_path = tmp_path / "warehouse" / "state.sqlite"
    wh_path = tmp_path / "warehouse" / "gridbridge.duckdb"
    timings = []

    def sync(full: bool = False) -> Warehouse:
        t = time.perf_counter()
        code = run_sync(config, quiet=True, full=full)
        timings.append(time.perf_counter() - t)
        assert code == 0, State(tmp_path / "warehouse").runs().iloc[0][["stage", "message"]].to_dict()
        return Warehouse(wh_path)

    wh = sync(full=True)
    seen_max: dict = {}
    previous_ids: dict = {}
    check(wh, [], [], state_path, seen_max, previous_ids)        # no decision yet, none applied
    src = Sources(paths)
    state = State(tmp_path / "warehouse")
    rng = random.Random(7)
    written: list[tuple] = []
    tracked: list[Tracked] = []

    def decide(entity: str, c, value: str, who: str = "steward_li") -> Tracked:
        did = state.add_decision("conflict", c["conflict_id"], value, who, police_value=c["police_value"],
                                 grid_value=c["grid_value"], reason=f"核实 {c['field']}")
        written[:] = audit_rows(state_path)
        t = Tracked(did, entity, c["police_key"], c["grid_key"], c["field"], value)
        tracked.append(t)
        return t

    # --- decide conflicts of persons with exactly one record per system (touching updated_at keeps their values)
    gp = wh.golden["person"]
    single = set(gp.index[(gp["police_records"] == 1) & (gp["grid_records"] == 1)])
    pc = wh.conflicts["person"]
    pc = pc[pc["id"].isin(single)].sort_values("id")
    phones = [r for _, r in pc[pc["field"] == "phone"].iterrows()]
    births = [r for _, r in pc[pc["field"] == "birth_date"].iterrows()]
    addresses = [r for _, r in pc[pc["field"] == "current_address"].iterrows()]
    houses = [r for _, r in wh.conflicts["house"].sort_values("id").iterrows()]
    assert len(phones) >= 5 and births and addresses and len(houses) >= 2, "the demo has too few conflicts"
    changed_police, changed_grid, redecide_later, merge_r, late = (decide("person", r, r["grid_value"]) for r in phones[:5])
    for r in births + addresses[:2]:
        decide("person", r, r["police_value"])
    for r in houses[:2]:
        decide("house", r, r["grid_value"])
    decided_ids = {wh.holder("person", t.key) for t in tracked if t.entity == "person"}

    # --- the merge pair: S (older id, undecided, one record per system) will take R's records' values
    r_id = wh.holder("person", merge_r.key)
    xp = wh.xref["person"]
    s_id = next(i for i in sorted(single) if i < r_id and i not in decided_ids)
    s_keys, r_keys = ({s: xp.loc[(xp["id"] == pid) & (xp["source"] == s), "source_key"].iloc[0]
                       for s in ("police", "grid")} for pid in (s_id, r_id))
    s_rows = {side: src.row(side, s_keys[side]) for side in ("police", "grid")}

    def unrelated(wh: Warehouse) -> list[str]:
        """Persons neither decided nor in the merge pair: free to edit, copy and delete."""
        busy = {wh.holder("person", k) for k in [*s_keys.values(), *r_keys.values()]}
        busy |= {wh.holder("person", t.key) for t in tracked if t.entity == "person"}
        return sorted(set(wh.golden["person"].index) - busy - decided_ids)

    added = 0

    def add_person(wh: Warehouse, birth_swap: bool = False) -> dict[str, str]:
        """A new person in both systems: a copy of a living person's rows with new keys, name, ID and birth date."""
        nonlocal added
        added += 1
        tid = rng.choice(unrelated(wh))
        x = wh.xref["person"]
        rows = {s: src.row(s, k) for s, k in x.loc[x["id"] == tid, ["source", "source_key"]].drop_duplicates("source")
                .itertuples(index=False)}
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(18000))
        while birth_swap and (born.day > 12 or born.day == born.month):
            born += dt.timedelta(days=1)
        male = rng.random() < 0.5
        seq = f"{rng.randrange(10, 99)}{rng.choice('13579' if male else '02468')}"
        idn = id_with_check(f"640202{born:%Y%m%d}{seq}")
        name = rng.choice(["欧阳", "司马", "诸葛", "皇甫"]) + rng.choice(
            ["明轩", "晓东", "雨桐", "子涵", "嘉怡", "浩然", "思远", "梓萱"]) + "甲乙丙丁戊己庚辛壬癸"[added % 10]
        grid_birth = born.replace(day=born.month, month=born.day) if birth_swap else born   # a month/day swap
        keys = {}
        for side, row in rows.items():
            key = f"{'PX' if side == 'police' else 'WX'}{added:06d}"
            phone = f"139{rng.randrange(10**8):08d}"
            if side == "police":
                row.update({"人员编号": key, "姓名": name, "公民身份号码": idn, "出生日期": f"{born:%Y%m%d}",
                            "性别代码": "1" if male else "2", "联系电话": phone, "曾用名": None})
            else:
                row.update({"人口编号": key, "姓名": name, "身份证号": idn, "出生年月": f"{grid_birth:%Y-%m-%d}",
                            "性别": "男" if male else "女", "联系方式": phone, "曾用名": None})
            src.insert(side, row)
            keys[side] = key
        return keys

    def delete_person(wh: Warehouse, pid: str) -> None:
        x = wh.xref["person"]
        for side, key in x.loc[x["id"] == pid, ["source", "source_key"]].itertuples(index=False):
            src.delete(side, key)

    reverted_value = None
    d_keys, d_rows, e_keys, d_track, d_person = {}, {}, {}, None, None     # D: decided, deleted; E: its look-alike
    ids = IdState(tmp_path / "warehouse")
    for n in range(1, SYNCS + 1):
        full = False
        # every sync: touch updated_at of a few rows (decided persons included) and edit unrelated persons' phones
        for pid in rng.sample(sorted(single - {s_id, r_id}), 4):
            for side, key in xp.loc[xp["id"] == pid, ["source", "source_key"]].itertuples(index=False):
                if wh.holder("person", key) == pid:
                    src.set(side, key)
        for pid in rng.sample(unrelated(wh), 2):
            x = wh.xref["person"]
            for side, key in x.loc[x["id"] == pid, ["source", "source_key"]].itertuples(index=False):
                src.set(side, key, **{PHONE[side]: f"186{rng.randrange(10**8):08d}"})
        for t in tracked:
            if t.entity == "house" and n % 3 == 0:
                src.set("police", t.key, house=True)
        if n in (2, 7, 14, 19, 24, 29):
            for _ in range(2):
                add_person(wh)
        if n in (4, 12, 16, 20, 25, 28):
            delete_person(wh, rng.choice(unrelated(wh)))
            full = True
        # decided values change at the source: those conflicts reopen, keeping their decision
        if n == 3:
            src.set("police", changed_police.key, 联系电话="13867251934")
            changed_police.expect = "open"
        if n == 5:
            reverted_value = src.row("grid", changed_grid.grid_key)["联系方式"]
            src.set("grid", changed_grid.grid_key, 联系方式="13967251835")
            changed_grid.expect = "open"
        if n == 6:
            src.set("police", redecide_later.key, 联系电话="13567251736")
            redecide_later.expect = "open"
        if n == 8:                               # D: a new person with a birth-date conflict, decided next
            d_keys.update(add_person(wh, birth_swap=True))
        if n == 10:                              # D is deleted: its decision must land on nobody ...
            delete_person(wh, wh.holder("person", d_keys["police"]))
            d_track.expect = "gone"
            full = True
        if n == 11:                              # ... not even on a look-alike with the same conflicting values
            for side, id_col in (("police", "公民身份号码"), ("grid", "身份证号")):
                row = dict(d_rows[side])        # same birth dates (so the same conflict), other name and ID
                row[TABLE[side][1]] = e_keys[side] = f"{row[TABLE[side][1]]}E"
                row["姓名"] = "上官" + row["姓名"][2:]
                row[id_col] = id_with_check(row[id_col][:14] + f"{(int(row[id_col][14:16]) + 37) % 100:02d}" + row[id_col][16])
                src.insert(side, row)
        if n == 15:                              # merge: S's records become duplicates of R's
            for side in ("police", "grid"):
                row = src.row(side, r_keys[side])
                src.set(side, s_keys[side], **{c: v for c, v in row.items() if c not in TABLE[side][1:]})
                src.set(side, r_keys[side])      # R's records stay the newest: the merged conflict keeps R's values
        if n == 18:                              # the changed grid value comes back: the decision applies again
            src.set("grid", changed_grid.grid_key, 联系方式=reverted_value)
            changed_grid.expect = "resolved"
        if n == 22:                              # split: S's records get their own values back
            for side in ("police", "grid"):
                src.set(side, s_keys[side], **{c: v for c, v in s_rows[side].items() if c not in TABLE[side][1:]})
        if n == 26:
            src.set("police", late.key, 联系电话="13767251637")
            late.expect = "open"

        wh = sync(full=full)
        try:
            check(wh, tracked, written, state_path, seen_max, previous_ids)
        except AssertionError as e:
            raise AssertionError(f"after sync {n}: {e}") from e

        if n == 8:
            c = wh.conflict("person", d_keys["police"], "birth_date")
            assert c["status"] == "open" and pd.isna(c["decision_id"]), c.to_dict()
            d_track, d_person = decide("person", c, c["police_value"]), c["id"]
            d_rows.update({side: src.row(side, d_keys[side]) for side in ("police", "grid")})
        if n == 11:
            c = wh.conflict("person", e_keys["police"], "birth_date")   # the values D's decision was made on
            made_on = next(r for r in written if r[0] == d_track.decision_id)[4:6]
            assert (c["police_value"], c["grid_value"]) == made_on
            assert c["status"] == "open" and pd.isna(c["decision_id"]), c.to_dict()
            assert id_number(pd.Series([c["id"]]), "P").iloc[0] > id_number(pd.Series([d_person]), "P").iloc[0]
        if n == 13:                              # a steward decides the reopened conflict again
            old = redecide_later
            c = wh.conflict("person", old.key, "phone")
            tracked.remove(old)
            decide("person", c, c["police_value"], who="steward_zhao")
        if 15 <= n < 22:                         # merged: R retired into S (the older id), its decision followed
            assert wh.holder("person", merge_r.key) == wh.holder("person", s_keys["police"]) == s_id, "no merge"
            assert {"id": r_id, "event": "retired", "other_id": s_id} in ids.lineage("person").to_dict("records")
        if n >= 22:                              # split again: one part keeps S, the other split off it
            parts = {wh.holder("person", merge_r.key), wh.holder("person", s_keys["police"])}
            assert len(parts) == 2 and s_id in parts, "no split"
            (new,) = parts - {s_id}
            assert {"id": new, "event": "split", "other_id": s_id} in ids.lineage("person").to_dict("records")
    print(f"syncs: first {timings[0]:.1f} s, then mean {sum(timings[1:]) / SYNCS:.2f} s, max {max(timings[1:]):.2f} s")
