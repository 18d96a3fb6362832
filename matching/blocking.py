"""Blocking: which record pairs are worth comparing at all.

A `BlockingRule` is a name, a few key expressions and a block-size cap. Key expressions are DuckDB
SQL over the blocking input view (plain column names, or derived keys such as
`substr(birth_date, 1, 4)`); an expression may `unnest([...])` a list to give a record several
keys (the one-wrong-digit ID keys do). Two records are a candidate pair when all keys of one rule
are equal and not null. Nothing here touches text similarity: DuckDB string distances count UTF-8
bytes, so Chinese text is compared later, in `comparisons`, with rapidfuzz.

The SQL is built as text first (`*_sql` methods) and run by `run_blocking` (pairs and report in one
pass; `candidate_pairs` and `blocking_report` are its two halves) and `shared_blocks`, on the DuckDB
connection the caller passes in or on a temporary in-memory one. Every result is fully fetched
(DuckDB 2.0 rule, stack-notes §4).
"""
from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from matching.records import RECORD_ID

INPUT_VIEW = "__gb_blk_input"
DEFAULT_MAX_BLOCK = 200


def unusable_key_sql(expr: str) -> str:
    """SQL true when a key is null or only blanks/separators. Placeholder *values* were nulled by
    `records.prepare_records`; this guards keys derived from them (`substr`, `||`)."""
    return f"({expr} IS NULL OR regexp_replace({expr}, '[\\s|\\-_/.,;:·]+', '', 'g') = '')"


def id_deletion_keys(column: str, positions: range | tuple[int, ...] = range(1, 19)) -> str:
    """One key per position p: the value with character p removed (1-based). Two IDs that differ
    in one digit, or by an adjacent transposition, share a key (untagged, so a transposition at
    p, p+1 meets as "A without p" = "B without p+1"; so position 18 is kept although deleting it
    is the 17-digit body rule, which names check-digit typos on its own)."""
    parts = [f"substr({column}, 1, {p - 1}) || substr({column}, {p + 1})" for p in positions]
    return "unnest([" + ", ".join(parts) + "])"


@dataclass(frozen=True)
class BlockingRule:
    """Records whose `keys` are all equal (and none null/placeholder) become candidate pairs.

    Blocks of more than `max_block` records are skipped, never compared, and reported.
    """
    name: str
    keys: tuple[str, ...]
    max_block: int = DEFAULT_MAX_BLOCK

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple(self.keys))
        if not self.keys:
            raise ValueError(f"blocking rule {self.name!r} has no keys")
        if self.max_block < 2:
            raise ValueError(f"blocking rule {self.name!r}: max_block must be >= 2")

    def columns(self, available) -> list[str]:
        """The columns of `available` this rule's key expressions mention."""
        text = " ".join(self.keys)
        return [c for c in available if re.search(rf"\b{re.escape(c)}\b", text)]

    def distinct_keys_sql(self, table: str = INPUT_VIEW) -> str:
        """One row per (record `id`, key tuple `k0`, `k1`, …) with a usable key."""
        cols = ", ".join(f"{k} AS k{i}" for i, k in enumerate(self.keys))
        names = [f"k{i}" for i in range(len(self.keys))]
        usable = " AND ".join(f"NOT {unusable_key_sql(k)}" for k in names)
        return (f"SELECT DISTINCT {RECORD_ID} AS id, {', '.join(names)} FROM "
                f"(SELECT {RECORD_ID}, {cols} FROM {table}) WHERE {usable}")

    def keyed_sql(self, table: str = INPUT_VIEW) -> str:
        """One row per (record, key tuple) with a usable key, and the size of its block."""
        part = ", ".join(f"k{i}" for i in range(len(self.keys)))
        return f"SELECT *, count(*) OVER (PARTITION BY {part}) AS block_n FROM ({self.distinct_keys_sql(table)})"

    def shared_blocks_sql(self, keys_table: str) -> str:
        """Blocks of two or more records (`k…`, `n`) from a table of `distinct_keys_sql` rows: a
        hash aggregate, so the many single-record keys (one-wrong-digit keys) are never sorted."""
        part = ", ".join(f"k{i}" for i in range(len(self.keys)))
        return f"SELECT {part}, count(*) AS n FROM {keys_table} GROUP BY {part} HAVING count(*) >= 2"

    def staged_pairs_sql(self, keys_table: str, blocks_table: str) -> str:
        """Distinct `(l_id, r_id)` with `l_id < r_id` sharing all keys, oversize blocks left out, from the
        materialised `distinct_keys_sql` and `shared_blocks_sql` tables."""
        ks = range(len(self.keys))
        semi = " AND ".join(f"d.k{i} = b.k{i}" for i in ks)
        kept = (f"SELECT d.* FROM {keys_table} d SEMI JOIN {blocks_table} b ON {semi} "
                f"AND b.n <= {self.max_block}")
        on = " AND ".join(f"l.k{i} = r.k{i}" for i in ks)
        return (f"WITH kept AS ({kept}) SELECT DISTINCT l.id AS l_id, r.id AS r_id FROM kept l "
                f"JOIN kept r ON {on} AND l.id < r.id")

    def staged_stats_sql(self, keys_table: str, blocks_table: str, top: int = 3) -> str:
        """Blocks, kept/skipped counts and the largest blocks of this rule, one row, from the materialised
        tables (ties among the largest blocks broken by key, so the report is deterministic)."""
        label = " || ' | ' || ".join(f"CAST(k{i} AS VARCHAR)" for i in range(len(self.keys)))
        m = self.max_block
        return (f"SELECT count(*) AS blocks, count(*) FILTER (WHERE n > {m}) AS skipped_blocks, "
                f"coalesce(sum(n) FILTER (WHERE n > {m}), 0) AS skipped_records, "
                f"coalesce(max(n), (SELECT least(count(*), 1) FROM (SELECT 1 FROM {keys_table} LIMIT 1))) "
                f"AS largest_block, "
                f"(SELECT list(b) FROM (SELECT {label} || ' (' || n || ')' AS b FROM {blocks_table} "
                f"ORDER BY n DESC, b LIMIT {top})) AS largest_blocks FROM {blocks_table}")


