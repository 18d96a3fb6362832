"""End-to-end scenarios through `link()`: small hand-made frames, one trap per test."""
import pandas as pd
import pytest

from tests.matching.match_factories import frame, person, valid_id, wrong_check
from matching import MatchSettings, Model, block_on, link
from matching.blocking import PERSON_RULES

ADDR = "锦华苑|3|2|502"
PHONE = "+8613995112233"
WANG = valid_id("64020219900101123")       # 640202199001011232, born 1990-01-01
LI = valid_id("64018119850307202")          # born 1985-03-07


def ids(result) -> dict[str, str]:
    x = result.xref
    return dict(zip(x["source"] + ":" + x["source_key"], x.iloc[:, 2]))


def prob(result, a: str, b: str) -> float:
    l_id, r_id = sorted((a, b))
    row = result.pairs[(result.pairs.l_id == l_id) & (result.pairs.r_id == r_id)]
    assert len(row) == 1, f"{a} ~ {b} was never compared"
    return float(row["match_probability"].iloc[0])


def background() -> list[dict]:
    """Unrelated residents, so each scenario is not alone in its district."""
    return [person("police", f"bg{i}", n, py, b, valid_id(f"6402021970{i:02d}0110{i}"[:17]), address=f"某苑|{i}|1|101")
            for i, (n, py, b) in enumerate([("赵敏", "zhaomin", "1970-01-01"), ("钱进", "qianjin", "1971-02-02"),
                                            ("孙丽", "sunli", "1972-03-03")], start=1)]


def test_exact_id_match_across_sources():
    r = link(frame(
        person("police", "p1", "王伟", "wangwei", "1990-01-01", WANG, phone=PHONE, address=ADDR),
        person("grid", "g1", "王伟", "wangwei", "1990-01-01", WANG, phone="+8613000000001", address="新村|1|1|101"),
        *background()))
    got = ids(r)
    assert got["police:p1"] == got["grid:g1"]
    assert len(set(got.values())) == 4
    row = r.xref[r.xref.source_key == "g1"].iloc[0]
    assert row.match_probability >= 0.95 and row.match_rule == "id_number"
    assert set(r.xref[r.xref.source_key.str.startswith("bg")]["match_rule"]) == {"single"}


def test_check_digit_typo_still_matched():
    r = link(frame(
        person("police", "p1", "王伟", "wangwei", "1990-01-01", WANG, address=ADDR),
        person("grid", "g1", "王伟", "wangwei", "1990-01-01", wrong_check(WANG), address=ADDR),
        *background()))
    assert ids(r)["police:p1"] == ids(r)["grid:g1"]
    assert r.pairs.loc[r.pairs.gamma_id >= 0, "rule"].tolist() == ["id_body17"]


def test_homophone_name_same_birth_date_same_address_matched():
    r = link(frame(
        person("police", "p1", "王静", "wangjing", "1992-06-18", valid_id("64020219920618204"), sex="2",
               address=ADDR),
        person("grid", "g1", "王晶", "wangjing", "1992-06-18", None, sex="2", address=ADDR),
        *background()))
    assert ids(r)["police:p1"] == ids(r)["grid:g1"]
    assert prob(r, "police:p1", "grid:g1") >= 0.95


def test_month_day_swap_matched():
    r = link(frame(
        person("police", "p1", "李娜", "lina", "1985-03-07", LI, sex="2", address=ADDR),
        person("grid", "g1", "李娜", "lina", "1985-07-03", None, sex="2", address=ADDR),
        *background()))
    assert ids(r)["police:p1"] == ids(r)["grid:g1"]
    assert r.pairs.loc[r.pairs.r_id == "police:p1", "gamma_birth_date"].max() == 3    # month_day_swap


def test_missing_id_on_grid_side_matched_on_name_birth_date_address():
    r = link(frame(
        person("police", "p1", "马海军", "mahaijun", "1978-11-02", valid_id("64038219781102111"),
               ethnicity="03", phone=PHONE, address=ADDR),
        person("grid", "g1", "马海军", "mahaijun", "1978-11-02", None, ethnicity="03", phone=None, address=ADDR),
        *background()))
    assert ids(r)["police:p1"] == ids(r)["grid:g1"]


