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
from steward.auth import require_role, safe_path
from steward.context import add_nav, get_config
from steward.decisions_model import (ACTION_LABELS, CONFLICT, ENTITIES, FIELD_VISIT, HOUSE_PAIR_LABELS, PAIR, PAIR_LABELS,
                                     UNDO, parse_pair_target, undone_ids)
from steward.page_helpers import premask, scopes, sees_full_values
from steward.queue_sql import conflict_places, record_places
from steward.store import NoWarehouse, decisions, warehouse
from steward.users import in_scope

log = logging.getLogger("gridbridge.steward")
bp = Blueprint("decisions", __name__)
bp.record_once(lambda s: add_nav(s.app, "decisions.log", "决定记录", "viewer"))
SHOWN = 200
KIND_LABELS = {CONFLICT: "字段取值", FIELD_VISIT: ACTION_LABELS[FIELD_VISIT], PAIR: "匹配判定", UNDO: "撤销"}


def _describe(row: dict) -> str:
    if row["kind"] == PAIR:
        labels = HOUSE_PAIR_LABELS if str(row["target"]).startswith("house|") else PAIR_LABELS
        return labels.get(row["value"], row["value"] or "")
    if row["kind"] == UNDO:
        return f"撤销决定 #{row['target']}"
    if row["kind"] == FIELD_VISIT:
        return "等待网格员上门核实"
    return "取值"


def in_user_scope(config, frame: pd.DataFrame, scopes: list[str]) -> pd.DataFrame:
    """The decisions on records inside `scopes` (all when empty): conflict decisions by their conflict's grid cell
    or community, pair decisions when either record is in scope, undos when the decision they undo is. Two light
    queries for all of them; a decision whose record the warehouse no longer has is left out."""
    if not scopes or frame.empty:
        return frame
    kinds, targets = frame["kind"], frame["target"].astype(str)
    pairs = {t: parse_pair_target(t) for t in targets[kinds == PAIR].unique()}
    with warehouse(config) as con:
        conflicts = conflict_places(con, targets[kinds.isin([CONFLICT, FIELD_VISIT])].unique())
        records = {e: record_places(con, e, [side for p in pairs.values() if p and p[0] == e for side in p[1:]])
                   for e in ENTITIES}
    ok = {t for t, place in conflicts.items() if in_scope(scopes, *place)}
    ok |= {t for t, p in pairs.items()
           if p and in_scope(scopes, *(v for side in p[1:] for v in records[p[0]].get(side, (None, None))))}
    keep = (kinds != UNDO) & targets.isin(ok)
    keep |= (kinds == UNDO) & targets.isin(set(frame.loc[keep, "decision_id"].astype(str)))
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
        premask(rows, {"value", "reason"})
    return render_template("decisions.html", rows=rows, total=total, limit=SHOWN, mine=mine,
                           may_decide=current_user.has_role("steward"))



@bp.post("/decisions/<int:decision_id>/undo")
@require_role("steward")
def undo(decision_id: int):
    back = safe_path(request.form.get("back"), url_for("decisions.log"))
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
