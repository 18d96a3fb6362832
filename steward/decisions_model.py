"""The decision contract between the console, `gridbridge conflicts` and the sync (append-only `steward_decision`).

| kind          | target                                   | value                                 |
|---------------|------------------------------------------|---------------------------------------|
| `conflict`    | conflict_id                              | the chosen value, canonical (normalised) form; `police_value` / `grid_value` = the conflict's values when decided |
| `field_visit` | conflict_id                              | NULL: 转网格员核实, the conflict stays open                |
| `pair`        | `pair_target(entity, side_a, side_b)`    | `same` / `different` / `unsure` (unsure = escalate) |
| `undo`        | str(decision_id undone)                  | NULL: that decision no longer applies (never a delete) |

Of the decisions on one conflict, the latest of `conflict`/`field_visit` that is not undone is the one in force:
a `field_visit` after a value decision withdraws the value (the conflict waits for the visit). An `undo` may itself
be undone (the decision it undid applies again). `active()` is the one implementation of this, for the sync
(matching/reconcile.py) and the console alike. Pure: pandas only.
"""
from __future__ import annotations

import re

import pandas as pd

CONFLICT, FIELD_VISIT, PAIR, UNDO = "conflict", "field_visit", "pair", "undo"
CONFLICT_KINDS = (CONFLICT, FIELD_VISIT)            # the kinds that target a conflict_id

SAME, DIFFERENT, UNSURE = "same", "different", "unsure"
PAIR_VALUES = (SAME, DIFFERENT, UNSURE)

# actions on a conflict (console buttons, CLI, the Excel drop-down) → the decision kind they record
TAKE_POLICE, TAKE_GRID, VALUE = "take_police", "take_grid", "value"
CONFLICT_ACTIONS = (TAKE_POLICE, TAKE_GRID, VALUE, FIELD_VISIT)

ACTION_LABELS = {TAKE_POLICE: "采用公安值", TAKE_GRID: "采用网格值", VALUE: "更正为", FIELD_VISIT: "转网格员核实"}
PAIR_LABELS = {SAME: "同一人", DIFFERENT: "不同人", UNSURE: "不确定"}
HOUSE_PAIR_LABELS = {SAME: "同一房屋", DIFFERENT: "不同房屋", UNSURE: "不确定"}    # the same choices, for houses


ENTITIES = ("person", "house")
_SIDE = re.compile(r"\|([^:|]+):")                 # where a side may start: `|source:` (a source has no : or |)


def pair_target(entity: str, a: tuple[str, str], b: tuple[str, str]) -> str:
    """`person|grid:WG1|police:P1`: the two (source, source_key) sides sorted, so the order does not matter."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown entity {entity!r}")
    x, y = sorted((f"{a[0]}:{a[1]}", f"{b[0]}:{b[1]}"))
    return f"{entity}|{x}|{y}"


def parse_pair_target(target) -> tuple[str, tuple[str, str], tuple[str, str]] | None:
    """The inverse of `pair_target`: (entity, (source, key), (source, key)), or None for a malformed target (no
    known entity, not two `source:key` sides). A key may hold `:` and `|`: the second side starts at the first
    `|source:` after which the two sides are in `pair_target`'s (sorted) order. A target made from a key that
    itself holds `|source:` can be read two ways; the first is taken."""
    entity, sep, rest = str(target).partition("|")
    first = re.match(r"([^:|]+):", rest) if sep and entity in ENTITIES else None
    if first is None:
        return None
    for m in _SIDE.finditer(rest, first.end()):
        x, y = rest[:m.start()], rest[m.start() + 1:]
        if x <= y:
            (xs, xk), (ys, yk) = x.split(":", 1), y.split(":", 1)
            return entity, (xs, xk), (ys, yk)
    return None


def undone_ids(decisions: pd.DataFrame) -> set[int]:
    """Ids of the decisions an undo in force targets. Undos are read newest first, so an undo that was itself
    undone cancels nothing."""
    if decisions is None or decisions.empty:
        return set()
    undos = decisions[decisions["kind"] == UNDO].sort_values("decision_id", ascending=False)
    cancelled: set[int] = set()
    for did, target in zip(undos["decision_id"], undos["target"]):
        if int(did) in cancelled:
            continue
        try:
            cancelled.add(int(str(target).strip()))
        except ValueError:
            continue                                # a malformed target undoes nothing
    return cancelled


def active(decisions: pd.DataFrame) -> pd.DataFrame:
    """The decisions still in force: without the undos and without what they undid."""
    if decisions is None or decisions.empty:
        return decisions
    gone = undone_ids(decisions)
    keep = (decisions["kind"] != UNDO) & ~decisions["decision_id"].astype("int64").isin(gone)
    return decisions[keep]


def latest(decisions: pd.DataFrame, kinds: tuple[str, ...]) -> pd.DataFrame:
    """Per target, the latest decision in force among `kinds` (ordered by decided_at, then decision_id)."""
    d = active(decisions)
    if d is None or d.empty:
        return d if d is not None else pd.DataFrame()
    d = d[d["kind"].isin(kinds)].sort_values(["decided_at", "decision_id"], kind="stable")
    return d.drop_duplicates("target", keep="last")
