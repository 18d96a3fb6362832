"""gridbridge export: one xlsx workbook per table (IDs/phones/codes as text cells, numbers as numbers, Chinese
headers, further sheets past the row limit), read back with the project's own xlsx reader and with openpyxl;
parquet and csv through the same module; the command line."""
from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest

from pipelines.cli import main
from tests.connectors.filecases import make_config, read_frame
from warehouse import export
from warehouse.export import EXPORT_TABLES, FORMATS, export_tables, headers
from warehouse.publish import publish

REPO_CONFIG = Path(__file__).resolve().parents[1] / "gridbridge.yaml"

ID_X = "64020219850312123X"        # 18 characters ending in X
ID_ZERO = "010101199001011234"     # leading zero
ID_15 = "640202850312123"          # legacy 15-digit number
PHONE = "13812345678"
PHONE_ZERO = "09516012345"         # landline with its leading zero
HOUSEHOLD_NO = "000123"


def _persons(n: int) -> pd.DataFrame:
    ids = [ID_X, ID_ZERO] + [f"64020219900101{i:04d}" for i in range(n - 2)]
    return pd.DataFrame({
        "person_id": [f"P{i:05d}" for i in range(n)],
        "name": ["张三", "李四"] + [f"王{i}" for i in range(n - 2)],
        "sex": ["1", "2"] * (n // 2) + ["1"] * (n % 2),
        "ethnicity": ["01", "03"] * (n // 2) + ["01"] * (n % 2),
        "birth_date": [dt.date(1985, 3, 12)] * n,
        "id_number": ids,
        "phone": [PHONE, PHONE_ZERO] + [None] * (n - 2),
        "household_no": [HOUSEHOLD_NO] * n,
        "relation": ["02"] * n,
        "in_police": [True] * n,
        "in_grid": [i % 2 == 0 for i in range(n)],
    })


CONFLICTS = pd.DataFrame({
    "conflict_id": ["C001", "C002", "C003", "C004"],
    "person_id": ["P00000", "P00000", "P00001", "P00001"],
    "field": ["id_number", "phone", "id_number", "household_no"],
    "police_key": ["0001", "0001", "0002", "0002"],
    "grid_key": ["G01", "G01", "G02", "G02"],
    "police_value": [ID_X, PHONE, ID_ZERO, HOUSEHOLD_NO],
    "grid_value": [ID_15, PHONE_ZERO, ID_15, "123"],
    "chosen_value": [ID_X, PHONE_ZERO, ID_ZERO, HOUSEHOLD_NO],
    "status": ["auto", "auto", "open", "resolved"],
    "decision_id": [None, None, None, 12],
})

HOUSES = pd.DataFrame({
    "house_id": ["H0001", "H0002"],
    "address": ["银川市兴庆区人民路8号", "翠柏社区澜汐雅苑3号楼2单元501室"],
    "address_source": ["both", "police"],
    "area": [85.6, 120.0],
    "owner_id_number": [ID_ZERO, ID_X],
    "owner_phone": [PHONE_ZERO, PHONE],
    "is_rented": [True, False],
    "room": ["0501", "101"],
    "police_records": [1, 2],
    "grid_records": [0, 3],
})


def _warehouse(root, persons: int = 4):
    path = publish(root / "warehouse" / "gridbridge.duckdb",
                   {"person": _persons(persons), "person_conflict": CONFLICTS, "house": HOUSES}, "run-1")
    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE odd_types AS SELECT * FROM (VALUES
        (640202198503121234::BIGINT, 12.50::DECIMAL(10, 2), TIMESTAMP '2026-01-02 03:04:05', '=1+1', 7),
        (-5::BIGINT, 0.25::DECIMAL(10, 2), NULL, '', NULL),
        (0::BIGINT, NULL, NULL, repeat('长', 40000), 1)) t(big_total, amount, checked_at, remark, visits)""")
    con.close()
    return path


@pytest.fixture
def warehouse(tmp_path):
    return _warehouse(tmp_path)


def _sheet_rows(path, sheet=None):
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet] if sheet else wb.worksheets[0]
    return [list(r) for r in ws.iter_rows(values_only=True)], ws


def test_ids_phones_keys_and_codes_are_text_cells_numbers_are_numbers(warehouse, tmp_path):
    written = {e.table: e for e in export_tables(warehouse, tmp_path / "out", "xlsx",
                                                 ["person_conflict", "house", "v_person"])}
    rows, ws = _sheet_rows(written["person_conflict"].path)
    head = rows[0]
    got = pd.DataFrame(rows[1:], columns=head)
    assert got["公安值"].tolist() == [ID_X, PHONE, ID_ZERO, HOUSEHOLD_NO]
    assert got["网格值"].tolist() == [ID_15, PHONE_ZERO, ID_15, "123"]
    assert got["公安记录编号"].tolist() == ["0001", "0001", "0002", "0002"]
    assert got["核实决定编号"].tolist() == [None, None, None, "12"]  # an *_id column is text even when BIGINT
    for cell in ws["F"][1:] + ws["G"][1:]:  # police_value, grid_value
        assert cell.data_type == "s" and cell.number_format == "@", (cell.coordinate, cell.value)

    rows, ws = _sheet_rows(written["house"].path)
    got = pd.DataFrame(rows[1:], columns=rows[0])
    assert got["房主公民身份号码"].tolist() == [ID_ZERO, ID_X]
    assert got["房主联系电话"].tolist() == [PHONE_ZERO, PHONE]
    assert got["房间号"].tolist() == ["0501", "101"]
    assert got["面积（平方米）"].tolist() == [85.6, 120]
    assert got["公安记录数"].tolist() == [1, 2] and got["网格记录数"].tolist() == [0, 3]
    assert got["是否出租"].tolist() == [True, False]
    area = ws.cell(row=2, column=rows[0].index("面积（平方米）") + 1)
    assert area.data_type == "n" and area.number_format == "General"

    rows, _ = _sheet_rows(written["v_person"].path)
    got = pd.DataFrame(rows[1:], columns=rows[0])
    assert got["公民身份号码"].tolist()[:2] == ["640202********123X", "010101********1234"]  # the view masks IDs
    assert got["户号"].tolist() == [HOUSEHOLD_NO] * 4
    assert got["性别"].tolist() == ["1", "2", "1", "2"] and got["民族"].tolist() == ["01", "03", "01", "03"]
    assert got["出生日期"].tolist() == ["1985-03-12"] * 4  # ISO text, not an Excel date


def test_the_projects_own_reader_gets_every_value_back_exactly(warehouse, tmp_path):
    out = tmp_path / "out"
    export_tables(warehouse, out, "xlsx", ["person_conflict", "house"])
    con = duckdb.connect(str(warehouse), read_only=True)
    for table, key in (("person_conflict", "差异编号"), ("house", "房屋编号")):
        expected = con.execute(f"SELECT * FROM {table}").df()
        config = make_config(out, "xlsx", f"{table}.xlsx", key=key, columns={"name": key})
        got = read_frame(config)
        assert list(got.columns) == headers(table, list(expected.columns))
        got.columns = expected.columns
        for col in expected.columns:
            want = [None if pd.isna(v) or v == "" else (v if isinstance(v, str) else _excel_text(v))
                    for v in expected[col]]
            assert got[col].tolist() == want, (table, col)
    con.close()


def _excel_text(v) -> str:
    """The project's reader writes numbers and booleans the way Excel shows them."""
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    return f"{float(v):.15g}"


def test_chinese_headers_for_every_labelled_column_english_names_otherwise(warehouse, tmp_path):
    written = export_tables(warehouse, tmp_path / "out", "xlsx", list(EXPORT_TABLES) + ["odd_types"])
    heads = {e.table: _sheet_rows(e.path)[0][0] for e in written}
    assert heads["v_person"][:12] == ["人员编号", "姓名", "性别", "民族", "出生日期", "公民身份号码", "联系电话",
                                      "户籍地址", "现住址", "人员类型", "户号", "与户主关系"]
    assert heads["v_person"][12] == "房屋编号" and "人员状态" in heads["v_person"]
    assert heads["v_house"][:3] == ["房屋编号", "房屋地址", "房屋地址来源"]
    assert heads["run_log"][3] == "运行状态" and heads["v_person_conflict"][11] == "处理状态"
    for table in EXPORT_TABLES:  # the label table covers every column the command exports
        assert all(not h.isascii() for h in heads[table]), (table, heads[table])
    assert heads["odd_types"] == ["big_total", "amount", "checked_at", "remark", "visits"]


def test_odd_types_big_integers_timestamps_and_formula_like_text(warehouse, tmp_path):
    (e,) = export_tables(warehouse, tmp_path / "out", "xlsx", ["odd_types"])
    rows, ws = _sheet_rows(e.path)
    assert rows[1] == ["640202198503121234", 12.5, "2026-01-02 03:04:05", "=1+1", 7]
    assert rows[2] == [-5, 0.25, None, None, None]
    assert ws["D2"].data_type == "s"  # text, never a formula
    assert ws["A2"].data_type == "s" and ws["A3"].data_type == "n"
    assert rows[3][3] == "长" * 32767 and e.truncated_cells == 1  # Excel's cell limit, counted and reported


def test_the_label_table_has_one_label_per_table_and_field():
    rows = list(csv.DictReader((Path(export.__file__).with_name("export_labels.csv")).open(encoding="utf-8")))
    keys = [(r["table"], r["field"]) for r in rows]
    assert len(keys) == len(set(keys)) and all(r["label"].strip() and r["field"].strip() for r in rows)
    assert export.label("house", "owner_phone_source") == "房主联系电话来源"
    assert export.label("house", "no_such_column") is None


def test_rows_past_the_sheet_limit_continue_on_further_sheets(tmp_path):
    path = _warehouse(tmp_path, persons=7)
    (e,) = export_tables(path, tmp_path / "out", "xlsx", ["v_person"], row_limit=4, fetch_rows=2)
    assert e.rows == 7 and e.sheets == ("v_person", "v_person_2", "v_person_3")
    wb = openpyxl.load_workbook(e.path)
    assert wb.sheetnames == list(e.sheets)
    data = []
    for ws, n in zip(wb.worksheets, (3, 3, 1)):
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        assert rows[0][:2] == ["人员编号", "姓名"] and len(rows) == n + 1
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:S{n + 1}"
        data += rows[1:]
    assert [r[0] for r in data] == [f"P{i:05d}" for i in range(7)]


def test_a_table_that_fills_the_first_sheet_exactly_has_no_empty_second_sheet(tmp_path):
    path = _warehouse(tmp_path, persons=6)
    (e,) = export_tables(path, tmp_path / "out", "xlsx", ["v_person"], row_limit=4)
    assert e.rows == 6 and e.sheets == ("v_person", "v_person_2")


def test_an_empty_table_is_a_header_row(warehouse, tmp_path):
    (e,) = export_tables(warehouse, tmp_path / "out", "xlsx", ["run_log"])
    rows, ws = _sheet_rows(e.path)
    assert e.rows == 0 and len(rows) == 1 and rows[0][0] == "同步批次号"


def test_parquet_and_csv_still_work(warehouse, tmp_path):
    con = duckdb.connect(str(warehouse), read_only=True)
    for fmt in ("parquet", "csv"):
        written = export_tables(warehouse, tmp_path / fmt, fmt)
        assert [e.path.name for e in written] == [f"{t}.{fmt}" for t in EXPORT_TABLES]
        for e in written:
            assert e.rows == con.execute(f"SELECT count(*) FROM {e.table}").fetchone()[0]
        read = pd.read_parquet if fmt == "parquet" else (lambda p: pd.read_csv(p, dtype=str, encoding="utf-8-sig"))
        house = read(tmp_path / fmt / f"v_house.{fmt}")
        assert house["owner_id_number"].tolist() == ["010101********1234", "640202********123X"]
        assert house["owner_phone"].tolist() == ["095****2345", "138****5678"]
        assert sorted(p.name for p in (tmp_path / fmt).iterdir()) == sorted(e.path.name for e in written)
    con.close()


def test_csv_starts_with_a_utf8_byte_order_mark_for_excel(warehouse, tmp_path):
    (e,) = export_tables(warehouse, tmp_path / "out", "csv", ["v_house"])
    data = e.path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    assert "银川市兴庆区人民路8号" in data.decode("utf-8-sig")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["v_house.csv"]     # no leftover temporary file


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_analysts_set_never_carries_a_full_id_number_or_phone(warehouse, tmp_path, fmt):
    """Every cell of every file the default export writes; the steward tables, exported by name, do."""
    def cells(path):
        if fmt == "xlsx":
            wb = openpyxl.load_workbook(path)
            return {str(v) for ws in wb.worksheets for r in ws.iter_rows(values_only=True) for v in r}
        df = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        return {str(v) for v in df.to_numpy().ravel()}
    secrets = {ID_X, ID_ZERO, ID_15, PHONE, PHONE_ZERO, "+86" + PHONE}
    written = export_tables(warehouse, tmp_path / "analyst", fmt)
    assert {e.table for e in written} >= {"v_person", "v_house", "v_person_conflict"}
    for e in written:
        assert not any(secret in cell for cell in cells(e.path) for secret in secrets), e.table
    full = export_tables(warehouse, tmp_path / "steward", fmt, ["house", "person_conflict"])
    assert all(any(ID_X in cell for cell in cells(e.path)) for e in full)


def test_an_unknown_table_is_a_clear_error_before_anything_is_written(warehouse, tmp_path):
    with pytest.raises(ValueError, match="no table or view 'persons'"):
        export_tables(warehouse, tmp_path / "out", "csv", ["v_person", "persons"])
    assert not (tmp_path / "out" / "v_person.csv").exists()


def test_the_command_writes_every_table_and_says_what_it_wrote(tmp_path, capsys):
    shutil.copyfile(REPO_CONFIG, tmp_path / "gridbridge.yaml")
    _warehouse(tmp_path, persons=5)
    out = tmp_path / "export"
    assert main(["export", "--config", str(tmp_path / "gridbridge.yaml"), "--format", "xlsx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.xlsx" for t in EXPORT_TABLES)
    assert "v_person.xlsx" in printed and "5 rows" in printed and "4 rows" in printed  # persons, conflicts
    assert main(["export", "--config", str(tmp_path / "gridbridge.yaml"), "--format", "csv", "--out", str(out)]) == 0
    assert (out / "v_person.csv").exists()
    assert main(["export", "--config", str(tmp_path / "gridbridge.yaml"), "--out", str(out), "--tables", "nope"]) == 2
    assert "no table or view 'nope'" in capsys.readouterr().err
