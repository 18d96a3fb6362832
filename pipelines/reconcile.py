"""Reconcile assets: golden records (shared part + reconciled differences) and field conflicts."""

import dagster as dg
import pandas as pd

from matching.lineage import decision_heirs
from matching.reconcile import reconcile
from pipelines import constants as C
from pipelines.resources import GridbridgeConfig
from schemas.canonical import HOUSE_SHARED, PERSON_SHARED
from warehouse.idstate import IdState
from warehouse.state import State

_SHARED = {"person": PERSON_SHARED, "house": HOUSE_SHARED}


def _raw_columns(config, entity: str) -> dict[str, dict[str, str]]:
    out = {}
    for side in ("police", "grid"):
        ent = config.entity(side, entity)
        out[side] = dict(ent.columns) if ent else {}
    return out


def _extras(golden: pd.DataFrame, wide: pd.DataFrame, links: pd.DataFrame, id_col: str, entity: str,
            house_links: pd.DataFrame | None) -> pd.DataFrame:
    def pick(col: str, first: str = "police") -> pd.Series:
        other = "grid" if first == "police" else "police"
        a = wide.get(f"{col}_{first}", pd.Series(None, index=wide.index))
        b = wide.get(f"{col}_{other}", pd.Series(None, index=wide.index))
        return a.where(a.notna(), b)

    counts = links.groupby([id_col, "source"]).size().unstack(fill_value=0)
    golden["police_records"] = golden[id_col].map(counts.get("police", pd.Series(dtype=int))).fillna(0).astype(int)
    golden["grid_records"] = golden[id_col].map(counts.get("grid", pd.Series(dtype=int))).fillna(0).astype(int)
    golden["grid_code"] = pick("grid_code", "grid").values
    if entity == "person":
        golden["police_station"] = pick("police_station").values
        golden["status"] = pick("status").fillna("active").values
        golden["status_reason"] = pick("status_reason").values
        golden["updated_at_police"] = wide.get("updated_at_police")
        golden["updated_at_grid"] = wide.get("updated_at_grid")
        hid = pd.Series(None, index=wide.index, dtype="object")
        if house_links is not None and len(house_links):
            for side in ("police", "grid"):
                m = house_links[house_links["source"] == side].set_index("source_key")["house_id"]
                hid = hid.where(hid.notna(), wide.get(f"house_key_{side}", pd.Series(None, index=wide.index)).map(m))
        golden["house_id"] = hid.values
    else:
        for part in ("address_key", "compound", "building", "unit", "room", "street", "community", "district"):
            golden[part] = pick(part).values
    return golden


def _run(context, gridbridge, entity, police, grid, links, house_links=None):
    config = gridbridge.load()
    id_col = f"{entity}_id"
    decisions = State(config.state_dir).decisions()
    # decisions follow ids that merged or split (ids are never reissued, so they cannot land on someone else)
    heirs = decision_heirs(IdState(config.state_dir).lineage(entity, context.run_id), links[id_col])
    golden, conflicts, info = reconcile(
        entity, police, grid, links, fields=_SHARED[entity], rule_for=config.survivorship_rule, id_col=id_col,
        raw_columns=_raw_columns(config, entity), decisions=decisions, heirs=heirs)
    golden = _extras(golden, info["wide"], links, id_col, entity, house_links)
    context.add_output_metadata({"golden": len(golden), "shared_values": info["shared"],
                                 "one_sided_values": info["one_sided"]}, output_name="golden")
    context.add_output_metadata({"by_field": conflicts["field"].value_counts().to_dict()}, output_name="conflicts")
    return golden, conflicts


def _outs(entity: str) -> dict:
    return {"golden": dg.AssetOut(key=f"golden_{entity}",
                                  description=f"one row per {entity}: agreed values + reconciled differences"),
            "conflicts": dg.AssetOut(key=f"{entity}_conflicts",
                                     description="fields whose values truly differ between the systems")}


def _ins(entity: str) -> dict:
    return {"police": dg.AssetIn(C.stg("police", entity)), "grid": dg.AssetIn(C.stg("grid", entity)),
            "links": dg.AssetIn(f"{entity}_links")}


@dg.multi_asset(name="reconcile_houses", group_name=C.GROUP_RECONCILE, ins=_ins("house"), outs=_outs("house"))
def reconcile_houses(context: dg.AssetExecutionContext, gridbridge: GridbridgeConfig, police: pd.DataFrame,
                     grid: pd.DataFrame, links: pd.DataFrame):
    return _run(context, gridbridge, "house", police, grid, links)


@dg.multi_asset(name="reconcile_persons", group_name=C.GROUP_RECONCILE,
                ins={**_ins("person"), "house_links": dg.AssetIn("house_links")}, outs=_outs("person"))
def reconcile_persons(context: dg.AssetExecutionContext, gridbridge: GridbridgeConfig, police: pd.DataFrame,
                      grid: pd.DataFrame, links: pd.DataFrame, house_links: pd.DataFrame):
    return _run(context, gridbridge, "person", police, grid, links, house_links)


reconcile_assets = [reconcile_houses, reconcile_persons]
