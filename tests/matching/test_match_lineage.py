"""Id lineage (matching/lineage.py) and how steward decisions follow it through reconcile."""
import pandas as pd

from matching.ids import assign_ids
from matching.lineage import decision_heirs, lineage_events
from matching.reconcile import conflict_id, reconcile

from tests.matching.test_match_ids import members, xref


def test_split_off_part_names_the_id_it_came_from_and_merges_are_retired_into_the_survivor():
    first = assign_ids(members({"grid:a": ["grid:a", "grid:b", "police:1"], "grid:z": ["grid:z", "police:9"]}))
    assert first.issued_max == 2
    second = assign_ids(members({"grid:a": ["grid:a"], "grid:b": ["grid:b", "police:1", "grid:z", "police:9"]}),
                        xref(first), issued_max=first.issued_max)
    assert second.split.to_dict("records") == [{"person_id": "P00000003", "split_from": "P00000001"}]
    assert second.new_ids == 1 and second.issued_max == 3
    events = lineage_events(second.retired, second.split, "person_id")
    assert events.to_dict("records") == [
        {"id": "P00000002", "event": "retired", "other_id": "P00000001"},
        {"id": "P00000003", "event": "split", "other_id": "P00000001"}]


def test_heirs_follow_merges_transitively_and_a_split_only_weakly():
    events = pd.DataFrame({"id": ["P3", "P2", "P7", "P9"], "event": ["retired", "retired", "split", "retired"],
                           "other_id": ["P2", "P1", "P1", None]})
    got = decision_heirs(events, ["P1", "P7", "P8"]).sort_values(["entity_id", "origin"]).to_dict("records")
    assert got == [{"entity_id": "P1", "origin": "P2", "via": "merge"},
                   {"entity_id": "P1", "origin": "P3", "via": "merge"},       # P3 → P2 → P1
                   {"entity_id": "P7", "origin": "P1", "via": "split"},
                   {"entity_id": "P7", "origin": "P2", "via": "split"},
                   {"entity_id": "P7", "origin": "P3", "via": "split"}]
    assert decision_heirs(events, pd.Series(["P8", "P9"])).empty             # no living id with a parent
    assert list(decision_heirs(events.iloc[:0], ["P1"]).columns) == ["entity_id", "origin", "via"]


RULES = {"phone": "most_recent", "birth_date": "steward"}


def _rec(source, key, **kw):
    return {"source": source, "source_key": key, "phone": "+8613912345678", "birth_date": "1990-01-01",
            "updated_at": "2026-01-01 00:00:00", "raw": "{}", **kw}


def _decision(did, entity_id, field, value, police_value, grid_value, at="2026-03-01T00:00:00"):
    return {"decision_id": did, "kind": "conflict", "target": conflict_id(pd.Series([entity_id]), field)[0],
            "value": value, "police_value": police_value, "grid_value": grid_value, "decided_by": "steward1",
            "decided_at": at, "reason": None}


def _events(id_, event, other_id):
    return pd.DataFrame({"id": [id_], "event": [event], "other_id": [other_id]})


def _run(people: dict[str, tuple[dict, dict]], decisions, events=None):
    """people: id → (police record, grid record); `events`: the lineage events (heirs of the living ids)."""
    police = [p for p, _ in people.values()]
    grid = [g for _, g in people.values()]
    x = pd.DataFrame([{"source": r["source"], "source_key": r["source_key"], "person_id": pid}
                      for pid, recs in people.items() for r in recs])
    golden, conf, _ = reconcile("person", pd.DataFrame(police), pd.DataFrame(grid), x, fields=("phone", "birth_date"),
                                rule_for=lambda f: RULES[f], id_col="person_id", raw_columns={},
                                decisions=pd.DataFrame(decisions),
                                heirs=None if events is None else decision_heirs(events, x["person_id"]))
    return golden.set_index("person_id"), conf.set_index(["person_id", "field"])


