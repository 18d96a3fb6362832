"""The short, human-readable summary printed after a sync (from the run log)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from warehouse.export import label
from warehouse.report import report_path


def _load(v):
    return json.loads(v) if isinstance(v, str) and v else (v or {})


def _verdict(check: dict) -> str:
    """PASS, FAIL (a blocking gate failed) or WARN (only warning-level gates failed)."""
    if check["passed"]:
        return "PASS"
    return "WARN" if check.get("severity") == "WARN" else "FAIL"


def render(run: dict, warehouse_path, seconds: float | None = None) -> str:
    counts, gates = _load(run.get("counts")), _load(run.get("gates"))
    out = [f"gridbridge sync {run['run_id'][:8]}: {run.get('status')}"
           + (f" in {seconds:.1f} s" if seconds is not None else "")]
    if run.get("status") != "success":
        out.append(f"  stage {run.get('stage')}: {run.get('message')}")
        out.append("  the previous warehouse was left as it was")
    src = counts.get("sources", {})
    if src:
        out.append("\nrows per source          extracted   loaded  quarantined")
        for name, c in src.items():
            out.append(f"  {name:<22} {c['extracted']:>9} {c['loaded']:>8} {c['quarantined']:>12}")
        reasons: dict[str, int] = {}
        for c in src.values():
            for r, n in c["by_reason"].items():
                reasons[r] = reasons.get(r, 0) + n
        if reasons:
            out.append("quarantined by reason: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda x: -x[1])))
    p = counts.get("persons")
    if p:
        out.append(f"\npersons: {p['golden']} golden — {p['in_both']} in both systems, {p['only_police']} only in police, "
                   f"{p['only_grid']} only in grid; {p['within_source_duplicates']} with within-source duplicates (重户); "
                   f"{p['review_pairs']} pairs for steward review")
        if "living" in p:
            gone = ", ".join(f"{k} {n}" for k, n in sorted(p.get("by_status", {}).items()) if k != "active")
            out.append(f"living residents: {p['living']}" + (f" (not counted, kept for stewards: {gone})" if gone else ""))
        out.append(f"houses: {counts.get('houses', {}).get('golden', 0)} golden")
    conf = counts.get("conflicts", {})
    if conf:
        pc = conf.get("person", {})
        out.append("person conflicts by field: " + (", ".join(f"{label('person', f) or f}({f}) {n}" for f, n in pc.items()) or "none"))
        hc = conf.get("house", {})
        if hc:
            out.append("house conflicts by field: " + ", ".join(f"{label('house', f) or f}({f}) {n}" for f, n in hc.items()))
        out.append(f"open for stewards: {conf.get('open', 0)}")
    if gates:
        ok = sum(1 for g in gates if g["passed"])
        out.append(f"\ngates: {ok}/{len(gates)} checks passed" + "".join(
            f"\n  {_verdict(g)} {g['asset']}: {g['description']}" for g in gates))
    if run.get("forced_reason"):
        out.append(f"published by --force-publish: {run['forced_reason']}")
    report = report_path(Path(warehouse_path).parent, run["run_id"])
    if run.get("status") == "success":
        sql = "SELECT field, status, conflicts FROM v_conflicts_by_field"
        out.append(f"\nwarehouse: {warehouse_path}")
        if report.exists():
            out.append(f"run report: {report}")
        out.append("example query (read-only, safe while a sync runs):")
        out.append(f"  {sys.executable} -c \"import duckdb; print(duckdb.connect('{warehouse_path}', "
                   f"read_only=True).sql('{sql}'))\"")
    elif report.exists():
        out.append(f"gate report: {report}")
    return "\n".join(out)
