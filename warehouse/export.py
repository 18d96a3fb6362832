"""Warehouse tables and views for other tools: Parquet and CSV (DuckDB COPY) or one Excel workbook per table.

    from warehouse.export import export_tables
    for e in export_tables("warehouse/gridbridge.duckdb", "export", "xlsx"):
        print(e.path, e.rows, e.sheets)

Excel workbooks (`<table>.xlsx`) are written by xlsxwriter in constant_memory mode from rows streamed out of DuckDB
in `fetch_rows` batches, so memory stays flat in the number of rows. The header row holds Chinese labels
(`export_labels.csv`: per table or for every table; `<field>_source` is "<label>来源"; a column without a label
keeps its name). Cells keep their meaning:

- ID numbers, phones, keys and codes (canonical TEXT_FIELDS, `*_id`, `*_key(s)`, conflict values) are text cells
  on a text-formatted (`@`) column, so Excel never shows `6.40202E+17` or drops a leading zero;
- dates and times are ISO text (`1985-03-12`), also on `@` columns;
- numbers (area, counts, probabilities) are number cells, booleans are TRUE/FALSE cells; an integer of 16+
  digits, which a double cannot hold exactly, is written as text;
- NULL and empty text are blank cells.

The default set (`EXPORT_TABLES`) is the analysts' one: views that mask ID numbers and phones (views.sql).
A steward table (`person`, `person_conflict`, …) is exported only when named, and carries full values. CSV is
UTF-8 with a byte-order mark, which Excel needs to read it as UTF-8.

The header row is frozen and has an autofilter; column widths come from the header and the first rows. A table
longer than Excel's 1,048,576 rows continues on further sheets (`v_person_2`, `v_person_3`, …), each with the
header. Every file is written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import codecs
import csv
import os
import shutil
import re
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb

from schemas.canonical import TEXT_FIELDS

# the analysts' set: every view masks ID numbers and phones (views.sql); steward tables are exported by name
EXPORT_TABLES = ("v_person", "v_only_in_police", "v_only_in_grid", "v_person_conflict", "v_house", "v_house_conflict",
                 "run_log")
FORMATS = ("parquet", "csv", "xlsx")
EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet, header included
FETCH_ROWS = 20_000
WIDTH_SAMPLE_ROWS = 1_000
MIN_WIDTH, MAX_WIDTH = 6, 50
EXACT_DIGITS = 15  # an integer with more digits than this is not exact as an Excel number

TEXT_SUFFIXES = ("_id", "_key", "_keys", "_no", "_code", "_number", "_phone", "_value", "_raw")
_NUMERIC = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL.*|NUMERIC.*)$")
_TEMPORAL = re.compile(r"^(DATE|TIME.*|TIMESTAMP.*)$")

# Column kinds
TEXT, DATE, STRING, NUMBER, BOOL = "text", "date", "string", "number", "bool"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type
    label: str  # header shown in the workbook
    kind: str  # TEXT | DATE | STRING | NUMBER | BOOL


@dataclass(frozen=True)
class Exported:
    table: str
    path: Path
    rows: int
    sheets: tuple[str, ...] = ()  # xlsx only
    truncated_cells: int = 0  # xlsx only: text longer than Excel's 32,767 characters per cell


@cache
def _label_table() -> dict[tuple[str, str], str]:
    text = resources.files("warehouse").joinpath("export_labels.csv").read_text(encoding="utf-8")
    return {(r["table"].strip(), r["field"].strip()): r["label"].strip() for r in csv.DictReader(text.splitlines())}


def label(table: str, field: str) -> str | None:
    """The Chinese label of a column of `table`, or None if it has none. A masked view `v_<table>` has the
    labels of `<table>`."""
    labels = _label_table()

    def lookup(f: str) -> str | None:
        for t in (table, table.removeprefix("v_"), ""):
            if (t, f) in labels:
                return labels[(t, f)]
        return None
    found = lookup(field)
    if found is None and field.endswith("_source"):
        base = lookup(field[: -len("_source")])
        found = f"{base}来源" if base else None
    return found


def headers(table: str, fields: list[str]) -> list[str]:
    """One header per column: its label, or its own name; a label two columns share gets the name appended."""
    first = [label(table, f) or f for f in fields]
    return [h if first.count(h) == 1 else f"{h}（{f}）" for h, f in zip(first, fields)]


def is_text_column(name: str) -> bool:
    """Identifiers, phones, keys and codes: always text, whatever their type."""
    return name in TEXT_FIELDS or name.endswith(TEXT_SUFFIXES)


def column_kind(name: str, duck_type: str) -> str:
    t = duck_type.upper()
    if is_text_column(name):
        return TEXT
    if _TEMPORAL.match(t):
        return DATE
    if t == "BOOLEAN":
        return BOOL
    if _NUMERIC.match(t):
        return NUMBER
    return STRING


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[Column]:
    described = con.execute(f"DESCRIBE {_quote(table)}").fetchall()
    names = [r[0] for r in described]
    return [Column(n, r[1], h, column_kind(n, r[1])) for n, r, h in zip(names, described, headers(table, names))]


def select_sql(table: str, cols: list[Column]) -> str:
    """The rows as the workbook gets them: text and dates as VARCHAR (ISO), decimals as DOUBLE."""
    parts = []
    for c in cols:
        q = _quote(c.name)
        if c.kind in (TEXT, DATE, STRING) and c.type.upper() != "VARCHAR":
            parts.append(f"CAST({q} AS VARCHAR) AS {q}")
        elif c.kind == NUMBER and c.type.upper().startswith(("DECIMAL", "NUMERIC")):
            parts.append(f"CAST({q} AS DOUBLE) AS {q}")
        else:
            parts.append(q)
    return f"SELECT {', '.join(parts)} FROM {_quote(table)}"


def export_tables(warehouse_path: str | Path, out_dir: str | Path, fmt: str, names=EXPORT_TABLES, *,
                  row_limit: int = EXCEL_MAX_ROWS, fetch_rows: int = FETCH_ROWS) -> list[Exported]:
    """Write each table/view of `names` to `out_dir/<name>.<fmt>`; returns what was written, in order.
    `row_limit`: rows per worksheet, header included (xlsx; tests pass a small one)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "xlsx" and not 2 <= row_limit <= EXCEL_MAX_ROWS:
        raise ValueError(f"row_limit must be between 2 and {EXCEL_MAX_ROWS}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        known = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary UNION "
                                           "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"no table or view {', '.join(map(repr, unknown))} in the warehouse "
                             f"(analysts' set: {', '.join(EXPORT_TABLES)})")
        con.execute("SET enable_progress_bar = false")  # a streamed result is open while the workbook is written
        return [_export_one(con, name, out, fmt, row_limit, fetch_rows) for name in names]
    finally:
        con.close()


