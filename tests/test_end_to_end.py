"""The whole sync path on demo sources: accounting, conflicts vs truth, quarantine, gates, stable ids."""
import json
import sqlite3

import duckdb
import pandas as pd
import pytest
import yaml

from pipelines.cli import main, run_sync
from warehouse.state import State
from tests.demos import synced_demo

pytestmark = pytest.mark.slow
PERSONS = 400
SOURCE_TABLES = {("police", "person"): "实有人口", ("police", "house"): "实有房屋",
                 ("grid", "person"): "人口信息", ("grid", "house"): "房屋信息"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    paths = synced_demo(root, PERSONS, seed=7)
    con = duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True)
    yield root, paths, con
    con.close()


def _q(con, sql):
    return con.execute(sql).df()


def _truth(paths, table):
    with sqlite3.connect(paths.truth_db) as t:
        return pd.read_sql_query(f"SELECT * FROM {table}", t)


def test_every_extracted_row_is_loaded_or_quarantined(demo):
    root, paths, con = demo
    for (source, entity), table in SOURCE_TABLES.items():
        db = paths.police_db if source == "police" else paths.grid_db
        with sqlite3.connect(db) as s:
            extracted = s.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        loaded = con.execute(f"SELECT count(*) FROM {entity}_xref WHERE source = ?", [source]).fetchone()[0]
        quarantined = con.execute("SELECT count(*) FROM quarantine WHERE source = ? AND entity = ?",
                                  [source, entity]).fetchone()[0]
        assert extracted > 0
        assert extracted == loaded + quarantined, (source, entity, extracted, loaded, quarantined)


def test_malformed_rows_are_quarantined_with_their_reason(demo):
    root, paths, con = demo
    inj = _truth(paths, "injected")
    bad = inj[inj["kind"] == "malformed"]
    assert len(bad) >= 5
    q = _q(con, "SELECT source, entity, coalesce(source_key, '') AS source_key, reason, raw FROM quarantine")
    bad = bad.assign(source_key=bad["source_key"].fillna(""))
    got = bad.merge(q, on=["source", "entity", "source_key"], how="left")
    missing = got[got["reason"].isna()]
    assert missing.empty, f"malformed rows not quarantined: {missing[['source', 'source_key', 'detail']].values.tolist()}"
    wrong = got[got["reason"] != got["detail"]]
    assert wrong.empty, wrong[["source_key", "detail", "reason"]].values.tolist()
    assert q["reason"].notna().all() and q["raw"].str.startswith("{").all()


def _matched_injections(con, paths, kind):
    """Injected variations of `kind` on persons whose police and grid records were linked."""
    inj = _truth(paths, "injected")
    inj = inj[(inj["kind"] == kind) & (inj["entity"] == "person")]
    rec = _truth(paths, "person_record")
    xref = _q(con, "SELECT source, source_key, person_id FROM person_xref")
    rec = rec.merge(xref, on=["source", "source_key"])
    inj = inj.merge(rec[["source", "source_key", "truth_id", "person_id"]], on=["source", "source_key"])
    both = rec.groupby("person_id")["source"].nunique()
    return inj[inj["person_id"].map(both) == 2]


def test_true_differences_become_conflicts(demo):
    root, paths, con = demo
    inj = _matched_injections(con, paths, "true")
    assert len(inj) >= 20
    conf = _q(con, "SELECT person_id, field FROM person_conflict")
    found = inj.merge(conf.assign(hit=True), on=["person_id", "field"], how="left")["hit"].fillna(False)
    recall = found.mean()
    by_field = inj.assign(hit=found.values).groupby("field")["hit"].mean().round(3).to_dict()
    assert recall >= 0.97, f"true differences found as conflicts: {recall:.3f} by field {by_field}"


def test_formatting_only_differences_are_not_conflicts(demo):
    root, paths, con = demo
    fmt = _matched_injections(con, paths, "format")
    true = _matched_injections(con, paths, "true")[["person_id", "field"]].assign(true_diff=True)
    assert len(fmt) >= 20
    fmt = fmt.merge(true, on=["person_id", "field"], how="left")
    fmt = fmt[fmt["true_diff"].isna()]  # the same field may also carry a true difference
    conf = _q(con, "SELECT person_id, field, police_value, grid_value FROM person_conflict")
    false = fmt.merge(conf, on=["person_id", "field"])
    assert false.empty, false[["field", "detail", "police_value", "grid_value"]].head(20).values.tolist()


