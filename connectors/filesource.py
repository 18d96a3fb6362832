"""What the CSV, XLSX and Parquet connectors share: the file's path, the header row, column names, re-batching.

Header rules (all file connectors):
- The header is the first row, among the first `HEADER_SCAN_ROWS` non-empty rows, that holds the entity's
  key column (so a title row such as "XX社区人口信息表" above the header is skipped); when no row holds it, the
  first non-empty row is the header and the missing column is reported later by `check_columns`.
- Names are stripped of surrounding whitespace. An empty name becomes `column_<position>`; a repeated name
  becomes `<name>__2`, `<name>__3` … unless the config maps that name (key, columns, updated_at): then the
  source is ambiguous and reading it is an error.
- A source with a header and no rows yields exactly one empty batch that carries the columns.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa

from connectors.errors import SourceError

HEADER_SCAN_ROWS = 20


def source_path(config, src, ent, where: str) -> Path:
    name = ent.file or src.path
    if not name:
        raise SourceError(f"{where}: give file: on the entity (or path: on the source)")
    path = config.resolve(name)
    if not path.is_file():
        raise SourceError(f"{where}: file not found: {path}")
    return path


def mapped_columns(ent) -> set[str]:
    """Source column names the entity's config refers to."""
    cols = {ent.key, *ent.columns.values()}
    if ent.updated_at:
        cols.add(ent.updated_at)
    return cols


def header_index(rows: Sequence[Sequence[object]], key: str) -> int:
    """Index of the header among the first non-empty `rows` (see module doc)."""
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if any(v is not None and str(v).strip() == key for v in row):
            return i
    return 0


def column_names(header: Sequence[object], ent, fail, blank_name=None) -> list[str]:
    """Stripped, unique column names. `fail(message)` raises; `blank_name(i)` names an empty header cell."""
    blank_name = blank_name or (lambda i: f"column_{i + 1}")
    wanted = mapped_columns(ent)
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = "" if raw is None else str(raw).strip()
        if not name:
            name = blank_name(i)
        if name in seen:
            if name in wanted:
                fail(f"column {name!r} appears more than once in the header (positions {seen[name] + 1} and {i + 1}); "
                     "rename one of them")
            n = 2
            while f"{name}__{n}" in seen:
                n += 1
            name = f"{name}__{n}"
        seen[name] = i
        names.append(name)
    return names


def empty_batch(names: Sequence[str]) -> pa.RecordBatch:
    schema = pa.schema([pa.field(n, pa.string()) for n in names])
    return pa.RecordBatch.from_arrays([pa.array([], pa.string()) for _ in names], schema=schema)


def rebatch(batches: Iterable[pa.RecordBatch], batch_rows: int, names: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """Regroup batches into `batch_rows`-row batches (the last may be shorter). When there are no rows, one empty
    batch with `names` (or the columns of the first, empty, batch seen)."""
    pending: list[pa.RecordBatch] = []
    have = 0
    sent = False
    for batch in batches:
        if batch.num_rows == 0:
            names = names or batch.schema.names
            continue
        pending.append(batch)
        have += batch.num_rows
        while have >= batch_rows:
            table = pa.Table.from_batches(pending)
            yield from table.slice(0, batch_rows).combine_chunks().to_batches()
            rest = table.slice(batch_rows)
            pending = rest.combine_chunks().to_batches() if rest.num_rows else []
            have = rest.num_rows
            sent = True
    if have:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()
    elif not sent:
        yield empty_batch(names)
