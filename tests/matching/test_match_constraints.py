"""Steward pair decisions in matching: `same` is a must-link, `different` a cannot-link (also transitively),
`unsure` escalates the review row; undo restores; the cross-source 1:1 guard yields to a `same`. Unit tests on
`matching.constraints` and `cluster_pairs`, one through `link()`, and one through real syncs of the demo."""
from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pandas as pd

from tests.matching.match_factories import frame, person, valid_id
from matching import link
from matching.clustering import cluster_pairs
from matching.constraints import pair_constraints
from steward.decisions_model import pair_target


# --- decisions → constraints -----------------------------------------------------------------------
def _decisions(*rows) -> pd.DataFrame:
    """rows: (kind, target, value); decision ids 1, 2, … in order."""
    return pd.DataFrame([{"decision_id": i, "kind": k, "target": t, "value": v, "decided_by": "t",
                          "decided_at": f"2025-01-01T00:00:{i:02d}"} for i, (k, t, v) in enumerate(rows, 1)])


def _pair(a: str, b: str, entity: str = "person") -> str:
    return pair_target(entity, tuple(a.split(":", 1)), tuple(b.split(":", 1)))


def test_the_console_pair_target_becomes_a_pair_of_record_ids():
    t = pair_target("person", ("police", "P1"), ("grid", "G:7|x"))          # a key holding ':' and '|'
    c = pair_constraints(_decisions(("pair", t, "same"), ("pair", "person|police:P1", "same"),
                                    ("pair", "garbage", "different"),
                                    ("pair", "person|police:P1|police:P1", "same")), "person")   # with itself
    assert c.pairs[["l_id", "r_id", "value", "decision_id"]].values.tolist() == [["grid:G:7|x", "police:P1", "same", 1]]
    assert c.decision_for("police:P1", "grid:G:7|x") == ("same", 1)


def test_latest_decision_per_pair_wins_and_undo_brings_back_the_one_before():
    t = _pair("police:1", "grid:a")
    rows = [("pair", t, "same"), ("pair", t, "different"), ("conflict", "c1", "x"),
            ("pair", _pair("police:2", "grid:b", "house"), "same"),            # another entity
            ("pair", "person|broken", "same"), ("pair", _pair("police:3", "grid:c"), "maybe")]
    c = pair_constraints(_decisions(*rows), "person")
    assert c.pairs[["l_id", "r_id", "value", "decision_id"]].values.tolist() == [["grid:a", "police:1", "different", 2]]
    assert c.decision_for("police:1", "grid:a") == ("different", 2) and c.decision_for("police:1", "grid:b") is None
    undone = _decisions(*rows, ("undo", "2", None))                            # decision 7 undoes 2
    assert pair_constraints(undone, "person").decision_for("grid:a", "police:1") == ("same", 1)
    redone = _decisions(*rows, ("undo", "2", None), ("undo", "7", None))      # 8 undoes the undo
    assert pair_constraints(redone, "person").decision_for("grid:a", "police:1") == ("different", 2)
    both = _decisions(*rows, ("undo", "2", None), ("undo", "1", None))
    assert len(pair_constraints(both, "person")) == 0
    assert len(pair_constraints(None, "person")) == 0 and len(pair_constraints(undone.iloc[:0], "person")) == 0


# --- clustering with constraints -------------------------------------------------------------------
def _records(*ids):
    return pd.DataFrame({"record_id": list(ids), "source": [i.split(":")[0] for i in ids]})


def _scored(*edges):
    rows = [{"l_id": min(a, b), "r_id": max(a, b), "rule": "r", "match_probability": p,
             "match_weight": np.log2(p / (1 - p))} for a, b, p in edges]
    return pd.DataFrame(rows, columns=["l_id", "r_id", "rule", "match_probability", "match_weight"])


def _constraints(*decided):
    """decided: (record id, record id, value) — one decision each."""
    return pair_constraints(_decisions(*[("pair", _pair(a, b), v) for a, b, v in decided]), "person")


def _cluster_of(out) -> pd.Series:
    return out.members.set_index("record_id")["cluster"]


def _review(out) -> list:
    return out.review[["l_id", "r_id", "reason", "status"]].values.tolist()


def test_same_joins_a_low_score_pair_and_an_unscored_one_and_leaves_review():
    recs = _records("police:1", "grid:a", "police:2", "grid:b")
    scored = _scored(("police:1", "grid:a", 0.7))                          # review band; police:2/grid:b unscored
    assert _review(cluster_pairs(recs, scored)) == [["grid:a", "police:1", "review_band", "open"]]
    out = cluster_pairs(recs, scored, constraints=_constraints(("police:1", "grid:a", "same"),
                                                               ("grid:b", "police:2", "same")))
    cl = _cluster_of(out)
    assert cl["police:1"] == cl["grid:a"] != cl["police:2"] == cl["grid:b"]
    assert out.review.empty
    m = out.members.set_index("record_id")
    assert (m["match_rule"] == "steward").all() and (m["match_probability"] == 1.0).all()
    assert sorted(out.links["link"]) == ["steward", "steward"]


