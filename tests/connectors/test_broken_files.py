"""Broken inputs, each through the connector (and standardise where the problem is the data): a clear one-line
error naming source.entity, the file and the problem, or quarantined rows with a reason — never a traceback
and never silence."""
from __future__ import annotations

import json
import zipfile

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.standardise import MappingError, standardise
from tests.connectors.filecases import PERSON_COLUMNS, make_config, read_error, read_frame

HEADER = ["编号", "姓名", "身份证号", "联系电话", "出生日期"]
GOOD = ["P0", "张三", "11010519491231002X", "13812345678", "1949-12-31"]
GARBAGE = [
    ["G1", "???", "???", "???", "???"],
    ["G2", "#N/A", "#N/A", "#N/A", "#N/A"],
    ["G3", "\ufffd\ufffd", "\ufffd\ufffd\ufffd", "\ufffd", "\ufffd"],
    ["G4", "？？？", "NULL", "-", "0000-00-00"],
    ["G5", "", "", "", ""],
    ["G6", "张三", "6.40202E+17", "", ""],
]


def write_csv(tmp_path, rows, name="grid.csv", encoding="utf-8") -> str:
    text = "".join(",".join(r) + "\r\n" for r in rows)
    (tmp_path / name).write_bytes(text.encode(encoding))
    return name


def write_xlsx(tmp_path, rows, name="grid.xlsx", sheet="人口") -> str:
    wb = openpyxl.Workbook()
    wb.active.title = sheet
    for r in rows:
        wb.active.append([v if v != "" else None for v in r])
    wb.save(tmp_path / name)
    return name


def write_parquet(tmp_path, rows, name="grid.parquet") -> str:
    pq.write_table(pa.table({h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0])}), tmp_path / name)
    return name


WRITERS = {"csv": write_csv, "xlsx": write_xlsx, "parquet": write_parquet}


# --- truncated ---------------------------------------------------------------------------------------------------
def test_truncated_csv(tmp_path):
    data = "".join(",".join(r) + "\n" for r in [HEADER, GOOD, GOOD]).encode()
    (tmp_path / "grid.csv").write_bytes(data[:-12])
    msg = read_error(make_config(tmp_path, "csv", "grid.csv"))
    assert "grid.csv: line 3 has 4 fields, expected 5 (the file looks truncated)" in msg


@pytest.mark.parametrize("connector", ["xlsx", "parquet"])
def test_truncated_binary_files(tmp_path, connector):
    name = WRITERS[connector](tmp_path, [HEADER, GOOD] * 50)
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) * 2 // 3])
    msg = read_error(make_config(tmp_path, connector, name))
    assert name in msg and ("damaged or truncated .xlsx" in msg or "not a readable Parquet file" in msg)


def test_xlsx_with_a_damaged_sheet_stream(tmp_path):
    name = write_xlsx(tmp_path, [HEADER] + [[f"P{i}", "张三", "", "", ""] for i in range(2000)])
    path = tmp_path / name
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + info.compress_size // 2, start + info.compress_size // 2 + 64):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    assert "damaged or truncated .xlsx" in read_error(make_config(tmp_path, "xlsx", name))


# --- wrong encoding --------------------------------------------------------------------------------------------
def test_wrong_encoding_declared(tmp_path):
    name = write_csv(tmp_path, [HEADER, GOOD], encoding="gb18030")
    assert "not valid UTF-8" in read_error(make_config(tmp_path, "csv", name, encoding="utf-8"))
    name = write_csv(tmp_path, [HEADER, GOOD], encoding="utf-8")
    assert "looks like UTF-8, not gbk" in read_error(make_config(tmp_path, "csv", name, encoding="gbk"))


# --- renamed column: the connector reads it, the mapping check names it ------------------------------------------
@pytest.mark.parametrize("connector", ["csv", "xlsx", "parquet"])
def test_renamed_column_is_a_one_line_mapping_error(tmp_path, connector):
    renamed = ["编号", "名字", "身份证号", "联系电话", "出生日期"]
    config = make_config(tmp_path, connector, WRITERS[connector](tmp_path, [renamed, GOOD]), columns=PERSON_COLUMNS)
    raw = read_frame(config)
    with pytest.raises(MappingError) as info:
        standardise(raw, "grid", "person", config.entity("grid", "person"))
    assert str(info.value) == "grid.person: column '姓名' (mapped to name) not found in the source"


# --- empty files -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("connector, name, expected", [
    ("csv", "grid.csv", "the file is empty (no header row)"),
    ("xlsx", "grid.xlsx", "not an .xlsx workbook (not a zip archive)"),
    ("parquet", "grid.parquet", "not a readable Parquet file"),
])
def test_empty_files(tmp_path, connector, name, expected):
    (tmp_path / name).write_bytes(b"")
    msg = read_error(make_config(tmp_path, connector, name))
    assert f"grid.person: {name}: {expected}" in msg


def test_empty_sheet_and_missing_sheet(tmp_path):
    name = write_xlsx(tmp_path, [], sheet="人口")
    assert "sheet '人口' is empty (no header row)" in read_error(make_config(tmp_path, "xlsx", name))
    assert "sheet '房屋' not found (sheets: '人口')" in read_error(make_config(tmp_path, "xlsx", name, sheet="房屋"))


# --- all-garbage rows: read as they are, every one quarantined with a reason ---------------------------------------
@pytest.mark.parametrize("connector", ["csv", "xlsx", "parquet"])
def test_garbage_rows_are_quarantined_and_none_vanish(tmp_path, connector):
    config = make_config(tmp_path, connector, WRITERS[connector](tmp_path, [HEADER, GOOD, *GARBAGE]),
                         columns=PERSON_COLUMNS)
    raw = read_frame(config)
    assert len(raw) == 1 + len(GARBAGE)
    assert raw.loc[raw["编号"] == "G3", "姓名"].tolist() == ["\ufffd\ufffd"]  # the connector keeps them as written
    stg, quarantine = standardise(raw, "grid", "person", config.entity("grid", "person"))
    assert len(stg) + len(quarantine) == len(raw)
    assert stg["source_key"].tolist() == ["P0"]
    assert sorted(quarantine["source_key"]) == [r[0] for r in GARBAGE]
    assert quarantine["reason"].notna().all() and (quarantine["reason"] != "").all()
    assert {"name_garbage", "empty_row", "id_excel_precision_loss"} <= set(quarantine["reason"])
    kept = [v for r in quarantine["raw"] for v in json.loads(r).values()]
    assert "\ufffd\ufffd" in kept and "#N/A" in kept and "???" in kept  # the raw row goes with it
