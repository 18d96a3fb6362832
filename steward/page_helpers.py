"""Small helpers the console's pages share: the user's scopes, what a viewer may see, the no-warehouse page.

Stewards see full values (they decide on them); a viewer sees ID numbers and phones masked as the analysts'
views show them (`schemas.normalise.masking`): `masked_rows` for queue rows (one vectorised call per column) and
the `shown(field, value)` template global for single values.
"""
from __future__ import annotations

import pandas as pd
from flask import flash, redirect, url_for
from flask_login import current_user

from schemas.normalise.masking import mask_fields, mask_value
from steward.users import in_scope
from steward.values import display_value


def scopes() -> list[str]:
    return list(getattr(current_user, "scopes", ()) or ())


def sees_full_values() -> bool:
    return bool(current_user.is_authenticated and current_user.has_role("steward"))


def user_may_see(values) -> bool:
    """The record with these grid_code/community values is in the user's scopes."""
    return in_scope(scopes(), *values)


def masked_rows(rows: list[dict], columns, field_key: str = "field") -> list[dict]:
    """`rows` as they are for a steward; for a viewer, `columns` masked by each row's field (`field_key`)."""
    if sees_full_values() or not rows:
        return rows
    fields = pd.Series([r.get(field_key) for r in rows], dtype=object)
    out = [dict(r) for r in rows]
    for col in columns:
        if any(col in r for r in rows):
            masked = mask_fields(fields, pd.Series([r.get(col) for r in rows], dtype=object))
            for r, v in zip(out, masked):
                r[col] = v
    return out


def premask(records, fields=None) -> None:
    """Mask the values of `records` (dicts; None skipped) in place, each by its field, in one vectorised call for
    the whole page: every string value, or only those of `fields`. Templates then show them through `label`."""
    refs = [(r, k) for r in records if r for k, v in r.items()
            if isinstance(v, str) and (fields is None or k in fields)]
    if not refs:
        return
    masked = mask_fields(pd.Series([k for _, k in refs], dtype=object),
                         pd.Series([r[k] for r, k in refs], dtype=object))
    for (r, k), v in zip(refs, masked):
        r[k] = v


def page_records(d: dict, sides) -> list[dict]:
    """The source records, houses and household members of a detail page (`sides`: its side keys)."""
    out = []
    for name in sides:
        s = d.get(name) or {}
        out += [s.get("record"), s.get("house"), s.get("golden"), *(s.get("members") or [])]
    return out


def mask_page(d: dict, sides) -> None:
    """A detail page's records as the user may see them: household members' ID numbers and phones masked for
    everyone (they are not what is being decided); for a viewer everything, decision values and reasons too."""
    members = [m for name in sides for m in ((d.get(name) or {}).get("members") or [])]
    premask(members, {"id_number", "phone"})
    if not sees_full_values():
        premask(page_records(d, sides))
        premask(d.get("history") or [], {"value", "reason"})


def label(field: str, value):
    """A value already masked as the user may see it (`mask_page`), as a steward reads it (codes named)."""
    return display_value(field, value)


def shown(field: str, value):
    """One value for display (codes with their names: values.display_value): as it is for a steward, masked by
    `field` for a viewer."""
    value = display_value(field, value)
    if value is None or sees_full_values():
        return value
    return mask_value(field, value)


def redirect_to_next(page, *, after: str, id_key: str, pos: int, args, queue: str, detail: str):
    """To the detail page (`detail` endpoint, `id_key` argument) of the first row of `page` (the queue from `pos`,
    two rows) other than `after` (the one just decided or skipped: it has left the queue, or it is still at `pos`
    when it stays, as after 转网格员核实 or 不确定), with its own position; back to the `queue` when none is left."""
    nxt = [(i, r) for i, r in enumerate(page.items) if r[id_key] != after]
    if not nxt:
        flash("这个队列已经处理完了" if page.total == 0 else "已到队列末尾", "info")
        return redirect(url_for(queue, **args.link(page=1)))
    i, row = nxt[0]
    return redirect(url_for(detail, **{id_key: row[id_key]}, pos=max(0, pos) + i, **args.link()))

