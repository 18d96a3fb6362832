"""Console pages for field conflicts: the queue, one conflict, deciding it, and bulk actions with a preview.

    GET  /conflicts                       queue (filters: steward/queue_args.py), sorted by impact, 50 a page
    GET  /conflicts/at/<pos>?after=<id>   the conflict at queue position `pos` (skipping `after`): "next"
    GET  /conflicts/<conflict_id>         both values with the differing characters marked, both source records,
                                          household and house, the golden record, history with undo
    POST /conflicts/<conflict_id>/decide  take police / take grid / corrected value / 转网格员核实 (+ reason)
    POST /conflicts/bulk                  preview a bulk action on the filtered queue (nothing written)
    POST /conflicts/bulk/apply            apply the previewed plan (refused if the data changed since)

URLs carry conflict ids, field names and grid/community prefixes only: never an ID number or a phone (corrected
values travel in POST bodies). Every write goes through steward/decide.py (checks, scopes, one transaction).
"""
from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from steward import decide, queues
from steward.auth import require_role
from steward.context import add_nav, get_config
from steward.detail import value_diff
from steward.decisions_model import ACTION_LABELS, CONFLICT_ACTIONS, FIELD_VISIT
from steward.page_helpers import (mask_page, masked_rows, redirect_to_next, scopes, sees_full_values,
                                  user_may_see)
from steward.queue_args import PAGE_SIZE, QueueArgs
from steward.values import InvalidValue

log = logging.getLogger("gridbridge.steward")
bp = Blueprint("conflicts", __name__)
bp.record_once(lambda s: add_nav(s.app, "conflicts.queue", "字段差异", "viewer"))

STATE_CHOICES = [("", "待处理（不含已决定）"), ("open", "待处理"), ("reopened", "值已变化需重新决定"),
                 ("field_visit", "已转网格员核实"), ("pending", "已决定，下次同步生效"), ("all", "全部")]
MASKED = ("police_value", "grid_value", "police_raw", "grid_raw", "chosen_value", "decision_value")


def with_diffs(rows: list[dict]) -> list[dict]:
    """Each conflict row with `diff_police` / `diff_grid`: its two values as a steward reads them, cut into runs
    with the differing characters marked (detail.value_diff)."""
    for r in rows:
        r["diff_police"], r["diff_grid"] = value_diff(r["field"], r["police_value"], r["grid_value"])
    return rows


def _args() -> QueueArgs:
    return QueueArgs.from_request(request.values, conflicts=True)


@bp.get("/conflicts")
def queue():
    args = _args()
    page = queues.open_conflicts(get_config(), scope=scopes(), **args.query(), limit=PAGE_SIZE,
                                 offset=args.offset)
    items = with_diffs(page.items) if sees_full_values() else masked_rows(page.items, MASKED)
    fields = sorted(page.fields.items(), key=lambda kv: -kv[1])
    return render_template("conflicts.html", page=page, items=items, args=args, state_choices=STATE_CHOICES,
                           fields=[(f, queues.field_label(f), n) for f, n in fields], page_size=PAGE_SIZE,
                           bulk_actions=[(a, ACTION_LABELS[a]) for a in decide.BULK_ACTIONS])


@bp.get("/conflicts/at/<int:pos>")
def at(pos: int):
    """The conflict at position `pos` of the filtered queue, other than `after` (the one just decided or skipped:
    a decided conflict leaves the default queue, one sent for a field visit stays)."""
    args, after = _args(), request.args.get("after", "")
    page = queues.open_conflicts(get_config(), scope=scopes(), **args.query(), limit=2, offset=max(0, pos))
    return redirect_to_next(page, after=after, id_key="conflict_id", pos=pos, args=args, queue="conflicts.queue",
                            detail="conflicts.detail")


def _detail_page(conflict_id: str, error: str | None = None, status: int = 200, form: dict | None = None):
    config = get_config()
    d = queues.conflict_detail(config, conflict_id)
    if d is None:
        abort(404)
    row = d["conflict"]
    if not user_may_see(decide.conflict_scope(row)):
        abort(403)
    mask_page(d, ("police", "grid"))
    args = _args()
    pos = request.values.get("pos", type=int)
    if error:
        flash(error, "error")
    return render_template("conflict.html", d=d, c=row, args=args, pos=pos, form=form or {},
                           actions=[(a, ACTION_LABELS[a]) for a in CONFLICT_ACTIONS],
                           may_decide=current_user.has_role("steward")), status


@bp.get("/conflicts/<conflict_id>")
def detail(conflict_id: str):
    return _detail_page(conflict_id)


@bp.post("/conflicts/<conflict_id>/decide")
@require_role("steward")
def decide_one(conflict_id: str):
    action = request.form.get("action", "")
    value, reason = request.form.get("value"), request.form.get("reason")
    args = _args()
    pos = request.form.get("pos", type=int)
    try:
        made = decide.decide_conflict(get_config(), current_user, conflict_id, action, value, reason)
    except LookupError as e:
        flash(str(e), "error")
        return redirect(url_for("conflicts.queue", **args.link()))
    except (InvalidValue, ValueError) as e:
        return _detail_page(conflict_id, str(e), 400, form={"value": value or "", "reason": reason or ""})
    log.info("conflict decision #%s (%s) on %s by %s", made.decision_id, made.kind, conflict_id, current_user.username)
    what = ACTION_LABELS.get(action, action)
    flash(f"已记录决定 #{made.decision_id}：{what}。" +
          ("该差异仍在队列中，等待网格员核实。" if made.kind == FIELD_VISIT else "下次同步时写入数据仓库。"), "info")
    if pos is None:
        return redirect(url_for("conflicts.detail", conflict_id=conflict_id, **args.link()))
    return redirect(url_for("conflicts.at", pos=pos, after=conflict_id, **args.link()))


# --- bulk --------------------------------------------------------------------------------------------
@bp.post("/conflicts/bulk")
@require_role("steward")
def bulk_preview():
    args = _args()
    action = request.form.get("action", "")
    try:
        plan = decide.bulk_preview(get_config(), current_user, args.filters(), action)
    except ValueError as e:
        flash(str(e), "error")
        return redirect(url_for("conflicts.queue", **args.link()))
    return render_template("bulk.html", plan=plan, args=args, action=action, listed=plan["changes"][:300],
                           state_labels=queues.STATE_LABELS)


@bp.post("/conflicts/bulk/apply")
@require_role("steward")
def bulk_apply():
    args = _args()
    action = request.form.get("action", "")
    try:
        done = decide.bulk_apply(get_config(), current_user, args.filters(), action, request.form.get("reason"),
                                 token=request.form.get("token", ""))
    except ValueError as e:                     # StalePlan included: say so, show the queue again
        flash(str(e), "error")
        return redirect(url_for("conflicts.queue", **args.link()))
    ids = done["appended"]
    log.info("bulk %s: %d decisions by %s", action, len(ids), current_user.username)
    flash(f"已批量记录 {len(ids)} 个决定（{done['action_label']}）" +
          (f"：#{ids[0]}–#{ids[-1]}，下次同步时写入数据仓库。" if ids else "。"), "info")
    return redirect(url_for("conflicts.queue", **args.link(page=1)))
