"""Figures of a matched result that the next run compares with (pipelines/checks.py `match_gate`): the share of
persons linked across systems, the review band's size, the match-weight distribution, and golden persons
holding two police 户籍 registrations of different people. Pure functions on the run's frames."""
from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.normalise.ids import is_valid_checksum

WEIGHT_EDGES = np.linspace(-10.0, 30.0, 21)  # log2 odds, 2-wide bins; values outside go to the end bins
PSI_FLOOR = 1e-4                             # a bin's share is at least this (empty bins would be infinite)
MAX_WEIGHT = 53.0                            # |log2(p / (1 - p))| where p rounds to 0 or 1 in double precision


def log_odds(p) -> np.ndarray:
    """The match weight log2(p / (1 − p)) of match probabilities, capped at ±MAX_WEIGHT (p of 0 or 1)."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        return np.clip(np.log2(p) - np.log2(1.0 - p), -MAX_WEIGHT, MAX_WEIGHT)


def record_link_weights(links: pd.DataFrame) -> np.ndarray:
    """One weight per linked source record: the log odds of its kept link (`person_links.match_probability`;
    records linked without a score are left out). The population whose histogram the weight-drift PSI compares
    (the run report shows another: the weakest link per golden person, warehouse/report.py)."""
    return log_odds(pd.to_numeric(links["match_probability"], errors="coerce").dropna())


def weight_histogram(weights: np.ndarray) -> list[int]:
    clipped = np.clip(weights, WEIGHT_EDGES[0], WEIGHT_EDGES[-1])
    return np.histogram(clipped, bins=WEIGHT_EDGES)[0].astype(int).tolist()


def psi(before: list[int] | np.ndarray, after: list[int] | np.ndarray) -> float:
    """Population stability index of two histograms over the same bins (0: identical; > 0.25: a real shift)."""
    a, b = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if a.sum() == 0 or b.sum() == 0 or len(a) != len(b):
        return 0.0
    a, b = np.maximum(a / a.sum(), PSI_FLOOR), np.maximum(b / b.sum(), PSI_FLOOR)
    return float(np.sum((b - a) * np.log(b / a)))


def two_people_registered(links: pd.DataFrame, police: pd.DataFrame, id_col: str = "person_id") -> pd.DataFrame:
    """Golden persons with two or more active police 户籍 (registered) records. `different_ids` is True where
    two of those records carry different ID numbers that both pass the check digit: two people merged, not a
    重户 (one person registered twice, the same or a mistyped number). A golden person a steward joined (a
    `same` pair decision, `match_rule` `steward`) is not counted: a person decided it."""
    cols = ["source_key", "id_number", "status", "person_type"]
    p = police[[c for c in cols if c in police]].copy()
    for c in cols:
        if c not in p:
            p[c] = None
    active = p["status"].fillna("active").eq("active") & p["person_type"].eq("registered")
    p = p[active.to_numpy()]
    p = p.merge(links.loc[links["source"] == "police", ["source_key", id_col]], on="source_key")
    multi = p[p.groupby(id_col)["source_key"].transform("size") > 1]
    if "match_rule" in links:     # a steward decided these records are one person (kind 'pair', value 'same')
        decided = links.loc[links["match_rule"].eq("steward"), id_col]
        multi = multi[~multi[id_col].isin(decided)]
    if multi.empty:
        return pd.DataFrame(columns=[id_col, "records", "different_ids"])
    ids = multi["id_number"].where(is_valid_checksum(multi["id_number"].fillna("")).astype(bool))
    out = multi.assign(_valid_id=ids).groupby(id_col).agg(records=("source_key", "size"),
                                                          distinct=("_valid_id", "nunique")).reset_index()
    return out.assign(different_ids=out["distinct"] > 1).drop(columns="distinct")


def match_metrics(golden: pd.DataFrame, links: pd.DataFrame, review: pd.DataFrame, police: pd.DataFrame) -> dict:
    """The figures the match gate keeps for the next run."""
    n = len(golden)
    both = int((golden["in_police"] & golden["in_grid"]).sum()) if n else 0
    dup = two_people_registered(links, police)
    return {"persons": n, "in_both_share": round(both / n, 6) if n else 0.0, "review_pairs": int(len(review)),
            "weight_hist": weight_histogram(record_link_weights(links)),
            "duplicate_registrations": int(len(dup)), "two_people_registered": int(dup["different_ids"].sum())}
