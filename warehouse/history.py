"""Golden-record history: every published run's `person` and `house` state stays queryable.

Each publish builds a new warehouse file (publish.py). The history tables are carried over from the
previous file and extended, type-2 style, with only what changed:

* `publish_history(run_seq, run_id, published_at)`: one row per published run, `run_seq` 1, 2, 3 …
* `person_history` / `house_history`: the golden columns, `row_hash` (MD5 of the row's JSON without
  `run_id`), `valid_from_seq` (the run that published this version) and `valid_to_seq` (the first run
  that no longer has it; NULL while current).

A version is closed when its entity disappears or any golden value changes; the new values open a
new version. So "the state as of run k" is `valid_from_seq <= k AND (valid_to_seq IS NULL OR
valid_to_seq > k)` (table macros `person_as_of(run_id)` / `house_as_of(run_id)`), and "what changed
last night" is the view `v_person_changes` / `v_house_changes` (added / changed / removed in the
latest run). Everything is SQL on the building connection; the previous file is attached read-only.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

ENTITIES = {"person": "person_id", "house": "house_id"}
PREV = "__gb_prev"


def _has_table(con: duckdb.DuckDBPyConnection, catalog: str, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
                            [catalog, name]).fetchone()[0])


def attach_previous(con: duckdb.DuckDBPyConnection, previous: Path) -> bool:
    """Attach the current warehouse file read-only as the history source (outside any transaction)."""
    if not Path(previous).exists():
        return False
    con.execute(f"ATTACH '{Path(previous).as_posix()}' AS {PREV} (READ_ONLY)")
    return True


def detach_previous(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DETACH DATABASE IF EXISTS {PREV}")


def build_history(con: duckdb.DuckDBPyConnection, attached: bool, run_id: str, published_at: str) -> int:
    """Create `publish_history` and the entity history tables in `con` (the new warehouse, golden tables
    already loaded), carrying over those of the previous warehouse when it is `attached`
    (`attach_previous`). Returns this run's `run_seq`."""
    carry = attached and _has_table(con, PREV, "publish_history")
    con.execute("CREATE TABLE publish_history (run_seq INTEGER NOT NULL, run_id VARCHAR NOT NULL, "
                "published_at VARCHAR)")
    if carry:
        con.execute(f"INSERT INTO publish_history SELECT * FROM {PREV}.publish_history")
    seq = con.execute("SELECT coalesce(max(run_seq), 0) + 1 FROM publish_history").fetchone()[0]
    con.execute("INSERT INTO publish_history VALUES (?, ?, ?)", [seq, run_id, published_at])
    for entity, key in ENTITIES.items():
        _entity_history(con, entity, key, seq, carry and _has_table(con, PREV, f"{entity}_history"))
    return int(seq)


def _entity_history(con: duckdb.DuckDBPyConnection, entity: str, key: str, seq: int, carry: bool) -> None:
    hist = f"{entity}_history"
    cur = f"__gb_{entity}_current"
    con.execute(f"CREATE TEMP TABLE {cur} AS SELECT t.*, md5(to_json(t)::VARCHAR) AS row_hash "
                f"FROM (SELECT * EXCLUDE (run_id) FROM \"{entity}\") t")
    con.execute(f"CREATE TABLE {hist} AS SELECT *, {seq} AS valid_from_seq, CAST(NULL AS INTEGER) AS valid_to_seq "
                f"FROM {cur} LIMIT 0")
    if carry:
        old = f"{PREV}.{hist}"
        # closed versions stay; open ones are closed now when their entity is gone or changed
        con.execute(f"INSERT INTO {hist} BY NAME SELECT * FROM {old} WHERE valid_to_seq IS NOT NULL")
        con.execute(f"INSERT INTO {hist} BY NAME SELECT h.* REPLACE (CASE WHEN c.row_hash IS NOT DISTINCT FROM "
                    f"h.row_hash THEN NULL ELSE {seq} END AS valid_to_seq) FROM {old} h "
                    f"LEFT JOIN {cur} c ON c.{key} = h.{key} WHERE h.valid_to_seq IS NULL")
        new = (f"SELECT c.* FROM {cur} c LEFT JOIN {old} h ON h.{key} = c.{key} AND h.valid_to_seq IS NULL "
               f"WHERE h.row_hash IS DISTINCT FROM c.row_hash")
    else:
        new = f"SELECT * FROM {cur}"
    con.execute(f"INSERT INTO {hist} BY NAME SELECT *, {seq} AS valid_from_seq, "
                f"CAST(NULL AS INTEGER) AS valid_to_seq FROM ({new})")
    con.execute(f"DROP TABLE {cur}")


def as_of_macro_sql(entity: str) -> str:
    """Table macro `<entity>_as_of(run_id)`: the golden `entity` rows as that run published them."""
    return f"""
CREATE MACRO {entity}_as_of(rid) AS TABLE
    SELECT h.* EXCLUDE (row_hash, valid_from_seq, valid_to_seq) FROM {entity}_history h,
           (SELECT run_seq FROM publish_history WHERE run_id = rid) r
    WHERE h.valid_from_seq <= r.run_seq AND (h.valid_to_seq IS NULL OR h.valid_to_seq > r.run_seq);
"""


def history_views_sql() -> str:
    """The as-of macros and the changes views of every entity."""
    return "".join(as_of_macro_sql(e) + changes_view_sql(e, k) for e, k in ENTITIES.items())


def changes_view_sql(entity: str, key: str) -> str:
    """Entities added, changed or removed by the latest run. A changed entity shows its new values' key and
    `changed_fields`, the golden columns whose value differs from the version it replaced."""
    bookkeeping = "EXCLUDE (row_hash, valid_from_seq, valid_to_seq)"
    return f"""
CREATE VIEW v_{entity}_changes AS
WITH last AS (SELECT max(run_seq) AS s FROM publish_history),
now AS (SELECT h.* {bookkeeping} FROM {entity}_history h, last WHERE h.valid_from_seq = last.s),
gone AS (SELECT h.* {bookkeeping} FROM {entity}_history h, last WHERE h.valid_to_seq = last.s),
nj AS (SELECT {key}, to_json(now) AS j FROM now),
gj AS (SELECT {key}, to_json(gone) AS j FROM gone)
SELECT CASE WHEN g.{key} IS NULL THEN 'added' ELSE 'changed' END AS change, n.{key},
       CASE WHEN g.{key} IS NOT NULL THEN list_sort(list_filter(json_keys(n.j), lambda k:
           json_extract(n.j, '$."' || k || '"') IS DISTINCT FROM json_extract(g.j, '$."' || k || '"'))) END
           AS changed_fields
FROM nj n LEFT JOIN gj g USING ({key})
UNION ALL
SELECT 'removed', g.{key}, NULL FROM gj g LEFT JOIN nj n USING ({key}) WHERE n.{key} IS NULL;
"""
