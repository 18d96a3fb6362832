"""Reconcile matched entities: the shared part, one-sided values, and conflicts settled by survivorship.

For every golden entity the police and grid representatives (the most recently updated record of each
side) are compared field by field on *comparison keys* (normalised values: name without 繁/简 or
middle-dot differences, 18-digit IDs, parsed address keys, decade-level relation codes), so formatting
differences never become conflicts. Vectorised: one wide frame, one pass per field.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from matching.lineage import MERGE
from schemas.normalise.addresses import parse_address
from schemas.normalise.ids import id_birth_date, id_sex
from schemas.normalise.names import normalise_name
from steward.decisions_model import CONFLICT, CONFLICT_KINDS, latest

SIDES = ("police", "grid")


def _name_key(s: pd.Series) -> pd.Series:
    return normalise_name(s)["name_key"]


def _address_key(s: pd.Series) -> pd.Series:
    p = parse_address(s)
    return p["address_key"].where(p["address_key"].notna(), p["address_norm"])


COMPARE_KEY = {
    "name": _name_key, "former_name": _name_key, "owner_name": _name_key,
    "hukou_address": _address_key, "current_address": _address_key, "address": _address_key,
    "relation": lambda s: s.str[0],
    "area": lambda s: pd.to_numeric(s, errors="coerce").round(0).astype("string"),
}


def conflict_id(entity_ids: pd.Series, field: str) -> pd.Series:
    return entity_ids.map(lambda e: _hash(e, field))


def representatives(stg: pd.DataFrame, xref: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """One record per (entity, source): the latest `updated_at`, ties broken by source_key."""
    if stg.empty:
        return stg.assign(**{id_col: pd.Series(dtype="object")})
    df = stg.merge(xref[["source", "source_key", id_col]], on=["source", "source_key"], how="inner")
    upd = df["updated_at"] if "updated_at" in df else pd.Series("", index=df.index)
    df = df.assign(_upd=upd.fillna("")).sort_values([id_col, "_upd", "source_key"], ascending=[True, False, True])
    return df.drop_duplicates(id_col, keep="first").drop(columns="_upd")


def _raw_value(raw_json: pd.Series, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series(None, index=raw_json.index, dtype="object")
    return raw_json.map(lambda r: json.loads(r).get(column) if isinstance(r, str) else None)


def reconcile(entity: str, police: pd.DataFrame, grid: pd.DataFrame, xref: pd.DataFrame, *,
              fields: tuple[str, ...], rule_for, id_col: str, raw_columns: dict[str, dict[str, str]],
              decisions: pd.DataFrame | None = None,
              heirs: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Golden records + conflicts. `rule_for(field)` gives the survivorship rule; `raw_columns[side][field]`
    the source column (to show raw values); `decisions` are steward decisions on conflicts (latest per
    conflict_id, with the values they were made on); `heirs` (`entity_id`, `origin`, `via`: matching/lineage.py
    `decision_heirs`) lets decisions made on ids that since merged or split follow their entity."""
    reps = {side: representatives(df, xref, id_col) for side, df in (("police", police), ("grid", grid))}
    ids = pd.DataFrame({id_col: pd.unique(xref[id_col])})
    wide = ids
    for side in SIDES:
        r = reps[side]
        cols = [c for c in r.columns if c != "source"]
        wide = wide.merge(r[cols].add_suffix(f"_{side}").rename(columns={f"{id_col}_{side}": id_col}),
                          on=id_col, how="left")
    golden = pd.DataFrame({id_col: wide[id_col]})
    golden["in_police"] = wide["source_key_police"].notna()
    golden["in_grid"] = wide["source_key_grid"].notna()
    newer_grid = wide["updated_at_grid"].fillna("") > wide["updated_at_police"].fillna("")
    counts = {"shared": 0, "one_sided": 0, "conflicts": 0}
    conflicts = []
    dec = _latest_decisions(decisions)

    for field in fields:
        p = wide.get(f"{field}_police", pd.Series(None, index=wide.index, dtype="object")).astype("object")
        g = wide.get(f"{field}_grid", pd.Series(None, index=wide.index, dtype="object")).astype("object")
        p = p.where(p.notna(), None)
        g = g.where(g.notna(), None)
        keyf = COMPARE_KEY.get(field)
        pk, gk = (keyf(p.astype("object")), keyf(g.astype("object"))) if keyf else (p, g)
        both = p.notna() & g.notna()
        equal = both & (pk.fillna("\0p") == gk.fillna("\0g"))
        differ = both & ~equal
        rule = rule_for(field)
        take_grid = {"police": pd.Series(False, index=wide.index), "grid": pd.Series(True, index=wide.index),
                     "most_recent": newer_grid,
                     "longest": g.astype(str).str.len() > p.astype(str).str.len(),
                     "steward": pd.Series(False, index=wide.index)}[rule]
        chosen = p.where(p.notna(), g)  # shared or one-sided
        chosen = chosen.where(~differ, np.where(take_grid, g, p))
        source = np.select([equal, p.notna() & g.isna(), g.notna() & p.isna(), differ],
                           ["both", "police", "grid", np.where(take_grid, "grid", "police")], default=None)
        counts["shared"] += int(equal.sum())
        counts["one_sided"] += int((p.notna() ^ g.notna()).sum())
        if differ.any():
            c = pd.DataFrame({
                "entity_id": wide.loc[differ, id_col], "field": field,
                "police_key": wide.loc[differ, "source_key_police"], "grid_key": wide.loc[differ, "source_key_grid"],
                "police_value": p[differ].astype(str), "grid_value": g[differ].astype(str),
                "police_raw": _raw_value(wide.loc[differ, "raw_police"], raw_columns.get("police", {}).get(field)),
                "grid_raw": _raw_value(wide.loc[differ, "raw_grid"], raw_columns.get("grid", {}).get(field)),
                "chosen_value": pd.Series(chosen[differ], dtype="object").astype(str),
                "rule": rule, "status": "open" if rule == "steward" else "auto",
            })
            if rule == "steward":
                c["chosen_value"] = None
                source = np.where(differ, None, source)
            c["conflict_id"] = conflict_id(c["entity_id"], field)
            c = _apply_decisions(c, dec, heirs)
            decided = _decided(c, wide[id_col])
            chosen = chosen.where(decided.isna(), _typed_like(decided, chosen))
            source = np.where(decided.notna(), "steward", source)
            conflicts.append(c)
            counts["conflicts"] += len(c)
        golden[field] = chosen.values
        golden[f"{field}_source"] = source
    if entity == "person":
        cross = id_cross_checks(golden, wide, id_col)
        if len(cross):
            cross = _apply_decisions(cross, dec, heirs)
            for check in cross["field"].unique():                    # a steward set the value
                field = check.split("~")[0]
                decided = _decided(cross[cross["field"] == check], golden[id_col])
                golden[field] = golden[field].where(decided.isna(), _typed_like(decided, golden[field]))
                golden[f"{field}_source"] = np.where(decided.notna(), "steward", golden[f"{field}_source"])
            conflicts.append(cross)
            counts["conflicts"] += len(cross)
    conflict_cols = ["conflict_id", "entity_id", "field", "police_key", "grid_key", "police_value", "grid_value",
                     "police_raw", "grid_raw", "chosen_value", "rule", "status", "resolved_by", "resolved_at",
                     "decision_id", "note"]
    conf = (pd.concat(conflicts, ignore_index=True) if conflicts else pd.DataFrame(columns=conflict_cols))
    for c in conflict_cols:
        if c not in conf:
            conf[c] = None
    conf = conf[conflict_cols].rename(columns={"entity_id": id_col})
    return golden, conf, {"wide": wide, **counts}


