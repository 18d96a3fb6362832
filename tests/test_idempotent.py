"""Idempotency: a second sync on the same inputs publishes the same records.

Both syncs go through the command line's run_sync, the second incremental (it reads the first's landed snapshot
and xref, as a nightly run does). The matching thresholds are widened so that `match_review` is not empty.
(tests/test_crash.py also checks that a sync in a fresh interpreter, with another hash seed, keeps every
person_id.)
"""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pipelines.cli import run_sync
from tests.demos import demo_sources

PERSONS, SEED = 300, 11
# table → the columns that identify a row (every column except run_id is compared)
TABLES = {"person": ["person_id"], "house": ["house_id"],
          "person_xref": ["source", "source_key"], "house_xref": ["source", "source_key"],
          "person_conflict": ["conflict_id"], "house_conflict": ["conflict_id"],
          "match_review": ["pair_id"], "quarantine": ["source", "entity", "reason", "source_key", "raw"]}


def _snapshot(path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for name, key in TABLES.items():
            frame = con.execute(f'SELECT * EXCLUDE (run_id) FROM "{name}"').df()
            out[name] = frame.sort_values(key, na_position="first").reset_index(drop=True)
        out["publish_history"] = con.execute("SELECT * FROM publish_history ORDER BY run_seq").df()
        out["changes"] = con.execute("SELECT 'person' AS entity, change, person_id AS id FROM v_person_changes "
                                     "UNION ALL SELECT 'house', change, house_id FROM v_house_changes").df()
        out["history"] = con.execute("SELECT 'person' AS entity, valid_from_seq, valid_to_seq, count(*) AS n "
                                     "FROM person_history GROUP BY ALL UNION ALL SELECT 'house', valid_from_seq, "
                                     "valid_to_seq, count(*) FROM house_history GROUP BY ALL ORDER BY ALL").df()
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def two_syncs(tmp_path_factory):
    root = tmp_path_factory.mktemp("idempotent")
    demo_sources(root, PERSONS, SEED)
    config = root / "gridbridge.yaml"
    sample = config.read_text(encoding="utf-8")
    wide = sample.replace("auto_match: 0.95 ", "auto_match: 0.9999 ").replace("review: 0.6 ", "review: 0.01 ")
    assert wide.count("0.9999") == 1 and "review: 0.01 " in wide, "the sample's thresholds moved: update this test"
    config.write_text(wide, encoding="utf-8")
    snapshots = []
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        for _ in range(2):
            assert run_sync(str(config), quiet=True) == 0
            snapshots.append(_snapshot(root / "warehouse" / "gridbridge.duckdb"))
    return snapshots


@pytest.mark.parametrize("table", list(TABLES))
def test_a_second_sync_on_the_same_inputs_publishes_the_same_rows(two_syncs, table):
    first, second = two_syncs
    assert len(first[table]) > 0, f"{table} is empty in the demo: the comparison would prove nothing"
    pd.testing.assert_frame_equal(first[table], second[table], check_like=False)


def test_a_second_sync_on_the_same_inputs_changes_no_golden_version(two_syncs):
    first, second = two_syncs
    assert len(second["publish_history"]) == len(first["publish_history"]) + 1
    assert second["changes"].empty, second["changes"].head(20)  # v_*_changes: nothing added, changed or removed
    assert second["history"].equals(first["history"])  # no version closed or opened by the second run
