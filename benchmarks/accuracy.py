"""Accuracy against the demo generator's truth: links (cross-system and within-source) and conflicts.

    .venv/bin/python -m benchmarks.accuracy --persons 2000 10000
    .venv/bin/python -m benchmarks.accuracy --persons 10000 --trained    # after `gridbridge train`

Pairwise precision/recall over loaded records (quarantined rows are excluded from both sides), and
conflict precision/recall per field (a conflict is right when the generator injected a true difference
in that field of that person).

Cross-system person pairs are also broken down by case, from the truth's `injected` table: a true
person is in a case when any of its records carries that injection (`ID typo` = id_number/true,
`ID missing` = id_number/missing, `name homophone` / `name shape` = name/true by detail,
`stale address` = current_address/true `moved`); `ID equal` = no id_number injection other than a
formatting one. A case's recall counts the true pairs of its persons; its precision counts the
predicted pairs touching a record of its persons. `same name+birth, different people` counts the
linked pairs (cross-system or within-source) of two different true persons with the same name and
birth date: it must be 0.
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from pipelines.cli import execute_sync
from pipelines.cli import main as cli_main
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


CASES = ("ID equal", "ID typo", "ID missing", "name homophone", "name shape", "stale address")


def _case_of(inj: pd.DataFrame) -> pd.Series:
    """The breakdown case of each person injection (None: not a case of its own)."""
    f, k, d = inj["field"], inj["kind"], inj["detail"]
    out = pd.Series(None, index=inj.index, dtype=object)
    out[(f == "id_number") & (k == "true")] = "ID typo"
    out[(f == "id_number") & (k == "missing")] = "ID missing"
    out[(f == "name") & (k == "true") & (d == "homophone")] = "name homophone"
    out[(f == "name") & (k == "true") & (d == "shape")] = "name shape"
    out[(f == "current_address") & (k == "true")] = "stale address"
    return out


def _person_cases(con, truth: dict, persons: int) -> list[dict]:
    """Cross-system person pairs by case, and links between different people sharing name + birth."""
    xref = con.execute("SELECT source, source_key, person_id FROM person_xref").df()
    rec = truth["person_record"].merge(xref, on=["source", "source_key"])
    rec["rid"] = rec["source"] + ":" + rec["source_key"]
    tid = dict(zip(rec["rid"], rec["truth_id"]))
    inj = truth["injected"]
    inj = inj[inj["entity"] == "person"].merge(rec[["source", "source_key", "truth_id"]],
                                                on=["source", "source_key"])
    cases = inj.assign(case=_case_of(inj)).dropna(subset=["case"]).groupby("truth_id")["case"].agg(set)
    id_touched = set(inj.loc[(inj["field"] == "id_number") & (inj["kind"] != "format"), "truth_id"])
    all_tids = set(rec["truth_id"].dropna())
    members = {c: {t for t, cs in cases.items() if c in cs} for c in CASES}
    members["ID equal"] = all_tids - id_touched
    cross = lambda s: {p for p in s if p[0].split(":")[0] != p[1].split(":")[0]}  # noqa: E731
    pred, true = _pairs(xref, "person_id"), _pairs(rec.dropna(subset=["truth_id"]), "truth_id")
    pred_x, true_x = cross(pred), cross(true)
    rows = []
    for c in CASES:
        m = members[c]
        t_c = {p for p in true_x if tid.get(p[0]) in m}
        p_c = {p for p in pred_x if tid.get(p[0]) in m or tid.get(p[1]) in m}
        p, r, f1 = _prf(p_c, t_c)
        rows.append({"persons": persons, "what": f"  person cross, {c}", "true": len(t_c), "predicted": len(p_c),
                     "precision": p, "recall": r, "f1": f1})
    person = truth["person"].set_index("truth_id")
    ident = (person["name"].astype(str) + "|" + person["birth_date"].astype(str)).to_dict()
    wrong = [p for p in pred if tid.get(p[0]) != tid.get(p[1]) and tid.get(p[0]) and tid.get(p[1])
             and ident.get(tid[p[0]]) == ident.get(tid[p[1]])]
    twins = int(person.reset_index().duplicated(["name", "birth_date"], keep=False).sum())
    rows.append({"persons": persons, "what": "same name+birth, different people", "true": twins,
                 "predicted": len(wrong), "precision": float("nan"), "recall": float("nan"), "f1": float("nan"),
                 "note": f"{len(wrong)} linked pairs (must be 0: {len(cross(set(wrong)))} cross-system); "
                         f"{twins} persons share name+birth",
                 "examples": sorted(wrong)[:5]})
    return rows


def score(persons: int, keep: bool = False, trained: bool = False) -> list[dict]:
    root = Path(tempfile.mkdtemp(prefix=f"gb_acc_{persons}_"))
    try:
        shutil.copyfile(REPO / "gridbridge.yaml", root / "gridbridge.yaml")
        paths = generate(root / "demo", persons=persons)
        config = str(root / "gridbridge.yaml")
        _, _, result = execute_sync(config, instance=dg.DagsterInstance.ephemeral())
        assert result.success
        if trained:     # what an operator does: sync, `gridbridge train`, and the next sync scores with it
            t0 = time.perf_counter()
            assert cli_main(["train", "--config", config]) == 0
            print(f"{persons} persons: trained in {time.perf_counter() - t0:.0f} s", flush=True)
            _, _, result = execute_sync(config, instance=dg.DagsterInstance.ephemeral())
            assert result.success
        con = duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True)
        with sqlite3.connect(paths.truth_db) as t:
            truth = {n: pd.read_sql_query(f"SELECT * FROM {n}", t)
                     for n in ("person_record", "house_record", "injected", "person")}
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
        rows += _person_cases(con, truth, persons)
        inj = truth["injected"]
        inj = inj[(inj["kind"] == "true") & (inj["entity"] == "person")]
        xref = con.execute("SELECT source, source_key, person_id FROM person_xref").df()
        inj = inj.merge(xref, on=["source", "source_key"])
        both = xref.groupby("person_id")["source"].nunique()
        inj = inj[inj["person_id"].map(both) == 2][["person_id", "field"]].drop_duplicates()
        conf = con.execute("SELECT DISTINCT person_id, field FROM person_conflict WHERE field NOT LIKE '%~%'").df()
        t = set(map(tuple, inj.values))
        c = set(map(tuple, conf.values))
        p, r, f1 = _prf(c, t)
        rows.append({"persons": persons, "what": "person conflicts (field level)", "true": len(t), "predicted": len(c),
                     "precision": p, "recall": r, "f1": f1})
        con.close()
        return rows
    finally:
        if keep:
            print(f"kept {root} (gridbridge explain --config {root / 'gridbridge.yaml'} --police … --grid …)")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[2000])
    ap.add_argument("--keep", action="store_true", help="keep each run's folder (to run `gridbridge explain` on it)")
    ap.add_argument("--trained", action="store_true",
                    help="score the second sync, after `gridbridge train` on the first (default: the built-in model)")
    args = ap.parse_args()
    rows = []
    print(f"model: {'trained on the first sync (EM)' if args.trained else 'built-in starting model'}")
    for n in args.persons:
        t0 = time.perf_counter()
        rows += score(n, args.keep, args.trained)
        print(f"{n} persons: demo + sync + scoring in {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"\n{'persons':>8}  {'what':<36}{'true':>7}{'pred':>7}{'precision':>11}{'recall':>9}{'F1':>8}")
    for r in rows:
        if "note" in r:
            print(f"{r['persons']:>8}  {r['what']:<36}{r['true']:>7}{r['predicted']:>7}  {r['note']}")
            for a, b in r.get("examples", []):
                print(f"{'':>10}e.g. {a} ~ {b}")
            continue
        print(f"{r['persons']:>8}  {r['what']:<36}{r['true']:>7}{r['predicted']:>7}{r['precision']:>11.4f}"
              f"{r['recall']:>9.4f}{r['f1']:>8.4f}")


if __name__ == "__main__":
    main()
