"""Golden-record history across publishes: as-of queries and "what changed last night"."""
import duckdb
import pandas as pd
import pytest

from warehouse.publish import publish


def _persons(**names) -> pd.DataFrame:
    return pd.DataFrame({"person_id": list(names), "name": list(names.values()),
                         "in_police": True, "in_grid": True})


def _q(path, sql):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_each_run_is_queryable_as_of_that_run_and_changes_are_listed(tmp_path):
    path = tmp_path / "wh.duckdb"
    publish(path, {"person": _persons(P1="王静", P2="马丽")}, "run1")
    assert _q(path, "SELECT change, person_id FROM v_person_changes ORDER BY 2") == [("added", "P1"), ("added", "P2")]
    publish(path, {"person": _persons(P1="王静", P2="马莉", P3="李娜")}, "run2")     # P2 corrected, P3 new
    assert _q(path, "SELECT change, person_id, changed_fields FROM v_person_changes ORDER BY 2") == \
        [("changed", "P2", ["name"]), ("added", "P3", None)]
    publish(path, {"person": _persons(P2="马莉", P3="李娜")}, "run3")                 # P1 gone
    assert _q(path, "SELECT run_seq, run_id FROM publish_history ORDER BY 1") == \
        [(1, "run1"), (2, "run2"), (3, "run3")]
    as_of = lambda rid: _q(path, f"SELECT person_id, name FROM person_as_of('{rid}') ORDER BY 1")  # noqa: E731
    assert as_of("run1") == [("P1", "王静"), ("P2", "马丽")]
    assert as_of("run2") == [("P1", "王静"), ("P2", "马莉"), ("P3", "李娜")]
    assert as_of("run3") == [("P2", "马莉"), ("P3", "李娜")] == \
        _q(path, "SELECT person_id, name FROM person ORDER BY 1")
    assert _q(path, "SELECT change, person_id FROM v_person_changes ORDER BY 2") == [("removed", "P1")]
    # only changes are stored: P2 has two versions, P3 one, P1 one (closed)
    assert _q(path, "SELECT person_id, count(*) FROM person_history GROUP BY 1 ORDER BY 1") == \
        [("P1", 1), ("P2", 2), ("P3", 1)]


def test_an_unchanged_rerun_adds_no_versions(tmp_path):
    path = tmp_path / "wh.duckdb"
    publish(path, {"person": _persons(P1="王静")}, "run1")
    publish(path, {"person": _persons(P1="王静")}, "run2")
    assert _q(path, "SELECT count(*) FROM person_history") == [(1,)]
    assert _q(path, "SELECT count(*) FROM v_person_changes") == [(0,)]
    assert _q(path, "SELECT count(*) FROM person_as_of('run1')") == [(1,)]


def test_a_failed_publish_does_not_advance_history(tmp_path):
    path = tmp_path / "wh.duckdb"
    publish(path, {"person": _persons(P1="王静")}, "run1")
    with pytest.raises(duckdb.ConstraintException):
        publish(path, {"person": pd.DataFrame({"person_id": [None]})}, "run2")     # NOT NULL violated
    publish(path, {"person": _persons(P1="王静", P2="马丽")}, "run3")
    assert _q(path, "SELECT run_seq, run_id FROM publish_history ORDER BY 1") == [(1, "run1"), (2, "run3")]


def test_changes_name_every_field_that_changed_including_one_that_became_empty(tmp_path):
    path = tmp_path / "wh.duckdb"
    base = _persons(P1="王静", P2="马丽").assign(phone=["+8613912345678", "+8613800001111"], sex=["2", "2"])
    publish(path, {"person": base}, "run1")
    after = base.assign(phone=[None, "+8613800001111"], sex=["1", "2"])
    publish(path, {"person": after}, "run2")
    assert _q(path, "SELECT change, person_id, changed_fields FROM v_person_changes") == \
        [("changed", "P1", ["phone", "sex"])]
