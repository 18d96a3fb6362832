"""Id lineage: where the steward decisions made on an id go when ids merge, split or retire.

A steward decision targets a conflict `sha1(<id>|<field>)`, so it is keyed by the id of the golden entity
it was made on. Ids are never reused (the issued counter is persisted, warehouse/idstate.py), so a decision
can only ever name the entity it was made on; but ids do retire: two entities merge (the retired id names
the survivor, `merged_into`) or part of an entity splits off under a new id (`split_from`); both come from
the id assignment (matching/ids.py `assign_ids`). The lineage events of all published runs give, per living
id, the ids whose decisions it inherits (`decision_heirs`):

* `merge`: the survivor inherits the retired id's decisions (transitively): such a decision applies to
  the survivor's conflict of the same field while the values it was made on still match, else that
  conflict is reopened and shows the old decision;
* `split`: the split-off part inherits its origin's decisions, but only where the values still match
  (the part that kept the id already shows a changed decision as reopened).

Pure functions, no I/O.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MERGE, SPLIT = "merge", "split"
EVENT_COLUMNS = ["id", "event", "other_id"]       # event: retired (other_id = merged_into) | split (= split_from)
HEIR_COLUMNS = ["entity_id", "origin", "via"]


def lineage_events(retired: pd.DataFrame, split: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """One frame of `EVENT_COLUMNS` from `assign_ids`' `retired` and `split` ids."""
    r = pd.DataFrame({"id": retired[id_col].astype(object), "event": "retired",
                      "other_id": retired["merged_into"].astype(object)})
    s = pd.DataFrame({"id": split[id_col].astype(object), "event": "split",
                      "other_id": split["split_from"].astype(object)})
    out = pd.concat([r, s], ignore_index=True)
    return out.where(out.notna(), None)[EVENT_COLUMNS]


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
    if not parents:
        return pd.DataFrame(columns=HEIR_COLUMNS, dtype=object)
    live = pd.Series(live_ids, dtype=object)
    rows = []
    for root in sorted(pd.unique(live[live.isin(list(parents))])):   # hashes the few parents, not every id
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
    return pd.DataFrame(rows, columns=HEIR_COLUMNS, dtype=object)
