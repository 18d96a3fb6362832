"""Atomic publish: build the complete new warehouse beside the old one, then swap it in by rename.

Readers that already have the old file open keep reading it (same inode); new readers see the new
file. A crash before the rename leaves the previous warehouse as it was (plus a `.building` file that the
next publish removes first), a crash after it the complete new one. Nothing is ever written into the live file.
"""
from __future__ import annotations

import datetime as dt
import os
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.files import owner_only, pause_point
from warehouse.history import attach_previous, build_history, detach_previous, history_views_sql
from warehouse.tables import TABLES, ddl


def building_path(path: Path, run_id: str) -> Path:
    return path.with_name(f".{path.name}.{run_id}.building")


def remove_stale_builds(path: Path) -> list[Path]:
    stale = list(path.parent.glob(f".{path.name}.*.building")) + list(path.parent.glob(f".{path.name}.*.building.wal"))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@owner_only()  # the build and its WAL are owner-only from the first byte
def publish(path: Path, tables: dict[str, pd.DataFrame], run_id: str) -> Path:
    """Write every table in TABLES (missing frames become empty tables), the golden-record history carried
    over from the current warehouse (history.py) and the views, then swap."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(path)
    tmp = building_path(path, run_id)
    con = duckdb.connect(str(tmp))
    try:
        attached = attach_previous(con, path)
        con.execute("BEGIN")
        for name in TABLES:
            con.execute(ddl(name))
            frame = tables.get(name)
            if frame is not None and len(frame):
                cols = [c for c, _ in TABLES[name] if c in frame.columns]
                con.register("_frame", frame[cols])
                con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM _frame')
                con.unregister("_frame")
        build_history(con, attached, run_id, dt.datetime.now().astimezone().isoformat(timespec="seconds"))
        con.execute(resources.files("warehouse").joinpath("views.sql").read_text(encoding="utf-8"))
        con.execute(history_views_sql())
        con.execute("COMMIT")
        detach_previous(con)
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    _fsync(tmp)
    pause_point("publish_build")
    os.replace(tmp, path)
    pause_point("publish_swapped")
    _fsync(path.parent)
    return path


def read_table(path: Path, name: str) -> pd.DataFrame | None:
    """A table of the published warehouse, or None if there is no warehouse yet (read-only)."""
    path = Path(path)
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f'SELECT * FROM "{name}"').df()
    finally:
        con.close()


def published_run_ids(path: Path) -> set[str]:
    """The run ids in the published warehouse's `publish_history` (empty when there is no warehouse or history)."""
    path = Path(path)
    if not path.exists():
        return set()
    con = duckdb.connect(str(path), read_only=True)
    try:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'publish_history'").fetchone()[0]:
            return set()
        return {r[0] for r in con.execute("SELECT run_id FROM publish_history").fetchall()}
    finally:
        con.close()