@pytest.mark.parametrize("with_addresses", [True, False])
def test_same_common_name_and_birth_date_but_different_ids_not_auto_matched(with_addresses):
    r = link(frame(
        person("police", "p1", "王伟", "wangwei", "1990-01-01", WANG,
               phone=PHONE if with_addresses else None, address=ADDR if with_addresses else None),
        person("grid", "g1", "王伟", "wangwei", "1990-01-01", valid_id("64010419900101357"),
               phone="+8613800001111" if with_addresses else None,
               address="胜利东街|23" if with_addresses else None),
        *background()))
    assert ids(r)["police:p1"] != ids(r)["grid:g1"]
    assert prob(r, "police:p1", "grid:g1") < 0.95


def household(with_ids: bool) -> pd.DataFrame:
    """Father and son in both systems: same surname, phone and address; births 25 years apart."""
    father, son = valid_id("64020219650312101"), valid_id("64020219900820103")
    return frame(
        person("police", "f", "王建国", "wangjianguo", "1965-03-12", father, phone=PHONE, address=ADDR),
        person("police", "s", "王强", "wangqiang", "1990-08-20", son, phone=PHONE, address=ADDR),
        person("grid", "f", "王建国", "wangjianguo", "1965-03-12", father if with_ids else None,
               phone=PHONE, address=ADDR),
        # the grid holds the son under his father's phone, without an ID
        person("grid", "s", "王强", "wangqiang", "1990-08-20", None, phone=PHONE, address=ADDR),
        person("grid", "x", "王勇", "wangyong", "1990-04-04", None, phone=PHONE, address=ADDR),
        *background())


@pytest.mark.parametrize("with_ids", [True, False])
def test_parent_and_child_sharing_phone_and_address_are_not_matched(with_ids):
    # also blocked on the shared address, so every parent/child pair is really compared and scored
    rules = (*PERSON_RULES, block_on("address_key", name="address"))
    r = link(household(with_ids), settings=MatchSettings(blocking_rules=rules))
    got = ids(r)
    assert got["police:f"] == got["grid:f"]
    assert got["police:s"] == got["grid:s"]
    assert got["police:f"] != got["police:s"]
    assert got["grid:x"] not in (got["police:f"], got["police:s"])
    for a, b in [("police:f", "grid:s"), ("police:s", "grid:f"), ("grid:f", "grid:s"), ("police:f", "police:s")]:
        assert prob(r, a, b) < 0.6, (a, b)


def test_household_cap_is_what_keeps_parent_and_child_apart():
    """Blocked on the address and scored without the household cap and gate, a father and son with
    similar names and no IDs would be matched (stack-notes §11); with them they are far apart."""
    model = Model.load(entity="person")
    uncapped = Model.from_dict({**model.to_dict(), "groups": []})
    settings = MatchSettings(blocking_rules=(block_on("address_key"),))
    df = frame(
        person("police", "f", "王建国", "wangjianguo", "1965-03-12", None, phone=PHONE, address=ADDR),
        person("grid", "s", "王建", "wangjian", "1990-08-20", None, phone=PHONE, address=ADDR))
    assert prob(link(df, settings=settings), "police:f", "grid:s") < 0.01
    assert prob(link(df, settings=settings.replace(model=uncapped)), "police:f", "grid:s") >= 0.95


def test_within_source_duplicate_linked_to_one_id():
    r = link(frame(
        person("police", "p1", "李娜", "lina", "1985-03-07", LI, sex="2", address=ADDR),
        person("grid", "g1", "李娜", "lina", "1985-03-07", LI, sex="2", address=ADDR, phone=PHONE),
        person("grid", "g2", "李娜", "lina", "1985-03-07", LI, sex="2", address="新村|1|1|101"),   # 重户
        person("police", "p9", "张伟", "zhangwei", "1979-09-09", valid_id("64020219790909151")),
        person("police", "p8", "张伟", "zhangwei", "1979-09-09", valid_id("64020219790909151")),  # 重户, police only
        *background()))
    got = ids(r)
    assert got["police:p1"] == got["grid:g1"] == got["grid:g2"]
    assert got["police:p9"] == got["police:p8"] != got["police:p1"]
    assert len(set(got.values())) == 5


