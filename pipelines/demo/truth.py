"""The generator's truth: which emitted row is which real person/house, and every injected variation.

Rows are recorded by reference (the row list itself) because keys are assigned only after the
rows of a table are shuffled; `write` reads the final key from row[0].
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from .address import police_address
from .population import Population

KINDS = ("format", "true", "malformed", "missing", "duplicate", "only_here")


class Truth:
    def __init__(self) -> None:
        self.records: list[tuple[str | None, str, str, list]] = []
        self.injected: list[tuple[str, str, list, str, str, str]] = []

    def record(self, truth_id: str | None, source: str, entity: str, row: list) -> None:
        self.records.append((truth_id, source, entity, row))

    def inject(self, source: str, entity: str, row: list, field: str, kind: str, detail: str) -> None:
        assert kind in KINDS, kind
        self.injected.append((source, entity, row, field, kind, detail))

    def write(self, path: Path, pop: Population, meta: dict[str, object]) -> None:
        con = sqlite3.connect(path)
        con.executescript("""
            CREATE TABLE person_record (truth_id TEXT, source TEXT, source_key TEXT);
            CREATE TABLE house_record (truth_id TEXT, source TEXT, source_key TEXT);
            CREATE TABLE injected (source TEXT, entity TEXT, source_key TEXT, field TEXT, kind TEXT,
                                   detail TEXT);
            CREATE TABLE meta (key TEXT, value TEXT);
            CREATE TABLE person (truth_id TEXT, name TEXT, former_name TEXT, sex TEXT, ethnicity TEXT,
                                 birth_date TEXT, id_number TEXT, phone TEXT, person_type TEXT,
                                 status TEXT, status_date TEXT, household_id TEXT, household_no TEXT,
                                 relation TEXT, house_id TEXT, previous_house_id TEXT,
                                 hukou_address TEXT, current_address TEXT);
            CREATE TABLE house (truth_id TEXT, address TEXT, usage TEXT, area TEXT, owner_truth_id TEXT,
                                owner_id_number TEXT, owner_phone TEXT, is_rented TEXT, grid_code TEXT);
            CREATE TABLE name_twin (truth_id_a TEXT, truth_id_b TEXT);
        """)
        for entity in ("person", "house"):
            con.executemany(f"INSERT INTO {entity}_record VALUES (?, ?, ?)",
                            [(t, s, row[0] or "") for t, s, e, row in self.records if e == entity])
        con.executemany("INSERT INTO injected VALUES (?, ?, ?, ?, ?, ?)",
                        [(s, e, row[0] or "", f, k, d) for s, e, row, f, k, d in self.injected])
        con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
        hh = pop.households
        con.executemany("INSERT INTO person VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
            (p.tid, p.name, p.former_name or None, p.sex, p.ethnicity, p.birth.isoformat(), p.id_number,
             p.phone or None, "floating" if p.floating else "registered", p.status,
             p.status_date.isoformat() if p.status_date else None, p.household,
             hh[p.household].household_no or None, p.relation, p.house, p.prev_house or None,
             police_address(p.hukou), police_address(pop.houses[p.house].addr))
            for p in pop.persons.values()])
        con.executemany("INSERT INTO house VALUES (?,?,?,?,?,?,?,?,?)", [
            (h.hid, police_address(h.addr), h.usage, h.area, h.owner or None,
             pop.persons[h.owner].id_number if h.owner else None,
             pop.persons[h.owner].phone if h.owner else None, "1" if h.rented else "0", h.grid_code)
            for h in pop.houses.values()])
        con.executemany("INSERT INTO name_twin VALUES (?, ?)", pop.name_twins)
        con.commit()
        con.close()
