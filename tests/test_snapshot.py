"""Incremental extracts: rows changed since the last good run's watermark, merged into its snapshot."""
import sqlite3

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import snapshot
from pipelines.cli import run_sync
from warehouse.state import State
from tests.demos import demo_sources


def _write(path, rows):
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([("k", pa.string()), ("v", pa.string()),
                                                                  ("t", pa.string())])), path)


def test_merge_delta_replaces_changed_keys_and_adds_new_ones(tmp_path):
    _write(tmp_path / "prev.parquet", [{"k": "1", "v": "a", "t": "2026-01-01 00:00:00"},
                                       {"k": "2", "v": "b", "t": "2026-01-02 00:00:00"},
                                       {"k": None, "v": "x", "t": None}])
    _write(tmp_path / "delta.parquet", [{"k": "2", "v": "B", "t": "2026-02-01 00:00:00"},
                                        {"k": "3", "v": "c", "t": "2026-02-02 00:00:00"}])
    got = snapshot.merge_delta(tmp_path / "prev.parquet", tmp_path / "delta.parquet", "k", tmp_path / "out.parquet")
    assert got == {"rows": 4, "kept": 2, "changed": 2, "replaced": 1}
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert sorted((r["k"] or "", r["v"]) for r in rows) == [("", "x"), ("1", "a"), ("2", "B"), ("3", "c")]
    assert snapshot.watermark(tmp_path / "out.parquet", "t") == "2026-02-02 00:00:00"


def test_merge_delta_refuses_a_changed_shape(tmp_path):
    _write(tmp_path / "prev.parquet", [{"k": "1", "v": "a", "t": None}])
    pq.write_table(pa.table({"k": ["1"], "renamed": ["a"]}), tmp_path / "delta.parquet")
    assert snapshot.merge_delta(tmp_path / "prev.parquet", tmp_path / "delta.parquet", "k",
                                tmp_path / "out.parquet") is None


def test_since_is_a_second_before_the_watermark():
    assert snapshot.Previous(path=None, watermark="2026-01-01 00:00:00").since == "2025-12-31 23:59:59"


def test_watermark_understands_other_spellings_and_missing_column(tmp_path):
    pq.write_table(pa.table({"t": ["2025/3/5 10:00", "2025-12-01", None, "垃圾"]}), tmp_path / "w.parquet")
    assert snapshot.watermark(tmp_path / "w.parquet", "t") == "2025-12-01 00:00:00"
    assert snapshot.watermark(tmp_path / "w.parquet", "nope") is None


@pytest.fixture
def demo(tmp_path):
    return tmp_path, demo_sources(tmp_path, persons=150, seed=11)


def _landed(root, run_id, name="police_person"):
    return pq.ParquetFile(root / "warehouse" / "landing" / run_id / f"{name}.parquet").metadata.num_rows


def test_incremental_sync_picks_up_changes_and_full_sync_sees_deletions(demo):
    root, paths = demo
    cfg = str(root / "gridbridge.yaml")
    assert run_sync(cfg, quiet=True) == 0
    state = State(root / "warehouse")
    first = state.runs().iloc[0]["run_id"]
    with sqlite3.connect(paths.police_db) as con:
        n = con.execute("SELECT count(*) FROM 实有人口").fetchone()[0]
        key, = con.execute("SELECT 人员编号 FROM 实有人口 WHERE 注销标志 = '0' LIMIT 1").fetchone()
        con.execute("UPDATE 实有人口 SET 联系电话 = '13900001111', 更新时间 = '2099-01-01 00:00:00' "
                    "WHERE 人员编号 = ?", [key])
        victim, = con.execute("SELECT 人员编号 FROM 实有人口 WHERE 人员编号 <> ? LIMIT 1", [key]).fetchone()
        con.execute("DELETE FROM 实有人口 WHERE 人员编号 = ?", [victim])
    assert run_sync(cfg, quiet=True) == 0
    second = state.runs().iloc[0]["run_id"]
    assert second != first
    # incremental: the deleted row is still in the snapshot (only a full extract can notice), the change is in
    assert _landed(root, second) == n
    delta = pq.read_table(root / "warehouse" / "landing" / second / "police_person.delta.parquet")
    # the changed row, plus any row of the previous watermark's own second (re-read on purpose)
    with sqlite3.connect(paths.police_db) as con:
        wm_second = con.execute("SELECT count(*) FROM 实有人口 WHERE 更新时间 >= (SELECT max(更新时间) FROM 实有人口 "
                                "WHERE 人员编号 <> ?)", [key]).fetchone()[0]
    assert key in delta.column("人员编号").to_pylist() and delta.num_rows == wm_second
    con = duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True)
    phone = con.execute("SELECT p.phone FROM person p JOIN person_xref x USING (person_id) "
                        "WHERE x.source = 'police' AND x.source_key = ?", [key]).fetchone()
    con.close()
    assert phone is not None and "13900001111" in phone[0]
    assert run_sync(cfg, quiet=True, full=True) == 0
    third = state.runs().iloc[0]["run_id"]
    assert _landed(root, third) == n - 1
    assert not (root / "warehouse" / "landing" / third / "police_person.delta.parquet").exists()
