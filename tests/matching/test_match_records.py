"""prepare_records: the per-distinct-value text cleaning gives exactly the per-row result."""

def test_text_cleaning_per_distinct_value_equals_per_row():
    import numpy as np
    import pandas as pd

    from matching.records import _text, _text_rows
    values = pd.Series(["张三", " 张三 ", None, "未知", "000000", "张三", "a\x00b", "a\x00c", np.nan, "", "李四"] * 3,
                       dtype=object)
    for placeholders in (True, False):
        assert _text(values, placeholders).tolist() == _text_rows(values, placeholders).tolist()
    assert _text(values)[:4].tolist() == ["张三", "张三", None, None]
