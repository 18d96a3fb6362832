"""A synced 200-person demo for the console's data-layer tests, shared by their modules (one sync per session).

The sample config with phone, name, ID number and (houses) area settled by stewards (so there are open person
conflicts of several fields and an open house conflict) and the matching thresholds widened (so `match_review` has
pairs). Tests that decide work on a copy
(`fresh_copy`): decisions are append-only, so every test starts from the same state.
"""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.cli import run_sync
from schemas.config import load
from tests.demos import demo_sources

PERSONS, SEED = 200, 5


def steward_config(text: str) -> str:
    wide = text.replace("auto_match: 0.95 ", "auto_match: 0.9999 ").replace("review: 0.6 ", "review: 0.01 ")
    wide = wide.replace("  name: police\n  id_number: police\n", "  name: steward\n  id_number: steward\n")
    wide = wide.replace("  phone: most_recent\n", "  phone: steward\n  area: steward\n")
    assert wide.count("steward\n") >= 4 and "area: steward" in wide and "review: 0.01 " in wide, \
        "the sample config moved: update this helper"
    return wide


def sync(config_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        assert run_sync(str(config_path), quiet=True) == 0


@functools.cache
def base() -> Path:
    root = Path(tempfile.mkdtemp(prefix="gb_steward_data_"))
    atexit.register(shutil.rmtree, root, True)
    demo_sources(root, PERSONS, SEED)
    config = root / "gridbridge.yaml"
    config.write_text(steward_config(config.read_text(encoding="utf-8")), encoding="utf-8")
    sync(config)
    return root


def fresh_copy(dest: Path):
    """A copy of the synced demo under `dest` (sources, warehouse, state): its loaded Config."""
    shutil.copytree(base(), dest, dirs_exist_ok=True)
    return load(dest / "gridbridge.yaml")


def table(config, sql: str, params=None) -> pd.DataFrame:
    con = duckdb.connect(str(config.warehouse_path), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def open_conflicts(config) -> pd.DataFrame:
    """Open person and house conflicts with the grid_code and community of their person (that of their golden house)
    or house: straight SQL, independent of steward/queues.py."""
    return table(config, """
        SELECT 'person' AS entity, c.conflict_id, c.person_id AS entity_id, c.field, c.police_value, c.grid_value,
               p.grid_code, h.community
        FROM person_conflict c JOIN person p USING (person_id) LEFT JOIN house h ON h.house_id = p.house_id
        WHERE c.status = 'open'
        UNION ALL
        SELECT 'house', c.conflict_id, c.house_id, c.field, c.police_value, c.grid_value, h.grid_code, h.community
        FROM house_conflict c JOIN house h USING (house_id) WHERE c.status = 'open'""")
