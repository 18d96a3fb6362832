"""schemas.normalise.gazetteer: learned names make loosely written grid addresses meet the police key.

All place names here are invented for these tests (none comes from the demo generator).
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from schemas.normalise.addresses import parse_address
from schemas.normalise.gazetteer import Gazetteer, learn_gazetteer

P = "宁夏回族自治区石嘴山市大武口区"
POLICE = [
    f"{P}白鹭街道云杉社区青禾苑3号楼2单元502室",
    f"{P}白鹭街道云杉社区青禾苑3号楼2单元502室",          # the same house twice: count 2
    f"{P}白鹭街道云杉社区栖霞湾花园1号楼1单元101室",
    f"{P}白鹭街道云杉社区杏林大街88号",
    f"{P}白鹭街道蔚蓝社区柳岸嘉园2号楼1单元301室",
    f"{P}白鹭街道蔚蓝社区松风嘉园2号楼1单元301室",
    f"{P}白鹭街道蔚蓝社区枫桥嘉园2号楼1单元301室",
    f"{P}白鹭街道蔚蓝社区雁鸣公寓5号楼1单元101室",
    f"{P}白鹭街道蔚蓝社区芦荻公寓6号楼1单元101室",
    f"{P}白鹭街道蔚蓝社区槐荫公寓7号楼1单元101室",
    "宁夏回族自治区石嘴山市平罗县丹霞镇桃源村三组15号",
    "宁夏回族自治区石嘴山市平罗县丹霞镇紫薇嘉园1号楼1单元101室",
]


@pytest.fixture(scope="module")
def gz() -> Gazetteer:
    return learn_gazetteer(pd.Series(POLICE + [None, "", "无"], dtype=object))


def keys(values, g=None) -> list:
    return parse_address(pd.Series(values, dtype=object), g)["address_key"].tolist()


def police_key(text: str) -> str:
    return keys([text])[0]


def test_learns_names_counts_and_where_they_were_seen(gz):
    d = gz.to_dict()
    lv = d["levels"]
    assert set(lv["township"]) == {"白鹭街道", "丹霞镇"}
    assert set(lv["community"]) == {"云杉社区", "蔚蓝社区", "桃源村"}
    assert set(lv["road"]) == {"杏林大街"}
    assert lv["compound"]["青禾苑"] == {"count": 2, "key": "青禾", "districts": ["大武口区"],
                                        "communities": ["云杉社区"]}
    assert lv["compound"]["紫薇嘉园"]["districts"] == ["平罗县"]
    assert lv["community"]["蔚蓝社区"]["count"] == 6
    # three estates end in 嘉园 -> a learned generic suffix; 公寓 is built in and teaches no 寓
    assert d["compound_suffixes"] == ["嘉园"]


@pytest.mark.parametrize("grid, police, estate", [
    ("青禾3-2-502", POLICE[0], "青禾苑"),                        # the rules alone already agree …
    ("青禾小区3号楼2单元502室", POLICE[0], "青禾苑"),
    ("栖霞湾花园小区1-1-101", POLICE[2], "栖霞湾花园"),
])
def test_spellings_the_rules_already_read_stay_equal(gz, grid, police, estate):
    assert keys([grid], gz)[0] == keys([grid])[0] == police_key(police)
    assert parse_address(pd.Series([grid]), gz)["compound"][0] == estate   # … now named as known


@pytest.mark.parametrize("grid, police", [
    ("柳岸家园2栋1单元301", POLICE[4]),                           # 家园 for the learned 嘉园
    ("柳岸2-1-301", POLICE[4]),                                  # estate without its suffix
    ("云杉青禾苑三栋二单元五〇二", POLICE[0]),                     # 社区 without its suffix before the estate
    ("白鹭云杉青禾3-2-502", POLICE[0]),                          # and 街道 without its suffix
    ("杏林街88号", POLICE[3]),                                   # 街 for 大街
    ("杏林88号", POLICE[3]),                                     # no road type
    ("大武口区杏林八十八号", POLICE[3]),
    ("桃源三组15号", POLICE[10]),                                 # village without 村
    ("桃源3队15号", POLICE[10]),
    ("丹霞桃源第三村民小组15号", POLICE[10]),
])
def test_grid_spelling_meets_the_police_key(gz, grid, police):
    want = police_key(police)
    assert keys([grid], gz)[0] == want
    assert keys([grid])[0] != want                              # the suffix rules alone miss it


def test_police_keys_do_not_change(gz):
    assert keys(POLICE, gz) == keys(POLICE)


def test_rewritten_address_norm_reads_as_the_known_names(gz):
    out = parse_address(pd.Series(["云杉青禾3-2-502", "桃源三组15号"]), gz)
    assert out["address_norm"].tolist() == ["云杉社区青禾苑3-2-502", "桃源村3组15号"]
    assert out["community"].tolist() == ["云杉社区", "桃源村"]
    assert out["compound"].tolist() == ["青禾苑", None]
    # parsing the rewritten text again changes nothing (idempotent)
    again = parse_address(out["address_norm"], gz)
    assert again["address_key"].tolist() == out["address_key"].tolist()


def _gazetteer(*texts) -> Gazetteer:
    """The given addresses in 白鹭街道 plus three 嘉园 estates (so that 嘉园 is a learned suffix)."""
    background = [f"蔚蓝社区{n}嘉园2号楼1单元301室" for n in ("柳岸", "松风", "枫桥")]
    return learn_gazetteer(pd.Series([f"{P}白鹭街道{t}" for t in (*texts, *background)]))


def test_two_names_with_one_stem_are_not_forced():
    g = _gazetteer("云杉社区翡翠湾嘉园1号楼1单元101室", "蔚蓝社区翡翠湾公寓1号楼1单元101室")
    grid = ["翡翠湾1-1-101", "翡翠湾家园1-1-101"]
    out = parse_address(pd.Series(grid), g)
    assert out["address_key"].tolist() == keys(grid)
    assert out["address_norm"].tolist() == grid                 # left as written
    # the community written before it tells the two apart
    assert keys(["云杉社区翡翠湾1-1-101", "蔚蓝翡翠湾家园1-1-101"], g) == \
        ["翡翠湾嘉|1|1|101", "翡翠湾|1|1|101"]


def test_a_two_character_stem_starting_several_names_is_not_forced():
    many = _gazetteer("云杉社区梅溪嘉园1号楼1单元101室", "云杉社区梅溪湾花园2号楼1单元101室",
                      "云杉社区梅溪路9号")
    one = _gazetteer("云杉社区梅溪嘉园1号楼1单元101室", "云杉社区兰亭花园2号楼1单元101室")
    assert keys(["梅溪1-1-101"], many) == ["梅溪|1|1|101"]        # left as written
    assert keys(["梅溪1-1-101"], one) == ["梅溪嘉|1|1|101"]       # the only name it can be
    # with the estate's own generic suffix written, only estates starting with 梅溪 count
    assert keys(["梅溪家园1-1-101"], many) == ["梅溪|1|1|101"]
    assert keys(["梅溪家园1-1-101"], one) == ["梅溪嘉|1|1|101"]


def test_names_of_other_counties_and_communities_are_not_used(gz):
    # 紫薇嘉园 is known in 平罗县 only; 杏林大街 in 云杉社区 only
    assert keys(["大武口区紫薇1号楼1单元101室"], gz) == keys(["大武口区紫薇1号楼1单元101室"])
    assert keys(["平罗县紫薇1号楼1单元101室"], gz) == [police_key(POLICE[11])]
    assert keys(["蔚蓝社区杏林街88号"], gz) == ["杏林街|88"]
    assert keys(["云杉社区杏林街88号"], gz) == ["杏林大街|88"]


def test_road_types_are_not_swapped_when_both_roads_exist():
    g = _gazetteer("云杉社区杏林大街88号", "云杉社区杏林路5号")
    assert keys(["杏林街88号", "杏林88号", "杏林路88号"], g) == ["杏林街|88", "杏林|88||", "杏林路|88"]


def test_a_longer_unknown_name_is_not_cut_to_a_known_one(gz):
    # 青禾湾 is not 青禾苑: the stem 青禾 is followed by more of a name
    out = parse_address(pd.Series(["青禾湾3-2-502", "青禾湾花园3-2-502"]), gz)
    assert out["compound"].tolist() == ["青禾湾", "青禾湾花园"]
    assert out["address_key"].tolist() == keys(["青禾湾3-2-502", "青禾湾花园3-2-502"])


def test_without_a_gazetteer_nothing_changes(gz):
    grid = ["青禾3-2-502", "杏林88号", "桃源三组15号", None, ""]
    empty = learn_gazetteer(pd.Series([], dtype=object))
    plain = parse_address(pd.Series(grid, dtype=object))
    pd.testing.assert_frame_equal(parse_address(pd.Series(grid, dtype=object), empty), plain)
    pd.testing.assert_frame_equal(parse_address(pd.Series(grid, dtype=object), None), plain)
    assert len(empty) == 0


def test_round_trip_through_json_and_determinism(gz):
    d = gz.to_dict()
    back = Gazetteer.from_dict(json.loads(json.dumps(d, ensure_ascii=False)))
    assert back.to_dict() == d
    grid = ["青禾3-2-502", "柳岸家园2栋1单元301", "杏林88号", "桃源三组15号"]
    assert keys(grid, back) == keys(grid, gz)
    shuffled = learn_gazetteer(pd.Series(POLICE[::-1] * 2))
    assert shuffled.to_dict()["levels"]["compound"].keys() == d["levels"]["compound"].keys()
    assert shuffled.to_dict()["levels"]["compound"]["青禾苑"]["count"] == 4


def test_learning_from_an_existing_parse_gives_the_same_gazetteer(gz):
    s = pd.Series(POLICE + [None, "", "无"], dtype=object)
    assert learn_gazetteer(s, parsed=parse_address(s)).to_dict() == gz.to_dict()
    with pytest.raises(ValueError, match="row for row"):
        learn_gazetteer(s, parsed=parse_address(s.head(3)))


@pytest.mark.parametrize("bad", [
    {}, {"format": "other"}, {"format": "gridbridge.gazetteer/1", "levels": {"town": {}}},
    {"format": "gridbridge.gazetteer/1", "levels": {"road": {"杏林路": {"count": "x"}}}},
    {"format": "gridbridge.gazetteer/1", "levels": {}, "compound_suffixes": [""]},
])
def test_from_dict_rejects_malformed_input(bad):
    with pytest.raises(ValueError, match="gazetteer"):
        Gazetteer.from_dict(bad)


def test_two_estates_with_one_key_stem_keep_their_full_names():
    """长兴小区 and 长兴新村 are two estates (here in two counties): the bare stem 长兴 would give the
    same room in each one house key."""
    g = learn_gazetteer(pd.Series(["宁夏回族自治区石嘴山市大武口区长城街道明珠社区长兴小区3号楼2单元1002室",
                                   "宁夏回族自治区石嘴山市惠农区北街街道锦林社区长兴新村3号楼2单元1002室",
                                   "宁夏回族自治区石嘴山市惠农区北街街道锦林社区金凤小区1号楼1单元101室"]))
    assert g.shared_stem_compounds == {"长兴小区", "长兴新村"}
    police = ["长兴小区3号楼2单元1002室", "长兴新村3号楼2单元1002室"]
    assert keys(police) == ["长兴|3|2|1002", "长兴|3|2|1002"]            # the suffix rules alone merge them
    assert keys(police, g) == ["长兴小区|3|2|1002", "长兴新村|3|2|1002"]
    assert keys(["长兴小区3-2-1002", "长兴新村三栋二单元一〇〇二"], g) == keys(police, g)
    assert keys(["长兴3-2-1002"], g)[0] not in keys(police, g)           # ambiguous: neither
    # an estate whose stem is its own still meets its loose spellings
    assert keys(["金凤花园小区1号楼1单元101室", "金凤1-1-101"], g) == ["金凤|1|1|101"] * 2
    assert g.to_dict()["levels"]["compound"]["长兴新村"]["key"] == "长兴新村"
    assert g.to_dict()["levels"]["compound"]["金凤小区"]["key"] == "金凤"
