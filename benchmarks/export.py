"""Excel export benchmark: `gridbridge export --format xlsx` against pandas' `to_excel`, on one synced demo.

    .venv/bin/python -m benchmarks.export --persons 10000 100000

For each size it generates and syncs a demo warehouse (cached under benchmarks/.data/export_<n>/), then
writes the analysts' `v_person` view to .xlsx twice, each in its own process so peak memory is its own:

  gridbridge  warehouse.export.export_tables (streamed DuckDB batches, xlsxwriter constant_memory,
              Chinese headers, IDs as text)
  peer        the usual way: the whole view into pandas, then DataFrame.to_excel(engine="openpyxl")

and prints rows, seconds and peak RSS of each, with gridbridge's as a ratio of the peer's.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.memory import peak_mb

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / ".data"


def _warehouse(persons: int) -> Path:
    root = DATA / f"export_{persons}"
    wh = root / "warehouse" / "gridbridge.duckdb"
    if not wh.exists():
        from pipelines.cli import run_sync
        from pipelines.demo import generate
        root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "gridbridge.yaml", root / "gridbridge.yaml")
        generate(root / "demo", persons=persons)
        assert run_sync(str(root / "gridbridge.yaml"), quiet=True) == 0
    return wh


def child(engine: str, warehouse: str, out: str) -> dict:
    import duckdb
    t0 = time.perf_counter()
    if engine == "gridbridge":
        from warehouse.export import export_tables
        rows = export_tables(warehouse, out, "xlsx", names=["v_person"])[0].rows
    else:
        with duckdb.connect(warehouse, read_only=True) as con:
            frame = con.execute("SELECT * FROM v_person").df()
        frame.to_excel(Path(out) / "v_person.xlsx", index=False, engine="openpyxl")
        rows = len(frame)
    return {"rows": rows, "seconds": time.perf_counter() - t0,
            "peak_mb": peak_mb()}


def run(engine: str, warehouse: Path, persons: int) -> dict:
    out = DATA / f"export_{persons}" / f"out_{engine}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "benchmarks.export", "--child", engine, str(warehouse), str(out)],
                          cwd=REPO, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[10_000])
    ap.add_argument("--child", nargs=3, metavar=("ENGINE", "WAREHOUSE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    print(f"{'persons':>8} {'engine':<11} {'rows':>9} {'seconds':>8} {'peak MB':>8} {'x time':>7} {'x MB':>6}")
    for n in args.persons:
        wh = _warehouse(n)
        res = {e: run(e, wh, n) for e in ("peer", "gridbridge")}
        for e in ("gridbridge", "peer"):
            r = res[e]
            print(f"{n:>8} {e:<11} {r['rows']:>9,} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f} "
                  f"{r['seconds'] / res['peer']['seconds']:>7.2f} {r['peak_mb'] / res['peer']['peak_mb']:>6.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
