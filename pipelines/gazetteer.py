"""The address gazetteer asset: names of 街道/社区/村/roads/小区 learned from the police standard addresses.

Police 标准地址 are the reference spelling; every standardise step parses addresses with this run's gazetteer,
so a grid worker's `金凤3-2-502` gets the same house key as the police `金凤小区3号楼2单元502室`. Nothing
about places is built in: the gazetteer is learned afresh from the sources every run and kept (JSON) with
the run's assets for audit.
"""

import time

import dagster as dg
import pandas as pd

from pipelines import constants as C
from pipelines.parquetref import ParquetRef
from pipelines.resources import GridbridgeConfig
from schemas.normalise import learn_gazetteer

GAZETTEER = "address_gazetteer"
# (entity, canonical field) whose police values are standard addresses
REFERENCE_FIELDS = (("house", "address"), ("person", "current_address"))


def police_addresses(config, raws: dict[str, ParquetRef]) -> pd.Series:
    """The police address columns named in the config, read from this run's landed extracts (one column each)."""
    parts = []
    for entity, field in REFERENCE_FIELDS:
        ent = config.entity("police", entity)
        column = ent.columns.get(field) if ent else None
        if column and column in raws[entity].columns:
            parts.append(raws[entity].read(columns=[column])[column])
    return pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype=object)


@dg.asset(name=GAZETTEER, group_name=C.GROUP_STANDARDISE, kinds={"json"},
          ins={"house": dg.AssetIn(C.raw("police", "house"), metadata={"stream": True}),
               "person": dg.AssetIn(C.raw("police", "person"), metadata={"stream": True})},
          description="Place names below the county learned from the police standard addresses (JSON)")
def address_gazetteer(context: dg.AssetExecutionContext, gridbridge: GridbridgeConfig, house: ParquetRef,
                      person: ParquetRef) -> dict:
    config = gridbridge.load()
    t0 = time.perf_counter()
    addresses = police_addresses(config, {"house": house, "person": person})
    gaz = learn_gazetteer(addresses).to_dict()
    sizes = {level: len(names) for level, names in gaz["levels"].items()}
    context.log.info(f"gazetteer from {len(addresses):,} police addresses: {sizes}")
    context.add_output_metadata({"addresses": len(addresses), **sizes, "seconds": round(time.perf_counter() - t0, 2)})
    return gaz
