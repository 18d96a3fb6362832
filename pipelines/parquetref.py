"""A Parquet file handed from one asset to the next without loading it (bounded memory for big sources)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class ParquetRef:
    path: str
    transient: bool = False  # a scratch file the IO manager may move (else it is linked, e.g. the landing)

    @property
    def rows(self) -> int:
        return pq.ParquetFile(self.path).metadata.num_rows if Path(self.path).exists() else 0

    @property
    def columns(self) -> list[str]:
        return pq.ParquetFile(self.path).schema_arrow.names if Path(self.path).exists() else []

    def batches(self, batch_rows: int = 100_000, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        if Path(self.path).exists():
            yield from pq.ParquetFile(self.path).iter_batches(batch_size=batch_rows, columns=columns)

    def read(self, columns: list[str] | None = None) -> pd.DataFrame:
        return pd.read_parquet(self.path, columns=columns) if Path(self.path).exists() else pd.DataFrame()

    def place_at(self, target: Path) -> "ParquetRef":
        """Put this file at `target`: hard link when possible (landing stays intact, no copy), else rename."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(self.path).resolve() == target.resolve():
            return self
        tmp = target.with_suffix(".parquet.part")
        tmp.unlink(missing_ok=True)
        if self.transient:
            os.replace(self.path, tmp)
        else:
            try:
                os.link(self.path, tmp)
            except OSError:  # another file system: copy, the original stays for the audit
                shutil.copyfile(self.path, tmp)
        os.replace(tmp, target)
        return ParquetRef(str(target))


# standardised frames are text except these (schemas.standardise output); fixing the file schema up front
# means a column that happens to be all-null in the first batch cannot clash with a later batch
_TYPES = {"area": pa.float64(), "tenant_count": pa.float64(), "is_rented": pa.bool_()}


class FrameWriter:
    """Append pandas batches to one Parquet file: text columns, except the few typed ones in `_TYPES`."""

    def __init__(self, path: Path, columns: list[str]):
        self.path, self.columns, self.rows = Path(path), columns, 0
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, df: pd.DataFrame) -> None:
        if self._writer is None:
            self._schema = pa.schema([pa.field(c, _TYPES.get(c, pa.string())) for c in self.columns])
            self._writer = pq.ParquetWriter(self.path, self._schema)
        table = pa.Table.from_pandas(df[self.columns], preserve_index=False)
        self._writer.write_table(table.cast(self._schema))
        self.rows += len(df)

    def close(self) -> ParquetRef:
        if self._writer is None:
            pq.write_table(pa.schema([pa.field(c, _TYPES.get(c, pa.string())) for c in self.columns])
                           .empty_table(), self.path)
        else:
            self._writer.close()
        return ParquetRef(str(self.path), transient=True)