def test_different_splits_an_auto_pair_and_the_next_best_partner_takes_over():
    recs = _records("police:1", "grid:a", "grid:b")
    scored = _scored(("police:1", "grid:a", 0.999), ("police:1", "grid:b", 0.97), ("grid:a", "grid:b", 0.2))
    plain = _cluster_of(cluster_pairs(recs, scored))
    assert plain["police:1"] == plain["grid:a"] != plain["grid:b"]
    out = cluster_pairs(recs, scored, constraints=_constraints(("police:1", "grid:a", "different")))
    cl = _cluster_of(out)
    assert cl["police:1"] == cl["grid:b"] != cl["grid:a"]
    assert _review(out) == []                        # the decided pair is not reviewed again


def test_different_blocks_a_transitive_join_through_a_duplicate():
    # grid:a and grid:b are duplicates (重户); police:1 is the same as grid:a — but a steward said police:1 is
    # not grid:b, so police:1 may not join their group: the cross link is held back and goes to review
    recs = _records("police:1", "grid:a", "grid:b")
    scored = _scored(("police:1", "grid:a", 0.999), ("grid:a", "grid:b", 0.99), ("police:1", "grid:b", 0.4))
    assert _cluster_of(cluster_pairs(recs, scored)).nunique() == 1
    out = cluster_pairs(recs, scored, constraints=_constraints(("police:1", "grid:b", "different")))
    cl = _cluster_of(out)
    assert cl["grid:a"] == cl["grid:b"] != cl["police:1"]
    assert _review(out) == [["grid:a", "police:1", "steward_constraint", "open"]]


def test_different_within_one_source_drops_the_weakest_link_of_the_chain():
    recs = _records("police:1", "police:2", "police:3", "grid:a")
    scored = _scored(("police:1", "police:2", 0.999), ("police:2", "police:3", 0.98), ("police:1", "grid:a", 0.999))
    out = cluster_pairs(recs, scored, constraints=_constraints(("police:1", "police:3", "different")))
    cl = _cluster_of(out)
    assert cl["police:1"] == cl["police:2"] == cl["grid:a"] != cl["police:3"]
    assert _review(out) == [["police:2", "police:3", "steward_constraint", "open"]]


def test_undo_restores_the_machine_result():
    recs = _records("police:1", "grid:a")
    scored = _scored(("police:1", "grid:a", 0.999))
    t = _pair("police:1", "grid:a")
    split = pair_constraints(_decisions(("pair", t, "different")), "person")
    restored = pair_constraints(_decisions(("pair", t, "different"), ("undo", "1", None)), "person")
    assert _cluster_of(cluster_pairs(recs, scored, constraints=split)).nunique() == 2
    assert _cluster_of(cluster_pairs(recs, scored, constraints=restored)).nunique() == 1


def test_unsure_stays_in_review_escalated():
    recs = _records("police:1", "grid:a", "police:2", "grid:b")
    scored = _scored(("police:1", "grid:a", 0.8), ("police:2", "grid:b", 0.7))
    out = cluster_pairs(recs, scored, constraints=_constraints(("police:1", "grid:a", "unsure")))
    assert _review(out) == [["grid:a", "police:1", "review_band", "escalated"],
                            ["grid:b", "police:2", "review_band", "open"]]
    assert _cluster_of(out).nunique() == 4


def test_same_across_sources_overrides_the_one_to_one_guard():
    # police:1 scores best with grid:a, but a steward said police:1 is grid:b: grid:a loses and goes to review;
    # grid:a may still take another partner (police:2)
    recs = _records("police:1", "grid:a", "grid:b", "police:2")
    scored = _scored(("police:1", "grid:a", 0.999), ("police:2", "grid:a", 0.98))
    out = cluster_pairs(recs, scored, constraints=_constraints(("police:1", "grid:b", "same")))
    cl = _cluster_of(out)
    assert cl["police:1"] == cl["grid:b"] and cl["police:2"] == cl["grid:a"] and cl["police:1"] != cl["grid:a"]
    assert _review(out) == [["grid:a", "police:1", "one_to_one_guard", "open"]]


def test_same_within_a_source_makes_duplicates_and_the_group_keeps_one_partner():
    recs = _records("police:1", "police:2", "grid:a", "grid:b")
    scored = _scored(("police:1", "grid:a", 0.999), ("police:2", "grid:b", 0.99))
    out = cluster_pairs(recs, scored, constraints=_constraints(("police:1", "police:2", "same")))
    cl = _cluster_of(out)
    assert cl["police:1"] == cl["police:2"] == cl["grid:a"] != cl["grid:b"]      # 1:1: strongest cross link wins
    assert _review(out) == [["grid:b", "police:2", "one_to_one_guard", "open"]]


