"""Unsupervised training of a Fellegi–Sunter model: u from random pairs, m by EM, no labels.

    model = train(records, "person")          # records: standardised rows of both sources
    model.save("models/gridbridge_model.json")

1. **u from random pairs** (`estimate_u`): N random cross-source record pairs are drawn by numpy
   index sampling, compared with the same vectorised `compute_gammas` the linker uses, and u of a
   level is the (smoothed) share of non-null random pairs at that level.
2. **m by EM** (`expectation_maximisation`): on the blocked candidate pairs' gamma vectors, standard
   Fellegi–Sunter EM under conditional independence, over the unique gamma patterns with their
   counts (an iteration costs O(patterns), not O(pairs)). EM fits m, λ and the candidate pairs' own
   non-match distribution (`fit_u`); the model keeps u from random pairs (as Splink does). Measured
   on the demo, holding u at the random-pair values inside EM instead drove λ to 1: blocked
   non-matches (same household, same name and birthday) are far likelier than random pairs, so
   EM explained them as matches.
3. **Match share correction**: a random pair is a true match with chance λ_r = matches / pairs, which
   on a small district is not negligible (≈1/n) and would inflate u of the agreeing levels. With
   the EM's expected number of matches, u becomes (u_random − λ_r·m) / (1 − λ_r).
4. The model's `prior` is the expected matches over all record pairs, groups come from the base
   model, and name `exact` gets a term-frequency adjustment (`scoring.TermFrequency`).

Degenerate levels are guarded: additive smoothing on u and m, the base model's m counted as
`m_prior_pairs` pseudo-matches (a level the data barely sample keeps a plausible m), floors, and a
comparison with too few non-null pairs keeps the base model's numbers.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from matching.blocking import run_blocking
from matching.comparisons import compute_gammas
from matching.records import RECORD_ID, match_columns, prepare_records
from matching.scoring import Model, TermFrequency
from matching.settings import MatchSettings

DEFAULT_TF = {"person": (TermFrequency("name", "exact", "name_key"),), "house": ()}


@dataclass(frozen=True)
class TrainingOptions:
    """Knobs of `train` (defaults suit a district of 1k–1M residents)."""
    random_pairs: int = 1_000_000       # pairs sampled for u (fewer if the data have fewer)
    seed: int = 0
    max_iterations: int = 200
    tolerance: float = 1e-6             # stop when no m or λ moves more than this
    u_smoothing: float = 0.5            # pseudo-count per level (Jeffreys) for u
    m_smoothing: float = 0.01           # pseudo-count per level for m
    m_prior_pairs: float = 20.0         # the base model's m counts as this many matching pairs
    floor: float = 1e-8                 # no m or u below this
    min_pairs: int = 50                 # fewer non-null pairs than this: keep the base model's m/u
    initial_lambda: float = 0.3
    term_frequencies: tuple[TermFrequency, ...] | None = None   # None = DEFAULT_TF[entity]


@dataclass
class EMResult:
    m: list[np.ndarray]          # per comparison, indexed by gamma (0 = else)
    lam: float                   # share of matches among the candidate pairs
    iterations: int
    converged: bool
    match_pairs: float = 0.0     # expected number of matching candidate pairs (Σ posterior)
    history: list[float] = field(default_factory=list)
    u: list[np.ndarray] | None = None   # the u EM ended with (its own when fit_u)


# --- u -------------------------------------------------------------------------------------------

def random_pairs(records: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """Up to `n` distinct random record pairs `(l_id, r_id)`, across sources when there are two or
    more (police × grid), otherwise within the one source; drawn by numpy index sampling."""
    rng = np.random.default_rng(seed)
    ids = records[RECORD_ID].to_numpy()
    source = records["source"].to_numpy()
    sources = pd.unique(source)
    if len(sources) >= 2:
        left = np.flatnonzero(source == sources[0])
        right = np.flatnonzero(source != sources[0])
        total = len(left) * len(right)
        k = min(n, total)
        if total <= 4 * k:
            flat = rng.choice(total, size=k, replace=False)
        else:                           # with replacement, de-duplicated, then cut to k
            flat = np.unique(rng.integers(0, total, size=k + k // 5 + 100))
            flat = rng.permutation(flat)[:k]
        a, b = left[flat // len(right)], right[flat % len(right)]
    else:
        m = len(ids)
        total = m * (m - 1) // 2
        a = rng.integers(0, m, size=min(n, max(total, 0)))
        b = rng.integers(0, m, size=len(a))
        keep = a != b
        a, b = a[keep], b[keep]
    la, rb = ids[a], ids[b]
    lo, hi = np.where(la < rb, la, rb), np.where(la < rb, rb, la)
    return pd.DataFrame({"l_id": lo, "r_id": hi}).drop_duplicates(ignore_index=True)


def level_counts(gammas: pd.DataFrame, comparisons) -> list[np.ndarray]:
    """Per comparison, how many pairs hit each level (index = gamma; nulls left out)."""
    out = []
    for comp in comparisons:
        g = gammas[f"gamma_{comp.name}"].to_numpy().astype(np.int64)
        out.append(np.bincount(g[g >= 0], minlength=len(comp.levels)).astype(float))
    return out


def smoothed_shares(counts: np.ndarray, alpha: float, floor: float) -> np.ndarray:
    p = np.maximum((counts + alpha) / (counts.sum() + alpha * len(counts)), floor)
    return p / p.sum()


def estimate_u(records: pd.DataFrame, comparisons, n: int, seed: int = 0, alpha: float = 0.5,
               floor: float = 1e-8) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """(u per comparison indexed by gamma, raw level counts, pairs sampled) from random pairs."""
    pairs = random_pairs(records, n, seed)
    counts = level_counts(compute_gammas(records, pairs, comparisons), comparisons)
    return [smoothed_shares(c, alpha, floor) for c in counts], counts, len(pairs)


# --- m by EM -------------------------------------------------------------------------------------

def gamma_patterns(gammas: pd.DataFrame, comparisons) -> tuple[np.ndarray, np.ndarray]:
    """Unique gamma vectors (rows, one column per comparison) and how many pairs have each."""
    g = np.column_stack([gammas[f"gamma_{c.name}"].to_numpy().astype(np.int8) for c in comparisons]) \
        if len(comparisons) else np.zeros((len(gammas), 0), np.int8)
    if not len(g):
        return g.reshape(0, len(comparisons)), np.zeros(0)
    patterns, counts = np.unique(g, axis=0, return_counts=True)
    return patterns, counts.astype(float)


def _log_product(patterns: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    """Σ_c log p_c[γ_c] per pattern; a null γ (-1) contributes 0."""
    total = np.zeros(len(patterns))
    for j, p in enumerate(probs):
        g = patterns[:, j].astype(np.int64)
        total += np.where(g >= 0, np.log(p)[np.maximum(g, 0)], 0.0)
    return total


def posterior(patterns: np.ndarray, m: list[np.ndarray], u: list[np.ndarray], lam: float) -> np.ndarray:
    """P(match | γ) per pattern under conditional independence."""
    lm = np.log(lam) + _log_product(patterns, m)
    lu = np.log1p(-lam) + _log_product(patterns, u)
    return 1.0 / (1.0 + np.exp(np.clip(lu - lm, -700, 700)))


def expectation_maximisation(patterns: np.ndarray, counts: np.ndarray, m0: list[np.ndarray],
                             u: list[np.ndarray], lam0: float = 0.3, *, max_iterations: int = 200,
                             tolerance: float = 1e-6, alpha: float = 0.01, floor: float = 1e-8,
                             fixed: tuple[bool, ...] | None = None, fit_u: bool = False,
                             m_prior: list[np.ndarray] | None = None, prior_pairs: float = 0.0) -> EMResult:
    """m and λ by EM with u fixed (or, `fit_u`, also the candidate pairs' own non-match u, which
    `EMResult.u` returns). `fixed[j]` keeps comparison j's m (and u) as given (too little data).
    `m_prior` (a base model's m) adds `prior_pairs` pseudo-matches spread by it to every M step, so a
    level that the data barely sample (one-digit birth-date typos in a small district) keeps a
    plausible m instead of collapsing to 0."""
    m = [np.asarray(x, float).copy() for x in m0]
    u = [np.asarray(x, float).copy() for x in u]
    lam = float(lam0)
    fixed = fixed or tuple(False for _ in m)
    history, converged, it = [], False, 0
    onehots = [[patterns[:, j] == level for level in range(len(m[j]))] for j in range(len(m))]
    for it in range(1, max_iterations + 1):
        post = posterior(patterns, m, u, lam)
        w, wn = post * counts, (1 - post) * counts
        new_lam = float(np.clip(w.sum() / counts.sum(), floor, 1 - floor))
        new_m, new_u = [], []
        for j, levels in enumerate(onehots):
            if fixed[j]:
                new_m.append(m[j])
                new_u.append(u[j])
                continue
            hits = np.array([w[mask].sum() for mask in levels])
            if m_prior is not None:
                hits = hits + prior_pairs * m_prior[j]
            new_m.append(smoothed_shares(hits, alpha, floor))
            new_u.append(smoothed_shares(np.array([wn[mask].sum() for mask in levels]), alpha, floor)
                         if fit_u else u[j])
        delta = max([abs(new_lam - lam)] + [float(np.abs(a - b).max())
                                            for a, b in zip(new_m + new_u, m + u)])
        m, u, lam = new_m, new_u, new_lam
        history.append(lam)
        if delta < tolerance:
            converged = True
            break
    w = posterior(patterns, m, u, lam) * counts
    return EMResult(m, lam, it, converged, float(w.sum()), history, u)


# --- the whole training --------------------------------------------------------------------------

def _by_gamma(model: Model, comp, key: str) -> np.ndarray:
    labels = comp.labels
    return np.array([model.levels[comp.name][labels[g]][key] for g in range(len(comp.levels))], float)


def train(records: pd.DataFrame, entity: str = "person", settings: MatchSettings | None = None, *,
          options: TrainingOptions | None = None, con: duckdb.DuckDBPyConnection | None = None) -> Model:
    """A model for `entity` learned from the standardised `records` of both sources (no labels).

    `settings` gives the blocking rules, comparisons and the base model (its groups, its m as EM's
    start, its m/u for comparisons with too few data); `options` the sampling/EM knobs.
    """
    settings = settings or MatchSettings()
    options = options or TrainingOptions()
    rules, comps = settings.rules_for(entity), settings.comparisons_for(entity)
    base = settings.model_for(entity)
    base.check(comps)
    tfs = DEFAULT_TF[entity] if options.term_frequencies is None else tuple(options.term_frequencies)
    prepared = prepare_records(records, entity, match_columns(entity, rules, comps, [t.column for t in tfs],
                                                              records.columns))
    if len(prepared) < 2:
        raise ValueError(f"cannot train the {entity} model on {len(prepared)} record(s)")

    u_raw, u_counts, n_random = estimate_u(prepared, comps, options.random_pairs, options.seed,
                                           options.u_smoothing, options.floor)
    pairs, _ = run_blocking(prepared, rules, con=con)
    gammas = compute_gammas(prepared, pairs, comps)
    patterns, counts = gamma_patterns(gammas, comps)
    if not len(patterns):
        raise ValueError(f"blocking found no {entity} candidate pairs to train on")
    base_u = [_by_gamma(base, c, "u") for c in comps]
    u = [ur if uc.sum() >= options.min_pairs else bu for ur, uc, bu in zip(u_raw, u_counts, base_u)]
    nonnull = [float(counts[patterns[:, j] >= 0].sum()) for j in range(len(comps))]
    fixed = tuple(n < options.min_pairs for n in nonnull)
    em_kw = dict(max_iterations=options.max_iterations, tolerance=options.tolerance,
                 alpha=options.m_smoothing, floor=options.floor, fixed=fixed)
    m0 = [_by_gamma(base, c, "m") for c in comps]
    em = expectation_maximisation(patterns, counts, m0, u, options.initial_lambda, fit_u=True,
                                  m_prior=m0, prior_pairs=options.m_prior_pairs, **em_kw)

    # correct u for the true matches inside the random sample (see module docstring)
    sources = prepared["source"].value_counts()
    n_total = (float(sources.iloc[0]) * float(len(prepared) - sources.iloc[0]) if len(sources) >= 2
               else len(prepared) * (len(prepared) - 1) / 2.0)
    all_pairs = len(prepared) * (len(prepared) - 1) / 2.0
    lam_random = float(np.clip(em.match_pairs / n_total, options.floor, 0.5))
    u = [smoothed_shares(np.maximum(ui - lam_random * mi, 0.0) / (1 - lam_random) * uc.sum(),
                         options.u_smoothing, options.floor) if uc.sum() >= options.min_pairs else ui
         for ui, mi, uc in zip(u, em.m, u_counts)]

    levels = {c.name: {c.labels[g]: {"m": round(float(em.m[j][g]), 10), "u": round(float(u[j][g]), 10)}
                       for g in reversed(range(len(c.levels)))} for j, c in enumerate(comps)}
    prior = float(np.clip(em.match_pairs / all_pairs, options.floor, 0.5))
    counts_by_source = {str(k): int(v) for k, v in sources.sort_index().items()}
    return Model(
        entity=entity, version=base.version + 1, prior=prior, levels=levels, groups=base.groups,
        description=(f"Trained without labels on {len(prepared):,} {entity} records: u from "
                     f"{n_random:,} random pairs, m by EM on {len(pairs):,} blocked pairs."),
        trained_by="gridbridge EM (u from random pairs, m by EM, term-frequency adjusted)",
        term_frequencies=tfs,
        training={"trained_on": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "records": counts_by_source, "random_pairs": n_random, "candidate_pairs": int(len(pairs)),
                  "gamma_patterns": int(len(patterns)), "lambda": round(em.lam, 8),
                  "expected_matches": round(em.match_pairs, 1), "em_iterations": em.iterations,
                  "em_converged": em.converged, "base_version": base.version,
                  "fixed_from_base": [c.name for c, f in zip(comps, fixed) if f]})
