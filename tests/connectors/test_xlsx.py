"""XLSX connector: sheets as entities, Excel dates and numbers as text, precision-lost IDs quarantined, streaming."""
from __future__ import annotations

import datetime as dt

import openpyxl
import pyarrow as pa
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from connectors import xlsxbook, xlsxfile
from schemas.config import Config, EntityConfig, SourceConfig
from schemas.normalise.ids import check_char
from schemas.standardise import standardise
from tests.connectors.filecases import PERSON_COLUMNS, make_config, read_all, read_error, read_frame, write_xlsx

BODY = "64020219850312456"
GOOD_ID = BODY + check_char(BODY)
PERSON_HEADER = ["编号", "姓名", "身份证号", "联系电话", "出生日期"]


def workbook(tmp_path, sheets: dict[str, list[list]], name="grid.xlsx", formats: dict | None = None,
             epoch=None) -> str:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    if epoch is not None:
        wb.epoch = epoch
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
        for ref, fmt in (formats or {}).get(title, {}).items():
            ws[ref].number_format = fmt
    wb.save(tmp_path / name)
    return name


def test_two_entities_from_two_sheets_of_one_workbook(tmp_path):
    name = workbook(tmp_path, {
        "人口信息": [PERSON_HEADER, ["P1", "张三", GOOD_ID, 13812345678, dt.date(1985, 3, 12)]],
        "房屋信息": [["房屋编号", "房屋地址"], ["H1", "人民路8号"], ["H2", "胜利街3号"]],
    })
    src = SourceConfig(connector="xlsx", path=name, entities={
        "person": EntityConfig(sheet="人口信息", key="编号", columns={"name": "姓名"}),
        "house": EntityConfig(sheet="房屋信息", key="房屋编号", columns={"address": "房屋地址"})})
    config = Config(sources={"grid": src}, base_dir=str(tmp_path))
    assert read_frame(config, "person")["姓名"].tolist() == ["张三"]
    assert read_frame(config, "house")["房屋地址"].tolist() == ["人民路8号", "胜利街3号"]


def test_cells_become_the_text_a_person_would_type(tmp_path):
    rows = [["编号", "出生", "时间", "生日", "电话", "电话2", "身份证", "面积", "小数", "布尔", "负零"],
            [1, dt.date(1985, 3, 12), dt.datetime(1985, 3, 12, 8, 30), dt.date(1990, 1, 2), 13812345678,
             13812345678.0, 640202198503121234, 85.6, 0.1 + 0.2, True, -0.0],
            [2, dt.datetime(1990, 1, 1), dt.datetime(1999, 12, 31, 23, 59, 59), None, "013812345678",
             "6.40202E+17", GOOD_ID, 100.0, 1e20, False, 7]]
    name = workbook(tmp_path, {"人口": rows}, formats={"人口": {"D2": 'yyyy"年"m"月"d"日"'}})
    df = read_frame(make_config(tmp_path, "xlsx", name, columns={"name": "编号"}))
    assert df.iloc[0].tolist() == ["1", "1985-03-12", "1985-03-12 08:30:00", "1990-01-02", "13812345678",
                                   "13812345678", "6.40202198503121E+17", "85.6", "0.3", "TRUE", "0"]
    assert df.iloc[1].tolist() == ["2", "1990-01-01 00:00:00", "1999-12-31 23:59:59", None, "013812345678",
                                   "6.40202E+17", GOOD_ID, "100", "1E+20", "FALSE", "7"]


def test_the_1904_date_system(tmp_path):
    name = workbook(tmp_path, {"人口": [["编号", "出生"], [1, dt.date(1985, 3, 12)]]}, epoch=CALENDAR_MAC_1904)
    assert read_frame(make_config(tmp_path, "xlsx", name, columns={"name": "编号"}))["出生"].tolist() == ["1985-03-12"]