def test_a_decision_on_a_merged_id_applies_to_the_survivor_while_its_values_match_else_reopens_there():
    lineage = _events("P00000002", "retired", "P00000001")
    d = [_decision(4, "P00000002", "birth_date", "1990-01-10", "1990-01-01", "1990-01-10")]
    same = {"P00000001": (_rec("police", "p1"), _rec("grid", "g1", birth_date="1990-01-10"))}
    golden, conf = _run(same, d, lineage)
    c = conf.loc[("P00000001", "birth_date")]
    assert c["status"] == "resolved" and c["decision_id"] == 4 and "P00000002" in c["note"]
    assert golden.loc["P00000001", "birth_date"] == "1990-01-10"
    assert golden.loc["P00000001", "birth_date_source"] == "steward"
    changed = {"P00000001": (_rec("police", "p1"), _rec("grid", "g1", birth_date="1990-10-01"))}
    golden, conf = _run(changed, d, lineage)
    assert conf.loc[("P00000001", "birth_date"), "status"] == "open"
    assert conf.loc[("P00000001", "birth_date"), "decision_id"] == 4
    golden, conf = _run(same, d)                             # without the lineage the decision is orphaned
    assert conf.loc[("P00000001", "birth_date"), "status"] == "open"
    assert pd.isna(conf.loc[("P00000001", "birth_date"), "decision_id"])


def test_after_a_split_the_decision_applies_where_its_values_are_and_reopens_nowhere_else():
    # P1 split: P3 took the records the decision was made on; P1 kept the id with other values
    lineage = _events("P00000003", "split", "P00000001")
    d = [_decision(4, "P00000001", "birth_date", "1990-01-10", "1990-01-01", "1990-01-10")]
    people = {"P00000001": (_rec("police", "p1", birth_date="1985-05-05"), _rec("grid", "g1", birth_date="1985-05-06")),
              "P00000003": (_rec("police", "p3"), _rec("grid", "g3", birth_date="1990-01-10"))}
    golden, conf = _run(people, d, lineage)
    assert conf.loc[("P00000003", "birth_date"), "status"] == "resolved"
    assert golden.loc["P00000003", "birth_date"] == "1990-01-10"
    assert conf.loc[("P00000001", "birth_date"), "status"] == "open"          # not reopened with decision 4:
    assert pd.isna(conf.loc[("P00000001", "birth_date"), "decision_id"])      # it applies on P3
    people["P00000003"] = (_rec("police", "p3"), _rec("grid", "g3", birth_date="1990-11-11"))
    golden, conf = _run(people, d, lineage)                  # applies nowhere: reopens on the id it was made on
    assert conf.loc[("P00000001", "birth_date"), "decision_id"] == 4
    assert pd.isna(conf.loc[("P00000003", "birth_date"), "decision_id"])


def test_a_decision_on_a_numeric_or_boolean_house_field_keeps_the_column_type():
    police = [{"source": "police", "source_key": "f1", "area": 76.9, "is_rented": False, "updated_at": None, "raw": "{}"}]
    grid = [{"source": "grid", "source_key": "w1", "area": 67.2, "is_rented": True, "updated_at": None, "raw": "{}"}]
    x = pd.DataFrame({"source": ["police", "grid"], "source_key": ["f1", "w1"], "house_id": ["H1", "H1"]})
    d = pd.DataFrame([{**_decision(1, "H1", "area", "67.2", "76.9", "67.2"), "decision_id": 1},
                      {**_decision(2, "H1", "is_rented", "True", "False", "True"), "decision_id": 2}])
    golden, conf, _ = reconcile("house", pd.DataFrame(police), pd.DataFrame(grid), x, fields=("area", "is_rented"),
                                rule_for=lambda f: "police", id_col="house_id", raw_columns={}, decisions=d)
    assert set(conf["status"]) == {"resolved"}
    assert golden.loc[0, "area"] == 67.2 and isinstance(golden.loc[0, "area"], float)
    assert golden.loc[0, "is_rented"] is True