def _export_one(con, name: str, out: Path, fmt: str, row_limit: int, fetch_rows: int) -> Exported:
    path = out / f"{name}.{fmt}"
    tmp = out / f".{name}.{fmt}.partial"
    try:
        if fmt == "xlsx":
            rows, sheets, truncated = write_workbook(con, name, tmp, row_limit, fetch_rows)
        else:
            rows, sheets, truncated = _copy(con, name, tmp, fmt), (), 0
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Exported(name, path, rows, sheets, truncated)


def _copy(con, name: str, path: Path, fmt: str) -> int:
    """Parquet, or UTF-8 CSV starting with a byte-order mark (so Excel opens it as UTF-8, not as the
    system's GBK code page)."""
    options = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT csv, HEADER)"
    target = path if fmt == "parquet" else path.with_name(path.name + ".nobom")
    try:
        rows = con.execute(f"COPY (SELECT * FROM {_quote(name)}) TO '{str(target).replace(chr(39), chr(39) * 2)}' "
                           f"{options}").fetchone()[0]
        if fmt == "csv":
            with open(path, "wb") as out, open(target, "rb") as src:
                out.write(codecs.BOM_UTF8)
                shutil.copyfileobj(src, out, 1 << 20)
    finally:
        if target != path:
            target.unlink(missing_ok=True)
    return rows


