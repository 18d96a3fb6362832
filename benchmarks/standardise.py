"""Extract + standardise benchmark: person rows from a GB18030 police CSV and a grid XLSX workbook.

    .venv/bin/python -m benchmarks.standardise --persons 100000 1000000

For each size it prepares (once, cached under benchmarks/.data/) a police 实有人口 export as GB18030 CSV with
CRLF and a grid 人口信息 workbook (.xlsx), both cut from the demo generator's tables (tiled with fresh keys
above 100k rows), then runs every stage in its own process so peak memory is that stage's own:

  extract      gridbridge connector -> Arrow batches -> raw landing Parquet (connectors.read_batches + land)
  gazetteer    place names learned from the police addresses (run once per size, as the pipeline does)
  standardise  landing -> canonical rows + quarantine, batch by batch (pipelines.ingest.standardise_file),
               addresses parsed with that gazetteer
  peer         the same file read by the usual tool: pandas.read_csv(dtype=str) for CSV, openpyxl read-only
               row iteration for XLSX (no standardisation: a floor for "just reading it")

and prints seconds, rows/s and peak RSS per stage, with the extract's time as a ratio of the peer's.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks.memory import peak_mb

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / ".data"
BASE_PERSONS = 100_000  # the generator's size; larger inputs tile it with new keys
FORMATS = {"csv": ("police", "实有人口"), "xlsx": ("grid", "人口信息")}


# --- preparing inputs --------------------------------------------------------------------------------------
def _source_frame(n: int, fmt: str):
    import sqlite3

    import pandas as pd

    from pipelines.demo import generate
    base = DATA / f"demo_{min(n, BASE_PERSONS)}"
    if not (base / "grid.sqlite").exists():
        generate(base, persons=min(n, BASE_PERSONS))
    source, table = FORMATS[fmt]
    with sqlite3.connect(base / f"{source}.sqlite") as con:
        df = pd.read_sql_query(f'SELECT * FROM "{table}"', con, dtype=str)
    key = "人员编号" if source == "police" else "人口编号"
    copies, parts = -(-n // len(df)), []
    for i in range(copies):
        part = df.copy()
        if i:
            part[key] = part[key] + f"-{i}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True).head(n), key


def _write_xlsx(df, path: Path, sheet: str) -> None:
    import xlsxwriter
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet(sheet)
    ws.write_row(0, 0, list(df.columns))
    for r, row in enumerate(df.itertuples(index=False, name=None), start=1):
        ws.write_row(r, 0, ["" if v is None else v for v in row])  # text cells, as a grid export has
    wb.close()


def prepare(n: int) -> Path:
    """benchmarks/.data/<n>/ with police.csv, grid.xlsx and gridbridge.yaml (cached)."""
    out = DATA / str(n)
    cfg = out / "gridbridge.yaml"
    if cfg.exists():
        return cfg
    out.mkdir(parents=True, exist_ok=True)
    demo = yaml.safe_load((REPO / "gridbridge.yaml").read_text(encoding="utf-8"))
    sources = {}
    for fmt, (source, table) in FORMATS.items():
        t0 = time.perf_counter()
        df, _ = _source_frame(n, fmt)
        person = dict(demo["sources"][source]["entities"]["person"])
        person.pop("table", None)
        if fmt == "csv":
            df.to_csv(out / "police.csv", index=False, encoding="gb18030", lineterminator="\r\n")
            sources[source] = {"connector": "csv", "path": "police.csv",
                               "entities": {"person": {**person, "encoding": "gb18030"}}}
        else:
            _write_xlsx(df, out / "grid.xlsx", table)
            sources[source] = {"connector": "xlsx", "path": "grid.xlsx", "entities": {"person": {**person, "sheet": table}}}
        print(f"  prepared {fmt} with {len(df):,} rows in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    cfg.write_text(yaml.safe_dump({"sources": sources, "warehouse": {"path": "warehouse/gridbridge.duckdb"}},
                                  allow_unicode=True), encoding="utf-8")
    return cfg


# --- one stage in a child process --------------------------------------------------------------------------
def _stage(stage: str, cfg_path: str, fmt: str) -> dict:
    from schemas import config as cfgmod
    config = cfgmod.load(cfg_path)
    source, table = FORMATS[fmt]
    scratch = Path(cfg_path).parent / "scratch"
    scratch.mkdir(exist_ok=True)
    landed = scratch / f"{source}_person.parquet"
    # module imports are paid once per process (a sync imports them once for all stages): not timed here;
    # first-use loads inside the normalisers (pypinyin, OpenCC, code tables) are timed
    import connectors.csvfile, connectors.xlsxfile, pipelines.ingest, pipelines.gazetteer  # noqa: E401,F401
    t0 = time.perf_counter()
    if stage == "extract":
        from connectors import land, read_batches
        rows = land(read_batches(config, source, "person"), landed)
    elif stage == "gazetteer":
        from pipelines.gazetteer import police_addresses
        from pipelines.parquetref import ParquetRef
        from schemas.normalise import learn_gazetteer
        addresses = police_addresses(config, {"person": ParquetRef(str(scratch / "police_person.parquet")),
                                              "house": ParquetRef(str(scratch / "none.parquet"))})
        (scratch / "gazetteer.json").write_text(json.dumps(learn_gazetteer(addresses).to_dict(), ensure_ascii=False))
        rows = len(addresses)
    elif stage == "standardise":
        from pipelines.ingest import standardise_file
        from pipelines.parquetref import ParquetRef
        from schemas.normalise import Gazetteer
        gaz = Gazetteer.from_dict(json.loads((scratch / "gazetteer.json").read_text()))
        _, _, counts = standardise_file(ParquetRef(str(landed)), source, "person",
                                        config.entity(source, "person"), scratch / "out", gazetteer=gaz)
        rows = counts["extracted"]
    elif stage == "peer" and fmt == "csv":
        import pandas as pd
        rows = len(pd.read_csv(config.resolve("police.csv"), encoding="gb18030", dtype=str))
    elif stage == "peer":
        import openpyxl
        wb = openpyxl.load_workbook(config.resolve("grid.xlsx"), read_only=True)
        rows = sum(1 for _ in wb[table].iter_rows(values_only=True)) - 1
        wb.close()
    else:
        raise SystemExit(f"unknown stage {stage}")
    return {"rows": rows, "seconds": time.perf_counter() - t0,
            "peak_mb": peak_mb()}


def run_stage(stage: str, cfg: Path, fmt: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.standardise", "--child", stage, str(cfg), fmt],
                         cwd=REPO, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{stage} {fmt} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000])
    ap.add_argument("--formats", nargs="+", default=list(FORMATS), choices=list(FORMATS),
                    help="csv (police) is needed for the gazetteer the xlsx run uses")
    ap.add_argument("--no-peer", action="store_true", help="skip the peer readers (slow for 1M-row XLSX)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_stage(*args.child)))
        return
    rows = []
    for n in args.persons:
        cfg = prepare(n)
        for fmt in sorted(args.formats):  # csv (police) first: the gazetteer is learned from its addresses
            res = {"extract": run_stage("extract", cfg, fmt)}
            if fmt == "csv":
                res["gazetteer"] = run_stage("gazetteer", cfg, fmt)
            res["standardise"] = run_stage("standardise", cfg, fmt)
            if not args.no_peer:
                res["peer"] = run_stage("peer", cfg, fmt)
            rows.append((n, fmt, res))
            print(f"  done {fmt} {n:,}", file=sys.stderr)
        shutil.rmtree(cfg.parent / "scratch", ignore_errors=True)
    peer_name = {"csv": "pandas.read_csv", "xlsx": "openpyxl read-only"}
    print(f"\n{'rows':>9} {'format':<6} {'stage':<12} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12}  vs peer")
    for n, fmt, res in rows:
        for stage, r in res.items():
            name = peer_name[fmt] if stage == "peer" else stage
            ratio = (f"{r['seconds'] / res['peer']['seconds']:.2f}x peer time" if stage == "extract" and "peer" in res
                     else "")
            print(f"{r['rows']:>9,} {fmt:<6} {name:<12} {r['seconds']:>8.2f} {r['rows'] / r['seconds']:>10,.0f} "
                  f"{r['peak_mb']:>12,.0f}  {ratio}")
        both = sum(r["seconds"] for stage, r in res.items() if stage != "peer")
        print(f"{'':>9} {fmt:<6} {'= total':<12} {both:>8.2f} {n / both:>10,.0f}")
    print("(each stage in its own process; peak RSS = that process's maximum resident set)")


if __name__ == "__main__":
    main()
