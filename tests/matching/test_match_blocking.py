import duckdb
import pytest

from tests.matching.match_factories import frame, person, valid_id
from matching.blocking import BlockingRule, block_on, blocking_report, candidate_pairs
from matching.records import prepare_records

A = valid_id("64020219900101123")          # 640202199001011232


def pairs_of(df, rules=None, entity="person"):
    got = candidate_pairs(prepare_records(df, entity), rules, entity=entity)
    return {(l, r): rule for l, r, rule in got.itertuples(index=False)}


def test_sql_text_names_the_rule_keys():
    rule = BlockingRule("name+year", ("name_pinyin", "substr(birth_date, 1, 4)"), max_block=77)
    keys = rule.distinct_keys_sql()
    assert "name_pinyin AS k0" in keys and "substr(birth_date, 1, 4) AS k1" in keys
    pairs = rule.staged_pairs_sql("keys_t", "blocks_t")
    assert "l.k0 = r.k0 AND l.k1 = r.k1" in pairs and "l.id < r.id" in pairs and "b.n <= 77" in pairs


def test_rule_validation():
    with pytest.raises(ValueError):
        BlockingRule("empty", ())
    with pytest.raises(ValueError, match="unique"):
        candidate_pairs(prepare_records(frame(person("police", "1", "张三", "zhangsan", None)), "person"),
                        [block_on("phone"), block_on("phone")])


def test_null_and_placeholder_keys_never_block():
    df = frame(
        # same name and phone, but birth date, ID and address missing: every rule has a null part
        person("police", "1", "张三", "zhangsan", None, None, phone="+8613912345678", address=None),
        person("grid", "a", "张三", "zhangsan", None, None, phone="+8613912345678", address=None),
        # same birth date; ID, phone and address are placeholders
        person("police", "2", "赵五", "zhaowu", "1980-01-01", "000000000000000000", phone="+8600000000000",
               address="|||"),
        person("grid", "b", "钱六", "qianliu", "1980-01-01", "000000000000000000", phone="+8600000000000",
               address="|||"),
        # placeholder words as pinyin/address, a placeholder ID, same birth date
        person("grid", "c", "孙七", "未知", "1982-03-03", "123456789012345678", phone="", address="未知"),
        person("police", "3", "周八", "未知", "1982-03-03", "123456789012345678", phone=" ", address="不详"),
    )
    assert pairs_of(df) == {}
    # control: the same rows with real values do pair, so the test above can fail
    df.loc[df.source_key.isin(["2", "b"]), "phone"] = "+8613900001111"
    assert pairs_of(df) == {("grid:b", "police:2"): "phone+birth_year"}


def test_cross_and_within_source_pairs_each_once_with_first_rule():
    df = frame(
        person("police", "1", "王伟", "wangwei", "1990-01-01", A, address="锦华苑|3|2|502"),
        person("grid", "a", "王伟", "wangwei", "1990-01-01", A, address="锦华苑|3|2|502"),
        person("grid", "b", "王伟", "wangwei", "1990-01-01", None, address="锦华苑|3|2|502"),
    )
    got = pairs_of(df)
    assert got == {("grid:a", "police:1"): "id_number",        # also found by 4 later rules
                   ("grid:a", "grid:b"): "name_pinyin+birth_date",
                   ("grid:b", "police:1"): "name_pinyin+birth_date"}
    assert all(left < right for left, right in got)


def test_one_wrong_digit_and_transpositions_are_blocked():
    middle = A[:9] + ("5" if A[9] != "5" else "6") + A[10:]     # one digit typed wrong
    swap_end = A[:16] + A[17] + A[16]                           # digits 17 and 18 swapped
    swap_mid = A[:3] + A[4] + A[3] + A[4 + 1:]                  # digits 4 and 5 swapped
    df = frame(
        person("police", "1", "甲", "jia", None, A),
        person("grid", "a", "乙", "yi", None, A[:17] + "9"),
        person("grid", "b", "丙", "bing", None, middle),
        person("grid", "c", "丁", "ding", None, swap_end),
        person("grid", "d", "戊", "wu", None, swap_mid),
    )
    got = pairs_of(df)
    assert got[("grid:a", "police:1")] == "id_body17"
    assert got[("grid:b", "police:1")] == "id_one_digit"
    assert got[("grid:c", "police:1")] == "id_one_digit"
    assert got[("grid:d", "police:1")] == "id_one_digit"


def test_oversize_blocks_are_skipped_and_reported():
    rows = [person("grid", str(i), f"人{i}", f"ren{i}", "1970-01-01", phone="+8613900000000")
            for i in range(5)]
    rows += [person("police", "x", "某", "mou", "1970-05-05", phone="+8613911111111"),
             person("grid", "y", "某某", "moumou", "1970-06-06", phone="+8613911111111")]
    df = prepare_records(frame(*rows), "person")
    rule = BlockingRule("phone+birth_year", ("phone", "substr(birth_date, 1, 4)"), max_block=3)
    assert set(map(tuple, candidate_pairs(df, [rule])[["l_id", "r_id"]].to_numpy())) == {("grid:y", "police:x")}
    con = duckdb.connect()
    report = blocking_report(df, [rule], con=con).iloc[0]
    assert con.sql("SELECT count(*) FROM duckdb_tables() WHERE NOT internal").fetchall() == [(0,)]
    assert con.sql("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchall() == [(0,)]
    assert (report.pairs, report.new_pairs, report.blocks) == (1, 1, 2)
    assert (report.skipped_blocks, report.skipped_records, report.largest_block) == (1, 5, 5)
    assert report.largest_blocks[0] == "+8613900000000 | 1970 (5)"


def test_shared_blocks_say_per_rule_why_a_pair_was_or_was_not_compared():
    from matching.blocking import shared_blocks
    rows = [person("grid", str(i), f"人{i}", f"ren{i}", "1970-01-01", phone="+8613900000000") for i in range(5)]
    rows += [person("police", "x", "人0", "ren0", "1970-01-01", phone="+8613900000000")]
    df = prepare_records(frame(*rows), "person")
    phone = BlockingRule("phone+birth_year", ("phone", "substr(birth_date, 1, 4)"), max_block=3)
    name = block_on("name_pinyin", "birth_date")
    # the phone block holds all six records (over max_block: never compared); the name block only the two
    assert shared_blocks(df, "grid:0", "police:x", [phone, name]) == [[6], [2]]
    assert shared_blocks(df, "grid:1", "police:x", [phone, name]) == [[6], []]


def test_house_rules_block_on_address_parts_and_owner():
    import pandas as pd
    houses = pd.DataFrame([
        {"source": "police", "source_key": "h1", "address_key": "锦华苑|3|2|502", "compound": "锦华苑",
         "building": "3", "unit": "2", "room": "502", "owner_id_number": A},
        {"source": "grid", "source_key": "g1", "address_key": None, "compound": "锦华苑",
         "building": "3", "unit": "2", "room": "502", "owner_id_number": None},
        {"source": "grid", "source_key": "g2", "address_key": "胜利东街|23", "compound": None,
         "building": None, "unit": None, "room": None, "owner_id_number": A},
    ])
    got = pairs_of(houses, entity="house")
    assert got == {("grid:g1", "police:h1"): "compound+building+unit+room",
                   ("grid:g2", "police:h1"): "owner_id_number"}