def block_on(*columns: str, name: str | None = None, max_block: int = DEFAULT_MAX_BLOCK) -> BlockingRule:
    """A rule on plain columns, named after them unless `name` is given."""
    return BlockingRule(name or "+".join(columns), tuple(columns), max_block)


BIRTH_YEAR = "substr(birth_date, 1, 4)"

PERSON_RULES = (
    BlockingRule("id_number", ("unnest([id_number, id_alias])",), max_block=20),
    BlockingRule("id_body17", ("substr(id_number, 1, 17)",), max_block=20),
    BlockingRule("id_one_digit", (id_deletion_keys("id_number"),), max_block=20),
    block_on("name_pinyin", "birth_date", name="name_pinyin+birth_date"),
    BlockingRule("name_key+birth_year+address_key", ("name_key", BIRTH_YEAR, "address_key")),
    BlockingRule("phone+birth_year", ("phone", BIRTH_YEAR), max_block=50),
    # stack-notes §11: the misses left are birth-date typo + no ID + stale phone.
    block_on("name_pinyin", "address_key", name="name_pinyin+address_key", max_block=50),
)
HOUSE_RULES = (
    block_on("address_key", max_block=50),
    block_on("compound", "building", "unit", "room", name="compound+building+unit+room", max_block=50),
    block_on("owner_id_number", max_block=50),
)
DEFAULT_RULES = {"person": PERSON_RULES, "house": HOUSE_RULES}


def input_view_sql(table: str, columns: list[str] | tuple[str, ...]) -> str:
    """The view the rules read: record id plus the text columns (typed VARCHAR even when a
    column is all null)."""
    cols = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in columns)
    return f"CREATE OR REPLACE TEMP VIEW {INPUT_VIEW} AS SELECT {RECORD_ID}, {cols} FROM {table}"


def _check_names(rules) -> None:
    if not rules:
        raise ValueError("no blocking rules")
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"blocking rule names must be unique: {names}")


