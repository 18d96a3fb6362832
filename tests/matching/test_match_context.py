"""Run context: grid houses inherit the locality their grid cell states; persons get their matched house."""
import pandas as pd

from matching.context import infer_locality, with_run_context


def test_grid_cell_fills_missing_street_and_district_only_when_unanimous():
    recs = pd.DataFrame({
        "source": ["grid", "grid", "grid", "grid", "grid", "grid", "police"],
        "source_key": list("abcdefg"),
        "grid_code": ["G1", "G1", "G1", "G2", "G2", "G2", "G1"],
        "street": ["姚伏镇", None, None, "城关镇", "高庄乡", None, None],
        "district": [None, None, "平罗县", None, None, None, None],
    })
    out = infer_locality(recs)
    # G1 says 姚伏镇 / 平罗县 (one value each); G2 disagrees about its street: nothing filled
    assert out["street"].tolist() == ["姚伏镇", "姚伏镇", "姚伏镇", "城关镇", "高庄乡", None, None]
    assert out["district"].tolist() == ["平罗县", "平罗县", "平罗县", None, None, None, None]
    assert recs["street"].isna().sum() == 4                      # the input is not modified
    # the police record with the same code is another system's code: not filled from grid cells
    assert out["street"].iloc[-1] is None


def test_without_a_cell_column_records_are_unchanged():
    recs = pd.DataFrame({"source": ["grid"], "source_key": ["a"], "street": [None]})
    assert infer_locality(recs).equals(recs)
    assert with_run_context(recs, "house").equals(recs)
    assert with_run_context(recs.assign(house_key="H1"), "person", None)["house_id"].isna().all()
