"""Derive the police and grid views from one population, give rows their keys, write the SQLite files."""
from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from . import houses as hs
from . import plan as pl
from . import population, rows
from .plan import Planner
from .truth import Truth

POLICE_TABLES = {"实有人口": rows.POLICE_PERSON, "实有房屋": hs.POLICE_HOUSE}
GRID_TABLES = {"人口信息": rows.GRID_PERSON, "房屋信息": hs.GRID_HOUSE}


@dataclass(frozen=True)
class DemoPaths:
    police_db: Path
    grid_db: Path
    truth_db: Path


def _assign_keys(rng: random.Random, pop, person_rows: rows.PersonRows, house_rows: hs.HouseRows) -> None:
    """Shuffle every table, number its rows, then point person rows at their source's house key."""
    for side, table in house_rows.tables.items():
        rng.shuffle(table)
        for i, row in enumerate(table, 1):
            row[0] = f"F{row[1][:6]}{i:07d}" if side == "police" else f"FW{i:08d}"
    keyless = {id(r) for r in person_rows.keyless}
    for side, table in person_rows.tables.items():
        house_key = {hid: row[0] for hid, row in house_rows.real[side].items()}
        rng.shuffle(table)
        col = rows.HOUSE_KEY_COL[side]
        for i, row in enumerate(table, 1):
            hid = row[col]
            if id(row) in keyless:
                row[0] = None           # police NULL, grid ''; the truth records '' ("no key")
            elif side == "police":
                row[0] = f"P{pop.houses[hid].addr.county_code if hid else '640202'}{i:07d}"
            else:
                row[0] = f"WG{row[15][:4] if row[15] else '2024'}{i:06d}"
            if hid:
                row[col] = house_key[hid]


def _write(path: Path, tables: dict[str, tuple[str, ...]], data: dict[str, list[list]], empty) -> None:
    con = sqlite3.connect(path)
    for name, columns in tables.items():
        con.execute(f'CREATE TABLE "{name}" (' + ", ".join(f'"{c}" TEXT' for c in columns) + ")")
        con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(columns))})',
                        ([empty if v in ("", None) else v for v in row] for row in data[name]))
    con.commit()
    con.close()


def build(out_dir: str | Path, persons: int, seed: int) -> DemoPaths:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = DemoPaths(out / "police.sqlite", out / "grid.sqlite", out / "truth.sqlite")
    for p in (paths.police_db, paths.grid_db, paths.truth_db):
        p.unlink(missing_ok=True)
    rng = random.Random(seed)
    pop = population.build(rng, persons)
    plan = Planner(rng, pop).run()
    truth = Truth()
    prow = rows.PersonRows(rng, pop, plan, truth).build()
    refs = {side: {r[rows.HOUSE_KEY_COL[side]] for r in t if r[rows.HOUSE_KEY_COL[side]]}
            for side, t in prow.tables.items()}
    hrow = hs.HouseRows(rng, pop, truth, persons).build(refs["police"], refs["grid"])
    _assign_keys(rng, pop, prow, hrow)
    _write(paths.police_db, POLICE_TABLES, {"实有人口": prow.tables["police"], "实有房屋": hrow.tables["police"]},
           None)              # the police system (Oracle-like) stores empty values as NULL
    _write(paths.grid_db, GRID_TABLES, {"人口信息": prow.tables["grid"], "房屋信息": hrow.tables["grid"]},
           "")                # the grid app stores empty strings
    meta = {
        "seed": seed, "persons": persons, "households": len(pop.households), "houses": len(pop.houses),
        "ref_date": population.REF_DATE.isoformat(), "generator": "pipelines.demo 1",
        "police_person_rows": len(prow.tables["police"]), "grid_person_rows": len(prow.tables["grid"]),
        "police_house_rows": len(hrow.tables["police"]), "grid_house_rows": len(hrow.tables["grid"]),
        "injected": len(truth.injected), "name_twins": len(pop.name_twins),
        "rates": json.dumps({"true": pl.TRUE_RATES, "format": pl.FORMAT_RATES,
                             "missing": {f"{s}.{f}": r for (s, f), r in pl.MISSING_RATES.items()},
                             "only_grid": pl.ONLY_GRID_RATE, "deregistered": pl.DEREGISTERED_RATE,
                             "unvisited": pl.UNVISITED_RATE, "police_duplicate": rows.POLICE_DUPLICATE_RATE,
                             "grid_duplicate": rows.GRID_DUPLICATE_RATE, "malformed": rows.MALFORMED_RATE},
                            ensure_ascii=False),
    }
    truth.write(paths.truth_db, pop, meta)
    return paths
