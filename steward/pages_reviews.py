"""Console pages for match reviews: pairs the model could not settle (in the review band), and deciding them.

    GET  /reviews                      queue (filters: steward/queue_args.py), sorted by impact, 50 a page
    GET  /reviews/at/<pos>?after=<id>  the pair at queue position `pos` (skipping `after`): "next"
    GET  /reviews/<pair_id>            both records side by side (differing characters marked), the per-field
                                       match weights, each side's household and house, golden records, history
    POST /reviews/<pair_id>/decide     same / different / not sure (escalate), with a reason

A decision is a `pair` row in steward_decision (decisions_model.py); the next sync links or separates the two
records (matching/constraints.py) and keeps doing so in every sync after it.
"""
from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from steward import decide, queues
from steward.auth import require_role
from steward.context import add_nav, get_config
from steward.decisions_model import HOUSE_PAIR_LABELS, PAIR_LABELS, PAIR_VALUES, UNSURE
from steward.detail import char_diff
from steward.page_helpers import mask_page, redirect_to_next, scopes, user_may_see
from steward.queue_args import PAGE_SIZE, QueueArgs
from steward.values import display_value

log = logging.getLogger("gridbridge.steward")
bp = Blueprint("reviews", __name__)
bp.record_once(lambda s: add_nav(s.app, "reviews.queue", "匹配复核", "viewer"))

STATE_CHOICES = [("", "待复核（不含已决定）"), ("open", "待复核"), ("escalated", "已上报（不确定）"),
                 ("reopened", "已判定但未能生效"), ("pending", "已决定，下次同步生效"), ("all", "全部")]
COMPARED = {"person": ("name", "id_number", "sex", "ethnicity", "birth_date", "phone", "hukou_address",
                       "current_address", "person_type", "relation", "grid_code", "status", "updated_at"),
            "house": ("address", "community", "compound", "building", "unit", "room", "usage", "area",
                      "owner_name", "owner_id_number", "owner_phone", "is_rented", "grid_code", "updated_at")}


def _args() -> QueueArgs:
    return QueueArgs.from_request(request.values, conflicts=False)


@bp.get("/reviews")
def queue():
    args = _args()
    page = queues.match_reviews(get_config(), scope=scopes(), **args.query(conflicts=False), limit=PAGE_SIZE,
                                offset=args.offset)
    return render_template("reviews.html", page=page, items=page.items, args=args, state_choices=STATE_CHOICES,
                           page_size=PAGE_SIZE)


@bp.get("/reviews/at/<int:pos>")
def at(pos: int):
    args, after = _args(), request.args.get("after", "")
    page = queues.match_reviews(get_config(), scope=scopes(), **args.query(conflicts=False), limit=2,
                                offset=max(0, pos))
    return redirect_to_next(page, after=after, id_key="pair_id", pos=pos, args=args, queue="reviews.queue",
                            detail="reviews.detail")


def side_by_side(entity: str, left: dict | None, right: dict | None) -> list[dict]:
    """One row per compared field: its label, both values cut into (text, differs) runs, and whether they differ."""
    from warehouse.export import label
    rows = []
    for f in COMPARED[entity]:
        a, b = display_value(f, (left or {}).get(f)), display_value(f, (right or {}).get(f))
        if a is None and b is None:
            continue
        la, rb = char_diff(a, b)
        rows.append({"field": f, "label": label(entity, f) or f, "left": la, "right": rb,
                     "differs": (a is not None and b is not None and str(a) != str(b)), "left_raw": a, "right_raw": b})
    return rows


@bp.get("/reviews/<pair_id>")
def detail(pair_id: str):
    d = queues.review_detail(get_config(), pair_id)
    if d is None:
        abort(404)
    pair = d["pair"]
    if not user_may_see(decide.pair_scope(pair)):
        abort(403)
    mask_page(d, ("left", "right"))
    labels = PAIR_LABELS if pair["entity"] == "person" else HOUSE_PAIR_LABELS
    rows = side_by_side(pair["entity"], d["left"]["record"], d["right"]["record"])
    return render_template("review.html", d=d, p=pair, rows=rows, args=_args(), pos=request.args.get("pos", type=int),
                           choices=[(v, labels[v]) for v in PAIR_VALUES], may_decide=current_user.has_role("steward"),
                           max_weight=max([abs(w["weight"] or 0) for w in d["weights"]] or [1]) or 1)


@bp.post("/reviews/<pair_id>/decide")
@require_role("steward")
def decide_one(pair_id: str):
    value, reason = request.form.get("value", ""), request.form.get("reason")
    args, pos = _args(), request.form.get("pos", type=int)
    try:
        made = decide.decide_pair(get_config(), current_user, pair_id, value, reason)
    except LookupError as e:
        flash(str(e), "error")
        return redirect(url_for("reviews.queue", **args.link()))
    except ValueError as e:
        flash(str(e), "error")
        return redirect(url_for("reviews.detail", pair_id=pair_id, **args.link()))
    log.info("pair decision #%s (%s) on %s by %s", made.decision_id, value, pair_id, current_user.username)
    labels = HOUSE_PAIR_LABELS if made.target.startswith("house|") else PAIR_LABELS
    flash(f"已记录决定 #{made.decision_id}：{labels[value]}。" +
          ("已上报，该候选对仍留在队列中。" if value == UNSURE else "下次同步时生效。"), "info")
    if pos is None:
        return redirect(url_for("reviews.detail", pair_id=pair_id, **args.link()))
    return redirect(url_for("reviews.at", pos=pos, after=pair_id, **args.link()))
