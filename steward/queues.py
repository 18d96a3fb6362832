"""The stewards' work queues: open conflicts and match reviews, filtered, scoped and sorted by impact.

Read-only: the published warehouse (DuckDB, read-only, opened for the call and closed, store.py) joined with the
decisions in state.sqlite, so a decision made since the last sync shows at once ("decided, applies at the next
sync"). What comes from the warehouse only changes when a sync swaps the file in, so it is read once per published
file (keyed by the file's inode, size and mtime; a swapped-in file is read afresh on the next call) and kept in
memory; the decisions are read at every call. A queue page is then a filter and a sort of a small frame. The
console server keeps the snapshots warm (`keep_warm`: re-read within 2 s of a sync swapping a new file in), so no
steward pays for the first read; a detail page of an open conflict or pair takes its row from them too.

**State** of a queue row (`state`, `state_label`):
- `open` — nobody decided; `reopened` — a decision was made on values that have since changed at the source
  (the warehouse keeps its decision_id on the open conflict): decide again;
- `field_visit` — 转网格员核实: stays in the queue, marked; `pending` — a decision newer than the warehouse
  (applies at the next sync): left out of the queue unless asked for (`state="pending"` or `"all"`);
- reviews: `open`, `escalated` (不确定: stays, marked), `pending` (same/different decided, applies at the next sync).

**Age** (`age_days`, `first_seen`): days since the conflict's golden field last changed, read from the golden
history: the publish (`publish_history.published_at`) of the oldest version of the entity since which, without a
gap, the field's golden value and `<field>_source` stayed as they are now (for `birth_date~id_number`, also the ID
number). An open steward conflict keeps the police value with no source, so a change of the police value, a
decision or a reopening starts a new age. A change of the grid value alone does not: the golden history keeps only
the chosen value, so such a conflict keeps the age it had. A review's age counts from the later first publish of
its two records' entities.

**Impact** (`impact`, larger first; ties: conflict_id / pair_id): identity fields first (ID number, name, birth
date, sex and their ID cross-checks; a house's address and owner's ID), then contact/residence fields (phone,
addresses, owner), then the rest (`tier` 0/1/2); within a tier entities known to both systems, then more
household members (persons sharing the golden house; a house's residents), then older. Reviews: pairs across
the two systems before within-source duplicates, then more household members, then older, then probability.

Scope: a user's `scopes` (grid_code / community prefixes; empty = everything) keep rows whose grid_code or
community (a person's grid cell and the community of their golden house) starts with one of them.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field as dc_field

import numpy as np
import pandas as pd

from steward.detail import clean_value, conflict_detail, review_detail  # noqa: F401  (part of this module's API)
from steward.queue_sql import conflict_table, review_table
from steward.store import conflict_decisions, decisions, pair_decisions, published, warehouse
from steward.values import field_label

IDENTITY = ("id_number", "name", "birth_date", "sex", "birth_date~id_number", "sex~id_number", "address",
            "owner_id_number")
CONTACT = ("phone", "current_address", "hukou_address", "owner_name", "owner_phone")
STATE_LABELS = {"open": "待处理", "reopened": "值已变化，需重新决定", "field_visit": "已转网格员核实",
                "pending": "已决定，下次同步生效", "escalated": "已上报（不确定）"}
REVIEW_STATE_LABELS = STATE_LABELS | {"reopened": "已判定但未能生效，请重新判定"}
ENTITY_LABELS = {"person": "人员", "house": "房屋"}
MAX_LIMIT = 1000
DAY = 86400.0


@dataclass
class Page:
    items: list[dict]
    total: int
    limit: int
    offset: int
    warehouse: dict = dc_field(default_factory=dict)      # run_seq, run_id, published_at of the published run
    fields: dict = dc_field(default_factory=dict)         # conflicts: {field: rows} under every filter but `field`


# --- the warehouse part, once per published file -------------------------------------------------
_cache: dict[tuple[str, str], tuple[tuple, pd.DataFrame, dict]] = {}
_lock = threading.Lock()


def _identity(path) -> tuple | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _snapshot(config, kind: str) -> tuple[pd.DataFrame, dict]:
    """The open conflicts (`kind="conflicts"`) or open review pairs (`"reviews"`) of the published warehouse."""
    path = str(config.warehouse_path)
    key = (path, kind)
    before = _identity(path)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and before is not None and hit[0] == before:
            return hit[1], hit[2]
    with warehouse(config) as con:
        frame = conflict_table(con) if kind == "conflicts" else review_table(con)
        info = published(con)
    if before is not None and _identity(path) == before:    # not swapped while we read: keep it
        with _lock:
            _cache[key] = (before, frame, info)
    return frame, info


def _cached(config, kind: str, column: str, ids: list[str]) -> tuple[pd.DataFrame, dict] | None:
    """Rows `ids` of the in-memory snapshot when it is warm for the current warehouse file and has them all (open
    conflicts / reviews): a detail page then skips its one-row queue query. None otherwise."""
    path = str(config.warehouse_path)
    with _lock:
        hit = _cache.get((path, kind))
    if hit is None or hit[0] != _identity(path):
        return None
    rows = hit[1][hit[1][column].isin(ids)]
    return (rows, hit[2]) if rows[column].nunique() == len(set(ids)) else None


def warm(config) -> bool:
    """Read both queue snapshots if the published warehouse is new since they were read; True if it read."""
    path = str(config.warehouse_path)
    ident = _identity(path)
    if ident is None:
        return False
    with _lock:
        fresh = all((hit := _cache.get((path, kind))) is not None and hit[0] == ident
                    for kind in ("conflicts", "reviews"))
    if fresh:
        return False
    for kind in ("conflicts", "reviews"):
        _snapshot(config, kind)
    return True


def keep_warm(config, every: float = 2.0) -> threading.Thread:
    """A daemon thread that re-reads the snapshots within `every` seconds of a sync swapping a new warehouse in,
    so the first steward after a sync does not wait for them (the console server starts it)."""
    log = logging.getLogger("gridbridge.steward")

    def loop():
        while True:
            try:
                if warm(config):
                    log.info("queues read from the newly published warehouse")
            except Exception:  # noqa: BLE001  a sync mid-swap, a missing file: the next round tries again
                log.debug("warming the queues failed", exc_info=True)
            time.sleep(every)
    thread = threading.Thread(target=loop, name="gridbridge-queue-warmer", daemon=True)
    thread.start()
    return thread


def clear_cache() -> None:
    with _lock:
        _cache.clear()


# --- decisions → state, age, impact ----------------------------------------------------------------
def _age(frame: pd.DataFrame, now) -> pd.Series:
    now = float(now if now is not None else time.time())
    return np.floor((now - frame["first_seen_epoch"].astype(float)) / DAY).clip(lower=0).astype("Int64")


def conflict_rows(frame: pd.DataFrame, dec: pd.DataFrame, now=None) -> pd.DataFrame:
    """`frame` (queue_sql.conflict_table) with the decision in force on each conflict, its state, age and impact."""
    d = dec.rename(columns={"target": "conflict_id", "kind": "decision_kind", "value": "decision_value"})
    out = frame.merge(d, on="conflict_id", how="left")
    kind = out["decision_kind"]
    same = out["decision_id"].astype("float") == out["wh_decision_id"].astype("float")
    out["state"] = np.select([kind == "field_visit", (kind == "conflict") & same, kind == "conflict"],
                             ["field_visit", "reopened", "pending"], "open")
    out["tier"] = np.select([out["field"].isin(IDENTITY), out["field"].isin(CONTACT)], [0, 1], 2)
    out["age_days"] = _age(out, now)
    out["impact"] = ((2 - out["tier"]) * 1_000_000 + out["in_both"].astype(bool).astype(int) * 100_000
                     + out["members"].clip(upper=99).fillna(0).astype(int) * 1000
                     + out["age_days"].fillna(0).clip(upper=999).astype(int))
    return out


def review_rows(frame: pd.DataFrame, dec: pd.DataFrame, info: dict, now=None) -> pd.DataFrame:
    """`frame` (queue_sql.review_table) with the pair decision in force, state, age and impact. A same/different
    decision is `pending` unless the published sync already knew it (made before that run started and in its copy
    of steward_decision); one it knew while the pair is still in review could not be applied (a `same` that a
    `different` overrides): `reopened`."""
    d = dec.rename(columns={"value": "decision_value"}).drop(columns=["kind"])
    out = frame.merge(d, on="target", how="left")
    known = (out["decision_id"].astype("float") <= float(info.get("decisions_known") or 0)) & \
        (out["decided_at"].fillna("").astype(str) < str(info.get("started_at") or ""))
    decided = out["decision_value"].notna()
    out["state"] = np.select([out["decision_value"] == "unsure", decided & ~known, decided],
                             ["escalated", "pending", "reopened"], "open")
    out["age_days"] = _age(out, now)
    out["impact"] = (out["cross_system"].astype(bool).astype(int) * 1_000_000
                     + out["members"].clip(upper=99).fillna(0).astype(int) * 1000
                     + out["age_days"].fillna(0).clip(upper=999).astype(int))
    return out


def _starts(series: pd.Series, prefixes) -> pd.Series:
    return series.fillna("").astype(str).str.startswith(tuple(prefixes))


def scope_mask(frame: pd.DataFrame, scopes, columns) -> pd.Series:
    """Rows whose `columns` values start with any of `scopes` (all rows when `scopes` is empty)."""
    scopes = [s for s in (scopes or ()) if s]
    if not scopes:
        return pd.Series(True, index=frame.index)
    return pd.Series(np.logical_or.reduce([_starts(frame[c], scopes).to_numpy() for c in columns]), index=frame.index)


def _filter(out, *, scope, grid, community, state, min_age_days, scope_cols, grid_cols, community_cols):
    keep = scope_mask(out, scope, scope_cols)
    if grid:
        keep &= scope_mask(out, [grid], grid_cols)
    if community:
        keep &= scope_mask(out, [community], community_cols)
    if state in (None, ""):
        keep &= out["state"] != "pending"
    elif state != "all":
        keep &= out["state"] == state
    if min_age_days is not None:
        keep &= out["age_days"].fillna(0) >= int(min_age_days)
    return out[keep]


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: clean_value(v) for k, v in r.items()} for r in df.astype(object).to_dict("records")]


def _page(df: pd.DataFrame, limit, offset, info, decorate) -> Page:
    total = len(df)
    part = df.iloc[offset: offset + limit] if limit is not None else df.iloc[offset:]
    items = _records(part.drop(columns=["first_seen_epoch"], errors="ignore"))
    for r in items:
        decorate(r)
    return Page(items, total, limit if limit is not None else len(items), offset, info)


def _page_args(limit: int, offset: int) -> tuple[int, int]:
    return max(0, min(int(limit), MAX_LIMIT)), max(0, int(offset))


def _decorate_conflict(r: dict) -> None:
    r["field_label"] = field_label(r["field"], r["entity"])
    r["state_label"] = STATE_LABELS[r["state"]]
    r["entity_label"] = ENTITY_LABELS[r["entity"]]


def _decorate_review(r: dict) -> None:
    r["state_label"] = REVIEW_STATE_LABELS[r["state"]]
    r["entity_label"] = ENTITY_LABELS[r["entity"]]


# --- conflicts -------------------------------------------------------------------------------------
def open_conflicts(config, *, scope=None, grid=None, community=None, field=None, entity=None, state=None,
                   min_age_days=None, limit=200, offset=0, now=None) -> Page:
    """A page of open conflicts sorted by impact (module doc). `state`: None = everything but `pending`;
    `open`/`reopened`/`field_visit`/`pending`, or `all`. `now`: epoch seconds (tests)."""
    limit, offset = _page_args(limit, offset)
    return select_conflicts(config, scope=scope, grid=grid, community=community, field=field, entity=entity,
                            state=state, min_age_days=min_age_days, limit=limit, offset=offset, now=now)


def select_conflicts(config, *, scope=None, grid=None, community=None, field=None, entity=None, state=None,
                     min_age_days=None, limit=None, offset=0, now=None) -> Page:
    """`open_conflicts` without the page-size cap (`limit=None`: every row): for bulk actions and exports.
    `Page.fields` counts the rows per field under all the other filters (the field drop-down of the queue page)."""
    frame, info = _snapshot(config, "conflicts")
    if entity:
        frame = frame[frame["entity"] == entity]
    out = conflict_rows(frame, conflict_decisions(decisions(config)), now)
    out = _filter(out, scope=scope, grid=grid, community=community, state=state, min_age_days=min_age_days,
                  scope_cols=["grid_code", "community"], grid_cols=["grid_code"], community_cols=["community"])
    fields = {str(k): int(v) for k, v in out["field"].value_counts().items()}
    if field:
        out = out[out["field"] == field]
    out = out.sort_values(["impact", "conflict_id"], ascending=[False, True], kind="stable")
    page = _page(out, limit, max(0, int(offset)), info, _decorate_conflict)
    page.fields = fields
    return page


def lookup_conflicts(config, conflict_ids, now=None, *, con=None, decided=None) -> dict[str, dict]:
    """Conflicts by id in any warehouse status (queue rows: state from the decisions in force), for decisions and
    imports; ids the warehouse does not have are missing from the result. `con`: an open warehouse connection to
    use; `decided`: store.decisions() already read."""
    ids = [str(i) for i in conflict_ids if i]
    if not ids:
        return {}
    warm = _cached(config, "conflicts", "conflict_id", ids)
    if warm is not None:
        frame = warm[0]
    elif con is None:
        with warehouse(config) as own:
            frame = conflict_table(own, conflict_ids=ids, statuses=())
    else:
        frame = conflict_table(con, conflict_ids=ids, statuses=())
    dec = conflict_decisions(decided if decided is not None else decisions(config))
    rows = _records(conflict_rows(frame, dec, now).drop(columns=["first_seen_epoch"]))
    return {r["conflict_id"]: r for r in rows}


# --- match reviews ---------------------------------------------------------------------------------
_REVIEW_COLS = dict(scope_cols=["left_grid", "right_grid", "left_community", "right_community"],
                    grid_cols=["left_grid", "right_grid"], community_cols=["left_community", "right_community"])


def match_reviews(config, *, scope=None, entity=None, grid=None, community=None, state=None, min_age_days=None,
                  limit=200, offset=0, now=None) -> Page:
    """A page of match-review pairs sorted by impact (module doc). `state`: None = everything but `pending`;
    `open`/`escalated`/`pending`, or `all`. A pair is in scope when either record is."""
    limit, offset = _page_args(limit, offset)
    return select_reviews(config, scope=scope, entity=entity, grid=grid, community=community, state=state,
                          min_age_days=min_age_days, limit=limit, offset=offset, now=now)


def select_reviews(config, *, scope=None, entity=None, grid=None, community=None, state=None, min_age_days=None,
                   limit=None, offset=0, now=None) -> Page:
    """`match_reviews` without the page-size cap (`limit=None`: every row)."""
    frame, info = _snapshot(config, "reviews")
    if entity:
        frame = frame[frame["entity"] == entity]
    out = review_rows(frame, pair_decisions(decisions(config)), info, now)
    out = _filter(out, scope=scope, grid=grid, community=community, state=state, min_age_days=min_age_days,
                  **_REVIEW_COLS)
    out = out.sort_values(["impact", "match_probability", "pair_id"], ascending=[False, False, True], kind="stable")
    return _page(out, limit, max(0, int(offset)), info, _decorate_review)


def lookup_reviews(config, pair_ids, now=None, *, con=None, decided=None, info=None) -> dict[str, dict]:
    """Review pairs by id in any warehouse status, with the decision in force (see lookup_conflicts). `info`:
    store.published() of `con`, if already read."""
    ids = [str(i) for i in pair_ids if i]
    if not ids:
        return {}
    warm = _cached(config, "reviews", "pair_id", ids)
    if warm is not None:
        frame, info = warm
    elif con is None:
        with warehouse(config) as own:
            frame, info = review_table(own, pair_ids=ids, statuses=()), published(own)
    else:
        frame, info = review_table(con, pair_ids=ids, statuses=()), info or published(con)
    dec = pair_decisions(decided if decided is not None else decisions(config))
    rows = _records(review_rows(frame, dec, info, now).drop(columns=["first_seen_epoch"]))
    return {r["pair_id"]: r for r in rows}


# --- home page -------------------------------------------------------------------------------------
def counts(config, scope=None) -> dict:
    """What the home page shows, within `scope`: conflicts by state / field / entity, reviews by state and
    entity, and the published run. `queue` = what the queues list by default (everything but pending)."""
    all_dec = decisions(config)
    frame, info = _snapshot(config, "conflicts")
    rframe, rinfo = _snapshot(config, "reviews")
    c = conflict_rows(frame, conflict_decisions(all_dec))
    c = c[scope_mask(c, scope, ["grid_code", "community"])]
    r = review_rows(rframe, pair_decisions(all_dec), rinfo)
    r = r[scope_mask(r, scope, _REVIEW_COLS["scope_cols"])]
    queued, rqueued = c[c["state"] != "pending"], r[r["state"] != "pending"]

    def tally(s: pd.Series) -> dict:
        return {str(k): int(v) for k, v in s.value_counts().items()}
    return {"conflicts": {"by_state": tally(c["state"]), "by_field": tally(queued["field"]),
                          "by_entity": tally(queued["entity"]), "queue": len(queued)},
            "reviews": {"by_state": tally(r["state"]), "by_entity": tally(rqueued["entity"]), "queue": len(rqueued)},
            "warehouse": info, "field_labels": {f: field_label(f) for f in queued["field"].unique()}}
