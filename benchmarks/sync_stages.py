"""Whole-sync benchmark: time per Dagster step and peak memory at several demo sizes.

    .venv/bin/python -m benchmarks.sync_stages --persons 2000 10000

Prints one table: seconds per stage for each size, and the ratio of each stage's time to the smallest
size's (how it scales). Numbers are wall-clock on whatever machine runs it; compare within one run.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg

from benchmarks.memory import peak_mb
from pipelines.cli import execute_sync
from pipelines.demo import generate

REPO = Path(__file__).resolve().parents[1]


def stage_of(step_key: str) -> str:
    for prefix, name in (("raw_", "extract"), ("address_gazetteer", "standardise"),
                         ("standardise_", "standardise"), ("stg_", "gate"),
                         ("match_", "match"), ("reconcile_", "reconcile"), ("warehouse", "publish")):
        if step_key.startswith(prefix):
            return name
    return "other"


def run_once(persons: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"gb_bench_{persons}_"))
    try:
        shutil.copyfile(REPO / "gridbridge.yaml", root / "gridbridge.yaml")
        t0 = time.perf_counter()
        generate(root / "demo", persons=persons)
        gen = time.perf_counter() - t0
        instance = dg.DagsterInstance.ephemeral()
        t0 = time.perf_counter()
        _, run_id, result = execute_sync(str(root / "gridbridge.yaml"), instance=instance)
        total = time.perf_counter() - t0
        assert result.success, f"sync failed at {persons} persons"
        per_stage: dict[str, float] = defaultdict(float)
        for rec in instance.get_records_for_run(run_id=run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records:
            ev = rec.event_log_entry.dagster_event
            per_stage[stage_of(ev.step_key)] += ev.event_specific_data.duration_ms / 1000
        return {"persons": persons, "generate": gen, "total": total, **per_stage,
                "peak_rss_mb": peak_mb()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[2000, 10000])
    args = ap.parse_args()
    run_once(200)  # warm-up, not reported: first-use imports (GE ~5 s, pypinyin, OpenCC) would skew size 1
    rows = [run_once(n) for n in args.persons]
    cols = ["extract", "standardise", "gate", "match", "reconcile", "publish", "total"]
    base = rows[0]
    print(f"\n{'persons':>8} " + " ".join(f"{c:>12}" for c in cols) + f" {'peak RSS MB':>12}")
    for r in rows:
        print(f"{r['persons']:>8} " + " ".join(f"{r.get(c, 0):>11.2f}s" for c in cols) + f" {r['peak_rss_mb']:>12.0f}")
    for r in rows[1:]:
        ratio = " ".join(f"{(r.get(c, 0) / base.get(c, 1e-9)):>11.1f}x" for c in cols)
        print(f"{'÷' + str(base['persons']):>8} {ratio}  (size ×{r['persons'] / base['persons']:.0f})")
    print("(peak RSS is the process maximum so far, i.e. cumulative across sizes)")


if __name__ == "__main__":
    main()
