import numpy as np
import pandas as pd
import pytest

from tests.matching.match_factories import frame, person, valid_id, wrong_check
from matching.comparisons import PERSON_COMPARISONS, compute_gammas
from matching.records import prepare_records

A = valid_id("64020219900101123")
B = valid_id("64020219650312201")
COMP = {c.name: c for c in PERSON_COMPARISONS}


def gammas(rows_l: list[dict], rows_r: list[dict]) -> pd.DataFrame:
    """Compare rows_l[i] with rows_r[i]; one gamma frame row per pair, columns by comparison name."""
    rows = [dict(r, source="police", source_key=str(i)) for i, r in enumerate(rows_l)]
    rows += [dict(r, source="grid", source_key=str(i)) for i, r in enumerate(rows_r)]
    recs = prepare_records(frame(*rows), "person")
    pairs = pd.DataFrame({"l_id": [f"police:{i}" for i in range(len(rows_l))],
                          "r_id": [f"grid:{i}" for i in range(len(rows_r))]})
    g = compute_gammas(recs, pairs, PERSON_COMPARISONS)
    return g.rename(columns=lambda c: c.removeprefix("gamma_"))


def labels(name: str, values) -> list[str]:
    return [COMP[name].labels[int(v)] for v in values]


def p(**kw) -> dict:
    base = dict(source="police", key="0", name="王伟", pinyin="wangwei", birth=None)
    base.update(kw)
    return person(base.pop("source"), base.pop("key"), base.pop("name"), base.pop("pinyin"), base.pop("birth"), **base)


def test_id_levels():
    swapped = A[:10] + A[11] + A[10] + A[12:]
    legacy15 = A[:6] + A[8:17]
    left = [p(id_number=A), p(id_number=A), p(id_number=A), p(id_number=A), p(id_number=A), p(id_number=None),
            p(id_number=A)]
    right = [p(id_number=A), p(id_number=wrong_check(A)), p(id_number=swapped), p(id_number=B), p(id_number=None),
             p(id_number=None), p(id_number="640202900101999", alias=legacy15)]
    # the last: a different number on file, but its 15-digit alias is A shortened
    assert labels("id", gammas(left, right)["id"]) == [
        "exact", "one_typo", "one_typo", "else", "null", "null", "alias"]


def test_name_levels():
    left = [p(name="王伟", pinyin="wangwei"), p(name="王静", pinyin="wangjing"),
            p(name="李晓明", pinyin="lixiaoming"), p(name="阿依古丽买买提", pinyin="ayiguli maimaiti"),
            p(name="王小明", pinyin="wangxiaoming"), p(name="王建国", pinyin="wangjianguo"),
            p(name="张伟", pinyin="zhangwei")]
    right = [p(name="王伟", pinyin="wangwei"), p(name="王晶", pinyin="wangjing"),
             p(name="李明", pinyin="liming", former="李晓明"), p(name="阿依古丽买提", pinyin="ayiguli maiti"),
             p(name="王少明", pinyin="wangshaoming"), p(name="王小明", pinyin="wangxiaoming"),
             p(name=None, pinyin=None)]
    assert labels("name", gammas(left, right)["name"]) == [
        "exact", "homophone", "former_name", "jw_0.9", "jw_0.7", "else", "null"]


def test_birth_date_levels():
    left = ["1985-03-07", "1985-03-07", "1985-03-07", "1985-03-07", "1985-03-07", "1985-03-07", "1985-03-03"]
    right = ["1985-03-07", "1985-07-03", "1985-03-01", "1985-11-20", "1958-03-07", "1960-01-01", None]
    g = gammas([p(birth=b) for b in left], [p(birth=b) for b in right])
    assert labels("birth_date", g["birth_date"]) == [
        "exact", "month_day_swap", "one_typo", "same_year", "one_typo", "else", "null"]


def test_address_phone_sex_levels():
    left = [p(address="锦华苑|3|2|502", phone="+8613900000001", sex="1"),
            p(address="锦华苑|3|2|502", phone="+8613900000001", sex="1"),
            p(address="锦华苑|3|2|502", phone=None, sex="1"),
            p(address=None, phone="+8613900000001", sex=None)]
    right = [p(address="锦华苑|3|2|502", phone="+8613900000001", sex="1"),
             p(address="锦华苑|3|1|101", phone="+8613900000002", sex="2"),
             p(address="胜利东街|23|1", phone="+8613900000001", sex="1"),
             p(address="锦华苑|3|2|502", phone="+8613900000001", sex="1")]
    g = gammas(left, right)
    assert labels("address", g["address"]) == ["exact", "same_building", "else", "null"]
    assert labels("phone", g["phone"]) == ["exact", "else", "null", "exact"]
    assert labels("sex", g["sex"]) == ["exact", "else", "exact", "null"]


def test_gamma_is_int8_and_pair_ids_must_exist():
    g = gammas([p(id_number=A)], [p(id_number=A)])
    assert g["id"].dtype == np.int8
    recs = prepare_records(frame(p(id_number=A)), "person")
    with pytest.raises(ValueError):
        compute_gammas(recs, pd.DataFrame({"l_id": ["police:0"], "r_id": ["grid:nope"]}), PERSON_COMPARISONS)


def test_house_address_compares_room_columns_when_one_side_has_no_key():
    """The house address comparison is null only when a side has neither a key nor room columns."""
    from matching.comparisons import HOUSE_COMPARISONS
    room = dict(compound="长兴小区", building="3", unit="2", room="502")
    rows = [dict(source="police", source_key="1", address_key="长兴小区|3|2|502", **room),
            dict(source="police", source_key="2", address_key=None, **room),
            dict(source="grid", source_key="3", address_key=None, compound="长兴小区", building="3", unit="1",
                 room="502"),
            dict(source="grid", source_key="4", address_key=None)]
    recs = prepare_records(pd.DataFrame(rows), "house")
    pairs = pd.DataFrame({"l_id": ["police:1", "police:1", "police:1"],
                          "r_id": ["police:2", "grid:3", "grid:4"]})
    comp = {c.name: c for c in HOUSE_COMPARISONS}["address"]
    g = compute_gammas(recs, pairs, [comp])["gamma_address"]
    assert [comp.labels[int(v)] for v in g] == ["same_room", "else", "null"]
