import pandas as pd
import pytest

from matching.reconcile import conflict_id, reconcile

RULES = {"phone": "most_recent", "name": "police", "birth_date": "steward"}


def _rec(source, key, **kw):
    base = {"source": source, "source_key": key, "name": "王静", "phone": "+8613912345678", "birth_date": "1990-01-01",
            "updated_at": "2026-01-01 00:00:00", "raw": "{}"}
    return {**base, **kw}


def _run(police, grid, decisions=None):
    xref = pd.DataFrame({"source": ["police", "grid"], "source_key": ["P1", "G1"], "person_id": ["X1", "X1"]})
    return reconcile("person", pd.DataFrame(police), pd.DataFrame(grid), xref, fields=("name", "phone", "birth_date"),
                     rule_for=lambda f: RULES[f], id_col="person_id", raw_columns={}, decisions=decisions)


def test_formatting_only_is_shared_and_true_difference_is_a_conflict():
    golden, conf, info = _run([_rec("police", "P1", name="王静")],
                              [_rec("grid", "G1", name="王　靜", phone="+8613800001111", updated_at="2026-06-01 00:00:00")])
    assert golden.loc[0, "name_source"] == "both"           # 繁/简 + padding: formatting only
    assert list(conf["field"]) == ["phone"]
    assert conf.loc[0, "chosen_value"] == "+8613800001111" and conf.loc[0, "rule"] == "most_recent"
    assert golden.loc[0, "phone"] == "+8613800001111" and golden.loc[0, "phone_source"] == "grid"


def test_steward_rule_leaves_conflict_open_until_decided_then_survives_and_reopens_on_change():
    police, grid = [_rec("police", "P1")], [_rec("grid", "G1", birth_date="1990-01-10")]
    golden, conf, _ = _run(police, grid)
    assert conf.loc[0, "status"] == "open" and conf.loc[0, "chosen_value"] is None
    cid = conflict_id(pd.Series(["X1"]), "birth_date")[0]
    decisions = pd.DataFrame([{"decision_id": 1, "kind": "conflict", "target": cid, "value": "1990-01-10",
                               "police_value": "1990-01-01", "grid_value": "1990-01-10", "decided_by": "steward1",
                               "decided_at": "2026-11-23T10:00:00", "reason": "户口本核实"}])
    golden, conf, _ = _run(police, grid, decisions)
    assert conf.loc[0, "status"] == "resolved" and conf.loc[0, "resolved_by"] == "steward1"
    assert golden.loc[0, "birth_date"] == "1990-01-10" and golden.loc[0, "birth_date_source"] == "steward"
    # the grid value changes after the decision: the conflict reopens and still names the old decision
    golden, conf, _ = _run(police, [_rec("grid", "G1", birth_date="1990-10-01")], decisions)
    assert conf.loc[0, "status"] == "open" and conf.loc[0, "decision_id"] == 1
    assert golden.loc[0, "birth_date_source"] != "steward"


def test_birth_date_and_sex_that_disagree_with_the_id_number_are_conflicts():
    ident = "64020219900101123X"            # born 1990-01-01, sequence digit 3: male ('1')
    police = [_rec("police", "P1", id_number=ident, sex="2")]
    grid = [_rec("grid", "G1", id_number=ident, birth_date="1990-01-10", sex="2")]
    xref = pd.DataFrame({"source": ["police", "grid"], "source_key": ["P1", "G1"], "person_id": ["X1", "X1"]})
    golden, conf, _ = reconcile("person", pd.DataFrame(police), pd.DataFrame(grid), xref,
                                fields=("id_number", "sex", "birth_date"), rule_for=lambda f: "police",
                                id_col="person_id", raw_columns={})
    cross = conf[conf["field"].str.contains("~")].set_index("field")
    # sex 2 on both sides, but the ID says male; the chosen birth date (police, 1990-01-01) agrees with the ID
    assert list(cross.index) == ["sex~id_number"]
    assert cross.loc["sex~id_number", "status"] == "open" and cross.loc["sex~id_number", "rule"] == "id_number"
    assert "号码对应 1" in cross.loc["sex~id_number", "note"]
    assert (cross.loc["sex~id_number", "police_value"], cross.loc["sex~id_number", "grid_value"]) == ("2", "2")
    # with the grid's birth date chosen, the birth date disagrees too
    golden, conf, _ = reconcile("person", pd.DataFrame(police), pd.DataFrame(grid), xref,
                                fields=("id_number", "sex", "birth_date"), rule_for=lambda f: "grid",
                                id_col="person_id", raw_columns={})
    assert set(conf.loc[conf["field"].str.contains("~"), "field"]) == {"sex~id_number", "birth_date~id_number"}


