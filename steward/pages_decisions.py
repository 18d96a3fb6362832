"""The decision log: recent decisions (who, when, what, why), and undoing one (by appending an undo, never by
deleting).

    GET  /decisions                 the latest decisions, newest first (`mine=1`: the user's own); a user limited
                                    to some grids/communities sees the decisions on records there only
    POST /decisions/<id>/undo       undo one (a steward; within their scopes), with an optional reason
"""
from __future__ import annotations

import logging

import pandas as pd

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from steward import decide
from steward.auth import require_role
from steward.context import add_nav, get_config
from steward.decisions_model import (ACTION_LABELS, CONFLICT, FIELD_VISIT, PAIR, PAIR_LABELS, UNDO, parse_pair_target,
                                     undone_ids)
from steward.page_helpers import premask, scopes, sees_full_values
from steward.store import NoWarehouse, decisions, warehouse
from steward.users import in_scope

log = logging.getLogger("gridbridge.steward")
bp = Blueprint("decisions", __name__)
bp.record_once(lambda s: add_nav(s.app, "decisions.log", "决定记录", "viewer"))
SHOWN = 200
KIND_LABELS = {CONFLICT: "字段取值", FIELD_VISIT: ACTION_LABELS[FIELD_VISIT], PAIR: "匹配判定", UNDO: "撤销"}


def _describe(row: dict) -> str:
    if row["kind"] == PAIR:
        return PAIR_LABELS.get(row["value"], row["value"] or "")
    if row["kind"] == UNDO:
        return f"撤销决定 #{row['target']}"
    if row["kind"] == FIELD_VISIT:
        return "等待网格员上门核实"
    return "取值"


def _safe_back(target: str | None) -> str:
    """A same-site path to go back to after an undo (never another host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("decisions.log")


def in_user_scope(config, frame: pd.DataFrame, scopes: list[str]) -> pd.DataFrame:
    """The decisions on records inside `scopes` (all when empty): conflict decisions by their conflict's grid cell
    or community, pair decisions when either record is in scope, undos when the decision they undo is. One
    warehouse read for all of them; a decision whose record the warehouse no longer has is left out."""
    if not scopes or frame.empty:
        return frame
    from steward.queue_sql import conflict_table, quoted
    kinds = frame["kind"]
    conflict_ids = frame.loc[kinds.isin([CONFLICT, FIELD_VISIT]), "target"].astype(str).unique().tolist()
    refs = {t: parse_pair_target(t) for t in frame.loc[kinds == PAIR, "target"].astype(str).unique()}
    with warehouse(config) as con:
        conf = conflict_table(con, conflict_ids=conflict_ids, statuses=()) if conflict_ids else None
        places = {}
        for entity in ("person", "house"):
            mine = [sk for p in refs.values() if p and p[0] == entity for sk in (p[1], p[2])]
            if not mine:
                continue
            cond = " OR ".join(f"(x.source = {quoted([a])} AND x.source_key = {quoted([b])})" for a, b in set(mine))
            join = ("JOIN person g ON g.person_id = x.person_id LEFT JOIN house h ON h.house_id = g.house_id"
                    if entity == "person" else "JOIN house h ON h.house_id = x.house_id")
            grid = "coalesce(g.grid_code, h.grid_code)" if entity == "person" else "h.grid_code"
            for src, key, g, c in con.execute(f"SELECT x.source, x.source_key, {grid}, h.community FROM {entity}_xref x "
                                              f"{join} WHERE {cond}").fetchall():
                places[(entity, src, key)] = (g, c)
    ok_conflicts = set() if conf is None else {
        cid for cid, g, c in zip(conf["conflict_id"], conf["grid_code"], conf["community"]) if in_scope(scopes, g, c)}
    ok_pairs = {t for t, p in refs.items() if p and in_scope(
        scopes, *(v for side in (p[1], p[2]) for v in places.get((p[0], *side), (None, None))))}
    keep = (kinds.isin([CONFLICT, FIELD_VISIT]) & frame["target"].astype(str).isin(ok_conflicts)) | \
        ((kinds == PAIR) & frame["target"].astype(str).isin(ok_pairs))
    kept_ids = set(frame.loc[keep, "decision_id"].astype(int).astype(str))
    keep |= (kinds == UNDO) & frame["target"].astype(str).isin(kept_ids)
    return frame[keep]


@bp.get("/decisions", endpoint="log")
def log_page():
    config = get_config()
    everything = decisions(config)
    try:
        frame = in_user_scope(config, everything, scopes())
    except NoWarehouse:
        frame = everything if not scopes() else everything.iloc[0:0]
    mine = request.args.get("mine") == "1"
    if mine:
        frame = frame[frame["decided_by"] == current_user.username]
    total = len(frame)
    gone = undone_ids(everything)
    rows = []
    for r in frame.sort_values("decision_id", ascending=False).head(SHOWN).to_dict("records"):
        r = {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        r["undone"] = int(r["decision_id"]) in gone
        r["kind_label"] = KIND_LABELS.get(r["kind"], r["kind"])
        r["what"] = _describe(r)
        rows.append(r)
    if not sees_full_values():
        premask(rows, {"value"})
    return render_template("decisions.html", rows=rows, total=total, limit=SHOWN, mine=mine,
                           may_decide=current_user.has_role("steward"))



@bp.post("/decisions/<int:decision_id>/undo")
@require_role("steward")
def undo(decision_id: int):
    back = _safe_back(request.form.get("back"))
    try:
        made = decide.undo(get_config(), current_user, decision_id, request.form.get("reason"))
    except PermissionError as e:
        flash(str(e) or "没有权限", "error")
        return redirect(back)
    except (LookupError, ValueError, NoWarehouse) as e:
        flash(str(e), "error")
        return redirect(back)
    log.info("decision #%s undone by %s (#%s)", decision_id, current_user.username, made.decision_id)
    flash(f"已撤销决定 #{decision_id}（记录为 #{made.decision_id}），下次同步时生效。", "info")
    return redirect(back)