def test_different_wins_over_contradicting_sames_and_vanished_records_are_ignored():
    # 1 same(police:1, grid:a), 2 same(grid:a, grid:b), 3 different(police:1, grid:b): the sames would join
    # the different pair; the different wins, the latest same is joined first, the older one gives way and its
    # pair shows up in review (it was scored)
    recs = _records("police:1", "grid:a", "grid:b")
    scored = _scored(("grid:a", "grid:b", 0.7), ("police:1", "grid:a", 0.65))
    out = cluster_pairs(recs, scored, constraints=_constraints(
        ("police:1", "grid:a", "same"), ("grid:a", "grid:b", "same"), ("police:1", "grid:b", "different"),
        ("police:9", "grid:a", "same"), ("police:1", "grid:z", "different")))
    cl = _cluster_of(out)
    assert cl["grid:a"] == cl["grid:b"] != cl["police:1"]
    assert _review(out) == [["grid:a", "police:1", "steward_constraint", "open"]]
    assert len(out.members) == 3


def test_random_graphs_keep_every_consistent_constraint():
    rng = np.random.default_rng(3)
    for trial in range(30):
        ids = [f"police:{i}" for i in range(8)] + [f"grid:{i}" for i in range(8)]
        recs = _records(*ids)
        edges = [(a, b, float(rng.choice([0.3, 0.7, 0.96, 0.98, 0.999])))
                 for a, b in itertools.combinations(ids, 2) if rng.random() < 0.2]
        scored = _scored(*edges)
        picks = rng.choice(len(ids), size=(6, 2))
        decided = [(ids[a], ids[b], v) for (a, b), v in zip(picks, rng.choice(["same", "different", "unsure"], 6))
                   if a != b]
        c = _constraints(*decided)
        out = cluster_pairs(recs, scored, constraints=c)
        cl = _cluster_of(out)
        for l_id, r_id in c.cannot[["l_id", "r_id"]].itertuples(index=False):
            assert cl[l_id] != cl[r_id], (trial, l_id, r_id)
        # a `same` holds unless the `same`s alone join a `different` pair (then the `different` wins)
        must = c.must
        labels = {x: x for x in ids}

        def root(x):
            while labels[x] != x:
                x = labels[x]
            return x
        for l_id, r_id in must[["l_id", "r_id"]].itertuples(index=False):
            labels[root(l_id)] = root(r_id)
        if not any(root(a) == root(b) for a, b in c.cannot[["l_id", "r_id"]].itertuples(index=False)):
            assert all(cl[a] == cl[b] for a, b in must[["l_id", "r_id"]].itertuples(index=False)), trial
        # reviewed pairs: never a `different` one; escalated exactly when decided `unsure`
        for l_id, r_id, status in out.review[["l_id", "r_id", "status"]].itertuples(index=False):
            decided = c.decision_for(l_id, r_id)
            assert cl[l_id] != cl[r_id] and (decided is None or decided[0] != "different"), trial
            assert (status == "escalated") == (decided is not None and decided[0] == "unsure"), trial
        plain = cluster_pairs(recs, scored)                 # without decisions: no steward trace at all
        assert set(plain.review["status"]) <= {"open"} and "steward" not in set(plain.links["link"])
        assert "steward" not in set(plain.members["match_rule"])
        assert "steward_constraint" not in set(plain.review["reason"])


# --- through link() ---------------------------------------------------------------------------------
def test_link_applies_same_and_unsure():
    recs = frame(
        person("police", "P1", "张伟", "zhangwei", "1980-01-02", valid_id("64020219800102001")),
        person("grid", "G1", "张伟", "zhangwei", "1980-01-02", phone="13900000001"),    # no ID: review at best
        # P2 and G2 share nothing: never even a candidate pair
        person("police", "P2", "李娜", "lina", "1975-03-04", valid_id("64020219750304002")),
        person("grid", "G2", "王芳", "wangfang", "1990-05-06", valid_id("64020219900506003")))
    plain = link(recs)
    ids = plain.xref.set_index(["source", "source_key"])["person_id"]
    assert ids["police", "P1"] != ids["grid", "G1"] and ids["police", "P2"] != ids["grid", "G2"]
    decisions = _decisions(("pair", _pair("police:P1", "grid:G1"), "unsure"),
                           ("pair", _pair("police:P2", "grid:G2"), "same"))
    out = link(recs, previous_xref=plain.xref, constraints=pair_constraints(decisions, "person"),
               issued_max=plain.issued_max)
    x = out.xref.set_index(["source", "source_key"])
    assert x.loc[("police", "P2"), "person_id"] == x.loc[("grid", "G2"), "person_id"]
    assert x.loc[("police", "P2"), "match_rule"] == "steward"
    assert x.loc[("police", "P1"), "person_id"] == ids["police", "P1"]
    assert plain.review[["police_key", "grid_key", "status"]].values.tolist() == [["P1", "G1", "open"]]
    assert out.review[["police_key", "grid_key", "status"]].values.tolist() == [["P1", "G1", "escalated"]]
    assert plain.pairs[["l_id", "r_id"]].values.tolist() == [["grid:G1", "police:P1"]]    # P2/G2 never paired