def test_a_decision_on_a_one_sided_id_check_sticks_and_sets_the_golden_value():
    """A person known to the police only: the grid side of the sex~id_number conflict is empty."""
    police = [_rec("police", "P1", id_number="64020219900101123X", sex="2")]
    xref = pd.DataFrame({"source": ["police"], "source_key": ["P1"], "person_id": ["X1"]})

    def run(decisions=None):
        return reconcile("person", pd.DataFrame(police), pd.DataFrame([_rec("grid", "-")]).iloc[:0], xref,
                         fields=("id_number", "sex"), rule_for=lambda f: "police", id_col="person_id",
                         raw_columns={}, decisions=decisions)
    golden, conf, _ = run()
    assert conf.loc[0, "field"] == "sex~id_number" and pd.isna(conf.loc[0, "grid_value"])
    decisions = pd.DataFrame([{"decision_id": 7, "kind": "conflict", "target": conf.loc[0, "conflict_id"], "value": "1",
                               "police_value": "2", "grid_value": None, "decided_by": "steward1",
                               "decided_at": "2026-11-23T10:00:00", "reason": "户口本核实"}])
    golden, conf, _ = run(decisions)
    assert conf.loc[0, "status"] == "resolved" and conf.loc[0, "decision_id"] == 7
    assert (golden.loc[0, "sex"], golden.loc[0, "sex_source"]) == ("1", "steward")


@pytest.mark.parametrize("rule, police_updated, expect_source", [
    ("police", "2026-06-01 00:00:00", "police"),
    ("grid", "2026-06-01 00:00:00", "grid"),
    ("most_recent", "2026-06-01 00:00:00", "police"),     # the police record is newer here
    ("most_recent", "2025-06-01 00:00:00", "grid"),
    ("longest", "2026-06-01 00:00:00", "grid"),           # the grid address is the longer one
])
def test_each_survivorship_rule_chooses_its_side_and_names_itself(rule, police_updated, expect_source):
    police = [_rec("police", "P1", current_address="银川市兴庆区长城东路12号", updated_at=police_updated)]
    grid = [_rec("grid", "G1", current_address="银川市兴庆区丽景街道长城东路12号3栋2单元401室",
                 updated_at="2026-01-01 00:00:00")]
    xref = pd.DataFrame({"source": ["police", "grid"], "source_key": ["P1", "G1"], "person_id": ["X1", "X1"]})
    golden, conf, _ = reconcile("person", pd.DataFrame(police), pd.DataFrame(grid), xref, fields=("current_address",),
                                rule_for=lambda f: rule, id_col="person_id", raw_columns={})
    expected = (police if expect_source == "police" else grid)[0]["current_address"]
    assert golden.loc[0, "current_address"] == expected
    assert golden.loc[0, "current_address_source"] == expect_source
    assert (conf.loc[0, "rule"], conf.loc[0, "status"], conf.loc[0, "chosen_value"]) == (rule, "auto", expected)


def test_a_value_on_one_side_only_fills_the_golden_record_and_is_counted_not_a_conflict():
    golden, conf, info = _run([_rec("police", "P1", phone=None)], [_rec("grid", "G1")])
    assert golden.loc[0, "phone"] == "+8613912345678" and golden.loc[0, "phone_source"] == "grid"
    assert conf.empty and info["one_sided"] == 1 and info["shared"] == 2
