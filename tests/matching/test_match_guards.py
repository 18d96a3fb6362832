"""Guards on scored pairs: name + birth date without an ID and without household evidence is never auto."""
import numpy as np
import pandas as pd

from matching.guards import missing_id_needs_household


def _scored():
    return pd.DataFrame({
        "l_id": ["a", "b", "c", "d"], "r_id": ["w", "x", "y", "z"],
        "gamma_id": [-1, -1, 2, -1],                     # null ID level for a, b, d
        "w_household": [-3.0, 4.0, -3.0, np.nan],        # b: phone/address agree
        "match_weight": [20.0, 20.0, 20.0, 20.0],
        "match_probability": [0.999, 0.999, 0.999, 0.999]})


def test_pairs_without_id_and_without_household_credit_go_to_review():
    out = missing_id_needs_household(_scored(), auto_match=0.95, review=0.6)
    assert np.allclose(out["match_probability"], [0.775, 0.999, 0.999, 0.775])
    assert out["guard"].tolist()[::3] == ["missing_id_needs_household"] * 2
    assert out["guard"].iloc[1] is None and out["match_weight"].iloc[0] < 20


def test_guard_leaves_low_scores_and_other_frames_alone():
    low = _scored().assign(match_probability=0.3)
    assert missing_id_needs_household(low, 0.95, 0.6)["match_probability"].tolist() == [0.3] * 4
    plain = _scored().drop(columns=["w_household"])
    assert missing_id_needs_household(plain, 0.95, 0.6) is plain
