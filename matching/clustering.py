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

Steward decisions (`constraints`, matching/constraints.py) change this as follows:

* `same` (must-link): a link of its own (rule `steward`, probability 1), whatever the pair scored, joined
  in step 2 before any other link. A `same` across the sources makes a group holding both sources; such a
  group has its partner already, so every other cross link touching it is not followed (`one_to_one_guard`:
  the steward's pair beats the 1:1 guard). A `same` within one source makes the two duplicates.
* `different` (cannot-link): the pair is never a link and never in review. Transitively: in step 2 a group
  that would hold both records is rebuilt best link first (steward links, then by match weight) and the
  link that would join them is held back; in step 3 a cross link between two groups holding the two records
  is not followed. Since after step 3 a cluster is one group or two groups joined by one cross link, no
  cluster holds a `different` pair. Links held back go to review as `steward_constraint`, as does a `same`
  that contradicts a `different` (the `different` wins; of `same`s that contradict one, the later ones are
  joined first, so the oldest gives way).
* `unsure`: nothing changes; the pair's review row has status `escalated` (others `open`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching._graph import connected_components, greedy_one_to_one
from matching.blocking import id_ranks
from matching.constraints import ESCALATED, HELD_APART, STEWARD_RULE, PairConstraints, constrained_components
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
    `match_rule` of its strongest kept link, or NaN/`single`); `links`: the kept links (`link`:
    `duplicate`, `cross` or `steward`); `review`: scored pairs for stewards with a `reason` and a `status`."""
    members: pd.DataFrame
    links: pd.DataFrame
    review: pd.DataFrame


def _pair_index(index: pd.Index, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node positions and decision ids of constraint pairs whose records both exist (decisions on vanished
    records drop out)."""
    a, b = index.get_indexer(frame["l_id"]), index.get_indexer(frame["r_id"])
    ok = (a >= 0) & (b >= 0) & (a != b)
    return a[ok], b[ok], frame["decision_id"].to_numpy(dtype=np.int64)[ok]


def _keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)


