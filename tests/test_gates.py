"""Quality gates: the suites as data, GE results labelled by their own gate, the matched-result gates, levels,
and the operator's path: a half-empty export stops the run, a warning holds the publish until --force-publish."""
import datetime as dt
import hashlib
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
import yaml

from matching.drift import match_metrics, psi, two_people_registered, weight_histogram
from pipelines.checks import gate_frame, match_results, validate
from pipelines.cli import main
from schemas.config import ConfigError, QualityConfig, load
from schemas.expectations import level, suite
from tests.demos import synced_demo
from warehouse.state import State

Q = QualityConfig()
ID_A, ID_B = "11010519491231002X", "440524188001010014"      # both pass the check digit


def test_gates_have_a_default_level_the_config_can_change_and_levels_are_validated(tmp_path):
    assert level(Q, "row_count_drift") == "blocking" and level(Q, "weight_drift") == "warning"
    assert level(QualityConfig(levels={"row_count_drift": "warning"}), "row_count_drift") == "warning"
    cfg = yaml.safe_load(open("gridbridge.yaml", encoding="utf-8"))
    cfg["quality"]["levels"] = {"row_count_drift": "warning", "no_such_gate": "blocking"}
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown gate no_such_gate"):
        load(tmp_path / "g.yaml")


def test_drift_and_freshness_gates_need_a_previous_run_and_use_its_figures():
    first = {s.id for s in suite("person", Q)}
    assert "row_count_drift" not in first and "updated_at_fresh" not in first
    specs = {s.id: s for s in suite("person", Q, {"loaded": 1000, "newest_updated_at": "2026-10-31T08:00:00"})}
    assert specs["row_count_drift"].kwargs == {"min_value": 800, "max_value": 1500}
    assert specs["updated_at_fresh"].kwargs["min_value"] == dt.datetime(2026, 10, 31, 8)
    fresh = QualityConfig(freshness_max_days=7)
    floor = {s.id: s for s in suite("house", fresh, {}, today=dt.date(2026, 11, 23))}["updated_at_fresh"]
    assert floor.kwargs["min_value"] == dt.datetime(2026, 11, 16)


def _persons(n=10, **cols):
    base = {"source_key": [f"K{i}" for i in range(n)], "name": ["王静"] * n, "id_number": [ID_A] * n,
            "sex": ["2"] * n, "birth_date": ["1949-12-31"] * n, "flags": [""] * n,
            "updated_at": ["2026-11-01 10:00:00"] * n}
    return pd.DataFrame({**base, **cols})


def test_each_ge_result_is_reported_under_its_own_gate():
    """GE returns results grouped in its own order: a failure must be named by the gate that failed."""
    df = _persons(source_key=[None] + [f"K{i}" for i in range(1, 10)], sex=["2"] * 9 + ["5"])
    specs = suite("person", Q, {"loaded": 10})
    got = {r["gate"]: r for r in validate(gate_frame(df, "person"), specs, "t", Q)}
    assert set(got) == {s.id for s in specs}
    assert not got["key_not_null"]["success"] and got["key_not_null"]["level"] == "blocking"
    assert not got["sex_code"]["success"] and got["sex_code"]["level"] == "warning"
    assert got["min_rows"]["success"] and got["row_count_drift"]["success"] and got["row_count_drift"]["observed"] == "10"
    failed = {g for g, r in got.items() if not r["success"]}
    assert failed == {"key_not_null", "sex_code"}


def test_birth_dates_codes_and_freshness_are_checked_on_derived_columns():
    df = _persons(birth_date=["1870-01-01"] + ["1990-05-05"] * 9, flags=["code_unknown"] * 2 + [""] * 8,
                  updated_at=["2026-01-01 00:00:00"] * 10)
    specs = suite("person", Q, {"loaded": 10, "newest_updated_at": "2026-06-01T00:00:00"})
    got = {r["gate"]: r for r in validate(gate_frame(df, "person"), specs, "t", Q)}
    assert not got["birth_date_range"]["success"] and "90.0% as expected" in got["birth_date_range"]["observed"]
    assert not got["codes_known"]["success"]
    assert not got["updated_at_fresh"]["success"] and got["updated_at_fresh"]["observed"].startswith("2026-01-01")
    assert all("王静" not in r["observed"] and ID_A not in r["observed"] for r in got.values())   # counts, not values


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(1)
    a = weight_histogram(rng.normal(20, 3, 5000))
    assert psi(a, weight_histogram(rng.normal(20, 3, 5000))) < 0.05
    assert psi(a, weight_histogram(rng.normal(8, 3, 5000))) > 1.0


