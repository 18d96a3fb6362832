"""Operational state beside the warehouse (SQLite, WAL): run log and the stewards' decisions.

Kept outside the DuckDB warehouse on purpose: a failed run records itself without touching the
published warehouse file, and the steward console appends decisions while a sync is building the next
warehouse (SQLite WAL gives one writer + many readers without "database locked" pages).
`steward_decision` is append-only: triggers refuse UPDATE and DELETE.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import sqlite3
from pathlib import Path

import pandas as pd

from warehouse.files import owner_only

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_log (
    run_id TEXT PRIMARY KEY, started_at TEXT, finished_at TEXT, status TEXT, stage TEXT,
    message TEXT, counts TEXT, gates TEXT, forced_reason TEXT);
CREATE TABLE IF NOT EXISTS steward_decision (
    decision_id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL,
    value TEXT, police_value TEXT, grid_value TEXT, decided_by TEXT NOT NULL, decided_at TEXT NOT NULL,
    reason TEXT);
CREATE TRIGGER IF NOT EXISTS steward_decision_no_update BEFORE UPDATE ON steward_decision
    BEGIN SELECT RAISE(ABORT, 'steward_decision is append-only'); END;
CREATE TRIGGER IF NOT EXISTS steward_decision_no_delete BEFORE DELETE ON steward_decision
    BEGIN SELECT RAISE(ABORT, 'steward_decision is append-only'); END;
"""


def now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


@contextlib.contextmanager
def connect(path):
    """A connection to the state file (WAL, 30 s busy timeout) for one transaction: committed when the block ends,
    rolled back on an exception, and always closed, so no connection outlives its block (its -wal/-shm files are
    then removed at a known moment, not whenever the garbage collector gets to it)."""
    con = sqlite3.connect(path, timeout=30)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        with con:
            yield con
    finally:
        con.close()


class State:
    def __init__(self, directory: Path):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "state.sqlite"
        with owner_only():  # the run log and decisions: owner-only (SQLite gives -wal/-shm the file's mode)
            with self._connect() as con:
                con.executescript(_SCHEMA)
        for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            if p.exists():
                p.chmod(0o600)

    def _connect(self):
        return connect(self.path)

    # --- run log -----------------------------------------------------------------------------
    def record_run(self, run_id: str, **fields) -> None:
        fields = {k: json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (dict, list)) else v
                  for k, v in fields.items()}
        cols = ["run_id", *fields]
        with self._connect() as con:
            con.execute(
                f"INSERT INTO run_log ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                f"ON CONFLICT(run_id) DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in fields),
                [run_id, *fields.values()])

    def runs(self, limit: int | None = None) -> pd.DataFrame:
        with self._connect() as con:
            q = "SELECT * FROM run_log ORDER BY started_at DESC, rowid DESC" + (f" LIMIT {int(limit)}" if limit else "")
            return pd.read_sql_query(q, con)

    def last_successful_run(self) -> dict | None:
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            row = con.execute("SELECT * FROM run_log WHERE status='success' ORDER BY finished_at DESC, rowid DESC LIMIT 1").fetchone()
        return dict(row) if row else None

    # --- steward decisions -------------------------------------------------------------------
    def add_decision(self, kind: str, target: str, value: str | None, decided_by: str, *,
                     police_value: str | None = None, grid_value: str | None = None,
                     reason: str | None = None) -> int:
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO steward_decision (kind, target, value, police_value, grid_value, decided_by, "
                "decided_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, target, value, police_value, grid_value, decided_by, now(), reason))
            return int(cur.lastrowid)

    def add_decisions(self, rows) -> list[int]:
        """Append decisions in one transaction: all of them or none. `rows`: dicts with add_decision's fields
        (`kind`, `target`, `value`, `decided_by`; optional `police_value`, `grid_value`, `reason`). Returns their
        decision ids in the order of `rows` (consecutive: the transaction holds SQLite's write lock throughout)."""
        at = now()
        values = [(r["kind"], r["target"], r.get("value"), r.get("police_value"), r.get("grid_value"),
                   r["decided_by"], at, r.get("reason")) for r in rows]
        if not values:
            return []
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.executemany(
                "INSERT INTO steward_decision (kind, target, value, police_value, grid_value, decided_by, "
                "decided_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
            last = int(con.execute("SELECT last_insert_rowid()").fetchone()[0])
        return list(range(last - len(values) + 1, last + 1))

    def decisions(self) -> pd.DataFrame:
        with self._connect() as con:
            return pd.read_sql_query("SELECT * FROM steward_decision ORDER BY decision_id", con)

    # --- one sync at a time; runs a killed process left open -----------------------------------
    @contextlib.contextmanager
    def sync_lock(self):
        """Hold `<state dir>/.sync.lock` for one sync (`flock`, non-blocking): a second sync on the same warehouse
        fails at once with SyncLockedError naming the holder's pid. The kernel drops the lock when the holding
        process ends, however it ends, so a killed sync never leaves it held."""
        fd = os.open(self.path.parent / SYNC_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                raise SyncLockedError(f"another sync is running (pid {holder}); try again later") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    def repair_interrupted(self, published_run_ids: set[str]) -> list[str]:
        """Close the run-log rows that a killed or crashed process left `running`/`publishing`: `success` when the
        run is in the current warehouse's `publish_history` (its file was swapped in before the process ended),
        else `interrupted`. Call it only under `sync_lock()`, when no run can be live. Returns the run ids closed."""
        with self._connect() as con:
            ids = [r[0] for r in con.execute(
                f"SELECT run_id FROM run_log WHERE status IN ({', '.join('?' * len(UNFINISHED))}) "
                f"ORDER BY started_at", UNFINISHED)]
            for run_id in ids:
                if run_id in published_run_ids:
                    con.execute("UPDATE run_log SET status = 'success', stage = 'done', message = ?, "
                                "finished_at = coalesce(finished_at, ?) WHERE run_id = ?",
                                (PUBLISHED_BEFORE_END, now(), run_id))
                else:
                    con.execute("UPDATE run_log SET status = 'interrupted', message = ? WHERE run_id = ?",
                                (INTERRUPTED, run_id))
        return ids


SYNC_LOCK = ".sync.lock"
UNFINISHED = ("running", "publishing")
INTERRUPTED = "process ended without finishing (killed or crashed); the warehouse was left as it was"
PUBLISHED_BEFORE_END = "published; the process ended before it finished (no run report)"


class SyncLockedError(RuntimeError):
    """Another sync holds the state directory's lock. One-line message with its pid."""
