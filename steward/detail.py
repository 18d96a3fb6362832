"""One conflict or one review pair, side by side: what a steward needs to decide it.

The warehouse has the golden records, xrefs, conflicts and reviews; the source records themselves (every
canonical field of the police and the grid row, their raw row) are the standardised records the last sync kept,
`<state dir>/work/stg_<source>_<entity>.parquet` (the same files `gridbridge explain` reads; each is replaced
atomically). While a sync runs they may already be that sync's records (newer than the warehouse).

Cost (benchmarks/steward_queue.py: 100,000 persons, 10,500 open conflicts, 2 CPUs): a whole detail page takes
about 130–155 ms of server time. An open conflict's or pair's queue row comes from the queues' warm snapshot; one
in another status costs its own query (about 50 ms). Opening the warehouse takes about 12 ms. Reading the
standardised records takes about 60 ms: each file a page needs is read once, with one filter for everything the
page shows from it (its column list is kept per file version), but a read still scans the whole key column (about
15 ms per 100,000 records), and a person's household is a second pass within that read.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pandas as pd

from steward.store import ENTITY_ID, decisions, history_of, published, warehouse
from steward.values import display_value, field_label
from warehouse.export import label

WEIGHT_LABELS = {"id": "公民身份号码", "name": "姓名", "birth_date": "出生日期", "sex": "性别", "ethnicity": "民族",
                 "phone": "联系电话", "address": "地址", "house": "所住房屋", "household": "同户成员",
                 "locality": "所在地区", "owner_id": "房主身份号码", "owner_name": "房主姓名",
                 "owner_phone": "房主电话", "usage": "房屋用途", "area": "面积", "owner": "房主"}
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


_schemas: dict[str, tuple[tuple, frozenset]] = {}     # path → (file identity, its columns)


def _columns(con, path: Path) -> frozenset:
    """The column names of a parquet file, read once per version of the file (a sync replaces it)."""
    st = path.stat()
    ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    hit = _schemas.get(str(path))
    if hit is None or hit[0] != ident:
        names = con.execute("SELECT name FROM parquet_schema(?)", [str(path)]).fetchall()
        hit = (ident, frozenset(r[0] for r in names))
        _schemas[str(path)] = hit
    return hit[1]


def source_rows(config, source: str, entity: str, *, keys=(), house_keys=(), with_households: bool = False,
                con=None) -> list[dict]:
    """Standardised `source` records of `entity`, in one read of its file: those with `source_key` in `keys`,
    persons living in `house_keys`, and (`with_households`, persons) everyone living with the `keys` records.
    `con`: a DuckDB connection to read with (any; a temporary in-memory one if not given)."""
    path = _stg(config, source, entity)
    keys, house_keys = [str(k) for k in keys if k], [str(k) for k in house_keys if k]
    if not path.exists() or not (keys or house_keys):
        return []
    own = con is None
    con = duckdb.connect() if own else con
    try:
        have = _columns(con, path)
        sel = ", ".join(f'"{c}"' for c in [*SHOWN[entity], "raw"] if c in have)
        where = ["source_key IN (SELECT unnest($keys))"]
        if "house_key" in have:
            where.append("house_key IN (SELECT unnest($houses))")
            if with_households:
                where.append("house_key IN (SELECT house_key FROM read_parquet($path) "
                             "WHERE source_key IN (SELECT unnest($keys)))")
        order = "relation NULLS LAST, source_key" if "relation" in have else "source_key"
        rows = con.execute(f"SELECT {sel} FROM read_parquet($path) WHERE {' OR '.join(where)} ORDER BY {order}",
                           {"path": str(path), "keys": keys, "houses": house_keys} if "house_key" in have
                           else {"path": str(path), "keys": keys}).df()
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


def source_columns(config, entity: str) -> dict:
    """Per canonical field, the column each system calls it (`columns:` of the config) and its Chinese label."""
    out = {}
    for f in SHOWN[entity]:
        out[f] = {"label": label(entity, f) or f}
        for source, sc in config.sources.items():
            ent = sc.entities.get(entity)
            out[f][source] = (ent.key if f == "source_key" else ent.columns.get(f)) if ent else None
    return out


def sides(config, entity: str, refs, con=None) -> dict[tuple[str, str], dict]:
    """Per (source, key) of `refs`: the source record with its house and household (persons: the members of its
    house in the same system, at most MAX_MEMBERS; houses: their residents in that system). Each standardised file
    is read once for all of `refs`."""
    out = {}
    for source in dict.fromkeys(s for s, _ in refs):
        keys = [k for s, k in refs if s == source and k]
        if entity == "person":
            people = source_rows(config, source, "person", keys=keys, with_households=True, con=con)
            recs = {p["source_key"]: p for p in people if p["source_key"] in keys}
            homes = [r.get("house_key") for r in recs.values()]
            houses = {h["source_key"]: h for h in source_rows(config, source, "house", keys=homes, con=con)}
        else:
            people = source_rows(config, source, "person", house_keys=keys, con=con)
            recs = {h["source_key"]: h for h in source_rows(config, source, "house", keys=keys, con=con)}
            houses = recs
        for key in keys:
            rec = recs.get(key)
            home = (rec.get("house_key") if rec else None) if entity == "person" else key
            members = [p for p in people if home and p.get("house_key") == home and p["source_key"] != key]
            out[(source, key)] = {"source": source, "key": key, "record": rec, "house": houses.get(home),
                                  "members": members[:MAX_MEMBERS]}
    for source, key in refs:
        out.setdefault((source, key), {"source": source, "key": key, "record": None, "house": None, "members": []})
    return out


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
    (`sides()`: source record, house, household members), `xref`, `columns` (what each system calls each field),
    `history` (decisions on it, with undos), `diff` (`value_diff` of the two values), `warehouse` (the published
    run)."""
    from steward.queues import lookup_conflicts
    all_dec = decisions(config)
    with warehouse(config) as con:
        row = lookup_conflicts(config, [str(conflict_id)], now=now, con=con, decided=all_dec).get(str(conflict_id))
        if row is None:
            return None
        entity = row["entity"]
        golden, xref, info = _golden(con, entity, row["entity_id"]), _xref(con, entity, row["entity_id"]), published(con)
        found = sides(config, entity, [(s, row[f"{s}_key"]) for s in ("police", "grid")], con=con)
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
    row["field_label"] = field_label(row["field"], entity)
    row["entity_label"] = ENTITY_LABELS[entity]
    left, right = value_diff(row["field"], row["police_value"], row["grid_value"])
    return {"conflict": row, "entity": golden, "xref": xref, "diff": {"police": left, "grid": right},
            "police": found[("police", row["police_key"])], "grid": found[("grid", row["grid_key"])],
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


def value_diff(field: str, a, b) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """`char_diff` of two values of `field` as a steward reads them (codes with their names: `1 男` / `2 女`)."""
    return char_diff(display_value(field, a), display_value(field, b))


def weights_of(weights_json: str | None) -> list[dict]:
    """`[{"name": "id", "label": "公民身份号码", "weight": 7.2}, …]` from a review's weights JSON, in its order."""
    try:
        w = json.loads(weights_json) if weights_json else {}
    except ValueError:
        w = {}
    return [{"name": k, "label": WEIGHT_LABELS.get(k, k), "weight": v} for k, v in w.items()]


def review_detail(config, pair_id: str, *, now=None) -> dict | None:
    """One match-review pair (any status), or None: `pair` (the queue row), `left` / `right` (`sides()` plus
    `golden` and `xref` of the golden entity each record belongs to now), `weights` (per comparison, the log2
    weight the model gave: positive = evidence for the same, negative = against), `columns`, `target`
    (the decision target), `history`, `warehouse`."""
    from steward.queues import ENTITY_LABELS, REVIEW_STATE_LABELS, lookup_reviews
    all_dec = decisions(config)
    with warehouse(config) as con:
        info = published(con)
        row = lookup_reviews(config, [str(pair_id)], now=now, con=con, decided=all_dec, info=info).get(str(pair_id))
        if row is None:
            return None
        entity = row["entity"]
        refs = {name: (row[f"{name}_source"], row[f"{name}_key"]) for name in ("left", "right")}
        found = sides(config, entity, list(refs.values()), con=con)
        out = {name: dict(found[ref], golden=_golden(con, entity, row[f"{name}_id"]),
                          xref=_xref(con, entity, row[f"{name}_id"])) for name, ref in refs.items()}
    row["state_label"] = REVIEW_STATE_LABELS.get(row["state"], row["state"])
    row["entity_label"] = ENTITY_LABELS[entity]
    return {"pair": row, **out, "weights": weights_of(row.get("weights")), "columns": source_columns(config, entity),
            "target": row["target"], "history": history_of(all_dec, [row["target"]]), "warehouse": info,
            "read_at": time.time()}