def test_two_active_registrations_of_different_people_in_one_golden_person_fail_a_true_chongfu_passes():
    links = pd.DataFrame({"source": "police", "source_key": ["P1", "P2", "P3", "P4", "P5"],
                          "person_id": ["X", "X", "Y", "Y", "Z"], "match_probability": 0.99})
    police = pd.DataFrame({"source_key": ["P1", "P2", "P3", "P4", "P5"], "id_number": [ID_A, ID_B, ID_A, ID_A, ID_B],
                           "status": "active", "person_type": "registered"})
    dup = two_people_registered(links, police).set_index("person_id")
    assert dup.loc["X", "different_ids"] and not dup.loc["Y", "different_ids"] and "Z" not in dup.index
    decided = links.assign(match_rule=["steward", "id", "id", "id", "single"])     # a steward joined X's records
    assert "X" not in set(two_people_registered(decided, police)["person_id"])
    moved = police.assign(status=["moved_out", "active", "active", "active", "active"])      # 迁出: not active
    assert list(two_people_registered(links, moved)["person_id"]) == ["Y"]
    golden = pd.DataFrame({"person_id": ["X", "Y", "Z"], "in_police": True, "in_grid": [True, False, True]})
    now = match_metrics(golden, links, pd.DataFrame(), police)
    assert (now["duplicate_registrations"], now["two_people_registered"]) == (2, 1)
    results = {r["gate"]: r for r in match_results(now, {}, Q)}
    assert set(results) == {"duplicate_registration"} and not results["duplicate_registration"]["success"]


def test_match_drift_gates_compare_with_the_last_run():
    before = {"in_both_share": 0.90, "review_pairs": 30, "weight_hist": [0] * 10 + [100] * 10,
              "two_people_registered": 0, "duplicate_registrations": 3}
    same = {r["gate"]: r["success"] for r in match_results(before, before, Q)}
    assert same == dict.fromkeys(["match_rate_drift", "review_band_drift", "weight_drift", "duplicate_registration"],
                                 True)
    worse = before | {"in_both_share": 0.70, "review_pairs": 200, "weight_hist": [100] * 10 + [0] * 10}
    got = {r["gate"]: r for r in match_results(worse, before, Q)}
    assert [g for g, r in got.items() if not r["success"]] == ["match_rate_drift", "review_band_drift", "weight_drift"]
    assert got["match_rate_drift"]["observed"] == "0.7000 (-0.2000)" and got["match_rate_drift"]["level"] == "warning"


# ---- the operator's path, end to end --------------------------------------------------------------------

@pytest.fixture(scope="module")
def halved(tmp_path_factory):
    """A synced demo whose police export then loses half its persons."""
    root = tmp_path_factory.mktemp("gates")
    paths = synced_demo(root, 300, seed=13)
    with sqlite3.connect(paths.police_db) as con:
        con.execute('DELETE FROM "实有人口" WHERE rowid % 2 = 0')
    return root


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _config(root, name, **levels):
    cfg = yaml.safe_load((root / "gridbridge.yaml").read_text(encoding="utf-8"))
    cfg["quality"]["levels"] = levels
    (root / name).write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return str(root / name)


def _sync(*args):
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        return main(["sync", "--full", *args])


def test_a_half_empty_export_stops_the_run_and_cannot_be_forced(halved, capsys):
    wh = halved / "warehouse" / "gridbridge.duckdb"
    before = _md5(wh)
    assert _sync("--config", str(halved / "gridbridge.yaml"), "--force-publish", "--reason", "try") == 1
    out = capsys.readouterr().out
    assert "stage gate: stg_police_person: row_count_drift: loaded rows within 0.8–1.5" in out
    assert "failed (observed " in out and "a failed blocking gate cannot be forced" in out
    assert _md5(wh) == before
    last = State(halved / "warehouse").runs().iloc[0]
    assert (last["status"], last["stage"]) == ("failed", "gate") and not last["forced_reason"]
    main(["status", "--config", str(halved / "gridbridge.yaml")])
    assert "1 blocking" in capsys.readouterr().out
    report = halved / "warehouse" / "reports" / f"{last['run_id']}.html"      # the gate results are kept per run
    page = report.read_text(encoding="utf-8")
    assert f"gate report: {report}" in out and "nothing published" in page
    assert "row_count_drift" in page and "observed 1" in page and oct(report.stat().st_mode & 0o777) == "0o600"


def test_a_warning_gate_holds_the_publish_until_an_operator_forces_it_with_a_reason(halved, capsys):
    wh = halved / "warehouse" / "gridbridge.duckdb"
    before = _md5(wh)
    cfg = _config(halved, "warn.yaml", row_count_drift="warning")
    assert _sync("--config", cfg) == 1
    out = capsys.readouterr().out
    assert "publish held: stg_police_person: row_count_drift" in out and "--force-publish" in out
    assert _md5(wh) == before
    assert _sync("--config", cfg, "--force-publish") == 2                 # a reason is required
    assert "needs --reason" in capsys.readouterr().err
    assert _sync("--config", cfg, "--force-publish", "--reason", "派出所导出只含一半辖区，已核实") == 0
    out = capsys.readouterr().out
    assert "published by --force-publish: 派出所导出只含一半辖区，已核实" in out and "WARN stg_police_person" in out
    assert _md5(wh) != before
    last = State(halved / "warehouse").runs().iloc[0]
    assert last["status"] == "success" and "row_count_drift" in last["forced_reason"]
    gates = json.loads(last["gates"])
    police = next(g for g in gates if g["check"] == "stg_police_person_quality")
    assert police["observations"]["loaded"] < 200 and police["severity"] == "WARN"
