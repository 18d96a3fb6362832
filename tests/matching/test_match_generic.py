"""matching.generic: records from arbitrary tables, Latin-name/date/code/text comparisons, and u for
linking two tables (exact level from value frequencies)."""
import itertools

import numpy as np
import pandas as pd
import pytest

from matching.blocking import block_on, candidate_pairs
from matching.comparisons import compute_gammas
from matching.generic import (code_comparison, date_comparison, edits_at_most, estimate_u_link_only,
                              exact_comparison, exact_share, name_comparison, prepare_generic,
                              text_comparison)
from matching.comparisons import Comparison


def table(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"id": [str(i) for i in range(n)], **cols})


def level_labels(comp, left: dict, right: dict) -> list[str]:
    """Compare left[col][i] with right[col][i] for every i; the level label per pair."""
    records = prepare_generic({"a": table(**left), "b": table(**right)}, key="id", columns=list(left))
    n = len(next(iter(left.values())))
    pairs = pd.DataFrame({"l_id": [f"a:{i}" for i in range(n)], "r_id": [f"b:{i}" for i in range(n)]})
    gammas = compute_gammas(records, pairs, [comp])[f"gamma_{comp.name}"]
    return [comp.labels[int(g)] for g in gammas]


def test_prepare_generic_cleans_and_ids():
    a = pd.DataFrame({"rec": ["x1", "x2"], "name": ["  Mary ", ""], "city": ["N/A", "Bega"]})
    b = pd.DataFrame({"rec": ["y1"], "name": ["mary"]})
    out = prepare_generic({"a": a, "b": b}, key="rec", columns=["name", "city"])
    assert out["record_id"].tolist() == ["a:x1", "a:x2", "b:y1"]
    assert out["source"].tolist() == ["a", "a", "b"]
    assert out["name"].tolist() == ["mary", None, "mary"]
    assert out["city"].tolist() == [None, "bega", None]          # b lacks the column: all None


def test_prepare_generic_keeps_case_when_asked():
    out = prepare_generic({"a": pd.DataFrame({"k": ["1"], "n": ["Mary"]})}, key="k", columns=["n"], lower=False)
    assert out["n"].tolist() == ["Mary"]


@pytest.mark.parametrize("a, b, message", [
    (pd.DataFrame({"k": ["1", "1"]}), pd.DataFrame({"k": ["2"]}), "not unique"),
    (pd.DataFrame({"k": ["1", " "]}), pd.DataFrame({"k": ["2"]}), "empty"),
    (pd.DataFrame({"x": ["1"]}), pd.DataFrame({"k": ["2"]}), "no key column"),
])
def test_prepare_generic_rejects_bad_keys(a, b, message):
    with pytest.raises(ValueError, match=message):
        prepare_generic({"a": a, "b": b}, key="k", columns=[])


def test_name_levels():
    comp = name_comparison("given_name", swapped_with="surname")
    left = {"given_name": ["mary", "mary", "mary", "christopher", "mary", "jo", None],
            "surname": ["dent", "dent", "dent", "dent", "dent", "dent", "dent"]}
    right = {"given_name": ["mary", "dent", "mray", "christophxx", "martha", "zoe", "mary"],
             "surname": ["dent", "mary", "dent", "dent", "dent", "dent", "dent"]}
    assert level_labels(comp, left, right) == [
        "exact", "swapped", "one_edit", "jw_0.92", "jw_0.8", "else", "null"]


def test_date_levels_in_compact_format():
    comp = date_comparison("dob", fmt="%Y%m%d")
    left = {"dob": ["19560907", "19560907", "19560907", "19560907", "19560907", "19560907", "19561399", None]}
    right = {"dob": ["19560907", "19560709", "19560807", "19560920", "19570101", "19800101", "19561398", "19560907"]}
    # 0907 vs 0709: month/day exchanged; 0907 vs 0807: one digit; 09-07 vs 09-20: 13 days; 1957-01-01:
    # 116 days; 1980: else; an unparsable date still compares as text (one digit), never by days
    assert level_labels(comp, left, right) == [
        "exact", "month_day_swap", "one_edit", "within_month", "within_year", "else", "one_edit", "null"]


def test_code_levels_and_transposition():
    comp = code_comparison("ssid", 2)
    left = {"ssid": ["1683994", "1683994", "1683994", "1683994", "1683994"]}
    right = {"ssid": ["1683994", "1683094", "1689394", "1680094", "9999999"]}
    assert level_labels(comp, left, right) == ["exact", "dl_1", "dl_1", "dl_2", "else"]


def test_text_levels_ignore_word_order():
    comp = text_comparison("street")
    left = {"street": ["knox street", "knox street", "pike place", "bega flats"]}
    right = {"street": ["knox street", "knox streat", "place pike", "kosciusko avenue"]}
    assert level_labels(comp, left, right) == ["exact", "jw_0.9", "tokens_0.8", "else"]


def test_edits_at_most_counts_edits():
    comp = Comparison("x", ("x",), (edits_at_most("x", 1), edits_at_most("x", 3)))
    assert level_labels(comp, {"x": ["abcdef", "abcdef", "abcdef"]},
                        {"x": ["abcdxf", "axcdxx", "zzzzzz"]}) == ["dl_1", "dl_3", "else"]


def test_exact_share_is_the_share_over_all_cross_pairs():
    a = table(v=["x", "x", "y", None, "z"])
    b = table(v=["x", "y", "y", "w"])
    records = prepare_generic({"a": a, "b": b}, key="id", columns=["v"])
    brute = [l == r for l, r in itertools.product(["x", "x", "y", "z"], ["x", "y", "y", "w"])]
    assert exact_share(records, "v", "a") == pytest.approx(np.mean(brute))   # (2·1 + 1·2) / 16


def test_estimate_u_link_only_exact_level_and_shares():
    rng = np.random.default_rng(1)
    names = np.array(["ann", "anne", "bob", "rob", "eve", "eva", "ian", "ivan"])
    a = table(n=list(rng.choice(names, 300)))
    b = table(n=list(rng.choice(names, 200)))
    records = prepare_generic({"a": a, "b": b}, key="id", columns=["n"])
    comp = name_comparison("n")
    (u,), _ = estimate_u_link_only(records, [comp], 20_000, seed=3)
    assert u.sum() == pytest.approx(1.0)
    best = len(comp.levels) - 1
    assert u[best] == pytest.approx(exact_share(records, "n", "a"))      # exact, not sampled
    # one_edit (ann/anne, bob/rob, eve/eva …) happens between random names; so does `else`
    one_edit = next(g for g, lab in comp.labels.items() if lab == "one_edit")
    assert u[one_edit] > 0.05 and u[0] > 0.3


def test_estimate_u_link_only_needs_two_sources():
    records = prepare_generic({"a": table(n=["x", "y"])}, key="id", columns=["n"])
    with pytest.raises(ValueError, match="two sources"):
        estimate_u_link_only(records, [exact_comparison("n")], 10)


def test_generic_records_block_with_engine_rules():
    a = table(pc=["4129", "2152", None], n=["mary", "bob", "eve"])
    b = table(pc=["4129", "4129", "2152"], n=["mary", "ann", "rob"])
    records = prepare_generic({"a": a, "b": b}, key="id", columns=["pc", "n"])
    pairs = candidate_pairs(records, [block_on("pc")])
    got = set(zip(pairs["l_id"], pairs["r_id"]))
    assert ("a:0", "b:0") in got and ("a:1", "b:2") in got and ("b:0", "b:1") in got
    assert not any("a:2" in p for p in got)                      # a null key never blocks
