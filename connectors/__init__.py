"""Source connectors: plain functions that yield Arrow record batches, every column as text.

`read_batches(config, source, entity)` picks the connector named in the config. Each connector is a
module with one `read(...)` generator; add a kind by adding a module and a line in `_CONNECTORS`.
"""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from connectors.errors import SourceError
from connectors.landing import land

__all__ = ["read_batches", "land", "SourceError"]

BATCH_ROWS = 50_000


def read_batches(config, source: str, entity: str, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    from connectors import files, sql

    connectors = {"sql": sql.read, "parquet": files.read_parquet, "csv": files.read_csv}
    src = config.sources[source]
    ent = src.entities[entity]
    reader = connectors.get(src.connector)
    if reader is None:
        raise SourceError(f"{source}.{entity}: connector {src.connector!r} is not available yet")
    yield from reader(config, src, ent, where=f"{source}.{entity}", batch_rows=batch_rows)
