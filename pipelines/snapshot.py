"""Incremental extracts: the last good snapshot + the rows changed since its watermark = the new snapshot.

A SQL source entity with an `updated_at:` column is read incrementally by default: only rows with
`updated_at` at or after the watermark (the newest value landed by the last successful run) are fetched, and they replace
the rows with the same key in that run's landed snapshot. The result is a full snapshot again, so every later
stage (and the row accounting) works on complete data. Deleted source rows are only noticed by a full extract
(`gridbridge sync --full`, and the weekly full schedule); file exports are always full snapshots.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors.landing import landed_path
from warehouse.files import owner_only

MODE_TAG = "gridbridge/mode"  # run tag: "full" or "incremental" (the default)


@dataclass(frozen=True)
class Previous:
    path: Path        # the last successful run's landed snapshot
    watermark: str    # newest updated_at in it, ISO text

    @property
    def since(self) -> str:
        """What the connector is asked for (`updated_at > since`): one second before the watermark, so a row
        written in the same second as the last extract, just after it, is not missed (re-reading the
        rows of that second is harmless: they replace themselves by key)."""
        return (dt.datetime.fromisoformat(self.watermark) - dt.timedelta(seconds=1)).isoformat(sep=" ")


def previous_snapshot(state_dir: Path, last_run_id: str | None, source: str, entity: str,
                      updated_at: str | None) -> Previous | None:
    """The snapshot an incremental extract builds on, or None when a full extract is needed."""
    if not last_run_id or not updated_at:
        return None
    path = landed_path(state_dir, last_run_id, source, entity)
    if not path.exists():
        return None
    wm = watermark(path, updated_at)
    return Previous(path, wm) if wm else None


def watermark(path: Path, column: str) -> str | None:
    """The newest `column` value in a landed file, as ISO text (None if the column is missing or empty)."""
    from schemas.normalise import parse_timestamp
    pf = pq.ParquetFile(path)
    if column not in pf.schema_arrow.names:
        return None
    values = pc.unique(pf.read(columns=[column]).column(column)).drop_null().to_pandas()
    if values.empty:
        return None
    stamp = parse_timestamp(values).dropna()  # 'YYYY-MM-DD HH:MM:SS': text order is time order
    return str(stamp.max()) if len(stamp) else None


@owner_only()  # the merged snapshot is owner-only from its first byte, like every landing
def merge_delta(previous: Path, delta: Path, key: str, out: Path) -> dict | None:
    """Write previous − (rows whose key is in delta) + delta to `out`, streaming; None if the schemas differ
    (the source changed shape: the caller falls back to a full extract)."""
    prev_pf, delta_pf = pq.ParquetFile(previous), pq.ParquetFile(delta)
    if delta_pf.metadata.num_rows and prev_pf.schema_arrow.names != delta_pf.schema_arrow.names:
        return None
    changed = pc.unique(delta_pf.read(columns=[key]).column(key)) if delta_pf.metadata.num_rows else \
        pa.array([], pa.string())
    tmp = out.with_suffix(".parquet.part")
    kept = 0
    with pq.ParquetWriter(tmp, prev_pf.schema_arrow) as writer:
        for batch in prev_pf.iter_batches(batch_size=100_000):
            keep = pc.invert(pc.fill_null(pc.is_in(batch.column(key), value_set=changed), False))
            part = batch.filter(keep)
            kept += part.num_rows
            writer.write_batch(part)
        for batch in delta_pf.iter_batches(batch_size=100_000):
            writer.write_batch(batch.cast(prev_pf.schema_arrow))
    os.replace(tmp, out)
    return {"rows": kept + delta_pf.metadata.num_rows, "kept": kept, "changed": delta_pf.metadata.num_rows,
            "replaced": prev_pf.metadata.num_rows - kept}
