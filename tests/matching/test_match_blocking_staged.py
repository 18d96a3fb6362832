"""`run_blocking` (staged: distinct keys and shared blocks materialised per rule, int record ranks)
gives exactly what the plain per-rule SQL (`candidate_pairs_sql`, `block_stats_sql`) gives."""
import re

import numpy as np

from matching.blocking import (PERSON_RULES, BlockingRule, _registered, block_on, candidate_pairs,
                               id_deletion_keys, id_ranks, run_blocking)
from matching.records import MATCH_COLUMNS, prepare_records
from tests.matching.test_match_scale import synthetic

RULES = (*PERSON_RULES,
         # tiny caps so some blocks are skipped and reported
         block_on("address_key", name="address_small", max_block=3),
         BlockingRule("one_digit_small", (id_deletion_keys("id_number"),), max_block=2))


def _records(n: int = 3_000):
    return prepare_records(synthetic(n, seed=11), "person", MATCH_COLUMNS["person"])


def test_staged_pairs_equal_plain_sql_pairs():
    records = _records()
    staged, _ = run_blocking(records, RULES)
    plain = candidate_pairs(records, RULES)
    assert len(staged) > len(records) // 2
    assert staged.equals(plain)
    assert (staged["l_id"] < staged["r_id"]).all()


def test_staged_report_equals_plain_block_stats():
    records = _records()
    _, report = run_blocking(records, RULES)
    assert (report["skipped_blocks"] > 0).any()
    with _registered(None, records) as con:
        for rule, row in zip(RULES, report.itertuples()):
            blocks, skipped, skipped_records, largest, top = con.sql(rule.block_stats_sql()).fetchall()[0]
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
