import duckdb
import pandas as pd
import pytest

from warehouse.publish import building_path, publish, read_table
from warehouse.state import State


def test_publish_swaps_atomically_and_keeps_open_readers(tmp_path):
    path = tmp_path / "wh.duckdb"
    publish(path, {"person": pd.DataFrame({"person_id": ["P1"], "name": ["王静"]})}, "run1")
    reader = duckdb.connect(str(path), read_only=True)
    publish(path, {"person": pd.DataFrame({"person_id": ["P1", "P2"], "name": ["王静", "马丽"]})}, "run2")
    # a reader that had the old file open still sees the old, complete state
    assert reader.execute("SELECT count(*) FROM person").fetchall() == [(1,)]
    reader.close()
    assert len(read_table(path, "person")) == 2
    assert not list(tmp_path.glob(".*building*"))


def test_failed_build_leaves_previous_file_untouched(tmp_path):
    path = tmp_path / "wh.duckdb"
    publish(path, {"person": pd.DataFrame({"person_id": ["P1"]})}, "run1")
    before = path.read_bytes()
    with pytest.raises(Exception):
        publish(path, {"person": pd.DataFrame({"person_id": [None]})}, "run2")  # NOT NULL violated
    assert path.read_bytes() == before
    assert not building_path(path, "run2").exists()


def test_stale_build_is_removed(tmp_path):
    path = tmp_path / "wh.duckdb"
    stale = building_path(path, "crashed")
    stale.write_bytes(b"half a warehouse")
    publish(path, {}, "run1")
    assert not stale.exists()


def test_views_mask_ids_and_phones(tmp_path):
    path = tmp_path / "wh.duckdb"
    person = pd.DataFrame({"person_id": ["P1"], "name": ["王静"], "id_number": ["64020219900101123X"],
                           "phone": ["+8613912345678"], "in_police": [True], "in_grid": [False]})
    xref = pd.DataFrame({"source": ["police"], "source_key": ["K1"], "person_id": ["P1"]})
    publish(path, {"person": person, "person_xref": xref}, "run1")
    con = duckdb.connect(str(path), read_only=True)
    row = con.execute("SELECT id_number, phone, police_keys FROM v_only_in_police").fetchall()
    assert row == [("640202********123X", "139****5678", "K1")]
    assert con.execute("SELECT count(*) FROM v_only_in_grid").fetchall() == [(0,)]


def test_steward_decisions_are_append_only(tmp_path):
    state = State(tmp_path)
    did = state.add_decision("conflict", "c1", "13900000001", "steward1", reason="电话核实")
    import sqlite3
    con = sqlite3.connect(state.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE steward_decision SET value='x' WHERE decision_id=?", (did,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM steward_decision")
    assert state.decisions()["value"].tolist() == ["13900000001"]


def test_run_log_upsert(tmp_path):
    state = State(tmp_path)
    state.record_run("r1", started_at="2026-11-23T02:00:00", status="running")
    state.record_run("r1", status="failed", message="gate")
    runs = state.runs()
    assert runs[["run_id", "status", "started_at", "message"]].values.tolist() == [["r1", "failed", "2026-11-23T02:00:00", "gate"]]


def test_sql_masks_are_the_python_masks(tmp_path):
    """The analyst views' SQL macros and `gridbridge explain`'s Python masks give the same text."""
    from schemas.normalise import mask_id, mask_phone
    path = tmp_path / "wh.duckdb"
    publish(path, {}, "run1")
    ids = ["64020219900101123X", "640202900101123", "12345678", "12345", "", None, " 64020219900101123X "]
    phones = ["+8613912345678", "+869522012345", "95588", "+86 951 2012345", "0951-2012345", "12", "", None]
    con = duckdb.connect(str(path), read_only=True)
    sql_ids = [con.execute("SELECT mask_id(?)", [v]).fetchone()[0] for v in ids]
    sql_phones = [con.execute("SELECT mask_phone(?)", [v]).fetchone()[0] for v in phones]
    con.close()
    assert sql_ids == mask_id(pd.Series(ids, dtype=object)).tolist()
    assert sql_phones == mask_phone(pd.Series(phones, dtype=object)).tolist()
    assert sql_ids[0] == "640202********123X" and sql_phones[:2] == ["139****5678", "095****2345"]
