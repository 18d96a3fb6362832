"""Parquet file source: streamed with `iter_batches`, every column cast to text (connectors.arrowtext rules)."""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from connectors.arrowtext import array_as_text
from connectors.errors import SourceError
from connectors.filesource import column_names, empty_batch, source_path


def read(config, src, ent, where: str, batch_rows: int, since: str | None = None) -> Iterator[pa.RecordBatch]:
    """`since` is accepted and ignored: a file export is a full snapshot."""
    path = source_path(config, src, ent, where)

    def fail(problem: str):
        raise SourceError(f"{where}: {path.name}: {problem}")

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        fail(f"not a readable Parquet file ({str(e).splitlines()[0]})")
    schema = pf.schema_arrow
    names = column_names(schema.names, ent, fail)
    for field in schema:
        if pa.types.is_nested(field.type):
            fail(f"column {field.name!r} has the nested type {field.type}; only flat columns can be read")
    sent = False
    try:
        for batch in pf.iter_batches(batch_size=batch_rows):
            arrays = [array_as_text(batch.column(i)) for i in range(batch.num_columns)]
            yield pa.RecordBatch.from_arrays(arrays, names=names)
            sent = True
    except (pa.ArrowInvalid, OSError) as e:
        fail(f"damaged Parquet file ({str(e).splitlines()[0]})")
    if not sent:
        yield empty_batch(names)
