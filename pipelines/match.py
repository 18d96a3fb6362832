"""Match assets: link police and grid records (and within-source duplicates) into persons and houses."""

import time

import dagster as dg
import pandas as pd

from matching import MatchSettings, link
from matching.constraints import pair_constraints
from matching.context import with_run_context
from matching.lineage import lineage_events
from matching.records import ID_PREFIX
from pipelines import constants as C
from warehouse.files import pause_point
from pipelines.resources import GridbridgeConfig
from warehouse.idstate import IdState
from warehouse.publish import read_table
from warehouse.state import State


def _match_asset(entity: str) -> dg.AssetsDefinition:
    ins = {"police": dg.AssetIn(C.stg("police", entity)), "grid": dg.AssetIn(C.stg("grid", entity))}
    if entity == "person":          # person–house links are evidence for persons (matching/households.py)
        ins["house_links"] = dg.AssetIn("house_links")

    @dg.multi_asset(
        name=f"match_{entity}s", group_name=C.GROUP_MATCH, ins=ins,
        outs={"links": dg.AssetOut(key=f"{entity}_links",
                                   description=f"source {entity} record → stable {entity}_id, with match probability"),
              "review": dg.AssetOut(key=f"{entity}_review",
                                    description="candidate pairs in the review band, for stewards")})
    def _match(context: dg.AssetExecutionContext, gridbridge: GridbridgeConfig, police: pd.DataFrame,
               grid: pd.DataFrame, **evidence: pd.DataFrame):
        config = gridbridge.load()
        t0 = time.perf_counter()
        previous = read_table(config.warehouse_path, f"{entity}_xref")
        records = pd.concat([police, grid], ignore_index=True)
        records = with_run_context(records, entity, evidence.get("house_links"))
        settings = MatchSettings.from_config(config)
        model_path = settings.model_path
        context.log.info(f"{entity} model: {model_path or 'built-in starting model (run `gridbridge train`)'}")
        id_col = f"{entity}_id"
        # the counter is persisted: an id freed by a deleted or merged entity is never issued again
        id_state = IdState(config.state_dir)
        issued = id_state.counter(entity, config.warehouse_path, ID_PREFIX[entity])
        # stewards' same/different decisions on pairs: must-link / cannot-link (matching/constraints.py)
        constraints = pair_constraints(State(config.state_dir).decisions(), entity)
        result = link(records, entity=entity, settings=settings, previous_xref=previous, issued_max=issued,
                      constraints=constraints)
        events = lineage_events(result.retired_ids, result.split_ids, id_col)
        id_state.record(entity, context.run_id, result.issued_max - result.new_ids + 1, result.issued_max, events)
        pause_point("match")
        xref = result.xref.merge(records[["source", "source_key", "flags"]], on=["source", "source_key"], how="left")
        sizes = xref.groupby(id_col)["source"].nunique() == 2          # in both systems
        context.add_output_metadata({"records": len(records), f"{entity}s": int(xref[id_col].nunique()),
                                     "in_both_systems": int(sizes.sum()),
                                     "steward_pair_decisions": len(constraints),
                                     "new_ids": result.new_ids,
                                     "retired_ids": int((events["event"] == "retired").sum()),
                                     "split_ids": int((events["event"] == "split").sum()),
                                     "model": str(model_path or "built-in"),
                                     "model_version": result.model_version,
                                     "model_fingerprint": result.model_fingerprint,
                                     "seconds": round(time.perf_counter() - t0, 2)}, output_name="links")
        context.add_output_metadata({"pairs": len(result.review)}, output_name="review")
        return xref, result.review

    return _match


match_assets = [_match_asset("person"), _match_asset("house")]
