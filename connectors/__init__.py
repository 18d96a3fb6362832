"""Source connectors: plain functions that yield Arrow record batches, every column as text.

`read_batches(config, source, entity)` picks the connector named in the config. Each connector is a
module with one `read(config, src, ent, where, batch_rows, since=None)` generator; add a kind by adding a
module and a line in `_CONNECTORS`. File connectors accept `since` and ignore it (a file export is a full
snapshot).
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from connectors.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from connectors.landing import land

__all__ = ["read_batches", "land", "SourceError"]


def __getattr__(name: str):
    """`land` is imported on first use: `connectors.errors` (which the command line catches) stays free of
    pyarrow, so `gridbridge status` and `--help` do not load it."""
    if name == "land":
        from connectors.landing import land
        return land
    raise AttributeError(f"module 'connectors' has no attribute {name!r}")

BATCH_ROWS = 50_000
_CONNECTORS = {"sql": "connectors.sql", "csv": "connectors.csvfile", "xlsx": "connectors.xlsxfile",
               "parquet": "connectors.parquetfile"}


def read_batches(config, source: str, entity: str, batch_rows: int = BATCH_ROWS,
                 since: str | None = None) -> Iterator[pa.RecordBatch]:
    src = config.sources[source]
    ent = src.entities[entity]
    module = _CONNECTORS.get(src.connector)
    if module is None:
        raise SourceError(f"{source}.{entity}: connector {src.connector!r} is not available")
    reader = importlib.import_module(module).read
    yield from reader(config, src, ent, where=f"{source}.{entity}", batch_rows=batch_rows, since=since)
