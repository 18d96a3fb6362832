"""The persisted id allocator state (warehouse/idstate.py)."""
import sqlite3

import duckdb
import pandas as pd
import pytest

from matching.ids import assign_ids
from tests.matching.test_match_ids import ids_of, members, xref
from warehouse.idstate import IdState, history_max
from warehouse.state import State


def _events(*rows):
    return pd.DataFrame(list(rows), columns=["id", "event", "other_id"])


def test_the_counter_only_grows_and_counts_failed_runs_too(tmp_path):
    ids = IdState(tmp_path)
    assert ids.issued_max("person") == 0
    ids.record("person", "r1", 1, 150, _events())
    ids.record("person", "r2", 151, 150, _events())          # issued nothing
    ids.record("house", "r2", 1, 40, _events())
    ids.record("person", "r3", 151, 152, _events())          # a run that later failed: its numbers stay spent
    State(tmp_path).record_run("r3", status="failed")
    assert ids.issued_max("person") == 152 and ids.issued_max("house") == 40


def test_lineage_of_successful_runs_and_of_the_asking_run_only(tmp_path):
    state, ids = State(tmp_path), IdState(tmp_path)
    ids.record("person", "ok", 1, 0, _events(("P00000002", "retired", "P00000001"), ("P00000005", "retired", None)))
    ids.record("person", "bad", 1, 0, _events(("P00000003", "retired", "P00000001")))
    ids.record("person", "now", 1, 0, _events(("P00000009", "split", "P00000001")))
    state.record_run("ok", status="success")
    state.record_run("bad", status="failed")
    got = ids.lineage("person", "now")
    assert got.to_dict("records") == [{"id": "P00000002", "event": "retired", "other_id": "P00000001"},
                                      {"id": "P00000005", "event": "retired", "other_id": None},
                                      {"id": "P00000009", "event": "split", "other_id": "P00000001"}]
    assert ids.lineage("house", "now").empty


def test_rows_are_append_only(tmp_path):
    ids = IdState(tmp_path)
    ids.record("person", "r1", 1, 3, _events(("P00000002", "retired", "P00000001")))
    con = sqlite3.connect(ids.path)
    for sql in ("UPDATE id_issue SET last_no = 1", "UPDATE id_lineage SET other_id = NULL"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    con.close()


def _warehouse(path, *history_ids):
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE person_history (person_id VARCHAR)")
    con.executemany("INSERT INTO person_history VALUES (?)", [[i] for i in history_ids])
    con.close()
    return path


def test_history_max_reads_every_id_the_warehouse_ever_published(tmp_path):
    path = tmp_path / "w.duckdb"
    assert history_max(path, "person", "P") == 0
    _warehouse(path, "P00000003", "P00000150", "X1")                 # P00000150 was deleted since
    assert history_max(path, "person", "P") == 150
    assert history_max(path, "house", "H") == 0                         # no house_history


def test_the_counter_seeds_from_the_history_only_while_it_is_zero(tmp_path):
    ids = IdState(tmp_path / "state")
    path = _warehouse(tmp_path / "w.duckdb", "P00000150")
    assert ids.counter("person", path, "P") == 150                       # a warehouse older than id_issue
    ids.record("person", "r1", 151, 152, _events())
    assert ids.counter("person", path, "P") == 152
    restored = _warehouse(tmp_path / "newer.duckdb", "P00000900")
    assert ids.counter("person", restored, "P") == 152                  # the history is not read any more


def test_freed_ids_are_never_reissued_with_the_counter_alone(tmp_path):
    # P2 is freed (its records are gone) and the warehouse that held it is lost or restored from a backup
    # older than it: only the persisted counter knows the number was issued
    ids = IdState(tmp_path / "state")
    first = assign_ids(members({"grid:a": ["grid:a"], "grid:b": ["grid:b"]}))
    ids.record("person", "r1", 1, first.issued_max, _events())
    second = assign_ids(members({"grid:a": ["grid:a"]}), xref(first))
    no_warehouse = tmp_path / "missing.duckdb"
    third = assign_ids(members({"grid:a": ["grid:a"], "grid:c": ["grid:c"]}), xref(second),
                       issued_max=ids.counter("person", no_warehouse, "P"))
    assert ids_of(third)["grid:c"] == "P00000003"
    without = assign_ids(members({"grid:a": ["grid:a"], "grid:c": ["grid:c"]}), xref(second))
    assert ids_of(without)["grid:c"] == "P00000002"                     # what the counter prevents
