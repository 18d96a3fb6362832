"""Two graph helpers on integer edge arrays, numpy only (no per-edge Python loop).

* `connected_components`: min-label propagation with hooking and pointer jumping.
* `greedy_one_to_one`: the greedy 1:1 assignment (take edges best-first, skip any whose end is
  taken), computed in rounds of "mutual best" edges; each round accepts at least the best edge
  left, and the result equals the sequential greedy for a strict order. Rounds grow only with
  chains of competing edges, which auto-match graphs and id overlaps barely have.
"""
from __future__ import annotations

import numpy as np


def connected_components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Component label (smallest node index in it) of nodes 0..n-1 joined by edges a[i]-b[i]."""
    labels = np.arange(n)
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if len(a) == 0:
        return labels
    while True:
        la, lb = labels[a], labels[b]
        low = np.minimum(la, lb)
        new = labels.copy()
        for ends in (a, b, la, lb):           # hook nodes and their current roots to the lower label
            np.minimum.at(new, ends, low)
        while True:                            # pointer jumping until every node points at a root
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, labels):
            return labels
        labels = new


def greedy_one_to_one(left: np.ndarray, right: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Mask of edges kept by greedy 1:1 assignment between `left` and `right` node ids.

    `order` lists edge indices best first (a strict total order: break ties before calling).
    """
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    m = len(left)
    rank = np.empty(m, dtype=np.int64)
    rank[np.asarray(order)] = np.arange(m)
    kept = np.zeros(m, dtype=bool)
    alive = np.ones(m, dtype=bool)
    big = np.iinfo(np.int64).max
    while alive.any():
        idx = np.flatnonzero(alive)
        best_l = np.full(left.max() + 1, big)
        best_r = np.full(right.max() + 1, big)
        np.minimum.at(best_l, left[idx], rank[idx])
        np.minimum.at(best_r, right[idx], rank[idx])
        mutual = idx[(rank[idx] == best_l[left[idx]]) & (rank[idx] == best_r[right[idx]])]
        kept[mutual] = True
        taken_l = np.zeros(left.max() + 1, dtype=bool)
        taken_r = np.zeros(right.max() + 1, dtype=bool)
        taken_l[left[mutual]] = True
        taken_r[right[mutual]] = True
        alive &= ~(taken_l[left] | taken_r[right])
    return kept
