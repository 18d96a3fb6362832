"""Person–house links as evidence for persons.

Each person record names the house it lives in by that source's own house key (`house_key`). Once
houses are matched, `attach_house_ids` turns that key into the matched `house_id`, the same on both
sides when the two systems' houses are one house. The person comparison `house` (comparisons.py)
then asks: do the two records live in the same matched house, and are other members of that house
already the same people on both sides (an ID number found among its residents in both systems)?
This is household evidence, so it is scored in the model's capped `household` group with phone and
address: it can lift a pair whose address text is stale or loosely written, never outweigh a
disagreeing ID, name or birth date.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

HOUSE_ID = "house_id"


def attach_house_ids(persons: pd.DataFrame, house_xref: pd.DataFrame | None) -> pd.DataFrame:
    """`persons` (standardised, with `source` and `house_key`) plus `house_id`: the matched house of
    each record's house key in its own source; None without a key or a matched house."""
    out = persons.copy()
    if house_xref is None or house_xref.empty or "house_key" not in persons.columns:
        out[HOUSE_ID] = None
        return out
    xref = (house_xref[["source", "source_key", HOUSE_ID]].astype({"source": str, "source_key": str})
            .drop_duplicates(["source", "source_key"]))
    index = pd.MultiIndex.from_frame(xref[["source", "source_key"]])
    keys = pd.MultiIndex.from_arrays([persons["source"].astype(str).to_numpy(),
                                      persons["house_key"].astype(object).where(persons["house_key"].notna(), None)
                                      .astype(str).to_numpy()])
    pos = index.get_indexer(keys)
    ids = np.where(pos >= 0, xref[HOUSE_ID].to_numpy(dtype=object)[np.maximum(pos, 0)], None)
    ids[persons["house_key"].isna().to_numpy()] = None
    out[HOUSE_ID] = ids
    return out


def shared_members(records: pd.DataFrame, house_col: str = HOUSE_ID, id_col: str = "id_number"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per record: how many ID numbers its house has among residents of both sources, and whether
    its own ID number is one of them. Records without a house or an ID count 0 / False."""
    frame = pd.DataFrame({"h": records[house_col].to_numpy(dtype=object), "i": records[id_col].to_numpy(dtype=object),
                          "s": records["source"].to_numpy(dtype=object)})
    known = frame.dropna(subset=["h", "i"])
    per_id = known.drop_duplicates().groupby(["h", "i"], sort=False)["s"].nunique()
    both = per_id[per_id >= 2]
    per_house = both.groupby(level="h", sort=False).size()
    count = frame["h"].map(per_house).fillna(0).to_numpy(dtype=np.int64)
    own = pd.MultiIndex.from_frame(frame[["h", "i"]]).isin(both.index) & frame["h"].notna().to_numpy() \
        & frame["i"].notna().to_numpy()
    return count, np.asarray(own, dtype=bool)
