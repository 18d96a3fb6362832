"""Context a record gets from the rest of the run before it is matched.

* Persons: the matched `house_id` of the house they live in (`households.attach_house_ids`), so the
  `house` comparison can use person–house links as evidence.
* Houses: the 街道/乡镇 (`street`) and 区/县 (`district`) of a grid record that does not write them,
  taken from the other grid records of its grid cell (`grid_code`) when those that do write them all
  agree — every basic grid lies inside one community (shared/domain/address.md §5). Village names
  repeat across townships and counties (前进村, 红星村), so without this a grid worker's `红星村一组22号`
  has the key of two different houses and nothing to tell them apart.

`with_run_context` is what the match stage, `gridbridge train` and `gridbridge explain` all call, so the
three see the same records.
"""
from __future__ import annotations

import pandas as pd

from matching.households import attach_house_ids

LOCALITY = ("street", "district")


def infer_locality(records: pd.DataFrame, cell: str = "grid_code", columns=LOCALITY) -> pd.DataFrame:
    """Missing `columns` filled per `cell` (and source) from the records of that cell that have
    them, where those all agree; a cell with two different values fills nothing."""
    have = [c for c in columns if c in records.columns]
    if cell not in records.columns or not have:
        return records
    out = records.copy()
    group = [out["source"].astype(str), out[cell].astype(object)]
    for col in have:
        known = out[[col]].assign(s=group[0], g=group[1]).dropna(subset=["g", col])
        stats = known.groupby(["s", "g"], sort=False)[col].agg(["nunique", "first"])
        single = stats.loc[stats["nunique"] == 1, "first"]
        if single.empty:
            continue
        fill = out[col].isna().to_numpy() & out[cell].notna().to_numpy()
        keys = pd.MultiIndex.from_arrays([group[0][fill].to_numpy(), group[1][fill].to_numpy()])
        pos = single.index.get_indexer(keys)
        values = out[col].to_numpy(dtype=object).copy()
        idx = fill.nonzero()[0]
        hit = pos >= 0
        values[idx[hit]] = single.to_numpy(dtype=object)[pos[hit]]
        out[col] = values
    return out


def with_run_context(records: pd.DataFrame, entity: str, house_xref: pd.DataFrame | None = None) -> pd.DataFrame:
    """`records` (both sources, standardised) with the context above for `entity`."""
    if entity == "person":
        return attach_house_ids(records, house_xref)
    return infer_locality(records)
