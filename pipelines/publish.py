"""The publish asset: the new warehouse state replaces the old one atomically (warehouse/publish.py)."""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from pipelines import constants as C
from pipelines.resources import GridbridgeConfig
from pipelines.runs import FORCE_TAG, GateHeld, failed_gate_ids, gate_results, held_gates, models_used
from connectors.landing import landed_path, prune
from pipelines.parquetref import ParquetRef
from warehouse.publish import publish
from warehouse.report import report_path, write_report
from warehouse.state import State, now

_INPUTS = ["golden_person", "person_conflicts", "person_links", "person_review",
           "golden_house", "house_conflicts", "house_links", "house_review"]


def _review(frame: pd.DataFrame, entity: str) -> pd.DataFrame:
    return frame.assign(entity=entity) if len(frame) else frame


class RowAccountingError(Exception):
    """Rows went missing (or appeared) between extract and publish: nothing may be published."""


def landed_rows(state_dir, run_id: str) -> dict[tuple[str, str], int]:
    """Rows extracted per source × entity, counted from the raw landing files (not from any later stage)."""
    return {(s, e): ParquetRef(landed_path(state_dir, run_id, s, e)).rows for s, e in C.SOURCE_ENTITIES}


def run_counts(golden_person, person_links, person_review, person_conflicts, house_links, house_conflicts,
               quarantines: dict[str, pd.DataFrame], extracted: dict[tuple[str, str], int]) -> dict:
    """Per-stage counts for the run log. `extracted` (from the landing) must equal loaded + quarantined for
    every source × entity, where loaded is counted in the xref the warehouse gets: else RowAccountingError."""
    counts: dict = {"sources": {}}
    for (source, entity), q in quarantines.items():
        links = person_links if entity == "person" else house_links
        loaded = int((links["source"] == source).sum()) if len(links) else 0
        got = extracted[(source, entity)]
        if got != loaded + len(q):
            raise RowAccountingError(f"{source}.{entity}: {got} rows extracted but {loaded} loaded + {len(q)} "
                                     f"quarantined = {loaded + len(q)}; nothing published")
        counts["sources"][f"{source}.{entity}"] = {
            "extracted": got, "loaded": loaded, "quarantined": len(q),
            "by_reason": q["reason"].value_counts().to_dict()}
    gp = golden_person
    # living residents vs deregistered (注销/死亡/迁出) records kept for stewards, by golden status
    status = gp["status"] if "status" in gp else pd.Series(None, index=gp.index, dtype=object)
    by_status = {k: int(n) for k, n in status.fillna("active").value_counts().items()}
    counts["persons"] = {
        "golden": len(gp), "in_both": int((gp["in_police"] & gp["in_grid"]).sum()),
        "only_police": int((gp["in_police"] & ~gp["in_grid"]).sum()),
        "only_grid": int((gp["in_grid"] & ~gp["in_police"]).sum()),
        "within_source_duplicates": int(((gp["police_records"] > 1) | (gp["grid_records"] > 1)).sum()),
        "review_pairs": len(person_review), "living": by_status.get("active", 0), "by_status": by_status}
    counts["houses"] = {"golden": int(house_links["house_id"].nunique()) if len(house_links) else 0}
    counts["conflicts"] = {
        "person": person_conflicts["field"].value_counts().to_dict(),
        "house": house_conflicts["field"].value_counts().to_dict(),
        "open": int((person_conflicts["status"] == "open").sum() + (house_conflicts["status"] == "open").sum())}
    return counts


@dg.asset(name="warehouse", group_name=C.GROUP_PUBLISH, kinds={"duckdb"},
          ins={**{n: dg.AssetIn(n) for n in _INPUTS},
               **{C.quarantined(s, e): dg.AssetIn(C.quarantined(s, e)) for s, e in C.SOURCE_ENTITIES}},
          description="The analysts' DuckDB warehouse: golden records, xrefs, conflicts, reviews, quarantine, run log.")
def warehouse(context: dg.AssetExecutionContext, gridbridge: GridbridgeConfig, **frames: pd.DataFrame) -> dg.MaterializeResult:
    config = gridbridge.load()
    run_id = context.run_id
    state = State(config.state_dir)
    quarantines = {(s, e): frames[C.quarantined(s, e)] for s, e in C.SOURCE_ENTITIES}
    try:
        counts = run_counts(frames["golden_person"], frames["person_links"], frames["person_review"],
                            frames["person_conflicts"], frames["house_links"], frames["house_conflicts"], quarantines,
                            extracted=landed_rows(config.state_dir, run_id))
    except RowAccountingError as e:
        raise dg.Failure(f"row accounting: {e}") from None
    counts["models"] = models_used(context.instance, run_id)
    started = context.instance.get_run_stats(run_id).start_time  # scheduled runs do not pass through the CLI
    gates = gate_results(context.instance, run_id)
    held = held_gates(gates)
    forced = context.run.tags.get(FORCE_TAG)
    if held and not forced:
        raise GateHeld(f"publish held: {held[0]['description']}; to publish anyway: gridbridge sync --force-publish "
                       f"--reason \"…\"")
    extra = {}
    if held:
        overrode = ", ".join(f"{g['check']}: {', '.join(failed_gate_ids(g))}" for g in held)
        extra["forced_reason"] = f"{forced} (overrode warning gates — {overrode})"
        context.log.warning(f"publishing despite failed warning gates ({overrode}): {forced}")
    state.record_run(run_id, status="publishing", stage="publish", counts=counts, **extra,
                     started_at=dt.datetime.fromtimestamp(started).isoformat(timespec="seconds") if started else None,
                     gates=gates)
    stamp = {"run_id": run_id}
    tables = {
        "person": frames["golden_person"].assign(**stamp), "person_xref": frames["person_links"].assign(**stamp),
        "person_conflict": frames["person_conflicts"].assign(**stamp),
        "house": frames["golden_house"].assign(**stamp), "house_xref": frames["house_links"].assign(**stamp),
        "house_conflict": frames["house_conflicts"].assign(**stamp),
        "match_review": pd.concat([_review(frames["person_review"], "person"), _review(frames["house_review"], "house")],
                                  ignore_index=True).assign(**stamp),
        "quarantine": pd.concat(list(quarantines.values()), ignore_index=True).assign(**stamp),
        "steward_decision": state.decisions(),
    }
    runs = state.runs()
    runs.loc[runs["run_id"] == run_id, ["status", "finished_at"]] = ["success", now()]
    tables["run_log"] = runs
    path = publish(config.warehouse_path, tables, run_id)
    state.record_run(run_id, status="success", stage="done", finished_at=now())
    try:        # the warehouse is published already: a report that cannot be written only warns
        report = write_report(path, report_path(config.state_dir, run_id), run_id, counts, gates)
    except Exception as e:  # noqa: BLE001
        context.log.warning(f"run report not written: {e}")
        report = None
    pruned = prune(config.state_dir, config.warehouse.keep_landing_runs, protect={run_id})
    if pruned:
        context.log.info(f"removed the raw landing of {len(pruned)} older runs (keeping {config.warehouse.keep_landing_runs})")
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path)),
                                          **({"report": dg.MetadataValue.path(str(report))} if report else {}),
                                          "persons": counts["persons"]["golden"],
                                          "counts": dg.MetadataValue.json(json.loads(json.dumps(counts, default=str)))})