# ---------------------------------------------------------------------------------------------------- xlsx


def display_width(value) -> int:
    """Approximate column width of a value: CJK and other wide characters count twice."""
    s = value if isinstance(value, str) else str(value)
    return (len(s.encode("utf-8")) + len(s)) // 2


def column_widths(cols: list[Column], sample: list[tuple]) -> list[int]:
    widths = []
    for j, c in enumerate(cols):
        longest = max((display_width(r[j]) for r in sample if r[j] is not None), default=0)
        widths.append(min(max(display_width(c.label) + 3, longest + 1, MIN_WIDTH), MAX_WIDTH))  # +3: filter button
    return widths


def sheet_name(table: str, number: int) -> str:
    """`v_person`, `v_person_2`, … within Excel's 31 characters and without the characters it forbids."""
    base = re.sub(r"[\[\]:*?/\\']", "_", table)
    suffix = "" if number == 1 else f"_{number}"
    return base[: 31 - len(suffix)] + suffix


def write_workbook(con, table: str, path: Path, row_limit: int = EXCEL_MAX_ROWS,
                   fetch_rows: int = FETCH_ROWS) -> tuple[int, tuple[str, ...], int]:
    """`table` as one workbook at `path`: (data rows, sheet names, cells truncated to Excel's 32,767 characters)."""
    import xlsxwriter

    cols = columns(con, table)
    result = con.execute(select_sql(table, cols))
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".xlsx-") as tmpdir:
        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "nan_inf_to_errors": True, "tmpdir": tmpdir})
        try:
            return _fill(wb, table, cols, result, row_limit, fetch_rows)
        finally:
            wb.close()


def _fill(wb, table, cols, result, row_limit, fetch_rows) -> tuple[int, tuple[str, ...], int]:
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "num_format": "@"})
    text = wb.add_format({"num_format": "@"})
    col_fmt = [text if c.kind in (TEXT, DATE) else None for c in cols]
    batch = result.fetchmany(fetch_rows)
    widths = column_widths(cols, batch[:WIDTH_SAMPLE_ROWS])
    per_sheet = row_limit - 1
    sheets, total, truncated = [], 0, 0
    ws, r = None, per_sheet

    def finish(ws, last_row):
        ws.autofilter(0, 0, last_row, len(cols) - 1)

    while batch:
        for values in batch:
            if r == per_sheet:
                if ws is not None:
                    finish(ws, r)
                ws = _new_sheet(wb, sheet_name(table, len(sheets) + 1), cols, widths, col_fmt, head)
                sheets.append(ws.get_name())
                r = 0
            r += 1
            truncated += _write_row(ws, r, values, cols, col_fmt)
        total += len(batch)
        batch = result.fetchmany(fetch_rows)
    if ws is None:  # an empty table: the header alone
        ws = _new_sheet(wb, sheet_name(table, 1), cols, widths, col_fmt, head)
        sheets.append(ws.get_name())
        r = 0
    finish(ws, r)
    return total, tuple(sheets), truncated


def _new_sheet(wb, name, cols, widths, col_fmt, head):
    ws = wb.add_worksheet(name)
    for j, c in enumerate(cols):
        ws.set_column(j, j, widths[j], col_fmt[j])
        ws.write_string(0, j, c.label, head)
    ws.freeze_panes(1, 0)
    return ws


def _write_row(ws, r: int, values: tuple, cols: list[Column], col_fmt: list) -> int:
    """One data row; returns how many cells were truncated (0 almost always)."""
    truncated = 0
    for j, v in enumerate(values):
        if v is None or v == "":
            continue
        kind = cols[j].kind
        if kind == NUMBER:
            if isinstance(v, int) and abs(v) >= 10 ** EXACT_DIGITS:
                ws.write_string(r, j, str(v), None)
            else:
                ws.write_number(r, j, v)
        elif kind == BOOL:
            ws.write_boolean(r, j, v)
        elif ws.write_string(r, j, v if isinstance(v, str) else str(v), col_fmt[j]) == -2:
            truncated += 1
    return truncated
