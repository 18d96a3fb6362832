"""matching.explain: one pair's levels, weights, blocking checks and the text waterfall."""
import re

import pandas as pd
import pytest

from matching import MatchSettings, block_on, link
from matching.explain import explain_pair, render
from tests.matching.match_factories import frame, person, valid_id

ID_A = valid_id("64020219800101123")
ID_B = valid_id("64020519750505432")


def _same_person(**grid_changes):
    police = person("police", "P1", "王小明", "wangxiaoming", "1980-01-01", ID_A, phone="13912345678",
                    address="锦华苑|3|2|502")
    grid = person("grid", "G1", "王小明", "wangxiaoming", "1980-01-01", ID_A, phone="13912345678",
                  address="锦华苑|3|2|502") | grid_changes
    return police, grid


def test_weights_add_up_to_the_match_weight_the_linker_gives():
    police, grid = _same_person(name="王晓明", name_key="王晓明")        # homophone, same pinyin
    other = person("grid", "G2", "李四", "lisi", "1990-02-03", ID_B)
    records = frame(police, grid, other)
    e = explain_pair(police, grid, settings=MatchSettings(), records=records)
    assert sum(w for _, w in e.counted) == pytest.approx(e.match_weight)
    linked = link(records).pairs.set_index(["l_id", "r_id"])
    row = linked.loc[("grid:G1", "police:P1")]
    assert e.match_weight == pytest.approx(row["match_weight"])
    assert e.match_probability == pytest.approx(row["match_probability"])
    levels = {s.comparison: s.level for s in e.steps}
    assert levels["id"] == "exact" and levels["name"] == "homophone" and levels["birth_date"] == "exact"
    assert e.candidate and e.decision == "auto match"
    by_rule = {r.rule: r for r in e.rules}
    assert by_rule["id_number"].compared and by_rule["id_number"].block_size == 2
    assert not by_rule["name_key+birth_year+address_key"].shares_key      # name keys differ


def test_text_masks_ids_and_phones_and_shows_the_running_total():
    police, grid = _same_person()
    text = render(explain_pair(police, grid))
    assert ID_A not in text and "13912345678" not in text
    assert f"{ID_A[:6]}********{ID_A[-4:]}" in text and "139****5678" in text
    e = explain_pair(police, grid)
    assert f"match weight {e.match_weight:+.2f}" in text
    last_total = float(re.findall(r"([-+]?\d+\.\d\d)(?:\s+\(capped[^)]*\))?\s*$", text.split("\n\nmatch")[0])[-1])
    assert last_total == pytest.approx(e.match_weight, abs=0.01)


def test_household_group_is_capped_and_shown_raw():
    police, grid = _same_person()
    e = explain_pair(police, grid)
    household = next(g for g in e.groups if g.name == "household")
    raw = sum(s.weight for s in e.steps if s.comparison in household.comparisons)
    assert household.raw == pytest.approx(raw) and raw > household.max_weight
    assert household.counted == pytest.approx(household.max_weight) and "capped" in household.note


def test_household_gets_no_credit_when_identity_disagrees():
    police, _ = _same_person()
    sibling = person("grid", "G9", "王小红", "wangxiaohong", "1985-06-07", ID_B, phone="13912345678",
                     address="锦华苑|3|2|502")
    e = explain_pair(police, sibling)
    household = next(g for g in e.groups if g.name == "household")
    assert household.raw > 0 and household.counted <= 0 and "no positive credit" in household.note
    assert e.decision == "no match"


def test_id_typo_level_and_null_levels():
    police, grid = _same_person(id_number=ID_A[:10] + ("9" if ID_A[10] != "9" else "8") + ID_A[11:], phone=None)
    e = explain_pair(police, grid)
    steps = {s.comparison: s for s in e.steps}
    assert steps["id"].level == "one_typo" and steps["id"].weight > 0
    assert steps["phone"].level == "null" and steps["phone"].weight == 0 and steps["phone"].m is None
    assert steps["phone"].right == (None,)


def test_unrelated_pair_is_not_a_candidate():
    police, _ = _same_person()
    other = person("grid", "G2", "李四", "lisi", "1990-02-03", ID_B, phone="13700001111", address="永丰村|8|36")
    e = explain_pair(police, other, records=frame(police, other))
    assert not e.candidate and not any(r.shares_key for r in e.rules)
    assert all(r.compared is False for r in e.rules)
    assert "NOT a blocking candidate" in render(e)


def test_oversized_block_is_reported_as_skipped():
    rows = [person("police", "P1", "甲", "jia", "1980-01-01"), person("grid", "G1", "乙", "yi", "1980-01-01"),
            person("grid", "G2", "丙", "bing", "1980-01-01")]
    settings = MatchSettings(blocking_rules=(block_on("birth_date", max_block=2),))
    e = explain_pair(rows[0], rows[1], settings=settings, records=frame(*rows))
    (rule,) = e.rules
    assert rule.shares_key and rule.compared is False and rule.block_size == 3
    assert not e.candidate
    assert "block of 3 > max 2 was skipped" in render(e)
    alone = explain_pair(rows[0], rows[1], settings=settings)          # without all records: size unknown
    assert alone.rules[0].compared is None and alone.candidate


def test_bad_requests_raise():
    police, grid = _same_person()
    with pytest.raises(ValueError, match="itself"):
        explain_pair(police, police)
    with pytest.raises(ValueError, match="not in the records"):
        explain_pair(police, grid, records=frame(police))
    with pytest.raises(ValueError, match="unknown entity"):
        explain_pair(police, grid, entity="car")


def test_house_pair_is_explained():
    police = {"source": "police", "source_key": "F1", "address_key": "锦华苑|3|2|502", "compound": "锦华苑",
              "building": "3", "unit": "2", "room": "502", "owner_id_number": ID_A, "owner_phone": "13912345678"}
    grid = police | {"source": "grid", "source_key": "W1"}
    e = explain_pair(pd.Series(police), pd.Series(grid), entity="house")
    assert {s.comparison: s.level for s in e.steps}["address"] == "exact"
    assert e.candidate and sum(w for _, w in e.counted) == pytest.approx(e.match_weight)
    assert ID_A not in render(e)
