"""Steward pair decisions as matching constraints (must-link / cannot-link, as in Splink or dedupe).

A steward decides a match-review pair with a `steward_decision` row `kind='pair'`, `target =
pair_target(entity, (a_src, a_key), (b_src, b_key))` = `"{entity}|{a_src}:{a_key}|{b_src}:{b_key}"` (sides
sorted, so the target does not depend on the order) and `value`:

* `same` — must-link: the two records are put in one entity on every later sync, whatever they score;
* `different` — cannot-link: the two records are never in one entity, not even through a third record;
* `unsure` — escalated: nothing changes in the clustering; the pair stays in `match_review` with status
  `escalated`.

`kind='undo'`, `target=str(decision_id)` cancels that decision (an undo can itself be undone). Of the pair
decisions still in force, the latest per pair wins (steward/decisions_model.py `latest`, the one implementation
of undo and "latest" for the console and the sync); so undoing the latest decision brings back the one before
it, or the machine's own result when there is none. Decisions on records no longer in the sources simply do
not apply.

`pair_constraints(decisions, entity)` turns the decision log into `PairConstraints` on record ids
(`source:source_key`, matching/records.py; targets are made and read by `steward.decisions_model.pair_target` /
`parse_pair_target`);
`constrained_components` is the clustering step that keeps cannot-link
pairs apart (used by matching/clustering.py). Pure functions, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching._graph import connected_components
from steward.decisions_model import DIFFERENT, PAIR, SAME, UNSURE, latest, parse_pair_target

STEWARD_RULE = "steward"          # match_rule / link type of a link a steward decided
HELD_APART = "steward_constraint"  # review reason: a link not followed because of a `different` decision
ESCALATED = "escalated"            # match_review status of a pair decided `unsure`

_COLUMNS = ["l_id", "r_id", "value", "decision_id"]


def _record_ids(target: str) -> tuple[str, str, str] | None:
    """(entity, record id, record id) of a `pair_target`, the ids in string order; None for a malformed target
    or a record paired with itself (the sync never fails on one)."""
    parsed = parse_pair_target(str(target))
    if parsed is None:
        return None
    entity, (a_src, a_key), (b_src, b_key) = parsed
    a, b = sorted((f"{a_src}:{a_key}", f"{b_src}:{b_key}"))
    return (entity, a, b) if a != b else None


@dataclass(frozen=True)
class PairConstraints:
    """The pair decisions in force for one entity: `pairs` has `l_id` < `r_id` (record ids), `value`
    (same/different/unsure) and `decision_id`, one row per pair."""
    pairs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_COLUMNS))

    def _of(self, value: str) -> pd.DataFrame:
        return self.pairs[self.pairs["value"] == value].reset_index(drop=True)

    @property
    def must(self) -> pd.DataFrame:
        return self._of(SAME)

    @property
    def cannot(self) -> pd.DataFrame:
        return self._of(DIFFERENT)

    @property
    def unsure(self) -> pd.DataFrame:
        return self._of(UNSURE)

    def __len__(self) -> int:
        return len(self.pairs)

    def decision_for(self, a_id: str, b_id: str) -> tuple[str, int] | None:
        """(value, decision_id) in force for the records `a_id`, `b_id` (`source:source_key`), or None
        (`gridbridge explain` shows it)."""
        l_id, r_id = sorted((a_id, b_id))
        hit = self.pairs[(self.pairs["l_id"] == l_id) & (self.pairs["r_id"] == r_id)]
        return (str(hit["value"].iloc[0]), int(hit["decision_id"].iloc[0])) if len(hit) else None


def pair_constraints(decisions: pd.DataFrame | None, entity: str) -> PairConstraints:
    """The `PairConstraints` of `entity` in the steward decision log (`State.decisions()`): the pair decision in
    force per pair (`steward.decisions_model.latest`: undos applied, the latest wins) with a known value and a
    well-formed target."""
    d = latest(decisions, (PAIR,)) if decisions is not None and len(decisions) else None
    if d is None or d.empty:
        return PairConstraints()
    d = d[d["value"].isin((SAME, DIFFERENT, UNSURE))]
    parsed = [_record_ids(t) for t in d["target"]]          # the decided pairs only: a handful
    ok = np.array([p is not None and p[0] == entity for p in parsed], dtype=bool)
    if not ok.any():
        return PairConstraints()
    sides = [p for p, good in zip(parsed, ok) if good]
    pairs = pd.DataFrame({"l_id": [p[1] for p in sides], "r_id": [p[2] for p in sides],
                          "value": d["value"].to_numpy()[ok],
                          "decision_id": d["decision_id"].to_numpy(dtype=np.int64)[ok]})
    pairs = pairs.drop_duplicates(["l_id", "r_id"], keep="last")    # `latest` is in decision order
    return PairConstraints(pairs.reset_index(drop=True))


def constrained_components(n: int, a: np.ndarray, b: np.ndarray, order: np.ndarray,
                           cannot_a: np.ndarray, cannot_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Components of nodes 0..n-1 joined by edges a[i]-b[i] such that no cannot-link pair
    (cannot_a[j], cannot_b[j]) ends up in one component; returns (labels: smallest node per component,
    held: mask of edges not followed).

    Rule: components are built as usual; only a component that would hold both ends of a cannot-link pair is
    rebuilt, Kruskal-style — its edges are added best first (`order`, edge positions best first) and an edge
    that would join a part holding one end of a cannot-link pair to a part holding the other end is held back.
    Everything outside those few components stays vectorised; the loop runs over their edges only."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    labels = connected_components(n, a, b)
    held = np.zeros(len(a), dtype=bool)
    ca, cb = np.asarray(cannot_a, dtype=np.int64), np.asarray(cannot_b, dtype=np.int64)
    bad = labels[ca] == labels[cb]
    if not bad.any():
        return labels, held
    comps = np.unique(labels[ca[bad]])
    parent: dict[int, int] = {int(v): int(v) for v in np.flatnonzero(np.isin(labels, comps))}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    apart = list(zip(ca[bad].tolist(), cb[bad].tolist()))
    order = np.asarray(order, dtype=np.int64)
    for e in order[np.isin(labels[a[order]], comps)].tolist():
        ra, rb = find(int(a[e])), find(int(b[e]))
        if ra == rb:
            continue
        if any({find(x), find(y)} == {ra, rb} for x, y in apart):
            held[e] = True
            continue
        parent[max(ra, rb)] = min(ra, rb)      # the root is always the part's smallest node
    nodes = np.fromiter(parent, dtype=np.int64, count=len(parent))
    labels = labels.copy()
    labels[nodes] = [find(int(v)) for v in nodes]
    return labels, held