def id_ranks(records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(`record_id`s in DuckDB/Python string order, each record's rank in it). Ranks compare like
    the ids (`l_id < r_id`, ORDER BY), so the SQL can join and sort int32 instead of text."""
    ids = pa.array(records[RECORD_ID].to_numpy(dtype=object), type=pa.string())
    order = pc.sort_indices(ids).to_numpy()               # binary (code point) order, as VARCHAR
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return records[RECORD_ID].to_numpy(dtype=object)[order], rank


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection | None, records: pd.DataFrame,
                rank: np.ndarray | None = None):
    """`records` registered on `con` (or on a new in-memory connection, closed afterwards) as an
    Arrow table with every text column typed string (a pandas object column would have its type
    guessed from a sample, wrong for a mostly-null one), and the blocking view over it. With
    `rank` (see `id_ranks`) the view's `record_id` is that int32 rank instead of the text id."""
    own = con is None
    con = duckdb.connect() if own else con
    table = f"__gb_records_{uuid.uuid4().hex[:8]}"
    columns = [c for c in records.columns if c != RECORD_ID and records[c].dtype == object]
    ids = (pa.array(rank, type=pa.int32()) if rank is not None
           else pa.array(records[RECORD_ID].to_numpy(dtype=object), type=pa.string()))
    con.register(table, pa.table({RECORD_ID: ids, **{c: pa.array(records[c].to_numpy(dtype=object), type=pa.string())
                                                     for c in columns}}))
    try:
        con.execute(input_view_sql(table, columns))
        yield con
    finally:
        con.execute(f"DROP VIEW IF EXISTS {INPUT_VIEW}")
        con.unregister(table)
        if own:
            con.close()


def run_blocking(records: pd.DataFrame, rules=None, entity: str = "person",
                 con: duckdb.DuckDBPyConnection | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidate pairs and the blocking report in one pass: per rule, its distinct keys and its
    shared blocks are materialised once and give both its pairs and its block statistics; every
    rule's pairs go to one temp table, then are de-duplicated and counted from it."""
    rules = tuple(rules or DEFAULT_RULES[entity])
    _check_names(rules)
    tag = uuid.uuid4().hex[:8]
    tmp = f"__gb_rule_pairs_{tag}"
    keys_t, blocks_t = f"__gb_keys_{tag}", f"__gb_blocks_{tag}"
    sorted_ids, rank = id_ranks(records)
    with _registered(con, records, rank) as c:
        try:
            c.execute(f"CREATE TEMP TABLE {tmp} (l_id INTEGER, r_id INTEGER, rule_order INTEGER)")
            stats = []
            for i, r in enumerate(rules):         # each rule's keys materialised once, for pairs and stats
                c.execute(f"CREATE OR REPLACE TEMP TABLE {keys_t} AS {r.distinct_keys_sql()}")
                c.execute(f"CREATE OR REPLACE TEMP TABLE {blocks_t} AS {r.shared_blocks_sql(keys_t)}")
                c.execute(f"INSERT INTO {tmp} SELECT l_id, r_id, {i} FROM ({r.staged_pairs_sql(keys_t, blocks_t)})")
                stats.append(c.sql(r.staged_stats_sql(keys_t, blocks_t)).df())
            ranked = c.sql(f"SELECT l_id, r_id, min(rule_order) AS rule_order "
                           f"FROM {tmp} GROUP BY l_id, r_id ORDER BY l_id, r_id").fetchnumpy()
            counts = dict(c.sql(f"SELECT rule_order, count(*) FROM {tmp} GROUP BY rule_order").fetchall())
        finally:
            for t in (tmp, keys_t, blocks_t):
                c.execute(f"DROP TABLE IF EXISTS {t}")
    stats = pd.concat(stats, ignore_index=True)
    names = np.array([r.name for r in rules], dtype=object)
    pairs = pd.DataFrame({"l_id": sorted_ids[np.asarray(ranked["l_id"], dtype=np.int64)],
                          "r_id": sorted_ids[np.asarray(ranked["r_id"], dtype=np.int64)],
                          "rule": names[np.asarray(ranked["rule_order"], dtype=np.int64)]})
    first = pairs["rule"].value_counts()
    report = pd.DataFrame({"rule": [r.name for r in rules], "keys": [" + ".join(r.keys) for r in rules],
                           "max_block": [r.max_block for r in rules],
                           "pairs": [int(counts.get(i, 0)) for i in range(len(rules))],
                           "new_pairs": [int(first.get(r.name, 0)) for r in rules]})
    for col in ("blocks", "skipped_blocks", "skipped_records", "largest_block"):
        report[col] = stats[col].astype("int64").to_numpy()
    report["largest_blocks"] = [list(v) if isinstance(v, (list, tuple, np.ndarray)) else []
                                for v in stats["largest_blocks"]]
    return pairs, report


def shared_blocks(records: pd.DataFrame, l_id: str, r_id: str, rules) -> list[list[int]]:
    """Per rule, the sizes (over all of `records`) of the blocks that hold both records; an empty
    list where the rule does not pair them. The pair is compared by a rule when one of its sizes
    is at most the rule's `max_block`. Answers "why was this pair (not) compared?"."""
    out = []
    with _registered(None, records) as con:
        for rule in rules:
            names = ", ".join(f"k{i}" for i in range(len(rule.keys)))
            rows = con.execute(f"SELECT id, {names}, block_n FROM ({rule.keyed_sql()}) WHERE id IN (?, ?)",
                               [l_id, r_id]).fetchall()
            left = {tuple(r[1:-1]): int(r[-1]) for r in rows if r[0] == l_id}
            right = {tuple(r[1:-1]) for r in rows if r[0] == r_id}
            out.append(sorted(n for k, n in left.items() if k in right))
    return out


def candidate_pairs(records: pd.DataFrame, rules=None, entity: str = "person",
                    con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """Candidate pairs `(l_id, r_id, rule)` of prepared records (see `records.prepare_records`),
    cross- and within-source, `l_id < r_id`, each pair once, keeping the first rule that found it."""
    return run_blocking(records, rules, entity, con)[0]


def blocking_report(records: pd.DataFrame, rules=None, entity: str = "person",
                    con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """One row per rule: `keys`, `max_block`, `pairs` (distinct pairs the rule finds on its own),
    `new_pairs` (pairs it found first, after the rules before it), `blocks`, `skipped_blocks`
    (oversize, never compared) and `skipped_records` in them, `largest_block` and the three
    largest blocks as `key (n)`. Run it before scoring to see what a rule set costs."""
    return run_blocking(records, rules, entity, con)[1]
