"""File sources: Parquet and CSV (CSV gets its production treatment in the sources issue)."""
from __future__ import annotations

import csv
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from connectors.errors import SourceError
from connectors.text import table_as_text


def _path(config, src, ent, where):
    name = ent.file or src.path
    if not name:
        raise SourceError(f"{where}: give file: (or path: on the source)")
    path = config.resolve(name)
    if not path.exists():
        raise SourceError(f"{where}: file not found: {path}")
    return path


def read_parquet(config, src, ent, where: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    pf = pq.ParquetFile(_path(config, src, ent, where))
    for batch in pf.iter_batches(batch_size=batch_rows):
        yield from table_as_text(pa.Table.from_batches([batch])).to_batches()


def read_csv(config, src, ent, where: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    path = _path(config, src, ent, where)
    encoding = ent.encoding or "utf-8-sig"
    try:
        with open(path, encoding=encoding, newline="") as fh:
            header = next(csv.reader(fh), [])
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 strings_can_be_null=True),
        )
        for batch in reader:
            yield batch
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise SourceError(f"{where}: {path.name}: cannot read as {encoding} CSV: {str(e).splitlines()[0]}") from None
