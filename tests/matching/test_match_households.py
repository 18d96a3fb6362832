"""Person–house links as evidence: house ids from the house xref, the `house` comparison, its group."""
import numpy as np
import pandas as pd

from matching import MatchSettings, block_on, link
from matching.blocking import PERSON_RULES
from matching.comparisons import PERSON_COMPARISONS, compute_gammas
from matching.households import attach_house_ids, shared_members
from matching.records import prepare_records
from tests.matching.match_factories import person, valid_id

HOUSE = {c.name: c for c in PERSON_COMPARISONS}["house"]
XREF = pd.DataFrame({"source": ["police", "grid", "police", "grid"], "source_key": ["H1", "G7", "H2", "G8"],
                     "house_id": ["H00000001", "H00000001", "H00000002", "H00000003"]})


def test_house_keys_become_matched_house_ids_per_source():
    persons = pd.DataFrame({"source": ["police", "grid", "grid", "police", "grid"],
                            "house_key": ["H1", "G7", "H1", None, "G9"]})
    out = attach_house_ids(persons, XREF)
    # grid's "H1" is not police's H1: keys are looked up in the record's own source
    assert out["house_id"].tolist() == ["H00000001", "H00000001", None, None, None]
    assert attach_house_ids(persons, None)["house_id"].isna().all()
    assert attach_house_ids(persons.drop(columns="house_key"), XREF)["house_id"].isna().all()


def _records(rows):
    return prepare_records(pd.DataFrame(rows), "person")


A, B, C = valid_id("64020219900101123"), valid_id("64020219650312201"), valid_id("64020220100505333")


def test_shared_members_counts_ids_found_on_both_sides_of_a_house():
    recs = _records([
        dict(person("police", "1", "王伟", "wangwei", "1990-01-01", A), house_id="h1"),
        dict(person("grid", "1", "王伟", "wangwei", "1990-01-01", A), house_id="h1"),
        dict(person("police", "2", "李娜", "lina", "1965-03-12", B), house_id="h1"),
        dict(person("grid", "2", "李娜", "lina", "1965-03-12", None), house_id="h1"),
        dict(person("police", "3", "王小明", "wangxiaoming", "2010-05-05", C), house_id="h2"),
    ])
    count, own = shared_members(recs)
    assert count.tolist() == [1, 1, 1, 1, 0]
    assert own.tolist() == [True, True, False, False, False]


def test_house_levels_need_another_resident_matched_by_id():
    rows = [
        dict(person("police", "1", "王伟", "wangwei", "1990-01-01", A), house_id="h1"),
        dict(person("grid", "1", "王伟", "wangwei", "1990-01-01", A), house_id="h1"),
        dict(person("police", "2", "李娜", "lina", "1965-03-12", B), house_id="h1"),
        dict(person("grid", "2", "李娜", "lina", "1965-03-12", None), house_id="h1"),
        dict(person("grid", "3", "李娜", "lina", "1965-03-12", None), house_id="h2"),
        dict(person("grid", "4", "李娜", "lina", "1965-03-12", None), house_id=None),
    ]
    recs = _records(rows)
    pairs = pd.DataFrame({"l_id": ["police:2", "police:1", "police:2", "police:2"],
                          "r_id": ["grid:2", "grid:1", "grid:3", "grid:4"]})
    g = compute_gammas(recs, pairs, [HOUSE])["gamma_house"]
    # 李娜: her husband is matched by ID in the same house; 王伟 himself is that only match (no other)
    assert [HOUSE.labels[int(v)] for v in g] == ["co_member", "same_house", "else", "null"]


HOUSES = pd.DataFrame({"source": ["police", "grid"], "source_key": ["PH1", "GH1"], "house_id": ["H1", "H1"]})


def _family(grid_2: dict, address: str | None = None) -> list[dict]:
    """王伟 (in both systems, same ID) and 李娜 (police, with ID) in one house, plus `grid_2` there."""
    return [dict(person("police", "1", "王伟", "wangwei", "1990-01-01", A, address=address), house_key="PH1"),
            dict(person("grid", "1", "王伟", "wangwei", "1990-01-01", A, address=address), house_key="GH1"),
            dict(person("police", "2", "李娜", "lina", "1965-03-12", B, address=address), house_key="PH1"),
            dict(grid_2, house_key="GH1")]


def test_house_evidence_lifts_a_missing_id_pair_with_a_stale_address():
    """No ID on the grid side and the address text differs: without house evidence the missing-ID
    guard holds the pair in review; the matched house and a matched co-resident let it link."""
    rows = _family(person("grid", "2", "李娜", "lina", "1965-03-12", None, address="胜利东街|23"),
                   address="锦华苑|3|2|502")
    houses = HOUSES
    settings = MatchSettings()
    without = link(pd.DataFrame(rows), "person", settings).xref
    with_houses = link(attach_house_ids(pd.DataFrame(rows), houses), "person", settings).xref

    def together(xref):
        ids = dict(zip(xref["source"] + ":" + xref["source_key"], xref["person_id"]))
        return ids["police:2"] == ids["grid:2"]
    assert not together(without)
    assert together(with_houses)


def test_house_evidence_never_outweighs_a_different_birth_date_and_name():
    """Two residents of one matched house (mother and daughter): the house agrees, the person does not."""
    rows = _family(person("grid", "2", "李小娜", "lixiaona", "1992-07-30", None))
    # blocked on the house as well, so mother and daughter are really compared
    settings = MatchSettings(blocking_rules=(*PERSON_RULES, block_on("house_id")))
    result = link(attach_house_ids(pd.DataFrame(rows), HOUSES), "person", settings)
    pair = result.pairs[(result.pairs["l_id"] == "grid:2") & (result.pairs["r_id"] == "police:2")]
    assert len(pair) == 1 and pair["gamma_house"].iloc[0] == 2                 # co_member: the house agrees
    assert float(pair["match_probability"].iloc[0]) < settings.review
    assert result.xref["person_id"].nunique() == 3
    assert np.isfinite(result.pairs["match_weight"]).all()
