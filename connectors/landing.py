"""Raw landing: every extracted batch is kept per run as Parquet so a run can be replayed and audited.

Personal data: the landing folders are owner-only (0700) and every file is written under `owner_only()` (umask
077, warehouse/files.py), so it is 0600 from its first byte."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.files import owner_only, private_dir


def landing_dir(root: Path, run_id: str) -> Path:
    private_dir(Path(root) / "landing")  # personal data: owner only
    return private_dir(Path(root) / "landing" / run_id)


def landed_path(root: Path, run_id: str, source: str, entity: str) -> Path:
    """The raw extract of `source`.`entity` in run `run_id` (no folder is created)."""
    return Path(root) / "landing" / run_id / f"{source}_{entity}.parquet"


@owner_only()
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


def remove_partial(root: Path) -> list[Path]:
    """Delete the `.part` files a killed extract left under `<root>/landing` (`land` and the incremental merge
    write `.part` first and rename when complete, so a `.part` is never a finished landing). Only call it when
    no run is live (under the sync lock). Returns the files removed."""
    base = Path(root) / "landing"
    partial = list(base.glob("*/*.part")) if base.is_dir() else []
    for p in partial:
        p.unlink(missing_ok=True)
    return partial
