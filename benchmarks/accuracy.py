"""Accuracy against the demo generator's truth: links (cross-system and within-source) and conflicts.

    .venv/bin/python -m benchmarks.accuracy --persons 2000 10000

Pairwise precision/recall over loaded records (quarantined rows are excluded from both sides), and
conflict precision/recall per field (a conflict is right when the generator injected a true difference
in that field of that person).
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from pipelines.cli import execute_sync
from pipelines.demo import generate

REPO = Path(__file__).resolve().parents[1]


def _pairs(df: pd.DataFrame, key: str) -> set[tuple[str, str]]:
    df = df.assign(rid=df["source"] + ":" + df["source_key"])[["rid", key]]
    m = df.merge(df, on=key)
    m = m[m["rid_x"] < m["rid_y"]]
    return set(zip(m["rid_x"], m["rid_y"]))


def _prf(pred: set, true: set) -> tuple[float, float, float]:
    tp = len(pred & true)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(true) if true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(persons: int) -> list[dict]:
    root = Path(tempfile.mkdtemp(prefix=f"gb_acc_{persons}_"))
    try:
        shutil.copyfile(REPO / "gridbridge.yaml", root / "gridbridge.yaml")
        paths = generate(root / "demo", persons=persons)
        _, _, result = execute_sync(str(root / "gridbridge.yaml"), instance=dg.DagsterInstance.ephemeral())
        assert result.success
        con = duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True)
        with sqlite3.connect(paths.truth_db) as t:
            truth = {n: pd.read_sql_query(f"SELECT * FROM {n}", t) for n in ("person_record", "house_record", "injected")}
        rows = []
        for entity in ("person", "house"):
            xref = con.execute(f"SELECT source, source_key, {entity}_id FROM {entity}_xref").df()
            rec = truth[f"{entity}_record"].merge(xref[["source", "source_key"]], on=["source", "source_key"])
            pred, true = _pairs(xref, f"{entity}_id"), _pairs(rec, "truth_id")
            cross = lambda s: {p for p in s if p[0].split(":")[0] != p[1].split(":")[0]}
            within = lambda s: {p for p in s if p[0].split(":")[0] == p[1].split(":")[0]}
            for kind, f in (("cross-system", cross), ("within-source", within)):
                p, r, f1 = _prf(f(pred), f(true))
                rows.append({"persons": persons, "what": f"{entity} {kind} pairs", "true": len(f(true)),
                             "predicted": len(f(pred)), "precision": p, "recall": r, "f1": f1})
        inj = truth["injected"]
        inj = inj[(inj["kind"] == "true") & (inj["entity"] == "person")]
        xref = con.execute("SELECT source, source_key, person_id FROM person_xref").df()
        inj = inj.merge(xref, on=["source", "source_key"])
        both = xref.groupby("person_id")["source"].nunique()
        inj = inj[inj["person_id"].map(both) == 2][["person_id", "field"]].drop_duplicates()
        conf = con.execute("SELECT DISTINCT person_id, field FROM person_conflict").df()
        t = set(map(tuple, inj.values))
        c = set(map(tuple, conf.values))
        p, r, f1 = _prf(c, t)
        rows.append({"persons": persons, "what": "person conflicts (field level)", "true": len(t), "predicted": len(c),
                     "precision": p, "recall": r, "f1": f1})
        con.close()
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[2000])
    args = ap.parse_args()
    rows = [r for n in args.persons for r in score(n)]
    print(f"\n{'persons':>8}  {'what':<32}{'true':>7}{'pred':>7}{'precision':>11}{'recall':>9}{'F1':>8}")
    for r in rows:
        print(f"{r['persons']:>8}  {r['what']:<32}{r['true']:>7}{r['predicted']:>7}{r['precision']:>11.4f}"
              f"{r['recall']:>9.4f}{r['f1']:>8.4f}")


if __name__ == "__main__":
    main()
