"""Recording stewards' decisions: validated, scoped, appended to `steward_decision` (never changed or deleted).

    decide_conflict(config, user, conflict_id, "take_grid" | "take_police" | "value" | "field_visit", value, reason)
    decide_pair(config, user, pair_id, "same" | "different" | "unsure", reason)
    undo(config, user, decision_id, reason)
    bulk_preview(config, user, {"field": "phone", "grid": "640202011"}, "take_grid") → plan (nothing written)
    bulk_apply(config, user, same filter, same action, reason, token=plan["token"]) → what was appended

`user` is anything with `.username`, `.role` (viewer | steward | admin) and `.scopes` (grid_code/community
prefixes; empty = everything). Every decision, from the console, the CLI, a bulk action, an undo or an Excel
import, is made into a row by `conflict_decision` / `pair_decision` / `undo` (all checked alike: a steward with a
name, a reason of at most MAX_REASON characters) and appended by `record` (one transaction: a bulk action or an
import is written whole or not at all). A viewer, or a user deciding outside their scopes, gets PermissionError; an
unknown id LookupError; a refused value or action ValueError (InvalidValue for a value the normalisers refuse).
Every message is a Chinese sentence to show as it is. A conflict decision keeps the conflict's police and grid
values as they are in the warehouse now: the sync applies it while they are unchanged (matching/reconcile.py).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from steward import queues
from steward.decisions_model import (ACTION_LABELS, CONFLICT, CONFLICT_ACTIONS, FIELD_VISIT, PAIR, PAIR_LABELS,
                                     PAIR_VALUES, TAKE_GRID, TAKE_POLICE, UNDO, parse_pair_target, undone_ids)
from steward.queue_sql import conflict_places, record_places
from steward.store import decisions, state, warehouse
from steward.users import in_scope, role_at_least
from steward.values import InvalidValue, field_label, normalise_value

MAX_REASON = 500
MAX_BULK = 5000


class StalePlan(ValueError):
    """The data under a bulk preview changed before it was applied."""


@dataclass(frozen=True)
class Decided:
    decision_id: int
    kind: str
    target: str
    value: str | None
    police_value: str | None = None
    grid_value: str | None = None


# --- checks ----------------------------------------------------------------------------------------
def require_steward(user) -> str:
    """The user's name, when they may decide: PermissionError for a viewer or a user without a name."""
    if not role_at_least(getattr(user, "role", "") or "", "steward"):
        raise PermissionError("只读用户不能作出决定（需要数据管理员权限）")
    name = str(getattr(user, "username", "") or "").strip()
    if not name:
        raise PermissionError("需要登录后才能作出决定")
    return name


def require_scope(user, *values) -> None:
    if not in_scope(list(getattr(user, "scopes", ()) or ()), *values):
        raise PermissionError("该记录不在您负责的网格/社区范围内")


def conflict_scope(row: dict) -> list:
    """The grid_code/community values a user's scopes are checked against, for a conflict queue row."""
    return [row["grid_code"], row["community"]]


def pair_scope(row: dict) -> list:
    """… for a review queue row (in scope when either record is)."""
    return [row["left_grid"], row["right_grid"], row["left_community"], row["right_community"]]


def _reason(reason) -> str | None:
    text = (str(reason).strip() if reason is not None else "") or None
    if text and len(text) > MAX_REASON:
        raise ValueError(f"理由不能超过 {MAX_REASON} 个字")
    return text


def source_options(config, entity: str) -> dict:
    """The source `area_code:` for bare local phone numbers (police first, as the standardise stage has it)."""
    for source in ("police", "grid"):
        sc = config.sources.get(source)
        ent = sc.entities.get(entity) if sc else None
        if ent is not None and ent.area_code:
            return {"area_code": ent.area_code}
    return {"area_code": None}


# --- recording: every decision passes here ------------------------------------------------------------
def _decision(user, kind: str, target: str, value, reason, police_value=None, grid_value=None) -> dict:
    """One checked `steward_decision` row (State.add_decisions): the user may decide, the reason is short enough."""
    return {"kind": kind, "target": str(target), "value": value, "police_value": police_value,
            "grid_value": grid_value, "decided_by": require_steward(user), "reason": _reason(reason)}


def conflict_decision(user, row: dict, kind: str, value, reason=None) -> dict:
    """The row recording `kind`/`value` (from `conflict_value`) on conflict queue row `row`, with the police and
    grid values it was made on (the sync applies it while they are unchanged)."""
    return _decision(user, kind, row["conflict_id"], value, reason, row["police_value"], row["grid_value"])


