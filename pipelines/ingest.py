"""Extract and standardise assets, one per source × entity (police/grid × person/house)."""

import time

import dagster as dg
import pandas as pd

from connectors import land, read_batches
from connectors.landing import landing_dir
from pipelines import constants as C
from pipelines.resources import GridbridgeConfig
from schemas.canonical import DERIVED, FIELDS
from schemas.standardise import standardise


def _raw_asset(source: str, entity: str) -> dg.AssetsDefinition:
    @dg.asset(name=C.raw(source, entity), group_name=C.GROUP_EXTRACT, kinds={"sql", "parquet"},
              description=f"Rows of the {source} system's {entity} table as extracted (all text), landed per run.")
    def _raw(context: dg.AssetExecutionContext, gridbridge: GridbridgeConfig) -> pd.DataFrame:
        config = gridbridge.load()
        if config.entity(source, entity) is None:
            context.log.info(f"{source}.{entity} is not configured; nothing to extract")
            return pd.DataFrame()
        t0 = time.perf_counter()
        path = landing_dir(config.state_dir, context.run_id) / f"{source}_{entity}.parquet"
        table = land(read_batches(config, source, entity), path)
        df = table.to_pandas() if table.num_columns else pd.DataFrame()
        context.add_output_metadata({"landed": dg.MetadataValue.path(str(path)),
                                     "seconds": round(time.perf_counter() - t0, 2)})
        return df

    return _raw


def _stg_asset(source: str, entity: str) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"standardise_{source}_{entity}", group_name=C.GROUP_STANDARDISE,
        ins={"raw": dg.AssetIn(C.raw(source, entity))},
        outs={
            "stg": dg.AssetOut(key=C.stg(source, entity), description=f"{source} {entity} rows on the canonical schema"),
            "quarantine": dg.AssetOut(key=C.quarantined(source, entity),
                                      description=f"{source} {entity} rows that cannot be used, with a reason"),
        })
    def _stg(context: dg.AssetExecutionContext, gridbridge: GridbridgeConfig, raw: pd.DataFrame):
        config = gridbridge.load()
        ent = config.entity(source, entity)
        if ent is None:
            empty = pd.DataFrame(columns=["source", *FIELDS[entity], *DERIVED[entity]])
            return empty, pd.DataFrame(columns=["source", "entity", "source_key", "reason", "raw"])
        stg, quarantine = standardise(raw, source, entity, ent)
        assert len(stg) + len(quarantine) == len(raw), "row accounting broken"
        reasons = quarantine["reason"].value_counts().to_dict()
        context.add_output_metadata({"extracted": len(raw), "loaded": len(stg), "quarantined": len(quarantine)},
                                    output_name="stg")
        context.add_output_metadata({"by_reason": reasons}, output_name="quarantine")
        return stg, quarantine

    return _stg


raw_assets = [_raw_asset(s, e) for s, e in C.SOURCE_ENTITIES]
stg_assets = [_stg_asset(s, e) for s, e in C.SOURCE_ENTITIES]
