"""One conflict or one review pair, side by side: what a steward needs to decide it.

The warehouse has the golden records, xrefs, conflicts and reviews; the source records themselves (every
canonical field of the police and the grid row, their raw row) are the standardised records the last sync kept,
`<state dir>/work/stg_<source>_<entity>.parquet` (the same files `gridbridge explain` reads; each is replaced
atomically). They are read with DuckDB, filtered by key, so a detail page costs a few milliseconds whatever the
district's size. While a sync runs they may already be that sync's records (newer than the warehouse).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pandas as pd

from schemas.canonical import HOUSE_SHARED, PERSON_SHARED
from steward.decisions_model import pair_target
from steward.store import ENTITY_ID, decisions, history_of, published, warehouse
from steward.values import field_label

WEIGHT_LABELS = {"id": "公民身份号码", "name": "姓名", "birth_date": "出生日期", "sex": "性别", "ethnicity": "民族",
                 "phone": "联系电话", "address": "地址", "house": "所住房屋", "household": "同户成员",
                 "locality": "所在地区", "owner_id": "房主身份号码", "owner_name": "房主姓名",
                 "owner_phone": "房主电话", "usage": "房屋用途", "area": "面积", "owner": "房主"}
SHARED = {"person": PERSON_SHARED, "house": HOUSE_SHARED}
PERSON_SHOWN = ("source_key", "name", "id_number", "sex", "ethnicity", "birth_date", "phone", "hukou_address",
                "current_address", "person_type", "household_no", "relation", "house_key", "grid_code",
                "status", "updated_at", "flags")
HOUSE_SHOWN = ("source_key", "address", "community", "compound", "building", "unit", "room", "usage", "area",
               "owner_name", "owner_id_number", "owner_phone", "is_rented", "grid_code", "updated_at", "flags")
SHOWN = {"person": PERSON_SHOWN, "house": HOUSE_SHOWN}
MAX_MEMBERS = 30
DONE_LABELS = {"resolved": "已处理", "auto": "按规则自动取值", "undone": "决定已撤销，下次同步后重新待处理"}


def _stg(config, source: str, entity: str) -> Path:
    return Path(config.state_dir) / "work" / f"stg_{source}_{entity}.parquet"


def clean_value(v):
    """JSON/Jinja-friendly: missing → None, a date → ISO text ('1986-01-10'), numpy scalars → Python."""
    if v is None or (isinstance(v, float) and v != v) or str(v) in ("NaT", "<NA>", "nan"):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat(sep=" ")
    return v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v


def _clean(d: dict) -> dict:
    return {k: clean_value(v) for k, v in d.items()}


def source_rows(config, source: str, entity: str, *, keys=None, house_key=None, con=None) -> list[dict]:
    """Standardised `source` records of `entity` with `source_key` in `keys` (or living in `house_key`).
    `con`: a DuckDB connection to read with (any; a temporary in-memory one if not given)."""
    path = _stg(config, source, entity)
    if not path.exists() or (keys is not None and not [k for k in keys if k]) or (keys is None and not house_key):
        return []
    own = con is None
    con = duckdb.connect() if own else con
    try:
        have = {r[0] for r in con.execute("SELECT name FROM parquet_schema(?)", [str(path)]).fetchall()}
        sel = ", ".join(f'"{c}"' for c in [*SHOWN[entity], "raw"] if c in have)
        if keys is not None:
            rows = con.execute(f"SELECT {sel} FROM read_parquet(?) WHERE source_key IN (SELECT unnest(?))",
                               [str(path), [str(k) for k in keys if k]]).df()
        else:
            rows = con.execute(f"SELECT {sel} FROM read_parquet(?) WHERE house_key = ? ORDER BY relation NULLS LAST, "
                               f"source_key LIMIT {MAX_MEMBERS}", [str(path), str(house_key)]).df()
    finally:
        if own:
            con.close()
    out = []
    for r in rows.astype(object).to_dict("records"):
        r = _clean(r)
        raw = r.pop("raw", None)
        r["raw"] = json.loads(raw) if isinstance(raw, str) else None
        r["source"] = source
        out.append(r)
    return out


def _one(rows: list[dict]) -> dict | None:
    return rows[0] if rows else None


def source_columns(config, entity: str) -> dict:
    """Per canonical field, the column each system calls it (`columns:` of the config) and its Chinese label."""
    out = {}
    for f in SHOWN[entity]:
        out[f] = {"label": field_label(f) if f not in ("source_key", "house_key", "grid_code", "updated_at", "flags")
                  else {"source_key": "记录编号", "house_key": "房屋编号", "grid_code": "网格编码",
                        "updated_at": "更新时间", "flags": "数据质量标记"}[f]}
        for source, sc in config.sources.items():
            ent = sc.entities.get(entity)
            out[f][source] = (ent.key if f == "source_key" else ent.columns.get(f)) if ent else None
    return out


def side(config, entity: str, source: str, key: str | None, con=None) -> dict:
    """A source record with its house and household (persons: the members of its house in the same system;
    houses: their residents in that system)."""
    rec = _one(source_rows(config, source, entity, keys=[key], con=con)) if key else None
    if entity == "person":
        house_key = rec.get("house_key") if rec else None
        members = [m for m in source_rows(config, source, "person", house_key=house_key, con=con)
                   if m["source_key"] != key]
        house = _one(source_rows(config, source, "house", keys=[house_key], con=con)) if house_key else None
    else:
        members = source_rows(config, source, "person", house_key=key, con=con) if key else []
        house = rec
    return {"source": source, "key": key, "record": rec, "house": house, "members": members}


def _golden(con, entity: str, entity_id: str | None) -> dict | None:
    if not entity_id:
        return None
    df = con.execute(f"SELECT * FROM {entity} WHERE {ENTITY_ID[entity]} = ?", [entity_id]).df()
    return _clean(df.astype(object).to_dict("records")[0]) if len(df) else None


def _xref(con, entity: str, entity_id: str | None) -> list[dict]:
    if not entity_id:
        return []
    df = con.execute(f"SELECT source, source_key, match_probability, match_rule, flags FROM {entity}_xref "
                     f"WHERE {ENTITY_ID[entity]} = ? ORDER BY source, source_key", [entity_id]).df()
    return [_clean(r) for r in df.astype(object).to_dict("records")]


def conflict_detail(config, conflict_id: str, *, now=None) -> dict | None:
    """Everything about one conflict (any status), or None if the warehouse has no such conflict:
    `conflict` (the queue row: values, state, age, impact …), `entity` (golden record), `police` / `grid`
    (`side()`: source record, house, household members), `xref`, `columns` (what each system calls each field),
    `history` (decisions on it, with undos), `diff` (`char_diff` of the two values), `warehouse` (the published
    run)."""
    from steward.queues import lookup_conflicts
    all_dec = decisions(config)
    with warehouse(config) as con:
        row = lookup_conflicts(config, [str(conflict_id)], now=now, con=con, decided=all_dec).get(str(conflict_id))
        if row is None:
            return None
        entity = row["entity"]
        golden, xref, info = _golden(con, entity, row["entity_id"]), _xref(con, entity, row["entity_id"]), published(con)
        sides = {s: side(config, entity, s, row[f"{s}_key"], con=con) for s in ("police", "grid")}
    from steward.queues import ENTITY_LABELS, STATE_LABELS
    if row["status"] != "open":                       # resolved/auto in the warehouse
        if row["decision_kind"] == "field_visit":
            row["state"] = "field_visit"
        elif row["decision_id"] is not None and row["decision_id"] != row["wh_decision_id"]:
            row["state"] = "pending"
        elif row["status"] == "resolved" and row["decision_id"] is None:
            row["state"] = "undone"
        else:
            row["state"] = row["status"]
    row["state_label"] = STATE_LABELS.get(row["state"]) or DONE_LABELS.get(row["state"], row["state"])
    row["field_label"] = field_label(row["field"])
    row["entity_label"] = ENTITY_LABELS[entity]
    left, right = char_diff(row["police_value"], row["grid_value"])
    return {"conflict": row, "entity": golden, "xref": xref, "diff": {"police": left, "grid": right},
            "police": sides["police"], "grid": sides["grid"],
            "columns": source_columns(config, entity),
            "history": history_of(all_dec, [str(conflict_id)]), "warehouse": info}


def char_diff(a, b) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """Both values cut into (text, differs) runs, for highlighting the characters that differ (difflib)."""
    import difflib
    a, b = "" if a is None else str(a), "" if b is None else str(b)
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if a[i1:i2]:
            left.append((a[i1:i2], op != "equal"))
        if b[j1:j2]:
            right.append((b[j1:j2], op != "equal"))
    return left, right


def weights_of(weights_json: str | None) -> list[dict]:
    """`[{"name": "id", "label": "公民身份号码", "weight": 7.2}, …]` from a review's weights JSON, in its order."""
    try:
        w = json.loads(weights_json) if weights_json else {}
    except ValueError:
        w = {}
    return [{"name": k, "label": WEIGHT_LABELS.get(k, k), "weight": v} for k, v in w.items()]


