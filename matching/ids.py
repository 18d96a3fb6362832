"""Stable entity ids across runs (user-asks.md §1).

The id is our persisted state, never a record id or a cluster number. Given this run's clusters
and the previous run's xref (`source`, `source_key`, `person_id`/`house_id`):

* each cluster takes the old id it shares most records with; ties go to the oldest (smallest) id;
  an old id goes to at most one cluster (greedy, best overlap first);
* so a merge keeps the survivor's id and a split leaves the id with the largest part;
* clusters with no old id left get new ids `P00000001`, … continuing after the largest id issued
  before: the previous xref's largest id or the persisted `issued_max` (warehouse/idstate.py), whichever
  is larger — retired ids are no longer in the xref, so only the counter keeps a freed number from being
  issued again;
* old ids no longer used are returned as `retired`, with the id that took over most of their
  records (`merged_into`) or none when all their records are gone;
* new ids whose records had an old id are returned as `split`, with the old id they share most records
  with (`split_from`; ties to the oldest id).

Pure function, no I/O: the same input always gives the same ids.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching._graph import greedy_one_to_one

KEYS = ["source", "source_key"]


@dataclass
class StableIds:
    assigned: pd.DataFrame    # source, source_key, cluster, <id_col>
    retired: pd.DataFrame     # <id_col>, merged_into
    split: pd.DataFrame       # <id_col>, split_from: new ids that took records of an old id
    issued_max: int           # largest id number issued so far (persist it with the xref)
    new_ids: int              # ids issued by this call: issued_max - new_ids + 1 … issued_max


def id_number(ids: pd.Series, prefix: str) -> pd.Series:
    """The counter of ids like `P00000042` (NaN for ids of another shape)."""
    s = ids.astype(str)
    return pd.to_numeric(s.str.slice(len(prefix)).where(s.str.startswith(prefix)), errors="coerce")


def format_ids(numbers: np.ndarray, prefix: str, width: int = 8) -> np.ndarray:
    return np.array([f"{prefix}{int(k):0{width}d}" for k in numbers], dtype=object)


def assign_ids(members: pd.DataFrame, previous: pd.DataFrame | None = None, *,
               id_col: str = "person_id", prefix: str = "P", width: int = 8,
               issued_max: int | None = None) -> StableIds:
    """Stable ids for `members` (`source`, `source_key`, `cluster`)."""
    cur = members[[*KEYS, "cluster"]].reset_index(drop=True)
    if previous is None or len(previous) == 0:
        previous = pd.DataFrame({**{k: pd.Series(dtype=object) for k in KEYS}, id_col: pd.Series(dtype=object)})
    prev = previous[[*KEYS, id_col]].dropna(subset=[id_col]).astype({k: str for k in KEYS})
    prev_max = id_number(prev[id_col], prefix).max() if len(prev) else None
    floor = int(max(0 if prev_max is None or pd.isna(prev_max) else prev_max, issued_max or 0))

    joined = cur.astype({k: str for k in KEYS}).merge(prev, on=KEYS, how="left")
    overlap = (joined.dropna(subset=[id_col]).groupby(["cluster", id_col]).size()
               .rename("n").reset_index())
    clusters = np.sort(cur["cluster"].astype(str).unique())
    chosen: dict[str, str] = {}
    if len(overlap):
        c_code = np.searchsorted(clusters, overlap["cluster"].astype(str).to_numpy())
        old_ids, o_code = np.unique(overlap[id_col].astype(str).to_numpy(), return_inverse=True)
        num = id_number(overlap[id_col], prefix).fillna(np.inf).to_numpy()
        # best first: most shared records, then oldest id, then id text, then cluster label
        order = np.lexsort((c_code, o_code, num, -overlap["n"].to_numpy()))
        won = greedy_one_to_one(c_code, o_code, order)
        chosen = dict(zip(clusters[c_code[won]], old_ids[o_code[won]]))

    fresh = [c for c in clusters if c not in chosen]          # sorted by cluster label
    new_ids = dict(zip(fresh, format_ids(np.arange(floor + 1, floor + 1 + len(fresh)), prefix, width)))
    id_of = {**chosen, **new_ids}
    assigned = cur.assign(**{id_col: cur["cluster"].astype(str).map(id_of)})

    used = set(chosen.values())
    gone = overlap[~overlap[id_col].isin(used)].copy()
    gone["merged_into"] = gone["cluster"].astype(str).map(id_of)
    gone = (gone.sort_values(["n", "merged_into"], ascending=[False, True], kind="stable")
            .drop_duplicates(id_col)[[id_col, "merged_into"]])
    dropped = sorted(set(prev[id_col]) - used - set(gone[id_col]))
    retired = pd.DataFrame({id_col: [*gone[id_col], *dropped],
                            "merged_into": [*gone["merged_into"], *[None] * len(dropped)]},
                           dtype=object).sort_values(id_col, ignore_index=True)
    return StableIds(assigned, retired, _split(overlap, new_ids, id_col, prefix), floor + len(fresh), len(fresh))


def _split(overlap: pd.DataFrame, new_ids: dict[str, str], id_col: str, prefix: str) -> pd.DataFrame:
    """Per new id whose cluster holds records of old ids (`overlap`: cluster, old id, n): the old id it shares
    most records with, ties to the oldest (smallest number, then text)."""
    s = overlap[overlap["cluster"].astype(str).isin(list(new_ids))].rename(columns={id_col: "split_from"})
    s = s.assign(num=id_number(s["split_from"], prefix).fillna(np.inf))
    s = (s.sort_values(["n", "num", "split_from"], ascending=[False, True, True], kind="stable")
         .drop_duplicates("cluster"))
    out = pd.DataFrame({id_col: s["cluster"].astype(str).map(new_ids), "split_from": s["split_from"]}, dtype=object)
    return out.sort_values(id_col, ignore_index=True)