def test_an_id_excel_stored_as_a_number_is_quarantined_never_repaired(tmp_path):
    """640202198503121234 typed into a number cell: Excel keeps 15 digits (6.40202198503121E+17)."""
    name = workbook(tmp_path, {"人口": [
        PERSON_HEADER,
        ["P1", "张三", 640202198503121234, 13812345678, dt.date(1985, 3, 12)],
        ["P2", "李四", GOOD_ID, 13912345678, dt.date(1985, 3, 12)],
        ["P3", "王五", 640202198503121000, 13712345678, dt.date(1985, 3, 12)],
    ]})
    config = make_config(tmp_path, "xlsx", name, columns=PERSON_COLUMNS)
    raw = read_frame(config)
    stg, quarantine = standardise(raw, "grid", "person", config.entity("grid", "person"))
    assert dict(zip(quarantine["source_key"], quarantine["reason"])) == {
        "P1": "id_excel_precision_loss", "P3": "id_excel_precision_loss"}
    assert stg["source_key"].tolist() == ["P2"] and stg["id_number"].tolist() == [GOOD_ID]
    assert stg["birth_date"].tolist() == ["1985-03-12"] and "13912345678" in stg["phone"].iloc[0]
    assert not stg["id_number"].str.startswith("640202198503121").any()  # no invented digits anywhere
    assert "6.40202198503121E+17" in quarantine["raw"].iloc[0]


@pytest.mark.parametrize("without_refs", [False, True])
def test_hand_written_xml_shapes(tmp_path, monkeypatch, without_refs):
    """What other generators write: a namespace prefix, rich text with phonetic guides, escapes, inline
    strings, cached formula results, errors, booleans, ISO date cells, attribute order, and (second run: the
    general path for the whole sheet) a row whose cells have no r= and an empty <si/>."""
    shared = ("<si><t>编号</t></si><si><t>姓名</t></si><si><t>备注</t></si>"
              "<si><r><rPr><b/></rPr><t>张</t></r><r><t xml:space=\"preserve\">三 </t></r>"
              "<rPh sb=\"0\" eb=\"1\"><t>ZHANG</t></rPh></si>"
              "<si><t>A &amp; B &lt;c&gt; &#20013;</t></si><si><t>第一行_x000D_\n第二行</t></si>"
              + ("<si/>" if without_refs else "<si><t></t></si>"))
    x = "x:"
    rows = (f'<{x}row r="1"><{x}c r="A1" t="s"><{x}v>0</{x}v></{x}c><{x}c r="B1" t="s"><{x}v>1</{x}v></{x}c>'
            f'<{x}c r="C1" t="s"><{x}v>2</{x}v></{x}c></{x}row>'
            f'<{x}row r="2"><{x}c r="A2"><{x}v>1</{x}v></{x}c><{x}c r="B2" t="s"><{x}v>3</{x}v></{x}c>'
            f'<{x}c t="s" r="C2" s="0"><{x}v>4</{x}v></{x}c></{x}row>'
            f'<{x}row r="3"><{x}c r="A3" s="0"><{x}f>1+1</{x}f><{x}v>2</{x}v></{x}c>'
            f'<{x}c r="B3" t="inlineStr"><{x}is><{x}t>李四</{x}t></{x}is></{x}c>'
            f'<{x}c r="C3" t="s"><{x}v>5</{x}v></{x}c></{x}row>'
            f'<{x}row r="4"><{x}c r="A4" t="str"><{x}f>"P"&amp;4</{x}f><{x}v>P&amp;4</{x}v></{x}c>'
            f'<{x}c r="B4" t="e"><{x}v>#N/A</{x}v></{x}c><{x}c r="C4" t="b"><{x}v>1</{x}v></{x}c></{x}row>'
            f'<{x}row r="5" spans="1:3"><{x}c r="A5" s="1"/><{x}c r="B5" s="1"/></{x}row>'
            f'<{x}row r="6"><{x}c r="A6" t="d"><{x}v>1985-03-12T00:00:00Z</{x}v></{x}c>'
            f'<{x}c r="B6" s="2"><{x}v>31118</{x}v></{x}c><{x}c r="C6" s="3"><{x}v>31118.5</{x}v></{x}c></{x}row>'
            f'<{x}row r="7"><{x}c r="A7" t="s"><{x}v>6</{x}v></{x}c><{x}c r="B7" t="inlineStr">'
            f'<{x}is><{x}r><{x}t>王</{x}t></{x}r><{x}r><{x}t>五</{x}t></{x}r></{x}is></{x}c></{x}row>'
            + (f'<{x}row><{x}c><{x}v>8</{x}v></{x}c><{x}c t="inlineStr"><{x}is><{x}t>赵六</{x}t></{x}is></{x}c>'
               f'</{x}row>' if without_refs else ""))
    name = write_xlsx(tmp_path / "odd.xlsx", {"人口": rows}, shared=shared, prefix="x")
    if not without_refs:  # every cell here has r=: the Arrow fast path must read it all
        monkeypatch.setattr(xlsxfile._Sheet, "_slow", lambda self, text: pytest.fail("general path used"))
    df = read_frame(make_config(tmp_path, "xlsx", "odd.xlsx"))
    assert list(df.columns) == ["编号", "姓名", "备注"]
    assert df.values.tolist() == [
        ["1", "张三 ", "A & B <c> 中"],
        ["2", "李四", "第一行\r\n第二行"],
        ["P&4", "#N/A", "TRUE"],
        ["1985-03-12", "1985-03-12", "1985-03-12 12:00:00"],
        [None, "王五", None],
    ] + ([["8", "赵六", None]] if without_refs else [])
    assert name.exists()