def test_review_frame_and_stable_ids_across_runs():
    df = frame(
        person("police", "p1", "王伟", "wangwei", "1990-01-01", WANG),
        person("grid", "g1", "王伟", "wangwei", "1990-01-01", valid_id("64010419900101357")),
        *background())
    first = link(df)
    assert list(first.xref.columns) == ["source", "source_key", "person_id", "match_probability", "match_rule"]
    rev = first.review
    assert len(rev) == 1 and rev.status.iloc[0] == "open" and rev.reason.iloc[0] == "review_band"
    assert (rev.police_key.iloc[0], rev.grid_key.iloc[0]) == ("p1", "g1")
    assert {"w_id", "w_name", "w_birth_date", "w_household"} <= set(rev.columns)
    assert 0.6 <= rev.match_probability.iloc[0] < 0.95
    second = link(df.iloc[::-1], previous_xref=first.xref)
    assert ids(second) == ids(first)
    assert second.review.pair_id.tolist() == rev.pair_id.tolist()
    # a lower auto_match threshold turns the review pair into a match
    third = link(df, settings=MatchSettings(auto_match=0.8, review=0.5),
                 previous_xref=first.xref)
    assert ids(third)["police:p1"] == ids(third)["grid:g1"]
    assert third.retired_ids.shape[0] == 1


def test_houses_link_on_address_and_room():
    houses = pd.DataFrame([
        {"source": "police", "source_key": "h1", "address_key": ADDR, "compound": "锦华苑", "building": "3",
         "unit": "2", "room": "502", "owner_name": "王建国", "owner_id_number": WANG, "usage": "01", "area": 89.5},
        {"source": "grid", "source_key": "g1", "address_key": ADDR, "compound": "锦华苑", "building": "3",
         "unit": "2", "room": "502", "owner_name": "王建国", "owner_id_number": None, "usage": "01", "area": "90"},
        {"source": "grid", "source_key": "g2", "address_key": "锦华苑|3|2|602", "compound": "锦华苑",
         "building": "3", "unit": "2", "room": "602", "owner_name": "王建国", "owner_id_number": WANG,
         "usage": "01", "area": 89.5},
    ])
    r = link(houses, entity="house")
    got = dict(zip(r.xref.source + ":" + r.xref.source_key, r.xref.house_id))
    assert got["police:h1"] == got["grid:g1"] != got["grid:g2"]
    assert set(got.values()) == {"H00000001", "H00000002"}


def test_one_village_house_in_two_townships_is_never_auto_matched():
    """红星村一组22号 in 姚伏镇 and in 城关镇: same key and owner name, different townships."""
    base = {"address_key": "红星村|1|22", "owner_name": "马伟", "usage": "01", "area": 120.0}
    houses = pd.DataFrame([{**base, "source": "police", "source_key": "h1", "street": "姚伏镇", "district": "平罗县"},
                           {**base, "source": "grid", "source_key": "g1", "street": "城关镇"},
                           {**base, "source": "grid", "source_key": "g2", "street": "姚伏镇"}])
    r = link(houses, entity="house")
    p = {(a, b): v for a, b, v in zip(r.pairs["l_id"], r.pairs["r_id"], r.pairs["match_probability"])}
    assert p[("grid:g1", "police:h1")] < MatchSettings().auto_match        # at most review
    assert p[("grid:g2", "police:h1")] >= MatchSettings().auto_match       # the same township links
    got = dict(zip(r.xref.source + ":" + r.xref.source_key, r.xref.house_id))
    assert got["police:h1"] == got["grid:g2"] != got["grid:g1"]
