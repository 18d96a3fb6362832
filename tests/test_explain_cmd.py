"""`gridbridge explain` after a small demo sync: a matched pair, an ID-typo pair, a non-pair, bad keys."""
import re
import sqlite3

import duckdb
import pandas as pd
import pytest

from pipelines.cli import main
from tests.demos import synced_demo

pytestmark = pytest.mark.slow
PERSONS = 300


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    paths = synced_demo(root, PERSONS, seed=11)
    with duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True) as con:
        xref = con.execute("SELECT source, source_key, person_id, match_probability FROM person_xref").df()
    with sqlite3.connect(paths.truth_db) as t:
        truth = {n: pd.read_sql_query(f"SELECT * FROM {n}", t) for n in ("person_record", "injected", "person")}
    return root, xref, truth


def _explain(root, capsys, police, grid, *extra):
    code = main(["explain", "--config", str(root / "gridbridge.yaml"), "--police", police, "--grid", grid, *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def _waterfall(text: str) -> list[tuple[str, float, float]]:
    """(row name, counted weight, running total) of the waterfall rows that count."""
    rows = []
    for line in text.split("\n\nmatch weight")[0].splitlines():
        m = re.match(r"^(\S+)\s.*?\s([-+]\d+\.\d\d)\s+(-?\d+\.\d\d)(\s+\(.*\))?$", line)
        if m:
            rows.append((m.group(1), float(m.group(2)), float(m.group(3))))
    return rows


def _pair_of(xref, truth, source_key_filter=None):
    rec = truth["person_record"].merge(xref, on=["source", "source_key"])
    linked = rec.groupby("person_id").filter(lambda d: set(d["source"]) == {"police", "grid"} and len(d) == 2)
    if source_key_filter is not None:
        linked = linked.groupby("person_id").filter(source_key_filter)
    weakest = linked.sort_values(["match_probability", "person_id"])["person_id"].iloc[0]
    d = linked[linked["person_id"] == weakest]                      # the least certain auto-match
    return (d.loc[d["source"] == "police", "source_key"].iloc[0], d.loc[d["source"] == "grid", "source_key"].iloc[0],
            d["truth_id"].iloc[0])


def test_matched_pair_waterfall_adds_up_and_masks_ids(synced, capsys):
    root, xref, truth = synced
    police, grid, tid = _pair_of(xref, truth)
    code, out, err = _explain(root, capsys, police, grid)
    assert code == 0 and err == ""
    assert f"police:{police}" in out and f"grid:{grid}" in out
    assert out.startswith("model file: ") and "model: person v" in out
    assert "blocking: a candidate pair" in out and "→ auto match" in out
    rows = _waterfall(out)
    names = [r[0] for r in rows]
    assert names[0] == "prior" and {"id", "name", "birth_date", "household"} <= set(names)
    for (_, _, before), (name, w, total) in zip(rows, rows[1:]):
        assert total == pytest.approx(before + w, abs=0.011), name
    final = float(re.search(r"match weight ([-+]\d+\.\d\d)", out).group(1))
    assert sum(w for _, w, _ in rows) == pytest.approx(final, abs=0.01 * len(rows))
    assert rows[-1][2] == pytest.approx(final, abs=0.01)
    run_p = xref.loc[(xref["source"] == "police") & (xref["source_key"] == police), "match_probability"].iloc[0]
    assert float(re.search(r"probability (\d\.\d{6})", out).group(1)) == pytest.approx(run_p, abs=1e-6)
    true_id = truth["person"].set_index("truth_id").at[tid, "id_number"]
    assert true_id not in out
    assert re.search(rf"{true_id[:6]}\*{{8}}{true_id[-4:]}", out)
    assert not re.search(r"\b1[3-9]\d{9}\b", out)                  # no phone number in clear


def test_id_typo_pair_shows_the_one_typo_level(synced, capsys):
    root, xref, truth = synced
    inj = truth["injected"]
    typo = inj[(inj["entity"] == "person") & (inj["field"] == "id_number") & (inj["kind"] == "true")]
    typo_keys = set(typo["source_key"])
    police, grid, _ = _pair_of(xref, truth, lambda d: bool(set(d["source_key"]) & typo_keys))
    code, out, _ = _explain(root, capsys, police, grid)
    assert code == 0
    assert re.search(r"^id\s+one_typo\s", out, re.M), out


def test_non_pair_is_reported_as_not_a_candidate(synced, capsys):
    root, xref, truth = synced
    p1, _, t1 = _pair_of(xref, truth)
    person = truth["person"].set_index("truth_id")
    rec = truth["person_record"].merge(xref, on=["source", "source_key"])
    grid = rec[(rec["source"] == "grid") & (rec["truth_id"] != t1)].copy()
    grid["birth"] = grid["truth_id"].map(person["birth_date"])
    grid = grid[(grid["birth"].str[:4] != person.at[t1, "birth_date"][:4])
                & (grid["truth_id"].map(person["name"]) != person.at[t1, "name"])]
    code, out, _ = _explain(root, capsys, p1, grid["source_key"].iloc[0])
    assert code == 0
    assert "NOT a blocking candidate" in out and "→ no match" in out
    assert "✓" not in out


def test_unknown_key_is_one_line_exit_2(synced, capsys):
    root, xref, _ = synced
    grid = xref.loc[xref["source"] == "grid", "source_key"].iloc[0]
    code, out, err = _explain(root, capsys, "NO-SUCH-KEY", grid)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "NO-SUCH-KEY" in err and "police person" in err


def test_house_pair_is_explained(synced, capsys):
    root, _, _ = synced
    with duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True) as con:
        x = con.execute("SELECT source, source_key, house_id FROM house_xref").df()
    both = x.groupby("house_id").filter(lambda d: set(d["source"]) == {"police", "grid"})
    d = both[both["house_id"] == both["house_id"].iloc[0]]
    code, out, _ = _explain(root, capsys, d.loc[d["source"] == "police", "source_key"].iloc[0],
                            d.loc[d["source"] == "grid", "source_key"].iloc[0], "--entity", "house")
    assert code == 0 and "\nhouse pair  police:" in out and re.search(r"^address\s+\S+", out, re.M)


def test_a_steward_pair_decision_in_force_is_shown_and_undo_removes_it(synced, capsys):
    from schemas.config import load
    from steward.decisions_model import pair_target
    from warehouse.state import State

    root, xref, truth = synced
    police, grid, _ = _pair_of(xref, truth)
    _, out, _ = _explain(root, capsys, police, grid)
    assert "steward decision" not in out
    state = State(load(str(root / "gridbridge.yaml")).state_dir)
    did = state.add_decision("pair", pair_target("person", ("grid", grid), ("police", police)), "different", "t")
    code, out, err = _explain(root, capsys, police, grid)
    assert code == 0 and err == ""
    assert out.rstrip().splitlines()[-1] == f"steward decision #{did}: different — applied regardless of the score"
    assert "→ auto match" in out                                    # the score alone still says match
    state.add_decision("undo", str(did), None, "t")
    _, out, _ = _explain(root, capsys, police, grid)
    assert "steward decision" not in out
