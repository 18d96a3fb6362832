"""`gridbridge` command line. Heavy imports (dagster, GE) happen inside the commands, so --help is fast."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

from pipelines.constants import fail

EXIT_RUN_FAILED = 1
# Dagster's console log: hidden by default (a failed step would print a traceback; the summary gives the one-line
# reason and the run's full event log stays in Dagster's storage). GRIDBRIDGE_LOG_LEVEL=INFO shows every step.
LOG_LEVEL = os.environ.get("GRIDBRIDGE_LOG_LEVEL", "CRITICAL")


def _instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME") and Path(os.environ["DAGSTER_HOME"]).is_absolute():
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def execute_sync(config_path: str, instance=None, log_level: str = "WARNING", announce=None, full: bool = False,
                 force_reason: str | None = None):
    """Run the `sync` job in process; record the outcome in the run log. Returns (config, run_id, result).
    `full`: extract everything even where an incremental extract is possible (pipelines/snapshot.py).
    `force_reason`: publish even if warning-level gates fail, recording this reason (blocking gates still stop)."""
    from schemas.config import load

    config = load(config_path)  # ConfigError → one line, exit 2
    from connectors.landing import remove_partial
    from pipelines.definitions import build_defs
    from pipelines.runs import record_failure
    from warehouse.publish import published_run_ids
    from warehouse.state import State, now

    state = State(config.state_dir)
    with state.sync_lock():  # SyncLockedError while another sync runs on this warehouse
        # a run killed earlier left its run-log row open and maybe .part landings (a built-but-unswapped
        # warehouse file it left is removed by the next publish: warehouse/publish.py)
        state.repair_interrupted(published_run_ids(config.warehouse_path))
        remove_partial(config.state_dir)
        run_id = str(uuid.uuid4())
        t0 = time.time()
        state.record_run(run_id, started_at=now(), status="running", stage="extract")
        instance = instance or _instance()
        job = build_defs(config_path).resolve_job_def("sync")
        if announce:
            announce(run_id)
        run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
        from pipelines.runs import FORCE_TAG
        from pipelines.snapshot import MODE_TAG
        tags = {MODE_TAG: "full" if full else "incremental"} | ({FORCE_TAG: force_reason} if force_reason else {})
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_id=run_id,
                                        run_config=run_config, tags=tags)
        if not result.success:
            record_failure(state, instance, run_id, t0)
    return config, run_id, result


def run_sync(config_path: str, quiet: bool = False, full: bool = False, force_reason: str | None = None) -> int:
    from pipelines.summary import render
    from schemas.normalise.masking import mask_text
    from warehouse.state import State

    def announce(run_id):
        if not quiet:
            print(f"sync {run_id[:8]} running: extract → standardise → gate → match → reconcile → publish "
                  f"(set GRIDBRIDGE_LOG_LEVEL=INFO to see every step)", flush=True)

    t0 = time.time()
    config, run_id, result = execute_sync(config_path, log_level=LOG_LEVEL, announce=announce, full=full,
                                          force_reason=force_reason)
    run = State(config.state_dir).runs().set_index("run_id").loc[run_id].to_dict() | {"run_id": run_id}
    if not quiet:
        print(mask_text(render(run, config.warehouse_path, time.time() - t0)))
        if force_reason and not result.success and run.get("stage") == "gate":
            print("--force-publish overrides warning gates only: a failed blocking gate cannot be forced. Fix the "
                  "source, or set that gate to warning in quality.levels (each gate's level is recorded with the run).")
    return 0 if result.success else EXIT_RUN_FAILED


def cmd_demo(args) -> int:
    from pipelines.demo import generate

    target = Path(args.dir)
    config_path = target / "gridbridge.yaml"
    template = Path(__file__).resolve().parents[1] / "gridbridge.yaml"
    if not config_path.exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, config_path)
    elif "gridbridge demo configuration" not in config_path.read_text(encoding="utf-8"):
        return fail(f"{config_path} is not the demo configuration; use another --dir")
    t0 = time.time()
    paths = generate(target / "demo", persons=args.persons, seed=args.seed)
    print(f"demo sources for {args.persons} persons written in {time.time() - t0:.1f} s: "
          f"{paths.police_db}, {paths.grid_db} (truth: {paths.truth_db})")
    print(f"config: {config_path}\n")
    rc = run_sync(str(config_path), full=True)
    if rc == 0:
        print("\nnext: review the conflicts and uncertain pairs in the stewards' console —\n"
              f"  .venv/bin/gridbridge steward add-user admin --role admin --config {config_path}\n"
              f"  .venv/bin/gridbridge steward --config {config_path}        # then open http://127.0.0.1:8050")
    return rc


def cmd_sync(args) -> int:
    if args.force_publish and not (args.reason or "").strip():
        return fail("--force-publish needs --reason \"…\" (it is recorded in the run log)")
    return run_sync(args.config, full=args.full, force_reason=args.reason.strip() if args.force_publish else None)


def cmd_status(args) -> int:
    import json

    from schemas.config import load
    from warehouse.state import State

    config = load(args.config)
    runs = State(config.state_dir).runs(limit=args.last)
    if runs.empty:
        print("no sync has run yet — try `gridbridge sync`")
        return 0
    print(f"warehouse: {config.warehouse_path} ({'present' if config.warehouse_path.exists() else 'missing'})")
    print(f"{'run':<10}{'started':<21}{'status':<13}{'stage':<10}{'persons':>9}{'conflicts':>10}{'open':>6}"
          f"{'gates':>12}  message")
    for _, r in runs.iterrows():
        counts = json.loads(r["counts"]) if r["counts"] else {}
        persons = counts.get("persons", {}).get("golden", "")
        conf = counts.get("conflicts", {})
        nconf = sum(conf.get("person", {}).values()) + sum(conf.get("house", {}).values()) if conf else ""
        message = r["message"] or ""
        if r.get("forced_reason"):
            message = f"forced: {r['forced_reason']}" + (f"; {message}" if message else "")
        print(f"{r['run_id'][:8]:<10}{r['started_at'] or '':<21}{r['status'] or '':<13}{r['stage'] or '':<10}"
              f"{persons:>9}{nconf:>10}{conf.get('open', '') if conf else '':>6}{_gate_summary(r['gates']):>12}  {message}")
    return 0


def cmd_export(args) -> int:
    from schemas.config import load
    from warehouse.export import EXPORT_TABLES, export_tables

    config = load(args.config)
    if not config.warehouse_path.exists():
        return fail(f"no warehouse at {config.warehouse_path}; run `gridbridge sync` first")
    t0 = time.time()
    try:
        written = export_tables(config.warehouse_path, args.out, args.format, args.tables or EXPORT_TABLES)
    except ValueError as e:
        return fail(str(e))
    width = max(len(e.path.name) for e in written)
    for e in written:
        sheets = f"  sheets: {', '.join(e.sheets)}" if len(e.sheets) > 1 else ""
        cut = f"  ({e.truncated_cells} cells cut to Excel's 32,767 characters)" if e.truncated_cells else ""
        print(f"  {e.path.name:<{width}}  {e.rows:>10,} rows{sheets}{cut}")
    print(f"exported {len(written)} tables to {Path(args.out)}/ as {args.format} in {time.time() - t0:.1f} s")
    return 0


def _gate_summary(gates_json: str | None) -> str:
    """`12/12 ok`, or how many gates failed: `1 blocking`, `2 warning`."""
    import json

    checks = json.loads(gates_json) if gates_json else []
    results = [g for c in checks for g in (c.get("gates") or [])]
    if not results:
        return ""
    failed = [g for g in results if not g.get("success")]
    if not failed:
        return f"{len(results)}/{len(results)} ok"
    blocking = sum(1 for g in failed if g.get("level") == "blocking")
    return ", ".join(p for p in (f"{blocking} blocking" if blocking else "",
                                 f"{len(failed) - blocking} warning" if len(failed) > blocking else "") if p)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gridbridge", description="Bridge the police population system and the grid "
                                "management system: extract, standardise, gate, match, reconcile, publish.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="make demo sources for both systems and run a full sync")
    d.add_argument("--persons", type=int, default=2000)
    d.add_argument("--dir", default=".", help="folder for gridbridge.yaml, demo/ and warehouse/ (default: here)")
    d.add_argument("--seed", type=int, default=20261123)
    d.set_defaults(func=cmd_demo)
    s = sub.add_parser("sync", help="one sync run (the job the nightly schedule runs)")
    s.add_argument("--config", default="gridbridge.yaml")
    s.add_argument("--full", action="store_true", help="extract everything (default: SQL sources with updated_at: "
                   "fetch only rows changed since the last successful run; deletions need a full extract)")
    s.add_argument("--force-publish", action="store_true",
                   help="publish even though warning-level gates failed (needs --reason; blocking gates still stop)")
    s.add_argument("--reason", help="why the operator forces the publish (kept in run_log.forced_reason)")
    s.set_defaults(func=cmd_sync)
    st = sub.add_parser("status", help="last runs, counts, open conflicts, gate results")
    st.add_argument("--config", default="gridbridge.yaml")
    st.add_argument("--last", type=int, default=10)
    st.set_defaults(func=cmd_status)
    e = sub.add_parser("export", help="warehouse tables for other tools")
    e.add_argument("--config", default="gridbridge.yaml")
    e.add_argument("--format", choices=["parquet", "csv", "xlsx"], default="parquet")
    e.add_argument("--out", default="export")
    e.add_argument("--tables", nargs="+", metavar="NAME",
                   help="tables or views to export (default: the analysts' views, ID numbers and phones masked; "
                        "a steward table such as person or person_conflict has full values)")
    e.set_defaults(func=cmd_export)
    from pipelines import explain_cmd  # light: its heavy imports are inside the command
    explain_cmd.add_parser(sub)
    from pipelines import train_cmd  # light as well
    train_cmd.add_parser(sub)
    from pipelines import steward_cmd  # the console's Flask app is imported only when served
    steward_cmd.add_parser(sub)
    from pipelines import conflicts_cmd  # the same decisions from the command line and Excel
    conflicts_cmd.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from connectors.errors import SourceError
    from schemas.config import ConfigError
    from schemas.normalise.masking import install_log_masking
    from warehouse.state import SyncLockedError

    install_log_masking()  # every log record of the process: ID numbers and phones masked
    try:
        return args.func(args)
    except (ConfigError, SourceError, SyncLockedError) as e:
        return fail(str(e))


if __name__ == "__main__":
    sys.exit(main())
