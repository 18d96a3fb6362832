import numpy as np
import pandas as pd
import pytest

from matching._graph import connected_components, greedy_one_to_one
from matching.clustering import Thresholds, cluster_pairs


def test_connected_components_labels_by_smallest_node():
    # 0-1-2 chain given out of order, 3 alone, 4-5, 6-7-8 via a long way round
    a = np.array([2, 1, 5, 8, 7])
    b = np.array([1, 0, 4, 6, 8])
    assert connected_components(9, a, b).tolist() == [0, 0, 0, 3, 4, 4, 6, 6, 6]
    assert connected_components(3, np.array([], int), np.array([], int)).tolist() == [0, 1, 2]


def test_connected_components_long_chain():
    n = 2000
    perm = np.random.default_rng(0).permutation(n)
    labels = connected_components(n, perm[:-1], perm[1:])
    assert (labels == 0).all()


def test_greedy_one_to_one_equals_sequential_greedy():
    rng = np.random.default_rng(1)
    left, right = rng.integers(0, 30, 200), rng.integers(0, 30, 200)
    order = rng.permutation(200)
    taken_l, taken_r, expected = set(), set(), np.zeros(200, bool)
    for e in order:
        if left[e] not in taken_l and right[e] not in taken_r:
            expected[e] = True
            taken_l.add(left[e])
            taken_r.add(right[e])
    assert (greedy_one_to_one(left, right, order) == expected).all()


def _records(*ids):
    return pd.DataFrame({"record_id": list(ids), "source": [i.split(":")[0] for i in ids]})


def _scored(*edges):
    rows = [{"l_id": min(a, b), "r_id": max(a, b), "rule": "r", "match_probability": p,
             "match_weight": np.log2(p / (1 - p)) if p < 1 else 50.0} for a, b, p in edges]
    return pd.DataFrame(rows)


def test_one_to_one_guard_keeps_strongest_cross_link():
    recs = _records("police:1", "grid:a", "grid:b")
    scored = _scored(("police:1", "grid:a", 0.999), ("police:1", "grid:b", 0.97),
                     ("grid:a", "grid:b", 0.3))          # a and b are not duplicates of each other
    out = cluster_pairs(recs, scored)
    cl = out.members.set_index("record_id")["cluster"]
    assert cl["police:1"] == cl["grid:a"] != cl["grid:b"]
    assert out.review[["l_id", "r_id", "reason"]].values.tolist() == [["grid:b", "police:1", "one_to_one_guard"]]


def test_within_source_duplicates_share_a_cluster_with_their_partner():
    recs = _records("police:1", "grid:a", "grid:b", "police:2")
    scored = _scored(("police:1", "grid:a", 0.999), ("grid:a", "grid:b", 0.99), ("police:1", "grid:b", 0.97),
                     ("police:2", "grid:b", 0.7))
    out = cluster_pairs(recs, scored)
    m = out.members.set_index("record_id")
    assert m.loc[["police:1", "grid:a", "grid:b"], "cluster"].nunique() == 1
    assert m.loc["police:2", "match_rule"] == "single" and np.isnan(m.loc["police:2", "match_probability"])
    assert m.loc["grid:b", "match_probability"] == pytest.approx(0.99)
    assert set(out.links["link"]) == {"duplicate", "cross"}
    # police:2 <-> grid:b is in the review band; police:1 <-> grid:b is settled (same cluster)
    assert out.review[["l_id", "r_id", "reason"]].values.tolist() == [["grid:b", "police:2", "review_band"]]


def test_thresholds_come_from_settings_and_are_validated():
    recs = _records("police:1", "grid:a")
    scored = _scored(("police:1", "grid:a", 0.9))
    assert cluster_pairs(recs, scored).members["cluster"].nunique() == 2
    assert cluster_pairs(recs, scored, Thresholds(auto_match=0.85)).members["cluster"].nunique() == 1
    with pytest.raises(ValueError):
        Thresholds(auto_match=0.5, review=0.6)