def test_streaming_in_small_pieces_reads_the_same_rows(tmp_path, monkeypatch):
    rows = [PERSON_HEADER] + [[f"P{i}", f"名{i % 7}", f"6402{i:014d}", 13800000000 + i, dt.date(1950, 1, 1)
                                + dt.timedelta(days=i)] for i in range(400)]
    name = workbook(tmp_path, {"人口": rows})
    config = make_config(tmp_path, "xlsx", name)
    whole = read_frame(config)
    monkeypatch.setattr(xlsxbook, "CHUNK_BYTES", 700)  # many pieces for the sheet and the shared strings
    batches = read_all(config, batch_rows=64)
    assert [b.num_rows for b in batches] == [64] * 6 + [16]
    pieces = pa.Table.from_batches(batches).to_pandas()
    assert pieces.equals(whole) and len(whole) == 400
    assert whole.iloc[399].tolist() == ["P399", "名0", "640200000000000399", "13800000399", "1951-02-04"]


def test_missing_sheet_lists_the_sheets(tmp_path):
    name = workbook(tmp_path, {"人口信息": [["编号"]], "房屋信息": [["编号"]]})
    msg = read_error(make_config(tmp_path, "xlsx", name, sheet="人口"))
    assert "grid.xlsx: sheet '人口' not found (sheets: '人口信息', '房屋信息')" in msg


def test_several_sheets_and_no_sheet_setting_is_an_error(tmp_path):
    name = workbook(tmp_path, {"人口信息": [["编号"]], "房屋信息": [["编号"]]})
    assert "the workbook has 2 sheets ('人口信息', '房屋信息'): set sheet:" in read_error(
        make_config(tmp_path, "xlsx", name))


def test_one_sheet_needs_no_sheet_setting_and_title_and_blank_rows_are_skipped(tmp_path):
    name = workbook(tmp_path, {"Sheet1": [["某某社区人口信息表"], [], ["编号", "姓名"], ["1", "张三"], [],
                                          [None, None], ["2", "李四"]]})
    df = read_frame(make_config(tmp_path, "xlsx", name))
    assert df.values.tolist() == [["1", "张三"], ["2", "李四"]]


def test_header_only_sheet_gives_one_empty_batch(tmp_path):
    name = workbook(tmp_path, {"人口": [["编号", "姓名"]]})
    batches = read_all(make_config(tmp_path, "xlsx", name))
    assert len(batches) == 1 and batches[0].num_rows == 0 and batches[0].schema.names == ["编号", "姓名"]