# --- through real syncs ------------------------------------------------------------------------------
def _table(root, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True) as con:
        return con.sql(sql).df()


def test_sync_applies_pair_decisions_and_keeps_them(tmp_path, monkeypatch):
    from pipelines.cli import run_sync
    from tests.demos import demo_sources
    from warehouse.state import State

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setattr("pipelines.publish.write_report", lambda *a, **k: None)   # not what this test is about
    demo_sources(tmp_path, 200, 7)
    config = tmp_path / "gridbridge.yaml"
    text = config.read_text()
    assert "auto_match: 0.95 " in text
    config.write_text(text.replace("auto_match: 0.95 ", "auto_match: 0.9999999"))  # a few pairs into review

    def sync() -> pd.DataFrame:
        assert run_sync(str(config), quiet=True) == 0, State(tmp_path / "warehouse").runs().to_dict("records")
        return _table(tmp_path, "SELECT source, source_key, person_id, match_rule FROM person_xref")

    xref0 = sync()
    review0 = _table(tmp_path, "SELECT * FROM match_review WHERE entity = 'person' AND left_source <> right_source "
                               "ORDER BY match_probability, pair_id")
    assert len(review0) >= 2, review0
    sides = [{row.left_source: row.left_key, row.right_source: row.right_key} for row in review0.itertuples()]
    (police_key, grid_key), unsure_key = (sides[0]["police"], sides[0]["grid"]), sides[1]["police"]
    pid = xref0.set_index(["source", "source_key"])["person_id"]
    assert pid["police", police_key] != pid["grid", grid_key]
    # an auto-linked person with exactly one record on each side
    sizes = xref0.groupby("person_id")["source"].agg(["size", "nunique"])
    auto = xref0[xref0["person_id"].isin(sizes.index[(sizes["size"] == 2) & (sizes["nunique"] == 2)])
                 & (xref0["match_rule"] == "id_number")].sort_values(["person_id", "source"])
    split_id = auto["person_id"].iloc[0]
    split = auto[auto["person_id"] == split_id].set_index("source")["source_key"]

    state = State(tmp_path / "warehouse")
    state.add_decision("pair", pair_target("person", ("police", police_key), ("grid", grid_key)), "same", "steward1")
    state.add_decision("pair", pair_target("person", ("grid", split["grid"]), ("police", split["police"])),
                       "different", "steward1", reason="两个人")
    state.add_decision("pair", pair_target("person", ("police", unsure_key), ("grid", sides[1]["grid"])), "unsure",
                       "steward1")

    after = []
    for _ in range(2):                      # applied at the next sync and still at the one after
        xref = sync()
        now = xref.set_index(["source", "source_key"])["person_id"]
        after.append(now)
        assert now["police", police_key] == now["grid", grid_key]
        parts = {now["police", split["police"]], now["grid", split["grid"]]}
        assert len(parts) == 2 and split_id in parts                  # one part keeps the id, the other is new
        assert not (parts - {split_id}) & set(pid)
        review = _table(tmp_path, "SELECT left_key, right_key, status FROM match_review WHERE entity = 'person'")
        keys = set(zip(review["left_key"], review["right_key"])) | set(zip(review["right_key"], review["left_key"]))
        assert (police_key, grid_key) not in keys and (split["police"], split["grid"]) not in keys
        mine = review[(review["left_key"] == unsure_key) | (review["right_key"] == unsure_key)]
        assert mine["status"].tolist() == ["escalated"]
        assert set(review["status"]) <= {"open", "escalated"}
        # every other record keeps its person id; the merged pair keeps one of its two ids
        merged = {pid["police", police_key], pid["grid", grid_key]}
        assert now["police", police_key] in merged
        touched = {("police", police_key), ("grid", grid_key), ("police", split["police"]), ("grid", split["grid"])}
        rest = [k for k in pid.index if k not in touched]
        changed = [k for k in rest if now[k] != pid[k] and not ({now[k], pid[k]} <= merged)]
        assert changed == []
    assert after[0].sort_index().equals(after[1].sort_index())        # the second sync changes no id