def pair_decision(user, row: dict, value: str, reason=None) -> dict:
    """The row recording same / different / unsure on review queue row `row` (its `target`)."""
    if value not in PAIR_VALUES:
        raise ValueError(f"未知的判定 {value!r}（可选：{'、'.join(PAIR_LABELS.values())}）")
    return _decision(user, PAIR, row["target"], value, reason)


def record(config, rows: list[dict]) -> list[Decided]:
    """Append `rows` (made by `conflict_decision` / `pair_decision` / `undo`) in one transaction: all or none."""
    ids = state(config).add_decisions(rows)
    return [Decided(i, r["kind"], r["target"], r["value"], r["police_value"], r["grid_value"])
            for i, r in zip(ids, rows)]


# --- one conflict ----------------------------------------------------------------------------------
def conflict_row(config, conflict_id: str) -> dict:
    """The conflict as the queues show it (any warehouse status), or LookupError."""
    row = queues.lookup_conflicts(config, [str(conflict_id)]).get(str(conflict_id))
    if row is None:
        raise LookupError(f"没有编号为 {conflict_id} 的差异（可能已在最近一次同步中消失）")
    return row


def conflict_value(config, row: dict, action: str, value=None) -> tuple[str, str | None]:
    """(kind, value) for `action` on conflict `row`, validated; ValueError/InvalidValue if refused."""
    if action not in CONFLICT_ACTIONS:
        raise ValueError(f"未知的操作 {action!r}（可选：{'、'.join(ACTION_LABELS.values())}）")
    if action == FIELD_VISIT:
        if row.get("state") == "field_visit":
            raise ValueError("这个差异已经转网格员核实，正在等待核实结果")
        return FIELD_VISIT, None
    if action in (TAKE_POLICE, TAKE_GRID):
        side = "police" if action == TAKE_POLICE else "grid"
        taken = row.get(f"{side}_value")
        if taken is None or str(taken).strip() == "":
            raise ValueError(f"{'公安' if side == 'police' else '网格'}系统没有这个字段的值，不能采用")
        return CONFLICT, str(taken)
    return CONFLICT, normalise_value(row["entity"], row["field"], value, **source_options(config, row["entity"]))


def decide_conflict(config, user, conflict_id: str, action: str, value=None, reason=None) -> Decided:
    """Record `action` on one conflict: take the police / grid value, a corrected `value` (normalised like a
    source value; an invalid one raises InvalidValue), or 转网格员核实 (`field_visit`)."""
    require_steward(user)
    row = conflict_row(config, conflict_id)
    require_scope(user, *conflict_scope(row))
    kind, chosen = conflict_value(config, row, action, value)
    return record(config, [conflict_decision(user, row, kind, chosen, reason)])[0]


# --- one pair --------------------------------------------------------------------------------------
def review_row(config, pair_id: str) -> dict:
    """The review pair as the queues show it (any warehouse status), or LookupError."""
    row = queues.lookup_reviews(config, [str(pair_id)]).get(str(pair_id))
    if row is None:
        raise LookupError(f"没有编号为 {pair_id} 的候选对（可能已在最近一次同步中处理）")
    return row


def decide_pair(config, user, pair_id: str, value: str, reason=None) -> Decided:
    """Same / different / not sure (escalate) on one match-review pair."""
    require_steward(user)
    row = review_row(config, pair_id)
    require_scope(user, *pair_scope(row))
    return record(config, [pair_decision(user, row, value, reason)])[0]


# --- undo ------------------------------------------------------------------------------------------
def _scope_of_target(config, kind: str, target: str) -> list | None:
    """grid_code/community values of what a decision targets, or None when the warehouse no longer has it."""
    parsed = None if kind in (CONFLICT, FIELD_VISIT) else parse_pair_target(target)
    if kind not in (CONFLICT, FIELD_VISIT) and parsed is None:
        return None
    with warehouse(config) as con:
        places = (conflict_places(con, [target]) if parsed is None
                  else record_places(con, parsed[0], [parsed[1], parsed[2]]))
    return [v for place in places.values() for v in place] or None