def test_empty_sheet_is_an_error(tmp_path):
    name = workbook(tmp_path, {"人口": []})
    assert "sheet '人口' is empty (no header row)" in read_error(make_config(tmp_path, "xlsx", name))


def test_a_value_in_a_column_without_header_is_an_error(tmp_path):
    name = workbook(tmp_path, {"人口": [["编号", "姓名"], ["1", "张三"], ["2", "李四", "合计: 2"]]})
    assert "cell C3 has a value but its column has no header (the header spans A–B)" in read_error(
        make_config(tmp_path, "xlsx", name))


def test_repeated_and_blank_header_cells(tmp_path):
    name = workbook(tmp_path, {"人口": [["编号", "姓名", None, "备注", "备注"], ["1", "张三", "x", "a", "b"]]})
    df = read_frame(make_config(tmp_path, "xlsx", name))
    assert list(df.columns) == ["编号", "姓名", "column_C", "备注", "备注__2"]


@pytest.mark.parametrize("data, expected", [
    ("编号,姓名\n1,张三\n".encode("gb18030"), "not a zip archive); it looks like a CSV/text file renamed .xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "an Excel 97-2003 .xls file or a password-protected"),
    (b"PK\x03\x04" + b"\0" * 100, "damaged or truncated .xlsx"),
])
def test_a_file_that_is_not_a_workbook(tmp_path, data, expected):
    (tmp_path / "grid.xlsx").write_bytes(data)
    assert expected in read_error(make_config(tmp_path, "xlsx", "grid.xlsx"))


def test_a_zip_that_is_not_a_workbook(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / "grid.xlsx", "w") as z:
        z.writestr("readme.txt", "hello")
    assert "not an .xlsx workbook (no workbook part" in read_error(make_config(tmp_path, "xlsx", "grid.xlsx"))


def test_agrees_with_fastexcel_except_where_documented(tmp_path):
    """fastexcel (calamine, an independent reader) as the oracle for every cell; the only differences are ours
    on purpose: whole-day dates without 00:00:00, booleans as Excel shows them, and numbers of 10^15 or more
    in scientific form (fastexcel writes the double's digits, e.g. 640202198503121024: invented digits), and
    fractions to Excel's 15 significant digits (fastexcel rounds to 9 decimals)."""
    import fastexcel
    rows = [["编号", "姓名", "数", "日期", "时间", "布尔", "大数", "文本数字", "分数"]]
    for i in range(300):
        rows.append([f"P{i}", f"名{i % 13}", [i, i * 0.25, -i, 13800000000 + i][i % 4],
                     dt.date(1940, 1, 1) + dt.timedelta(days=37 * i), dt.datetime(2020, 1, 1, 8, i % 60, i % 60),
                     bool(i % 2), 640202198503120000 + i * 7919, f"{i:05d}", -i / 7])
    name = workbook(tmp_path, {"人口": rows})
    ours = read_frame(make_config(tmp_path, "xlsx", name))
    theirs = fastexcel.read_excel(tmp_path / name).load_sheet(0, dtypes="string", eager=True).to_pandas()
    assert list(ours.columns) == list(theirs.columns)
    same = ["编号", "姓名", "数", "时间", "文本数字"]
    assert ours[same].equals(theirs[same])
    assert (ours["日期"] + " 00:00:00").equals(theirs["日期"])
    assert ours["布尔"].str.lower().equals(theirs["布尔"])
    assert ours["大数"].str.fullmatch(r"6\.40202198\d{0,6}E\+17").all()
    assert theirs["大数"].str.fullmatch(r"\d{18}").all()
    ours_f, theirs_f = ours["分数"].astype(float), theirs["分数"].astype(float)
    assert ((ours_f - theirs_f).abs() < 1e-9).all() and ours["分数"].str.len().max() <= len("-0.") + 15
