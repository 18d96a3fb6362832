"""Id lineage: where the steward decisions made on an id go when ids merge, split or retire.

A steward decision targets a conflict `sha1(<id>|<field>)`, so it is keyed by the id of the golden entity
it was made on. Ids are never reused (the issued counter is persisted, warehouse/idstate.py), but they do
retire: two entities merge (the retired id names the survivor, `merged_into`) or part of an entity
splits off under a new id (`split_from`, found here from the previous and the new xref). The lineage
events of all published runs give, per living id, the ids whose decisions it inherits (`decision_heirs`):

* `merge`: the survivor inherits the retired id's decisions (transitively): such a decision applies to
  the survivor's conflict of the same field while the values it was made on still match, else that
  conflict is reopened and shows the old decision;
* `split`: the split-off part inherits its origin's decisions, but only where the values still match
  (the part that kept the id already shows a changed decision as reopened).

`issued_at` dates each id by the run that issued it, so a decision older than its id (a number reused
before the counter was persisted) is never applied to it. Pure functions, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.ids import KEYS, id_number

MERGE, SPLIT = "merge", "split"
EVENT_COLUMNS = ["id", "event", "other_id"]       # event: retired (other_id = merged_into) | split (= split_from)
ISSUE_COLUMNS = ["first_no", "last_no", "issued_at"]


def split_from(previous: pd.DataFrame | None, xref: pd.DataFrame, id_col: str, prefix: str,
               floor: int) -> pd.DataFrame:
    """New ids (number above `floor`) whose records had an old id before: `id`, `split_from` (the old id
    they share most records with; ties to the oldest)."""
    empty = pd.DataFrame({"id": pd.Series(dtype=object), "split_from": pd.Series(dtype=object)})
    if previous is None or len(previous) == 0 or len(xref) == 0:
        return empty
    new = xref[[*KEYS, id_col]][(id_number(xref[id_col], prefix) > floor).to_numpy()]
    if new.empty:
        return empty
    prev = previous[[*KEYS, id_col]].dropna(subset=[id_col]).rename(columns={id_col: "split_from"})
    j = (new.astype({k: str for k in KEYS}).merge(prev.astype({k: str for k in KEYS}), on=KEYS)
         .groupby([id_col, "split_from"]).size().rename("n").reset_index())
    if j.empty:
        return empty
    j["num"] = id_number(j["split_from"], prefix)
    j = j.sort_values(["n", "num", "split_from"], ascending=[False, True, True], kind="stable")
    return (j.drop_duplicates(id_col)[[id_col, "split_from"]].rename(columns={id_col: "id"})
            .sort_values("id", ignore_index=True))


def lineage_events(retired: pd.DataFrame, splits: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """One frame of `EVENT_COLUMNS` from `assign_ids`' retired ids and `split_from`."""
    r = pd.DataFrame({"id": retired[id_col].astype(object), "event": "retired",
                      "other_id": retired["merged_into"].astype(object)})
    s = pd.DataFrame({"id": splits["id"].astype(object), "event": "split",
                      "other_id": splits["split_from"].astype(object)})
    out = pd.concat([r, s], ignore_index=True)
    return out.where(out.notna(), None)[EVENT_COLUMNS]


@dataclass
class Lineage:
    """Lineage events of the published runs (`EVENT_COLUMNS`) and the issued id ranges (`ISSUE_COLUMNS`)."""
    prefix: str
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EVENT_COLUMNS))
    issued: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))

    def heirs(self, live_ids) -> pd.DataFrame:
        return decision_heirs(self.events, live_ids)

    def issued_at(self, ids: pd.Series) -> pd.Series:
        return issued_at(ids, self.issued, self.prefix)


def decision_heirs(events: pd.DataFrame, live_ids) -> pd.DataFrame:
    """Per living id, the other ids whose decisions it inherits: `entity_id`, `origin`, `via`
    (`merge` when every step is a merge, else `split`)."""
    parents: dict[str, list[tuple[str, str]]] = {}
    for i, ev, other in events[EVENT_COLUMNS].itertuples(index=False):
        if other is None or (isinstance(other, float) and np.isnan(other)) or i == other:
            continue
        if ev == "retired":                          # the survivor inherits the retired id
            parents.setdefault(str(other), []).append((str(i), MERGE))
        elif ev == "split":                          # the split-off part inherits its origin
            parents.setdefault(str(i), []).append((str(other), SPLIT))
    rows = []
    for root in sorted(set(map(str, live_ids)) & parents.keys()):
        best: dict[str, str] = {}
        stack = [(root, MERGE)]
        while stack:
            node, via = stack.pop()
            for parent, kind in parents.get(node, ()):
                step = MERGE if via == MERGE and kind == MERGE else SPLIT
                if parent == root or best.get(parent) == MERGE or best.get(parent) == step:
                    continue
                best[parent] = step
                stack.append((parent, step))
        rows += [(root, origin, via) for origin, via in best.items()]
    return pd.DataFrame(rows, columns=["entity_id", "origin", "via"], dtype=object)


def issued_at(ids: pd.Series, issued: pd.DataFrame, prefix: str) -> pd.Series:
    """When each id was issued (ISO text), or None for ids issued before the counter was persisted."""
    out = np.full(len(ids), None, dtype=object)
    if issued is None or issued.empty or ids.empty:
        return pd.Series(out, index=ids.index, dtype=object)
    r = issued.sort_values("first_no")
    first, last = r["first_no"].to_numpy(dtype=np.int64), r["last_no"].to_numpy(dtype=np.int64)
    num = id_number(ids, prefix).to_numpy(dtype=float)
    k = np.searchsorted(first, np.nan_to_num(num, nan=-1), side="right") - 1
    ok = ~np.isnan(num) & (k >= 0)
    ok[ok] = num[ok] <= last[k[ok]]
    out[ok] = r["issued_at"].to_numpy(dtype=object)[k[ok]]
    return pd.Series(out, index=ids.index, dtype=object)
