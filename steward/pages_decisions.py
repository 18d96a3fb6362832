"""The decision log: recent decisions (who, when, what, why), and undoing one (by appending an undo, never by
deleting).

    GET  /decisions                 the latest decisions, newest first (`mine=1`: the user's own)
    POST /decisions/<id>/undo       undo one (a steward; within their scopes), with an optional reason
"""
from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from steward import decide
from steward.auth import require_role
from steward.context import add_nav, get_config
from steward.decisions_model import ACTION_LABELS, CONFLICT, FIELD_VISIT, PAIR, PAIR_LABELS, UNDO, undone_ids
from steward.store import NoWarehouse, decisions

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


@bp.get("/decisions", endpoint="log")
def log_page():
    frame = decisions(get_config())
    mine = request.args.get("mine") == "1"
    if mine:
        frame = frame[frame["decided_by"] == current_user.username]
    total = len(frame)
    gone = undone_ids(frame if not mine else decisions(get_config()))
    rows = []
    for r in frame.sort_values("decision_id", ascending=False).head(SHOWN).to_dict("records"):
        r = {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        r["undone"] = int(r["decision_id"]) in gone
        r["kind_label"] = KIND_LABELS.get(r["kind"], r["kind"])
        r["what"] = _describe(r)
        rows.append(r)
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
