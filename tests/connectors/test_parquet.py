"""Parquet connector: streamed batches, typed columns cast to text (exact integers, ISO dates, no `.0`)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.standardise import standardise
from tests.connectors.filecases import PERSON_COLUMNS, make_config, read_all, read_error, read_frame


def write(tmp_path, table: pa.Table, name="grid.parquet", **kw) -> str:
    pq.write_table(table, tmp_path / name, **kw)
    return name


def test_typed_columns_become_text(tmp_path):
    table = pa.table({
        "编号": pa.array([1, 2, None], pa.int64()),
        "身份证号": pa.array([640202198503121234, 9007199254740993, 0], pa.int64()),  # > 2^53: still exact
        "电话": pa.array([13812345678.0, 85.6, None], pa.float64()),
        "大数": pa.array([6.402021985031212e17, 1e15, -0.0], pa.float64()),
        "单精度": pa.array([0.1, 2.0, 1.5], pa.float32()),
        "出生": pa.array([dt.date(1985, 3, 12), dt.date(1900, 1, 1), None], pa.date32()),
        "时间": pa.array([dt.datetime(1985, 3, 12, 8, 30), dt.datetime(2024, 1, 1, 0, 0, 0, 250000), None],
                       pa.timestamp("us")),
        "带时区": pa.array([dt.datetime(2024, 1, 1, 0, 30, tzinfo=dt.timezone.utc)] * 3,
                         pa.timestamp("ms", tz="Asia/Shanghai")),
        "布尔": pa.array([True, False, None]),
        "金额": pa.array([Decimal("12.50"), Decimal("-3.00"), None], pa.decimal128(10, 2)),
        "民族": pa.array(["汉族", "回族", "汉族"]).dictionary_encode(),
        "空": pa.nulls(3),
        "大文本": pa.array(["a", None, "c"], pa.large_string()),
    })
    df = read_frame(make_config(tmp_path, "parquet", write(tmp_path, table), columns={"name": "民族"}))
    assert df["编号"].tolist() == ["1", "2", None]
    assert df["身份证号"].tolist() == ["640202198503121234", "9007199254740993", "0"]
    assert df["电话"].tolist() == ["13812345678", "85.6", None]
    assert df["大数"].tolist() == ["6.402021985031212E+17", "1E+15", "0"]
    assert df["单精度"].tolist() == ["0.1", "2", "1.5"]  # float32's own shortest text, not 0.10000000149011612
    assert df["出生"].tolist() == ["1985-03-12", "1900-01-01", None]
    assert df["时间"].tolist() == ["1985-03-12 08:30:00", "2024-01-01 00:00:00.250000", None]
    assert df["带时区"].tolist() == ["2024-01-01 08:30:00"] * 3  # the wall clock of the stored zone
    assert df["布尔"].tolist() == ["TRUE", "FALSE", None]
    assert df["金额"].tolist() == ["12.50", "-3.00", None]
    assert df["民族"].tolist() == ["汉族", "回族", "汉族"]
    assert df["空"].tolist() == [None] * 3 and df["大文本"].tolist() == ["a", None, "c"]


def test_a_float_id_column_is_quarantined_by_standardise(tmp_path):
    table = pa.table({"编号": ["P1", "P2"], "姓名": ["张三", "李四"],
                      "身份证号": pa.array([640202198503121234.0, None]), "联系电话": [13812345678.0, None],
                      "出生日期": pa.array([dt.date(1985, 3, 12)] * 2)})
    config = make_config(tmp_path, "parquet", write(tmp_path, table), columns=PERSON_COLUMNS)
    stg, quarantine = standardise(read_frame(config), "grid", "person", config.entity("grid", "person"))
    assert quarantine["reason"].tolist() == ["id_excel_precision_loss"] and stg["source_key"].tolist() == ["P2"]


def test_streams_in_batches_across_row_groups(tmp_path):
    table = pa.table({"编号": pa.array(range(1000)), "姓名": [f"名{i}" for i in range(1000)]})
    name = write(tmp_path, table, row_group_size=300)
    batches = read_all(make_config(tmp_path, "parquet", name), batch_rows=128, since="2024-01-01")
    assert max(b.num_rows for b in batches) <= 128 and sum(b.num_rows for b in batches) == 1000
    assert pa.Table.from_batches(batches).column("编号").to_pylist() == [str(i) for i in range(1000)]


def test_zero_rows_give_one_empty_batch_with_the_columns(tmp_path):
    name = write(tmp_path, pa.table({"编号": pa.array([], pa.int64()), "姓名": pa.array([], pa.string())}))
    batches = read_all(make_config(tmp_path, "parquet", name))
    assert len(batches) == 1 and batches[0].num_rows == 0 and batches[0].schema.names == ["编号", "姓名"]
    assert batches[0].schema.types == [pa.string(), pa.string()]


@pytest.mark.parametrize("data", ["编号,姓名\n1,张三\n".encode(), b"", b"PAR1" + b"\0" * 50])
def test_a_file_that_is_not_parquet(tmp_path, data):
    (tmp_path / "grid.parquet").write_bytes(data)
    assert "grid.parquet: not a readable Parquet file" in read_error(make_config(tmp_path, "parquet", "grid.parquet"))


def test_a_nested_column_is_an_error(tmp_path):
    name = write(tmp_path, pa.table({"编号": ["1"], "姓名": ["张三"], "标签": [["a", "b"]]}))
    assert "column '标签' has the nested type" in read_error(make_config(tmp_path, "parquet", name))