# cross-field checks on the golden record: the field, what the ID number implies for it, and the note's words
ID_CHECKS = (("birth_date", id_birth_date, "出生日期"), ("sex", id_sex, "性别代码"))


def id_cross_checks(golden: pd.DataFrame, wide: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """Golden persons whose chosen birth date or sex disagrees with their chosen ID number (digits 7-14,
    the sequence parity): a conflict `<field>~id_number` for a steward (rule `id_number`, status
    `open`), with each system's value of the field and a note naming what the ID implies."""
    if "id_number" not in golden or golden.empty:
        return pd.DataFrame()
    out = []
    for field, implied_by, words in ID_CHECKS:
        if field not in golden:
            continue
        implied = implied_by(golden["id_number"].astype(object))
        chosen = golden[field].astype(object)
        bad = (implied.notna() & chosen.notna() & (implied.astype(str) != chosen.astype(str))).to_numpy()
        if not bad.any():
            continue
        side = lambda s: wide.get(f"{field}_{s}", pd.Series(None, index=wide.index)).astype(object)[bad]  # noqa: E731
        c = pd.DataFrame({
            "entity_id": golden.loc[bad, id_col].to_numpy(), "field": f"{field}~id_number",
            "police_key": wide.loc[bad, "source_key_police"].to_numpy(), "grid_key": wide.loc[bad, "source_key_grid"].to_numpy(),
            "police_value": side("police").to_numpy(), "grid_value": side("grid").to_numpy(),
            "police_raw": None, "grid_raw": None, "chosen_value": chosen[bad].astype(str).to_numpy(),
            "rule": "id_number", "status": "open",
            "note": [f"{words}与公民身份号码不一致：号码对应 {v}" for v in implied[bad]]})
        c["conflict_id"] = conflict_id(c["entity_id"], f"{field}~id_number")
        out.append(c)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def _decided(c: pd.DataFrame, ids: pd.Series) -> pd.Series:
    """Per entity of `ids`, the value a steward decided in conflicts `c` (NaN where none did)."""
    return ids.map(c[c["status"] == "resolved"].set_index("entity_id")["chosen_value"])


def _typed_like(decided: pd.Series, values: pd.Series) -> pd.Series:
    """Decided values (stored as text) in the type of the field's own values (`area` 76.9, `is_rented`
    True), so a golden column never mixes text with numbers or booleans."""
    sample = values.dropna()
    if sample.empty or decided.isna().all():
        return decided
    first = sample.iloc[0]
    if isinstance(first, (bool, np.bool_)):
        return decided.map(lambda v: v if v is None or v != v else str(v).strip().lower() in ("true", "1"))
    if isinstance(first, (int, float, np.number)):
        return pd.to_numeric(decided, errors="coerce")
    return decided


def _latest_decisions(decisions: pd.DataFrame | None) -> pd.DataFrame | None:
    """The latest conflict decision per target (`target`, `decision_id`, `value`, `dec_police`, `dec_grid`,
    `decided_by`, `decided_at`). Undone decisions do not count; a later `field_visit` (转网格员核实) withdraws
    a value decision (steward/decisions_model.py)."""
    if decisions is None or decisions.empty:
        return None
    d = latest(decisions, CONFLICT_KINDS)
    d = d[d["kind"] == CONFLICT]
    return d[["target", "decision_id", "value", "police_value", "grid_value", "decided_by", "decided_at"]].rename(
        columns={"police_value": "dec_police", "grid_value": "dec_grid"})


def _apply_decisions(c: pd.DataFrame, dec: pd.DataFrame | None, heirs: pd.DataFrame | None = None) -> pd.DataFrame:
    """A steward decision wins while the values it was made on are unchanged; otherwise the conflict
    reopens and keeps the decision id so its history stays visible.

    Decisions follow the entity's lineage (`heirs`): one made on an id that merged into this one
    applies here while its values match, else reopens here; one made on the id this one split off from
    only applies where its values match (the part that kept the id shows it reopened). Of several that
    apply, the latest wins; a decision applied on one conflict is not shown reopened on another."""
    c = c.assign(resolved_by=None, resolved_at=None, decision_id=None)
    if dec is None or c.empty:
        return c
    rows = pd.DataFrame({"_row": np.arange(len(c)), "entity_id": c["entity_id"].to_numpy(dtype=object),
                         "field": c["field"].to_numpy(dtype=object), "target": c["conflict_id"].to_numpy(dtype=object),
                         "origin": c["entity_id"].to_numpy(dtype=object), "via": "self",
                         "police_value": c["police_value"].to_numpy(dtype=object),
                         "grid_value": c["grid_value"].to_numpy(dtype=object)})
    parts = [rows]
    if heirs is not None and len(heirs):
        inherited = rows.drop(columns=["origin", "via"]).merge(heirs, on="entity_id")
        inherited["target"] = [_hash(o, f) for o, f in zip(inherited["origin"], inherited["field"])]
        parts.append(inherited)
    cand = pd.concat(parts, ignore_index=True).merge(dec, on="target")
    if cand.empty:
        return c

    def unchanged(a: str, b: str) -> pd.Series:   # a side without a value (cross-field checks) stays unchanged
        return (cand[a] == cand[b]) | (cand[a].isna() & cand[b].isna())
    cand = cand.assign(_same=unchanged("dec_police", "police_value") & unchanged("dec_grid", "grid_value"))
    cand = cand.sort_values(["decided_at", "decision_id"], kind="stable")
    applied = cand[cand["_same"]].drop_duplicates("_row", keep="last")
    reopen = cand[~cand["_row"].isin(applied["_row"]) & cand["via"].isin(["self", MERGE])
                  & ~cand["decision_id"].isin(applied["decision_id"])].drop_duplicates("_row", keep="last")
    if "note" not in c:
        c["note"] = None
    for part, status in ((applied, "resolved"), (reopen, "open")):
        at = c.index[part["_row"].to_numpy()]
        c.loc[at, "decision_id"] = part["decision_id"].to_numpy()
        c.loc[at, "status"] = status
        if status == "resolved":
            c.loc[at, "chosen_value"] = part["value"].to_numpy()
            c.loc[at, "resolved_by"] = part["decided_by"].to_numpy()
            c.loc[at, "resolved_at"] = part["decided_at"].to_numpy()
        moved = part[part["via"] != "self"]
        if len(moved):
            where = c.index[moved["_row"].to_numpy()]
            words = [f"决定 #{d} 作出于 {o}（{'该编号已并入本实体' if v == MERGE else '经拆分沿袭至本实体'}）"
                     for d, o, v in zip(moved["decision_id"], moved["origin"], moved["via"])]
            old = c.loc[where, "note"]
            c.loc[where, "note"] = [w if n is None or n != n else f"{n}；{w}" for n, w in zip(old, words)]
    return c


def _hash(entity_id: str, field: str) -> str:
    return hashlib.sha1(f"{entity_id}|{field}".encode()).hexdigest()[:16]
