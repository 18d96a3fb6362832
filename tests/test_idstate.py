"""The persisted id allocator state (warehouse/idstate.py)."""
import sqlite3

import duckdb
import pandas as pd
import pytest

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
    assert ids.issued("person").to_dict("list")["first_no"] == [1, 151]


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


def test_history_max_reads_every_id_the_warehouse_ever_published(tmp_path):
    path = tmp_path / "w.duckdb"
    assert history_max(path, "person", "P") == 0
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE person (person_id VARCHAR)")
    con.execute("INSERT INTO person VALUES ('P00000003')")
    con.execute("CREATE TABLE person_history (person_id VARCHAR)")        # P00000150 was deleted since
    con.execute("INSERT INTO person_history VALUES ('P00000003'), ('P00000150'), ('X1')")
    con.close()
    assert history_max(path, "person", "P") == 150
    assert history_max(path, "house", "H") == 0
