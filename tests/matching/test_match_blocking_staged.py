"""`run_blocking` (staged: distinct keys and shared blocks materialised per rule, int record ranks)
gives exactly what a plain, independent SQL over the same keys gives (the reference below: one
self-join per rule on text ids, a window count for block sizes)."""
import re

import numpy as np

from matching.blocking import (PERSON_RULES, BlockingRule, _registered, block_on, id_deletion_keys, id_ranks,
                               run_blocking)
from matching.records import MATCH_COLUMNS, prepare_records
from tests.matching.test_match_scale import synthetic

RULES = (*PERSON_RULES,
         # tiny caps so some blocks are skipped and reported
         block_on("address_key", name="address_small", max_block=3),
         BlockingRule("one_digit_small", (id_deletion_keys("id_number"),), max_block=2))


def _plain_pairs_sql(rule: BlockingRule) -> str:
    on = " AND ".join(f"l.k{i} = r.k{i}" for i in range(len(rule.keys)))
    return (f"WITH kept AS (SELECT * FROM ({rule.keyed_sql()}) WHERE block_n BETWEEN 2 AND {rule.max_block}) "
            f"SELECT DISTINCT l.id AS l_id, r.id AS r_id FROM kept l JOIN kept r ON {on} AND l.id < r.id")


def _plain_candidate_pairs(records, rules):
    """All rules' pairs, a pair found by several rules named after the first."""
    union = " UNION ALL ".join(f"SELECT l_id, r_id, {i} AS o FROM ({_plain_pairs_sql(r)})" for i, r in enumerate(rules))
    with _registered(None, records) as con:
        got = con.sql(f"SELECT l_id, r_id, min(o) AS o FROM ({union}) GROUP BY ALL ORDER BY l_id, r_id").df()
    return got.assign(rule=[rules[i].name for i in got.pop("o")])


def _plain_block_stats_sql(rule: BlockingRule, top: int = 3) -> str:
    part = ", ".join(f"k{i}" for i in range(len(rule.keys)))
    label = " || ' | ' || ".join(f"CAST(k{i} AS VARCHAR)" for i in range(len(rule.keys)))
    m = rule.max_block
    return (f"WITH b AS (SELECT {label} AS block_key, count(*) AS n FROM ({rule.keyed_sql()}) GROUP BY {part}) "
            f"SELECT count(*) FILTER (WHERE n >= 2), count(*) FILTER (WHERE n > {m}), "
            f"coalesce(sum(n) FILTER (WHERE n > {m}), 0), coalesce(max(n), 0), "
            f"arg_max(block_key || ' (' || n || ')', n, {top}) FILTER (WHERE n >= 2) FROM b")


def _records(n: int = 3_000):
    return prepare_records(synthetic(n, seed=11), "person", MATCH_COLUMNS["person"])


def test_staged_pairs_equal_plain_sql_pairs():
    records = _records()
    staged, _ = run_blocking(records, RULES)
    plain = _plain_candidate_pairs(records, RULES)
    assert len(staged) > len(records) // 2
    assert staged.equals(plain)
    assert (staged["l_id"] < staged["r_id"]).all()


def test_staged_report_equals_plain_block_stats():
    records = _records()
    _, report = run_blocking(records, RULES)
    assert (report["skipped_blocks"] > 0).any()
    with _registered(None, records) as con:
        for rule, row in zip(RULES, report.itertuples()):
            blocks, skipped, skipped_records, largest, top = con.sql(_plain_block_stats_sql(rule)).fetchall()[0]
            assert (row.blocks, row.skipped_blocks, row.skipped_records, row.largest_block) == \
                (blocks, skipped, skipped_records, largest), rule.name
            size = lambda xs: [int(re.search(r"\((\d+)\)$", x).group(1)) for x in xs or []]  # noqa: E731
            assert size(row.largest_blocks) == size(top), rule.name       # ties may list other keys


def test_rule_with_only_single_record_blocks_reports_largest_block_one():
    records = _records(1_000)
    rule = block_on("source_key", name="own_key")                  # every key unique
    pairs, report = run_blocking(records, (rule,))
    assert pairs.empty and list(pairs.columns) == ["l_id", "r_id", "rule"]
    assert report.loc[0, ["blocks", "largest_block"]].tolist() == [0, 1]
    assert report.loc[0, "largest_blocks"] == []


def test_id_ranks_follow_string_order():
    records = _records(1_000)
    sorted_ids, rank = id_ranks(records)
    ids = records["record_id"].to_numpy(dtype=object)
    assert list(sorted_ids) == sorted(ids)
    assert np.array_equal(sorted_ids[rank], ids)