def undo(config, user, decision_id: int, reason=None) -> Decided:
    """Undo one decision by appending `kind='undo'` (target = its id): from the next sync it no longer applies,
    and the queues show the conflict/pair as they would be without it at once."""
    require_steward(user)
    frame = decisions(config)
    try:
        did = int(decision_id)
    except (TypeError, ValueError):
        raise LookupError(f"没有编号为 {decision_id} 的决定") from None
    hit = frame[frame["decision_id"] == did]
    if hit.empty:
        raise LookupError(f"没有编号为 {did} 的决定")
    row = hit.iloc[0]
    if row["kind"] == UNDO:
        raise ValueError("撤销记录本身不能再撤销：请直接重新作出决定")
    if did in undone_ids(frame):
        raise ValueError(f"决定 #{did} 已经撤销过了")
    if getattr(user, "scopes", None):
        values = _scope_of_target(config, row["kind"], str(row["target"]))
        if values is None:
            raise PermissionError("无法确认该决定所涉记录的管辖范围：请联系管理员撤销")
        require_scope(user, *values)
    return record(config, [_decision(user, UNDO, str(did), None, reason)])[0]


# --- bulk ------------------------------------------------------------------------------------------
BULK_ACTIONS = (TAKE_POLICE, TAKE_GRID, FIELD_VISIT)
FILTER_KEYS = ("entity", "field", "grid", "community", "min_age_days", "state")


def _plan(config, user, filters: dict, action: str) -> dict:
    if action not in BULK_ACTIONS:
        raise ValueError(f"批量操作只能是：{'、'.join(ACTION_LABELS[a] for a in BULK_ACTIONS)}")
    unknown = set(filters or {}) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f"未知的筛选条件：{', '.join(sorted(unknown))}")
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    if action != FIELD_VISIT and not filters.get("field"):
        raise ValueError("批量采用某一方的值时必须先选定字段")
    if filters.get("state") in ("pending", "all"):
        raise ValueError("已决定（下次同步生效）的差异不能批量处理")
    page = queues.select_conflicts(config, scope=list(getattr(user, "scopes", ()) or ()), limit=MAX_BULK + 1,
                                   **filters)
    if page.total > MAX_BULK:
        raise ValueError(f"一次最多批量处理 {MAX_BULK} 条（当前筛选出 {page.total} 条），请缩小筛选范围")
    changes, skipped = [], []
    keep = ("conflict_id", "entity", "entity_id", "label", "field", "field_label", "police_value", "grid_value",
            "grid_code", "community", "state")
    for r in page.items:
        item = {k: r.get(k) for k in keep}
        try:
            kind, value = conflict_value(config, r, action)
        except ValueError as e:
            skipped.append(item | {"reason": str(e)})
            continue
        changes.append(item | {"kind": kind, "new_value": value})
    digest = hashlib.sha256("\n".join(f"{c['conflict_id']}|{c['police_value']}|{c['grid_value']}|{c['new_value']}"
                                      for c in changes).encode()).hexdigest()[:20]
    return {"action": action, "action_label": ACTION_LABELS[action], "filters": filters, "changes": changes,
            "skipped": skipped, "count": len(changes), "token": digest, "warehouse": page.warehouse,
            "field_label": field_label(filters["field"]) if filters.get("field") else None}


def bulk_preview(config, user, filters: dict, action: str) -> dict:
    """What `bulk_apply` would append for the open conflicts matching `filters` (keys: entity, field, grid,
    community, min_age_days, state) within the user's scope: `changes` (conflict, both values, `new_value`),
    `skipped` (with a reason, e.g. that side has no value), `count`, and `token` (pass it to bulk_apply so that
    nothing is applied if the data changed in between). Writes nothing."""
    require_steward(user)
    return _plan(config, user, filters, action)


def bulk_apply(config, user, filters: dict, action: str, reason=None, token: str | None = None) -> dict:
    """Append one decision per change of the plan (same rules as bulk_preview). With `token`, refuses
    (StalePlan) when the plan is no longer the one previewed. Returns the plan plus `appended` (decision ids)."""
    require_steward(user)
    plan = _plan(config, user, filters, action)
    if token is not None and token != plan["token"]:
        raise StalePlan("自预览以来这些差异已有变化（同步或他人已处理），请重新预览后再执行")
    rows = [conflict_decision(user, c, c["kind"], c["new_value"], reason) for c in plan["changes"]]
    return plan | {"appended": [d.decision_id for d in record(config, rows)]}


__all__ = ["Decided", "InvalidValue", "StalePlan", "bulk_apply", "bulk_preview", "decide_conflict", "decide_pair",
           "undo", "conflict_row", "review_row", "conflict_value", "conflict_decision", "pair_decision", "record",
           "require_steward", "require_scope", "conflict_scope", "pair_scope"]
