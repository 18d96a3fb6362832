"""Raw landing: every extracted batch is kept per run as Parquet so a run can be replayed and audited."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def landing_dir(root: Path, run_id: str) -> Path:
    d = Path(root) / "landing" / run_id
    d.mkdir(parents=True, exist_ok=True)
    for p in (Path(root) / "landing", d):
        os.chmod(p, 0o700)  # personal data: owner only
    return d


def land(batches: Iterable[pa.RecordBatch], path: Path) -> pa.Table:
    """Write batches to `path` (Parquet, streamed) and return them as one table."""
    writer = None
    kept: list[pa.RecordBatch] = []
    tmp = path.with_suffix(".parquet.part")
    try:
        for batch in batches:
            if writer is None:
                writer = pq.ParquetWriter(tmp, batch.schema)
            writer.write_batch(batch)
            kept.append(batch)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        return pa.table({})
    os.replace(tmp, path)
    return pa.Table.from_batches(kept)