def review_detail(config, pair_id: str, *, now=None) -> dict | None:
    """One match-review pair (any status), or None: `pair` (the queue row), `left` / `right` (`side()` plus
    `golden` and `xref` of the golden entity each record belongs to now), `weights` (per comparison, the log2
    weight the model gave: positive = evidence for the same, negative = against), `columns`, `target`
    (pair_target, for decisions), `history`, `warehouse`."""
    from steward.queues import ENTITY_LABELS, REVIEW_STATE_LABELS, lookup_reviews
    all_dec = decisions(config)
    sides = {}
    with warehouse(config) as con:
        row = lookup_reviews(config, [str(pair_id)], now=now, con=con, decided=all_dec).get(str(pair_id))
        if row is None:
            return None
        entity = row["entity"]
        for name in ("left", "right"):
            s = side(config, entity, row[f"{name}_source"], row[f"{name}_key"], con=con)
            s["golden"] = _golden(con, entity, row[f"{name}_id"])
            s["xref"] = _xref(con, entity, row[f"{name}_id"])
            sides[name] = s
        info = published(con)
    row["state_label"] = REVIEW_STATE_LABELS.get(row["state"], row["state"])
    row["entity_label"] = ENTITY_LABELS[entity]
    target = pair_target(entity, (row["left_source"], row["left_key"]), (row["right_source"], row["right_key"]))
    return {"pair": row, **sides, "weights": weights_of(row.get("weights")), "columns": source_columns(config, entity),
            "target": target, "history": history_of(all_dec, [target]), "warehouse": info,
            "read_at": time.time()}
