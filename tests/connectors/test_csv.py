"""CSV connector: encodings (detected and verified), CRLF, quoted commas/newlines, header rules, damaged files."""
from __future__ import annotations

import codecs

import pyarrow as pa
import pytest

from tests.connectors.filecases import make_config, read_all, read_error, read_frame

ROWS = [
    ["编号", "姓名", "身份证号", "联系电话", "现住地址"],
    ["P001", "张三", "64020219850312123X", "013812345678", "大武口区人民路8号, 3单元"],
    ["P002", "李·四", "110105194912310021", "", "多行\n地址"],
    ["P003", "王\"五\"", "", "0952-2012345", ""],
]


def csv_text(rows, newline="\r\n") -> str:
    def field(v):
        return f'"{v.replace(chr(34), chr(34) * 2)}"' if any(c in v for c in ',"\n\r') else v
    return "".join(",".join(field(v) for v in row) + newline for row in rows)


def write(tmp_path, data: bytes, name="people.csv"):
    (tmp_path / name).write_bytes(data)
    return name


@pytest.mark.parametrize("encoding, bom, declared", [
    ("gb18030", b"", None), ("gb18030", b"", "gb18030"), ("gbk", b"", "gbk"), ("gbk", b"", None),
    ("utf-8", b"", None), ("utf-8", b"", "utf-8"), ("utf-8", codecs.BOM_UTF8, None),
    ("utf-8", codecs.BOM_UTF8, "utf-8"), ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_encodings_and_line_endings_read_the_same_rows(tmp_path, encoding, bom, declared, newline):
    name = write(tmp_path, bom + csv_text(ROWS, newline).encode(encoding))
    df = read_frame(make_config(tmp_path, "csv", name, encoding=declared))
    assert list(df.columns) == ROWS[0]  # no BOM glued to the first name
    assert df["姓名"].tolist() == ["张三", "李·四", '王"五"']
    assert df["现住地址"].tolist()[:2] == ["大武口区人民路8号, 3单元", "多行\n地址"]
    assert df["联系电话"].tolist() == ["013812345678", None, "0952-2012345"]  # leading zero kept; empty → null
    assert df["身份证号"].tolist()[0] == "64020219850312123X"


def test_gb18030_only_characters_are_read(tmp_path):
    rows = [["编号", "姓名"], ["1", "䶮"], ["2", "𠀀"]]  # outside GBK: GB18030 four-byte sequences
    name = write(tmp_path, csv_text(rows).encode("gb18030"))
    assert read_frame(make_config(tmp_path, "csv", name))["姓名"].tolist() == ["䶮", "𠀀"]


@pytest.mark.parametrize("rows", [ROWS, [["编号", "姓名"], ["1", "张三"]]])
def test_utf8_file_declared_gb18030_is_refused_not_mojibake(tmp_path, rows):
    name = write(tmp_path, csv_text(rows).encode("utf-8"))
    msg = read_error(make_config(tmp_path, "csv", name, encoding="gb18030"))
    assert "people.csv" in msg and "looks like UTF-8, not gb18030" in msg and "encoding: utf-8" in msg


def test_premise_utf8_bytes_can_decode_silently_as_gb18030():
    assert "编号,姓名\n1,张三\n".encode("utf-8").decode("gb18030") == "缂栧彿,濮撳悕\n1,寮犱笁\n"


def test_utf8_bom_file_declared_gbk_is_refused(tmp_path):
    name = write(tmp_path, codecs.BOM_UTF8 + "编号,姓名\n1,A\n".encode("utf-8"))
    assert "looks like UTF-8" in read_error(make_config(tmp_path, "csv", name, encoding="gbk"))


def test_gbk_file_declared_utf8_suggests_gb18030(tmp_path):
    name = write(tmp_path, csv_text(ROWS).encode("gbk"))
    msg = read_error(make_config(tmp_path, "csv", name, encoding="utf-8"))
    assert "not valid UTF-8" in msg and "encoding: gb18030" in msg


def test_bad_bytes_beyond_the_samples_are_reported_with_their_line(tmp_path):
    """The encoding check samples head, middle and tail; bytes elsewhere fail while streaming, with a line."""
    ascii_row = "1,abcdefghijklmnopqrstuvwxyz0123456789\n"
    n = (3 << 20) // len(ascii_row)
    lines = ["编号,姓名\n"] + [ascii_row] * n
    bad_line = (1 << 20) * 5 // 4 // len(ascii_row)  # ~1.25 MB in: after the head, before the middle sample
    data = "".join(lines).encode("utf-8")
    offset = sum(len(x.encode()) for x in lines[:bad_line])
    data = data[:offset] + "2,张三\n".encode("gbk") + data[offset:]
    name = write(tmp_path, data)
    msg = read_error(make_config(tmp_path, "csv", name))
    assert f"line {bad_line + 1}: not valid utf-8" in msg and "gb18030" in msg


def test_unknown_encoding_name_is_an_error(tmp_path):
    name = write(tmp_path, b"a,b\n1,2\n")
    assert "unknown encoding 'klingon'" in read_error(make_config(tmp_path, "csv", name, key="a", encoding="klingon"))


def test_values_are_kept_as_written(tmp_path):
    rows = [["编号", "姓名"], ["007", "NULL"], ["8", "#N/A"], ["9", "NA"], ["10", "  空格  "], ["11", ""]]
    name = write(tmp_path, csv_text(rows).encode())
    df = read_frame(make_config(tmp_path, "csv", name))
    assert df["编号"].tolist() == ["007", "8", "9", "10", "11"]
    assert df["姓名"].tolist() == ["NULL", "#N/A", "NA", "  空格  ", None]


def test_batches_have_batch_rows_and_since_is_accepted(tmp_path):
    rows = [["编号", "姓名"]] + [[str(i), f"名{i}"] for i in range(7)]
    name = write(tmp_path, csv_text(rows).encode())
    batches = read_all(make_config(tmp_path, "csv", name), batch_rows=3, since="2024-01-01 00:00:00")
    assert [b.num_rows for b in batches] == [3, 3, 1]
    assert pa.Table.from_batches(batches).column("编号").to_pylist() == [str(i) for i in range(7)]


def test_path_on_the_source(tmp_path):
    name = write(tmp_path, "编号,姓名\n1,张三\n".encode())
    assert read_frame(make_config(tmp_path, "csv", None, path=name))["姓名"].tolist() == ["张三"]


# --- header --------------------------------------------------------------------------------------------------
def test_title_rows_above_the_header_are_skipped(tmp_path):
    text = '某某社区人口信息表\n"导出时间\n2024-01-01",\n\n编号,姓名\n1,张三\n'
    name = write(tmp_path, text.encode("gb18030"))
    df = read_frame(make_config(tmp_path, "csv", name))
    assert list(df.columns) == ["编号", "姓名"] and df["姓名"].tolist() == ["张三"]


def test_header_names_stripped_repeats_renamed_blanks_named(tmp_path):
    name = write(tmp_path, " 编号 ,姓名,备注,备注,\n1,张三,a,b,c\n".encode())
    df = read_frame(make_config(tmp_path, "csv", name))
    assert list(df.columns) == ["编号", "姓名", "备注", "备注__2", "column_5"]
    assert df.iloc[0].tolist() == ["1", "张三", "a", "b", "c"]


def test_a_repeated_mapped_column_is_an_error(tmp_path):
    name = write(tmp_path, "编号,姓名,姓名\n1,张三,李四\n".encode())
    msg = read_error(make_config(tmp_path, "csv", name))
    assert "column '姓名' appears more than once" in msg and "positions 2 and 3" in msg


@pytest.mark.parametrize("data", [b"\xe7\xbc\x96\xe5\x8f\xb7,\xe5\xa7\x93\xe5\x90\x8d\n",
                                  b"\xe7\xbc\x96\xe5\x8f\xb7,\xe5\xa7\x93\xe5\x90\x8d",
                                  codecs.BOM_UTF8 + "编号,姓名\r\n\r\n".encode()])
def test_header_only_gives_one_empty_batch_with_the_columns(tmp_path, data):
    batches = read_all(make_config(tmp_path, "csv", write(tmp_path, data)))
    assert len(batches) == 1 and batches[0].num_rows == 0 and batches[0].schema.names == ["编号", "姓名"]


@pytest.mark.parametrize("data", [b"", codecs.BOM_UTF8, b"\r\n\n  \n"])
def test_an_empty_file_is_an_error(tmp_path, data):
    assert "the file is empty (no header row)" in read_error(make_config(tmp_path, "csv", write(tmp_path, data)))


def test_missing_file_is_an_error(tmp_path):
    assert "file not found" in read_error(make_config(tmp_path, "csv", "nope.csv"))


# --- damaged rows: an error naming the line (never a partial load) ----------------------------------------------
def test_too_many_fields_names_the_physical_line(tmp_path):
    text = '编号,姓名\n1,"多\n行"\n2,李四,多余\n3,王五\n'
    msg = read_error(make_config(tmp_path, "csv", write(tmp_path, text.encode())))
    assert "line 4 has 3 fields, expected 2" in msg and "李四" not in msg  # no personal data in logs


def test_too_few_fields_in_the_middle(tmp_path):
    text = "编号,姓名,电话\n1,张三,1\n2,李四\n3,王五,3\n"
    assert "line 3 has 2 fields, expected 3" in read_error(make_config(tmp_path, "csv", write(tmp_path, text.encode())))


def test_last_line_cut_short_is_reported_as_truncated(tmp_path):
    text = "编号,姓名,电话\n1,张三,1\n2,李"
    msg = read_error(make_config(tmp_path, "csv", write(tmp_path, text.encode())))
    assert "line 3 has 2 fields, expected 3 (the file looks truncated)" in msg


def test_cut_inside_a_quoted_field_is_reported_as_truncated(tmp_path):
    text = '编号,姓名,地址\n1,张三,"人民路\n8号"\n2,李四,"胜利街\n'
    msg = read_error(make_config(tmp_path, "csv", write(tmp_path, text.encode("gb18030"))))
    assert "line 4: a quoted field is still open at the end of the file (the file looks truncated)" in msg


def test_a_literal_quote_inside_an_unquoted_field_is_not_truncation(tmp_path):
    text = '编号,姓名,身高\n1,张三,5\'7"\n2,李四,170\n'
    df = read_frame(make_config(tmp_path, "csv", write(tmp_path, text.encode())))
    assert df["身高"].tolist() == ['5\'7"', "170"]
