"""The stable-id allocator's persisted state, beside the run log in `state.sqlite` (SQLite, WAL).

* `id_issue`: per entity and run, the id numbers the run issued (`first_no`..`last_no`; `issued_at` is kept
  for the audit trail only, nothing reads it). The largest `last_no` is the counter: new ids continue after
  it, so a number freed by a deleted or merged entity is never issued again (the previous xref no longer
  holds it). The counter lives here, not only in the warehouse, so a warehouse restored from an older backup
  while `state.sqlite` survives cannot make the allocator hand out ids issued after that backup (steward
  decisions made on them would land on someone else). Rows of failed runs count too: their numbers were
  never published, skipping them is harmless.
* `id_lineage`: per entity and run, the ids the run retired (`other_id` = the id they merged into, NULL
  when all their records are gone) and the new ids that split off an old one (`other_id` = that old id).
  Only events of successful runs (and of the run asking) are read back: a failed run published nothing.

Both tables are append-only. While the counter is 0 (no id issued yet, or a warehouse that predates this
table), `history_max` (the largest id ever published, from the warehouse's `<entity>_history`) seeds it
(`counter`).
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from warehouse.state import State, now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS id_issue (
    entity TEXT NOT NULL, run_id TEXT NOT NULL, first_no INTEGER NOT NULL, last_no INTEGER NOT NULL,
    issued_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS id_lineage (
    entity TEXT NOT NULL, run_id TEXT NOT NULL, id TEXT NOT NULL, event TEXT NOT NULL, other_id TEXT,
    at TEXT NOT NULL, PRIMARY KEY (entity, run_id, id, event));
CREATE TRIGGER IF NOT EXISTS id_issue_no_update BEFORE UPDATE ON id_issue
    BEGIN SELECT RAISE(ABORT, 'id_issue is append-only'); END;
CREATE TRIGGER IF NOT EXISTS id_lineage_no_update BEFORE UPDATE ON id_lineage
    BEGIN SELECT RAISE(ABORT, 'id_lineage is append-only'); END;
"""


class IdState:
    def __init__(self, directory: Path):
        self._state = State(directory)           # creates the directory and run_log
        self.path = self._state.path
        with self._state._connect() as con:
            con.executescript(_SCHEMA)

    def issued_max(self, entity: str) -> int:
        """The largest id number ever issued for `entity` (0 before any)."""
        with self._state._connect() as con:
            got = con.execute("SELECT max(last_no) FROM id_issue WHERE entity = ?", (entity,)).fetchone()[0]
        return int(got or 0)

    def counter(self, entity: str, warehouse_path: Path, prefix: str) -> int:
        """The number new ids continue after: `issued_max`, or — while that is 0 — the largest id the
        warehouse ever published (`history_max`, read only then)."""
        return self.issued_max(entity) or history_max(warehouse_path, entity, prefix)

    def record(self, entity: str, run_id: str, first_no: int, last_no: int, events: pd.DataFrame) -> None:
        """What one run's id assignment did: the numbers it issued (none when `last_no < first_no`) and its
        lineage `events` (`id`, `event`, `other_id`). A retried step adds its own range; an event already
        recorded for the run is kept as it was."""
        at = now()
        rows = [(entity, run_id, str(i), str(e), None if o is None or o != o else str(o), at)
                for i, e, o in events[["id", "event", "other_id"]].itertuples(index=False)]
        with self._state._connect() as con:
            if last_no >= first_no:
                con.execute("INSERT INTO id_issue VALUES (?, ?, ?, ?, ?)",
                            (entity, run_id, int(first_no), int(last_no), at))
            con.executemany("INSERT OR IGNORE INTO id_lineage VALUES (?, ?, ?, ?, ?, ?)", rows)

    def lineage(self, entity: str, run_id: str | None = None) -> pd.DataFrame:
        """Lineage events (`id`, `event`, `other_id`) of the successful runs and of `run_id`, oldest first."""
        with self._state._connect() as con:
            df = pd.read_sql_query(
                "SELECT l.id, l.event, l.other_id FROM id_lineage l LEFT JOIN run_log r ON r.run_id = l.run_id "
                "WHERE l.entity = ? AND (r.status = 'success' OR l.run_id = ?) ORDER BY l.at, l.rowid",
                con, params=(entity, run_id or ""))
        return df.astype(object).where(df.notna(), None)


def history_max(warehouse_path: Path, entity: str, prefix: str) -> int:
    """The largest id number the published warehouse ever held for `entity`: its `<entity>_history` holds every
    golden row of every published run (the previous xref's ids are counted by `assign_ids` itself); 0 without
    a warehouse or a history table."""
    path = Path(warehouse_path)
    if not path.exists():
        return 0
    key, table = f"{entity}_id", f"{entity}_history"
    con = duckdb.connect(str(path), read_only=True)
    try:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchone()[0]:
            return 0
        got = con.execute(f'SELECT max(TRY_CAST(substr({key}, {len(prefix) + 1}) AS BIGINT)) FROM "{table}" '
                          f"WHERE starts_with({key}, ?)", [prefix]).fetchone()[0]
        return int(got or 0)
    finally:
        con.close()
