"""Where the console reads from and writes to: the published warehouse (DuckDB, read-only, one connection per
call) and `<state dir>/state.sqlite` (`warehouse.state.State`: the decisions, the run log).

A sync replaces the warehouse file atomically (os.replace), so a connection is opened for one call and closed:
it sees either the old or the new file, never half of one, and never keeps an old file alive across requests.
Decisions are read from SQLite (WAL) at each call, so a decision shows at once even though the warehouse only
applies it at the next sync. `state(config)` is the one `State` of a state dir for the console, the CLI and
decisions alike.
"""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import duckdb
import pandas as pd

from steward.decisions_model import CONFLICT_KINDS, PAIR, latest
from warehouse.state import State

ENTITY_ID = {"person": "person_id", "house": "house_id"}


class NoWarehouse(LookupError):
    """No published warehouse yet (no successful sync)."""


@contextlib.contextmanager
def warehouse(config):
    """A read-only DuckDB connection on the published warehouse, closed on exit."""
    path = Path(config.warehouse_path)
    if not path.exists():
        raise NoWarehouse("还没有已发布的数据仓库：请先运行一次同步（gridbridge sync）")
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


@functools.lru_cache(maxsize=32)
def _state_at(state_dir: str) -> State:
    return State(Path(state_dir))


def state(config) -> State:
    """The `State` of the config's state dir (made once per dir: State opens a connection per call)."""
    return _state_at(str(Path(config.state_dir).resolve()))


def decisions(config) -> pd.DataFrame:
    """Every row of `steward_decision`, oldest first (`State.decisions()`)."""
    frame = state(config).decisions()
    frame["decision_id"] = frame["decision_id"].astype("int64")
    return frame


def in_force(frame: pd.DataFrame, kinds) -> pd.DataFrame:
    """Per target the latest decision of `kinds` still in force (decisions_model.latest), typed for DuckDB."""
    cols = ["target", "decision_id", "kind", "value", "decided_by", "decided_at"]
    d = latest(frame, tuple(kinds)) if len(frame) else frame
    if d is None or d.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "decision_id" else "object") for c in cols})
    return d[cols].reset_index(drop=True)


def conflict_decisions(frame: pd.DataFrame) -> pd.DataFrame:
    return in_force(frame, CONFLICT_KINDS)


def pair_decisions(frame: pd.DataFrame) -> pd.DataFrame:
    return in_force(frame, (PAIR,))


def published(con) -> dict:
    """The published run: run_seq, run_id, published_at, started_at (of that run), and decisions_known (the
    highest decision_id the warehouse's copy of steward_decision holds: later ones were made after it)."""
    row = con.execute("SELECT run_seq, run_id, published_at FROM publish_history ORDER BY run_seq DESC LIMIT 1").fetchone()
    info = dict(zip(("run_seq", "run_id", "published_at"), row)) if row else \
        {"run_seq": None, "run_id": None, "published_at": None}
    started = con.execute("SELECT started_at FROM run_log WHERE run_id = ?", [info["run_id"]]).fetchone()
    info["started_at"] = started[0] if started else None
    info["decisions_known"] = int(con.execute("SELECT coalesce(max(decision_id), 0) FROM steward_decision").fetchone()[0])
    return info


def history_of(frame: pd.DataFrame, targets: list[str]) -> list[dict]:
    """The decisions on `targets` and the undos of them, oldest first, each with `undone_by` (the undo in force
    that cancels it, or None) — the history shown beside a conflict or a pair."""
    from steward.decisions_model import UNDO, undone_ids
    mine = frame[frame["target"].isin(targets)]
    ids = {str(i) for i in mine["decision_id"]}
    undos = frame[(frame["kind"] == UNDO) & frame["target"].astype(str).isin(ids)]
    rows = pd.concat([mine, undos]).sort_values("decision_id")
    gone = undone_ids(frame)
    undo_of = {int(t): int(d) for d, t in zip(undos["decision_id"], undos["target"]) if int(d) not in gone}
    out = []
    for r in rows.to_dict("records"):
        r = {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        r["decision_id"] = int(r["decision_id"])
        r["undone"] = r["decision_id"] in gone
        r["undone_by"] = undo_of.get(r["decision_id"]) if r["undone"] else None
        out.append(r)
    return out