def cluster_pairs(records: pd.DataFrame, scored: pd.DataFrame, thresholds: Thresholds = Thresholds(),
                  constraints: PairConstraints | None = None) -> Clusters:
    """Cluster `records` (`record_id`, `source`) with `scored` pairs (`l_id`, `r_id`, `rule`,
    `match_weight`, `match_probability`) and the stewards' pair decisions in `constraints`."""
    ids = records[RECORD_ID].to_numpy(dtype=object)
    src = records["source"].to_numpy(dtype=object)
    n = len(ids)
    sorted_ids, id_rank = id_ranks(records)                 # ids are unique: a strict order
    index = pd.Index(ids)
    constraints = constraints or PairConstraints()
    must_a, must_b, must_dec = _pair_index(index, constraints.must)
    cannot_a, cannot_b, _ = _pair_index(index, constraints.cannot)
    unsure_a, unsure_b, _ = _pair_index(index, constraints.unsure)

    # edges: the scored pairs, then one `steward` link per `same` decision (arrays: the scored frame is not copied)
    n_scored, n_must = len(scored), len(must_a)
    swap = id_rank[must_a] > id_rank[must_b]                    # l_id < r_id, as in the scored pairs
    must_l, must_r = np.where(swap, must_b, must_a), np.where(swap, must_a, must_b)
    l = np.concatenate([index.get_indexer(scored["l_id"]), must_l])
    r = np.concatenate([index.get_indexer(scored["r_id"]), must_r])
    p = np.concatenate([scored["match_probability"].to_numpy(dtype=float), np.ones(n_must)])
    w = np.concatenate([scored["match_weight"].to_numpy(dtype=float), np.full(n_must, np.inf)])
    rule = np.concatenate([scored["rule"].to_numpy(dtype=object), np.full(n_must, STEWARD_RULE, dtype=object)])
    steward = np.arange(n_scored + n_must) >= n_scored
    recency = np.concatenate([np.zeros(n_scored, dtype=np.int64), -must_dec])   # the latest decision first
    key = _keys(l, r, n)
    forbidden = np.isin(key, _keys(cannot_a, cannot_b, n))   # a `different` pair: never a link, never reviewed

    same = src[l] == src[r]
    auto = (p >= thresholds.auto_match) & ~forbidden
    dup = auto & same & (p >= thresholds.duplicate_threshold)
    grouping = np.flatnonzero(dup | steward)          # one decision per pair: a steward link is never forbidden
    # steward links (weight inf) first, the latest decision first; then by match weight, ties by record ids
    g_order = np.lexsort((id_rank[r[grouping]], id_rank[l[grouping]], recency[grouping], -w[grouping]))
    groups, g_held = constrained_components(n, l[grouping], r[grouping], g_order, cannot_a, cannot_b)
    src_code, sources = pd.factorize(src)
    k = max(len(sources), 1)
    group_src = np.unique(groups.astype(np.int64) * k + src_code)
    mixed = np.bincount(group_src // k, minlength=n) > 1      # a group holding both sources (a steward `same`)

    cross = np.flatnonzero(auto & ~same & ~steward)
    gl, gr = groups[l[cross]], groups[r[cross]]
    internal = gl == gr
    apart = np.isin(_keys(gl, gr, n), _keys(groups[cannot_a], groups[cannot_b], n)) & ~internal
    taken = (mixed[gl] | mixed[gr]) & ~internal & ~apart
    cand = cross[~internal & ~apart & ~taken]
    swap = src[l[cand]].astype(str) > src[r[cand]].astype(str)
    g_first = np.where(swap, groups[r[cand]], groups[l[cand]])
    g_second = np.where(swap, groups[l[cand]], groups[r[cand]])
    order = np.lexsort((id_rank[r[cand]], id_rank[l[cand]], -w[cand]))
    won = greedy_one_to_one(g_first, g_second, order) if len(cand) else np.zeros(0, dtype=bool)
    accepted = np.isin(g_first * n + g_second, (g_first * n + g_second)[won])
    kept = np.concatenate([grouping[~g_held], cross[internal], cand[accepted]])
    guarded = np.zeros(len(l), dtype=bool)
    guarded[cand[~accepted]] = True
    guarded[cross[taken]] = True
    held = np.zeros(len(l), dtype=bool)
    held[grouping[g_held]] = True
    held[cross[apart]] = True
    held |= np.isin(key, key[held])                        # the scored copy of a held steward link too

    comp = connected_components(n, l[kept], r[kept])
    first = np.full(n, n, dtype=np.int64)              # smallest record id per component
    np.minimum.at(first, comp, id_rank)
    cluster = sorted_ids[first[comp]]

    # strongest kept link per record (a steward link first)
    ends = np.concatenate([l[kept], r[kept]])
    both = np.concatenate([kept, kept])
    best = pd.DataFrame({"pos": ends, "edge": both, "w": w[both]}).sort_values(
        ["w", "edge"], ascending=[False, True], kind="stable").drop_duplicates("pos")
    link_p = np.full(n, np.nan)
    link_rule = np.full(n, SINGLE, dtype=object)
    link_p[best["pos"].to_numpy()] = p[best["edge"].to_numpy()]
    link_rule[best["pos"].to_numpy()] = rule[best["edge"].to_numpy()]
    members = pd.DataFrame({RECORD_ID: ids, "source": src, "cluster": cluster,
                            "match_probability": link_p, "match_rule": link_rule})

    by_machine, by_steward = kept[kept < n_scored], kept[kept >= n_scored]
    links = scored.iloc[by_machine].assign(link=np.where(same[by_machine], "duplicate", "cross"))
    if len(by_steward):
        at = by_steward - n_scored
        links = pd.concat([links, pd.DataFrame({"l_id": ids[must_l[at]], "r_id": ids[must_r[at]], "rule": STEWARD_RULE,
                                                "match_probability": 1.0, "match_weight": np.inf,
                                                "link": STEWARD_RULE})])
    sl, sr = l[:n_scored], r[:n_scored]
    open_pair = (p[:n_scored] >= thresholds.review) & (comp[sl] != comp[sr]) & ~forbidden[:n_scored]
    reason = np.select([held[:n_scored], guarded[:n_scored]], [HELD_APART, "one_to_one_guard"], "review_band")
    status = np.where(np.isin(key[:n_scored], _keys(unsure_a, unsure_b, n)), ESCALATED, "open")
    review = scored[open_pair].assign(reason=reason[open_pair], status=status[open_pair])
    return Clusters(members, links.reset_index(drop=True), review.reset_index(drop=True))
