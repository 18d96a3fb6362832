import pandas as pd

from matching.ids import assign_ids


def members(clusters: dict[str, list[str]]) -> pd.DataFrame:
    """{cluster label: ["police:1", "grid:a", ...]} -> members frame."""
    rows = [{"source": r.split(":")[0], "source_key": r.split(":")[1], "cluster": c}
            for c, recs in clusters.items() for r in recs]
    return pd.DataFrame(rows)


def ids_of(result) -> dict[str, str]:
    a = result.assigned
    return dict(zip(a["source"] + ":" + a["source_key"], a["person_id"]))


def xref(result) -> pd.DataFrame:
    return result.assigned[["source", "source_key", "person_id"]]


def test_first_run_mints_ids_in_cluster_order():
    got = assign_ids(members({"grid:b": ["grid:b"], "grid:a": ["grid:a", "police:1"]}))
    assert ids_of(got) == {"grid:a": "P00000001", "police:1": "P00000001", "grid:b": "P00000002"}
    assert got.issued_max == 2 and got.retired.empty


def test_same_input_twice_gives_same_ids():
    m = members({"grid:a": ["grid:a", "police:1"], "grid:b": ["grid:b"], "police:2": ["police:2"]})
    first = assign_ids(m)
    second = assign_ids(m.sample(frac=1, random_state=3), xref(first))
    assert ids_of(second) == ids_of(first)
    assert second.retired.empty and second.issued_max == first.issued_max


def test_adding_a_record_keeps_ids_and_new_ids_continue_the_counter():
    first = assign_ids(members({"grid:a": ["grid:a", "police:1"], "grid:b": ["grid:b"]}))
    # police:0 joins the first person and sorts before every old record (the cluster label changes);
    # a brand new person appears
    second = assign_ids(members({"grid:a": ["grid:a", "police:1"], "grid:b": ["grid:b", "police:0"],
                                 "grid:c": ["grid:c"]}), xref(first))
    got = ids_of(second)
    assert got["grid:a"] == got["police:1"] == ids_of(first)["grid:a"]
    assert got["police:0"] == got["grid:b"] == ids_of(first)["grid:b"]
    assert got["grid:c"] == "P00000003"


def test_merge_keeps_the_survivor_and_retires_the_other():
    first = assign_ids(members({"grid:a": ["grid:a", "police:1"], "grid:b": ["grid:b"]}))
    merged = assign_ids(members({"grid:a": ["grid:a", "grid:b", "police:1"]}), xref(first))
    assert set(ids_of(merged).values()) == {"P00000001"}
    assert merged.retired.to_dict("records") == [{"person_id": "P00000002", "merged_into": "P00000001"}]
    assert merged.split.empty and merged.new_ids == 0


def test_merge_tie_goes_to_the_oldest_id():
    prev = pd.DataFrame({"source": ["grid", "police"], "source_key": ["a", "1"],
                         "person_id": ["P00000007", "P00000003"]})
    got = assign_ids(members({"grid:a": ["grid:a", "police:1"]}), prev)
    assert set(ids_of(got).values()) == {"P00000003"}
    assert got.issued_max == 7


def test_split_largest_part_keeps_the_id():
    first = assign_ids(members({"grid:a": ["grid:a", "grid:b", "police:1"], "grid:z": ["grid:z"]}))
    # the small part sorts first, so a label-based id would move; ours stays with the larger part
    split = assign_ids(members({"grid:a": ["grid:a"], "grid:b": ["grid:b", "police:1"], "grid:z": ["grid:z"]}),
                       xref(first))
    got = ids_of(split)
    assert got["grid:b"] == got["police:1"] == "P00000001"
    assert got["grid:a"] == "P00000003" and got["grid:z"] == "P00000002"
    assert split.split.to_dict("records") == [{"person_id": "P00000003", "split_from": "P00000001"}]
    assert split.new_ids == 1 and split.retired.empty


def test_a_split_off_part_names_the_old_id_it_shares_most_records_with_ties_to_the_oldest():
    prev = pd.DataFrame({"source": "grid", "source_key": ["a", "x", "b", "b2", "c", "y", "d"],
                         "person_id": ["P00000004"] * 4 + ["P00000002"] * 3})
    # grid:a keeps P4 and grid:c keeps P2 (two records each); grid:b holds one record of each: a tie
    tie = assign_ids(members({"grid:a": ["grid:a", "grid:x"], "grid:c": ["grid:c", "grid:y"],
                              "grid:b": ["grid:b", "grid:d"]}), prev)
    assert ids_of(tie)["grid:b"] == "P00000005" and ids_of(tie)["grid:a"] == "P00000004"
    assert tie.split.to_dict("records") == [{"person_id": "P00000005", "split_from": "P00000002"}]
    most = assign_ids(members({"grid:a": ["grid:a", "grid:x"], "grid:c": ["grid:c", "grid:y"],
                               "grid:b": ["grid:b", "grid:b2", "grid:d"]}), prev)
    assert most.split.to_dict("records") == [{"person_id": "P00000005", "split_from": "P00000004"}]
    assert most.new_ids == 1 and most.retired.empty


def test_dropped_records_retire_their_id_and_numbers_are_not_reused():
    first = assign_ids(members({"grid:a": ["grid:a"], "grid:b": ["grid:b"]}))
    second = assign_ids(members({"grid:a": ["grid:a"]}), xref(first))
    assert second.retired.to_dict("records") == [{"person_id": "P00000002", "merged_into": None}]
    third = assign_ids(members({"grid:a": ["grid:a"], "grid:c": ["grid:c"]}), xref(second),
                       issued_max=second.issued_max)
    assert ids_of(third)["grid:c"] == "P00000003"


def test_house_ids():
    got = assign_ids(members({"grid:h": ["grid:h", "police:h"]}), id_col="house_id", prefix="H")
    assert set(got.assigned["house_id"]) == {"H00000001"}
