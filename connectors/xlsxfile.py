"""XLSX source: one worksheet per entity (`sheet:`), streamed from the zip in chunks, every column as text.

Why not fastexcel or openpyxl: fastexcel (calamine) holds the whole sheet in memory (1.2 GB peak for 1M rows ×
15 columns, linear in size; reading it in row windows re-parses the sheet per window) and, asked for strings,
writes a number cell holding an 18-digit ID as the double's digits (`640202198503121024`), which looks like a
real ID; openpyxl's read-only mode streams but runs ~5× slower than this (9.5k rows/s). Here the sheet XML is
decompressed in ~4 MB pieces that end on a row boundary; Arrow splits a piece at every `<c ` and one anchored
RE2 expression reads each cell; everything after that is vectorised (Arrow/numpy): shared-string lookups,
number and date formatting, placing cells into columns. Memory: the shared-string table (kept as one compact
Arrow array) plus one piece and one output batch — flat in the number of rows.

Cell → text: strings as written; numbers by `connectors.arrowtext.float_text` with Excel's 15 significant digits
(phones `13812345678`, no `.0`; 18-digit IDs stored as numbers → `6.40202198503121E+17`, which the ID normaliser
quarantines as `id_excel_precision_loss`); date-formatted numbers → `1985-03-12` / `1985-03-12 08:30:00`;
booleans `TRUE`/`FALSE`; error cells their code (`#N/A`); formulas their cached value. Empty cells are null and
rows without any value are not records. Header rules: `connectors.filesource`; a value in a column without a
header is an error naming the cell.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.arrowtext import excel_serial_text, float_text
from connectors.errors import SourceError
from connectors.filesource import HEADER_SCAN_ROWS, column_names, empty_batch, header_index, rebatch, source_path
from connectors.xlsxbook import DAMAGE, Workbook, iter_chunks, string_items, unescape

_ITEM = re.compile(r"<(?:\w+:)?(?:(row)\b([^>]*)>|c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>))", re.S)
_REF = r"""(?:^|\s)r=["'](?P<col>[A-Z]{1,3})(?P<row>\d+)["']"""
_ROWNUM = r"""(?:^|\s)r=["'](?P<row>\d+)["']"""
_TYPE = r"""(?:^|\s)t=["'](?P<t>\w+)["']"""
_STYLE = r"""(?:^|\s)s=["'](?P<s>\d+)["']"""
_V = r"(?s)<(?:\w+:)?v(?:\s[^>]*)?>(?P<v>[^<]*)</(?:\w+:)?v>"
_IS = r"(?s)<(?:\w+:)?is>(?P<is>.*)</(?:\w+:)?is>"


def col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _col_index(letters: np.ndarray) -> np.ndarray:
    """'A' → 0, 'Z' → 25, 'AA' → 26 … for an array of 1–3 letter strings."""
    codes = np.asarray(letters, dtype="<U3").view(np.uint32).reshape(-1, 3).astype(np.int64)
    out = np.zeros(len(codes), np.int64)
    for k in range(3):
        present = codes[:, k] > 0
        out = np.where(present, out * 26 + (codes[:, k] - 64), out)
    return out - 1


def _field(struct: pa.Array, name: str) -> pa.Array:
    return pc.struct_field(struct, [struct.type.get_field_index(name)])


def _fast_pattern(p: str) -> str:
    """One anchored pass over a cell's text after `<c `, for cells written the usual way (r, s, t in this order;
    an optional formula; a `<v>` or a plain inline string). Cells it does not match take the general path."""
    return (rf'^r="(?P<col>[A-Z]{{1,3}})(?P<row>\d+)"(?: s="(?P<s>\d+)")?(?: t="(?P<t>\w+)")?(?: \w+="[^"]*")*'
            rf'(?:/>|>(?:<{p}f>[^<]*</{p}f>|<{p}f [^>]*/>|<{p}f [^>]*>[^<]*</{p}f>)?'
            rf'(?:<{p}v>(?P<v>[^<]*)</{p}v>|<{p}is><{p}t(?: [^>]*)?>(?P<is>[^<]*)</{p}t></{p}is>)?</{p}c>)')


_FIELDS = ("col", "row", "t", "s", "v", "is")


def _general(frags: pa.Array) -> dict[str, pa.Array] | None:
    """The `_FIELDS` of cells written in other ways (attribute order, rich inline text, …); None if a cell has
    no `r=` reference."""
    parts = pc.extract_regex(frags, r"(?s)^(?P<a>[^>]*?)(?:/>|>(?P<b>.*?)</(?:\w+:)?c>)")
    attrs, bodies = _field(parts, "a"), _field(parts, "b")
    ref = pc.extract_regex(attrs, _REF)
    if pc.any(pc.is_null(ref)).as_py():
        return None
    inline = _field(pc.extract_regex(bodies, _IS), "is")
    return {"col": _field(ref, "col"), "row": _field(ref, "row"), "t": _field(pc.extract_regex(attrs, _TYPE), "t"),
            "s": _field(pc.extract_regex(attrs, _STYLE), "s"), "v": _field(pc.extract_regex(bodies, _V), "v"),
            "is": string_items(inline) if pc.any(pc.is_valid(inline)).as_py() else inline}


class _Sheet:
    """Parses pieces of one worksheet's XML into (row, col, text) arrays of the non-empty cells.

    Fast path: Arrow splits the piece at every `<c ` and one anchored regular expression reads each cell; the
    few cells it cannot read go through per-attribute expressions; a piece with cells lacking `r=` (allowed,
    rare) goes through Python's `re` with row tags counted."""

    def __init__(self, book: Workbook, fail, prefix: str):
        self.book, self.fail, self.prefix = book, fail, prefix
        self.fast = _fast_pattern(prefix)
        self.odd_open = re.compile(rf"<{re.escape(prefix)}c[>\t\r\n]".encode())
        self.last_row = 0

    def cells(self, data: bytes) -> tuple[np.ndarray, np.ndarray, pa.Array] | None:
        got = None if self.odd_open.search(data) else self._split(data)
        if got is None:
            got = self._slow(data.decode("utf-8"))
        if got is None:
            return None
        rows, cols, kind, style, v, inline = got
        if len(rows):
            self.last_row = max(self.last_row, int(rows.max()))
        texts = self._values(kind, style, v, inline)
        keep = np.asarray(pc.fill_null(pc.not_equal(texts, ""), False))
        return rows[keep], cols[keep], pc.filter(texts, pa.array(keep))

    def _split(self, data: bytes):
        text = pa.array([data], pa.binary()).cast(pa.string())  # validates UTF-8, no Python decoding
        frags = pc.list_flatten(pc.split_pattern(text, f"<{self.prefix}c "))[1:]
        if len(frags) == 0:
            return None
        m = pc.extract_regex(frags, self.fast)
        null = pa.scalar(None, pa.string())
        f = {k: pc.if_else(pc.equal(_field(m, k), ""), null, _field(m, k)) for k in _FIELDS}
        f["is"] = unescape(f["is"])
        odd = pc.is_null(m)
        if pc.any(odd).as_py():
            other = _general(pc.filter(frags, odd))
            if other is None:
                return None
            f = {k: pc.replace_with_mask(f[k], odd, other[k].cast(pa.string())) for k in _FIELDS}
        cols = _col_index(np.asarray(f["col"].to_numpy(zero_copy_only=False)))
        rows = np.asarray(f["row"].cast(pa.int64()))
        return rows, cols, f["t"], pc.fill_null(f["s"].cast(pa.int64()), 0).to_numpy(), f["v"], f["is"]

    def _slow(self, text: str):
        items = _ITEM.findall(text)
        if not items:
            return None
        rowflag, rowattrs, cattrs, bodies = (pa.array(x, pa.string()) for x in zip(*items))
        is_row = np.asarray(pc.not_equal(rowflag, ""))
        rows, cols = self._positions(is_row, rowattrs, cattrs)
        cell = pa.array(~is_row)
        cattrs, bodies = pc.filter(cattrs, cell), pc.filter(bodies, cell)
        kind = _field(pc.extract_regex(cattrs, _TYPE), "t")
        style = pc.fill_null(_field(pc.extract_regex(cattrs, _STYLE), "s").cast(pa.int64()), 0).to_numpy()
        is_body = _field(pc.extract_regex(bodies, _IS), "is")
        inline = string_items(is_body) if pc.any(pc.is_valid(is_body)).as_py() else is_body
        return rows[~is_row], cols[~is_row], kind, style, _field(pc.extract_regex(bodies, _V), "v"), inline

    def _positions(self, is_row, rowattrs, cattrs) -> tuple[np.ndarray, np.ndarray]:
        """Sheet row number and 0-based column of every item: from `r=`, else from the order of rows and cells."""
        n = len(is_row)
        ref = pc.extract_regex(cattrs, _REF)
        has_ref = np.asarray(pc.is_valid(ref)) & ~is_row
        col = np.zeros(n, np.int64)
        row = np.zeros(n, np.int64)
        if has_ref.any():
            col[has_ref] = _col_index(np.asarray(_field(ref, "col").filter(pa.array(has_ref)).to_numpy(False)))
            row[has_ref] = np.asarray(_field(ref, "row").filter(pa.array(has_ref)).cast(pa.int64()))
        tags = np.flatnonzero(is_row)
        before, numbers = self.last_row, []
        for r in _field(pc.extract_regex(pc.filter(rowattrs, pa.array(is_row)), _ROWNUM), "row").to_pylist():
            self.last_row = int(r) if r is not None else self.last_row + 1
            numbers.append(self.last_row)
        owner = np.maximum.accumulate(np.where(is_row, np.arange(n), -1))
        tag_no = np.minimum(np.searchsorted(tags, owner), max(len(numbers) - 1, 0))
        row_of = np.where(owner >= 0, np.asarray(numbers or [0], np.int64)[tag_no], before)
        pos = np.arange(n) - owner - 1
        return np.where(has_ref, row, row_of), np.where(has_ref, col, pos)

    def _values(self, kind: pa.Array, style: np.ndarray, v: pa.Array, inline: pa.Array) -> pa.Array:
        n = len(kind)
        kind = pc.fill_null(kind, "n")
        out = pa.nulls(n, pa.string())

        def put(mask, part):
            nonlocal out
            if mask.any():
                out = pc.replace_with_mask(out, pa.array(mask), part.cast(pa.string()))

        def where(k):
            return np.asarray(pc.fill_null(pc.equal(kind, k), False))

        has_v = np.asarray(pc.is_valid(v))
        shared = where("s") & has_v
        if shared.any():
            sst = self.book.shared_strings()
            idx = pc.cast(pc.filter(v, pa.array(shared)), pa.int64())
            if pc.max(idx).as_py() >= len(sst) or pc.min(idx).as_py() < 0:
                self.fail("damaged .xlsx: a cell refers to a shared string that does not exist")
            put(shared, pc.take(sst, idx))
        inl = where("inlineStr")
        put(inl, pc.filter(inline, pa.array(inl)))
        for k in ("str", "e"):
            m = where(k) & has_v
            put(m, unescape(pc.filter(v, pa.array(m))))
        boolean = where("b") & has_v
        put(boolean, pc.if_else(pc.equal(pc.filter(v, pa.array(boolean)), "1"), "TRUE", "FALSE"))
        iso = where("d") & has_v
        if iso.any():
            d = pc.filter(v, pa.array(iso))
            d = pc.replace_substring_regex(pc.replace_substring_regex(d, r"Z$", ""), "T", " ")
            put(iso, pc.replace_substring_regex(d, r" 00:00:00(\.0+)?$", ""))
        number = where("n") & has_v
        if number.any():
            x = pc.cast(pc.filter(v, pa.array(number)), pa.float64()).to_numpy(zero_copy_only=False)
            st = style[number]
            known = (st >= 0) & (st < len(self.book.date_styles))  # an unknown style index is not a date
            st = np.where(known, st, 0)
            is_date = known & self.book.date_styles[st]
            text = float_text(pa.array(x), 15)
            if is_date.any():
                dates = excel_serial_text(x[is_date], self.book.time_styles[st][is_date], self.book.date1904)
                text = pc.replace_with_mask(text, pa.array(is_date), dates)
            put(number, text)
        return out


def _header(rows: np.ndarray, cols: np.ndarray, texts: pa.Array, ent, fail) -> tuple[int, int, list[str]]:
    """Pick the header among the first rows: (its row number, its first column, the column names)."""
    seen = np.unique(rows)[: HEADER_SCAN_ROWS + 1]
    grid: dict[int, dict[int, str]] = {int(r): {} for r in seen}
    near = np.flatnonzero(rows <= seen[-1])
    for r, c, t in zip(rows[near].tolist(), cols[near].tolist(), texts.take(pa.array(near)).to_pylist()):
        grid[r][c] = t
    ordered = [grid[int(r)] for r in seen]
    h = header_index([list(d.values()) for d in ordered], ent.key)
    cells = ordered[h]
    lo, hi = min(cells), max(cells)
    names = column_names([cells.get(c) for c in range(lo, hi + 1)], ent, fail,
                         blank_name=lambda i: f"column_{col_letter(lo + i)}")
    return int(seen[h]), lo, names


def _batch(rows, cols, texts, header, fail) -> pa.RecordBatch | None:
    """The rows below the header as one batch (None if there are none)."""
    hr, lo, names = header
    below = rows > hr
    rows, cols, texts = rows[below], cols[below], pc.filter(texts, pa.array(below))
    if len(rows) == 0:
        return None
    outside = (cols < lo) | (cols >= lo + len(names))
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        fail(f"cell {col_letter(int(cols[i]))}{int(rows[i])} has a value but its column has no header "
             f"(the header spans {col_letter(lo)}–{col_letter(lo + len(names) - 1)})")
    present = np.unique(rows)
    pos = np.searchsorted(present, rows)
    arrays = []
    for j in range(len(names)):
        sel = np.flatnonzero(cols == lo + j)
        idx = np.full(len(present), -1, np.int64)
        idx[pos[sel]] = sel
        arrays.append(pc.take(texts, pa.array(idx, mask=idx < 0)))
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def read(config, src, ent, where: str, batch_rows: int, since: str | None = None) -> Iterator[pa.RecordBatch]:
    """`since` is accepted and ignored: a file export is a full snapshot."""
    path = source_path(config, src, ent, where)

    def fail(problem: str):
        raise SourceError(f"{where}: {path.name}: {problem}")

    book = Workbook(path, fail)
    sheet, part = book.sheet_part(ent.sheet)
    yield from rebatch(_sheet_batches(book, part, sheet, ent, fail), batch_rows, [])


def _concat(parts):
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            pa.concat_arrays([p[2] for p in parts]))


def _sheet_batches(book, part, sheet, ent, fail) -> Iterator[pa.RecordBatch]:
    parser, header, pending = None, None, []  # pending: the cells read before the header is known
    try:
        with book.zip.open(part) as fh:
            for prefix, data in iter_chunks(fh, "row"):
                parser = parser or _Sheet(book, fail, prefix)
                got = parser.cells(data)
                if got is None:
                    continue
                if header is None:
                    pending.append(got)
                    if len(np.unique(np.concatenate([p[0] for p in pending]))) <= HEADER_SCAN_ROWS:
                        continue
                    got, pending = _concat(pending), []
                    header = _header(*got, ent, fail)
                batch = _batch(*got, header, fail)
                if batch is not None:
                    yield batch
    except DAMAGE as e:
        fail(f"damaged or truncated .xlsx ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'unreadable'})")
    if header is None:  # a sheet of at most HEADER_SCAN_ROWS rows
        if not pending:
            fail(f"sheet {sheet!r} is empty (no header row)")
        got = _concat(pending)
        header = _header(*got, ent, fail)
        batch = _batch(*got, header, fail)
        yield batch if batch is not None else empty_batch(header[2])
