"""Decision guards applied to scored pairs before clustering: rules a weight sum cannot express.

`missing_id_needs_household`: when one side has no ID number, a person pair rests on name + birth date, and
different people share those (同名同生日: 汪桂兰 born 1963-08-10 twice in one county). Such a pair is only
auto-matched when the household evidence (phone / address group) is positive; otherwise its probability is
capped in the middle of the review band, so a steward decides. Measured on the demo truth at 10k persons:
4 false auto-links of this kind without the guard (benchmarks/accuracy.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

GUARD_COLUMN = "guard"


def missing_id_needs_household(scored: pd.DataFrame, auto_match: float, review: float,
                               id_comparison: str = "id", group: str = "household") -> pd.DataFrame:
    """Cap `match_probability`/`match_weight` of pairs with a null ID level and no positive `w_<group>`."""
    gamma, credit = f"gamma_{id_comparison}", f"w_{group}"
    if scored.empty or gamma not in scored or credit not in scored:
        return scored
    hit = ((scored[gamma].to_numpy() < 0) & ~(scored[credit].fillna(0).to_numpy() > 0)
           & (scored["match_probability"].to_numpy() >= auto_match))
    if not hit.any():
        return scored
    out = scored.copy()
    cap = (auto_match + review) / 2
    out.loc[hit, "match_probability"] = cap
    out.loc[hit, "match_weight"] = float(np.log2(cap / (1 - cap))) if 0 < cap < 1 else out.loc[hit, "match_weight"]
    out[GUARD_COLUMN] = np.where(hit, "missing_id_needs_household", out.get(GUARD_COLUMN, None))
    return out
