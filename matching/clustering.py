"""From scored pairs to clusters and a review list.

1. Pairs at or above `auto_match` are links; the rest at or above `review` are for stewards.
2. Same-source links at or above `duplicate` (default: `auto_match`) join within-source
   duplicates (重户) into *duplicate groups*.
3. Cross-source 1:1 guard: a duplicate group links to at most one group of the other source — the
   strongest cross link wins (greedy by match weight, ties by record ids); the other cross links
   are not followed and go to review as `one_to_one_guard`. So a cluster holds several records of
   one source only when they are duplicates of each other.
4. Clusters are the connected components of the links kept; a cluster is labelled by its smallest
   record id (stable ids are assigned later, in `ids`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching._graph import connected_components, greedy_one_to_one
from matching.blocking import id_ranks
from matching.records import RECORD_ID

SINGLE = "single"


@dataclass(frozen=True)
class Thresholds:
    auto_match: float = 0.95
    review: float = 0.6
    duplicate: float | None = None     # None: same as auto_match

    def __post_init__(self) -> None:
        dup = self.duplicate_threshold
        if not (0 <= self.review <= self.auto_match <= dup <= 1):
            raise ValueError(f"need 0 <= review <= auto_match <= duplicate <= 1, got {self}")

    @property
    def duplicate_threshold(self) -> float:
        return self.auto_match if self.duplicate is None else self.duplicate


@dataclass
class Clusters:
    """`members`: one row per record (`record_id`, `source`, `cluster`, `match_probability`,
    `match_rule` of its strongest kept link, or NaN/`single`); `links`: the kept links;
    `review`: scored pairs for stewards with a `reason`."""
    members: pd.DataFrame
    links: pd.DataFrame
    review: pd.DataFrame


def cluster_pairs(records: pd.DataFrame, scored: pd.DataFrame,
                  thresholds: Thresholds = Thresholds()) -> Clusters:
    """Cluster `records` (`record_id`, `source`) with `scored` pairs (`l_id`, `r_id`, `rule`,
    `match_weight`, `match_probability`)."""
    ids = records[RECORD_ID].to_numpy(dtype=object)
    src = records["source"].to_numpy(dtype=object)
    n = len(ids)
    sorted_ids, id_rank = id_ranks(records)                 # ids are unique: a strict order
    index = pd.Index(ids)
    l, r = index.get_indexer(scored["l_id"]), index.get_indexer(scored["r_id"])
    p = scored["match_probability"].to_numpy(dtype=float)
    w = scored["match_weight"].to_numpy(dtype=float)

    same = src[l] == src[r]
    auto = p >= thresholds.auto_match
    dup = auto & same & (p >= thresholds.duplicate_threshold)
    groups = connected_components(n, l[dup], r[dup])

    cross = np.flatnonzero(auto & ~same)
    swap = src[l[cross]].astype(str) > src[r[cross]].astype(str)
    g_first = np.where(swap, groups[r[cross]], groups[l[cross]])
    g_second = np.where(swap, groups[l[cross]], groups[r[cross]])
    order = np.lexsort((id_rank[r[cross]], id_rank[l[cross]], -w[cross]))
    won = greedy_one_to_one(g_first, g_second, order) if len(cross) else np.zeros(0, dtype=bool)
    accepted = np.isin(g_first * n + g_second, (g_first * n + g_second)[won])
    kept = np.flatnonzero(dup)
    kept = np.concatenate([kept, cross[accepted]])
    guarded = np.zeros(len(scored), dtype=bool)
    guarded[cross[~accepted]] = True

    comp = connected_components(n, l[kept], r[kept])
    first = np.full(n, n, dtype=np.int64)              # smallest record id per component
    np.minimum.at(first, comp, id_rank)
    cluster = sorted_ids[first[comp]]

    # strongest kept link per record
    ends = np.concatenate([l[kept], r[kept]])
    both = np.concatenate([kept, kept])
    best = pd.DataFrame({"pos": ends, "edge": both, "w": w[both]}).sort_values(
        ["w", "edge"], ascending=[False, True], kind="stable").drop_duplicates("pos")
    link_p = np.full(n, np.nan)
    link_rule = np.full(n, SINGLE, dtype=object)
    link_p[best["pos"].to_numpy()] = p[best["edge"].to_numpy()]
    link_rule[best["pos"].to_numpy()] = scored["rule"].to_numpy(dtype=object)[best["edge"].to_numpy()]
    members = pd.DataFrame({RECORD_ID: ids, "source": src, "cluster": cluster,
                            "match_probability": link_p, "match_rule": link_rule})

    links = scored.iloc[kept].assign(link=np.where(same[kept], "duplicate", "cross"))
    open_pair = (p >= thresholds.review) & (comp[l] != comp[r])     # one label per component
    review = scored[open_pair].assign(
        reason=np.where(guarded[open_pair], "one_to_one_guard", "review_band"))
    return Clusters(members, links.reset_index(drop=True), review.reset_index(drop=True))