def test_summary_counts_and_only_in_one_system(demo):
    root, paths, con = demo
    run = State(root / "warehouse").runs().iloc[0]
    counts = json.loads(run["counts"])
    assert run["status"] == "success"
    assert counts["persons"]["only_grid"] == con.execute("SELECT count(*) FROM v_only_in_grid").fetchone()[0] > 0
    assert counts["persons"]["only_police"] == con.execute("SELECT count(*) FROM v_only_in_police").fetchone()[0] > 0
    assert counts["persons"]["living"] == con.execute("SELECT count(*) FROM v_resident").fetchone()[0]
    by_status = dict(con.execute("SELECT coalesce(status, 'active'), count(*) FROM person GROUP BY 1").fetchall())
    assert counts["persons"]["by_status"] == by_status and counts["persons"]["living"] == by_status["active"]
    assert counts["persons"]["living"] < counts["persons"]["golden"]        # the demo has deceased/moved-out people
    masked = con.execute("SELECT id_number FROM v_only_in_grid WHERE id_number IS NOT NULL LIMIT 5").fetchall()
    assert masked and all("********" in m[0] or m[0] == "***" for m in masked)
    gates = json.loads(run["gates"])
    assert gates and all(g["passed"] or g["severity"] == "WARN" for g in gates)
    report = root / "warehouse" / "reports" / f"{run['run_id']}.html"       # the run's HTML report (warehouse/report.py)
    assert report.exists() and run["run_id"] in report.read_text(encoding="utf-8")


def test_failing_gate_leaves_previous_warehouse_untouched(demo, capsys):
    root, paths, con = demo
    wh = root / "warehouse" / "gridbridge.duckdb"
    before = wh.read_bytes()
    strict = root / "strict.yaml"
    cfg = yaml.safe_load((root / "gridbridge.yaml").read_text(encoding="utf-8"))
    cfg["quality"]["id_number_valid_min"] = 1.0  # the demo has ID typos: this blocking gate must fail
    strict.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        code = main(["sync", "--config", str(strict)])
    out = capsys.readouterr().out
    assert code == 1
    assert "share of valid ID numbers >= 1.0" in out and "observed" in out
    assert wh.read_bytes() == before
    last = State(root / "warehouse").runs().iloc[0]
    assert last["status"] == "failed" and last["stage"] == "gate"
    main(["status", "--config", str(strict)])
    assert "failed" in capsys.readouterr().out


def test_second_sync_keeps_person_ids(demo):
    root, paths, con = demo
    before = _q(con, "SELECT source, source_key, person_id FROM person_xref ORDER BY 1, 2")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        assert run_sync(str(root / "gridbridge.yaml"), quiet=True) == 0
    con2 = duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True)
    after = con2.execute("SELECT source, source_key, person_id FROM person_xref ORDER BY 1, 2").df()
    con2.close()
    pd.testing.assert_frame_equal(before, after)


def test_missing_column_is_a_one_line_error(tmp_path, demo, capsys):
    root, paths, con = demo
    cfg = yaml.safe_load((root / "gridbridge.yaml").read_text(encoding="utf-8"))
    cfg["sources"]["police"]["entities"]["person"]["columns"]["phone"] = "手机号码"
    cfg["warehouse"]["path"] = str(tmp_path / "wh.duckdb")
    for s in ("police", "grid"):
        cfg["sources"][s]["url"] = f"sqlite:///{root / 'demo' / (s + '.sqlite')}"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        assert main(["sync", "--config", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "police.person: column '手机号码' (mapped to phone) not found in the source" in out
    assert not (tmp_path / "wh.duckdb").exists()


def test_export_writes_masked_views(demo, tmp_path):
    root, paths, con = demo
    out = tmp_path / "export"
    assert main(["export", "--config", str(root / "gridbridge.yaml"), "--format", "parquet", "--out", str(out)]) == 0
    person = pd.read_parquet(out / "v_person.parquet")
    assert len(person) == con.execute("SELECT count(*) FROM person").fetchone()[0]
    ids = person["id_number"].dropna()
    assert len(ids) and ids.str.contains(r"\*{8}").all()


def test_wrong_encoding_export_is_one_line_from_the_command_without_a_traceback(tmp_path, demo):
    """The real command in a subprocess: the operator sees the reason, not Dagster's stack trace."""
    import subprocess
    import sys
    root, paths, con = demo
    with sqlite3.connect(paths.police_db) as s:
        pd.read_sql_query('SELECT * FROM "实有人口"', s, dtype=str).to_csv(tmp_path / "p.csv", index=False,
                                                                       encoding="utf-8")
    cfg = yaml.safe_load((root / "gridbridge.yaml").read_text(encoding="utf-8"))
    person = cfg["sources"]["police"]["entities"]["person"]
    person.pop("table")
    person |= {"file": str(tmp_path / "p.csv"), "encoding": "gb18030"}
    cfg["sources"]["police"] = {"connector": "csv", "entities": {"person": person}}
    cfg["sources"]["grid"]["url"] = f"sqlite:///{paths.grid_db}"
    cfg["warehouse"]["path"] = str(tmp_path / "wh.duckdb")
    (tmp_path / "csv.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in __import__("os").environ.items() if k != "GRIDBRIDGE_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "sync", "--config", str(tmp_path / "csv.yaml")],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert "police.person: p.csv: looks like UTF-8, not gb18030" in out.stdout
    both = out.stdout + out.stderr
    assert "Traceback" not in both and "Stack Trace" not in both and "SourceError" not in both
    assert not (tmp_path / "wh.duckdb").exists()
