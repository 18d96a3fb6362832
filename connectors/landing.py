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


def landed_path(root: Path, run_id: str, source: str, entity: str) -> Path:
    """The raw extract of `source`.`entity` in run `run_id` (no folder is created)."""
    return Path(root) / "landing" / run_id / f"{source}_{entity}.parquet"


def land(batches: Iterable[pa.RecordBatch], path: Path) -> int:
    """Stream batches into `path` (Parquet, written as `.part` then renamed) and return the row count.

    Nothing is kept in memory beyond the batch being written. A source that yields no batch at all
    lands an empty file with no columns; a batch whose columns differ from the first is an error
    (a connector must yield one schema)."""
    path = Path(path)
    tmp = path.with_suffix(".parquet.part")
    writer, rows = None, 0
    try:
        for batch in batches:
            if writer is None:
                writer = pq.ParquetWriter(tmp, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)  # a failed extract leaves nothing behind
        raise
    if writer is not None:
        writer.close()
    if writer is None:
        pq.write_table(pa.table({}), tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return rows


def prune(root: Path, keep: int, protect: set[str] = frozenset()) -> list[str]:
    """Delete all but the newest `keep` run folders under `<root>/landing` (by modification time), never one
    named in `protect` (e.g. the snapshot the next incremental run builds on). Returns the run ids removed."""
    import shutil
    base = Path(root) / "landing"
    if keep < 1 or not base.is_dir():
        return []
    runs = sorted((d for d in base.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime, reverse=True)
    gone = [d for d in runs[keep:] if d.name not in protect]
    for d in gone:
        shutil.rmtree(d, ignore_errors=True)
    return [d.name for d in gone]
