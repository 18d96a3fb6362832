"""CSV file source: pyarrow's streaming reader, every column as text, the encoding detected or verified.

- Encoding: `connectors.csvencoding` (UTF-8 with/without BOM, GB18030/GBK; mojibake is refused, not produced).
- Header: `connectors.filesource` rules (title rows above the header skipped, names stripped, repeats renamed).
- Quoted fields may hold commas and newlines; CRLF or LF; blank lines are not records (skipped).
- Values are kept exactly as written: only an empty field is null (`NULL`, `#N/A`, `???` stay text so that
  standardisation can quarantine them with a reason).
- A row with more or fewer fields than the header, or a quoted field still open at the end of the file, is an
  error naming the line: such a file is damaged or truncated, and loading the part that reads would make every
  missing row look deleted (a file export is a full snapshot). Nothing from it is landed.
- Memory: one pyarrow block plus one output batch (`batch_rows`), whatever the file size.
"""
from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from connectors import csvencoding
from connectors.errors import SourceError
from connectors.filesource import HEADER_SCAN_ROWS, column_names, empty_batch, header_index, rebatch, source_path
from schemas.normalise.masking import mask_text

BLOCK_BYTES = 1 << 22
_FIELD_LIMIT = 2**31 - 1


def _open_text(path: Path, encoding: str):
    return open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="")


class _Lines:
    """Line iterator for csv.reader that remembers the lines of the record being read."""

    def __init__(self, fh):
        self.fh, self.current = fh, []

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.fh)
        self.current.append(line)
        return line


def _records(path: Path, encoding: str) -> Iterator[tuple[int, list[str], list[str]]]:
    """(first line number, fields, raw lines) per non-blank record, with Python's csv module (error paths only)."""
    csv.field_size_limit(_FIELD_LIMIT)
    with _open_text(path, encoding) as fh:
        lines = _Lines(fh)
        reader = csv.reader(lines)
        start = 1
        for fields in reader:
            raw, lines.current = lines.current, []
            if fields:
                yield start, fields, raw
            start = reader.line_num + 1


def _head(path: Path, encoding: str, fail) -> tuple[list[tuple[int, list[str]]], bool]:
    """The first non-blank records (line number, fields) and whether that was the whole file."""
    rows = []
    try:
        for line, fields, _ in _records(path, encoding):
            rows.append((line, fields))
            if len(rows) > HEADER_SCAN_ROWS:
                return rows, False
    except csv.Error as e:
        fail(f"cannot read the header: {e}")
    except UnicodeDecodeError:
        fail(_decode_problem(path, encoding))
    return rows, True


def _decode_problem(path: Path, encoding: str) -> str:
    """Where the file stops being valid `encoding` (byte offset and line)."""
    dec = codecs.getincrementaldecoder(encoding)()
    offset, newlines = 0, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            pending = len(dec.getstate()[0])
            try:
                dec.decode(chunk)
            except UnicodeDecodeError as e:
                bad = max(e.start - pending, 0)
                line = newlines + chunk.count(b"\n", 0, bad) + 1
                hint = " (looks like GBK/GB18030: set encoding: gb18030)" if encoding.startswith("utf") else ""
                return f"line {line}: not valid {encoding} at byte {offset + bad}{hint}"
            offset += len(chunk)
            newlines += chunk.count(b"\n")
    return f"not valid {encoding}"


def _shape_problem(path: Path, encoding: str, header_line: int, expected: int) -> str | None:
    """The first record after the header whose field count differs, or an open quote at the end of the file."""
    def count(line, fields, raw, last):
        cut = " (the file looks truncated)" if last and not raw[-1].endswith(("\n", "\r")) else ""
        return f"line {line} has {len(fields)} field{'s' * (len(fields) != 1)}, expected {expected}{cut}"

    prev = None
    try:
        for rec in _records(path, encoding):
            if rec[0] <= header_line:
                continue
            if prev is not None and len(prev[1]) != expected:
                return count(*prev, last=False)
            prev = rec
    except csv.Error as e:
        return f"cannot parse: {e}"
    if prev is None:
        return None
    try:
        list(csv.reader(prev[2], strict=True))
    except csv.Error:
        return f"line {prev[0]}: a quoted field is still open at the end of the file (the file looks truncated)"
    return count(*prev, last=True) if len(prev[1]) != expected else None


def _odd_quotes(path: Path) -> bool:
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            n += chunk.count(b'"')
    return n % 2 == 1


def read(config, src, ent, where: str, batch_rows: int, since: str | None = None) -> Iterator[pa.RecordBatch]:
    """`since` is accepted and ignored: a file export is a full snapshot."""
    path = source_path(config, src, ent, where)

    def fail(problem: str):  # from None: a parser error in the context may quote a whole row
        raise SourceError(f"{where}: {path.name}: {problem}") from None

    if path.stat().st_size == 0:
        fail("the file is empty (no header row)")
    encoding = csvencoding.resolve(path, ent.encoding, fail)
    records, whole = _head(path, encoding, fail)
    rows = [(line, fields) for line, fields in records if any(f.strip() for f in fields)]  # not whitespace only
    if not rows:
        fail("the file is empty (no header row)")
    h = header_index([fields for _, fields in rows], ent.key)
    header_line, header = rows[h]
    names = column_names(header, ent, fail)
    if whole and records[-1][0] == header_line:  # header only
        yield empty_batch(names)
        return
    ascii_compatible = not encoding.startswith("utf-16")
    if ascii_compatible and _odd_quotes(path):
        problem = _shape_problem(path, encoding, header_line, len(names))
        if problem:
            fail(problem)
    options = dict(
        read_options=pacsv.ReadOptions(encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
                                       block_size=BLOCK_BYTES, column_names=names,
                                       skip_rows=header_line - 1, skip_rows_after_names=1),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=True, null_values=[""]))
    try:
        reader = pacsv.open_csv(path, **options)
        yield from rebatch(reader, batch_rows, names)
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        msg = str(e)
        if isinstance(e, UnicodeDecodeError) or "invalid UTF8" in msg:
            fail(_decode_problem(path, encoding))
        if re.search(r"Expected \d+ columns", msg):
            fail(_shape_problem(path, encoding, header_line, len(names))
                 or re.sub(r"^CSV parse error: (Expected \d+ columns, got \d+).*", r"a row: \1", msg.splitlines()[0]))
        fail(f"cannot read as CSV: {mask_text(msg.splitlines()[0])[:200]}")  # masked before the cut
