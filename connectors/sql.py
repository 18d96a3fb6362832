"""Any SQLAlchemy URL: a table or a query per entity, streamed in fixed-size chunks."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pyarrow as pa
import sqlalchemy as sa

from connectors.errors import SourceError
from connectors.text import rows_to_batch


def _url(config, url: str) -> str:
    """Resolve a relative sqlite path against the config folder."""
    m = re.match(r"^(sqlite(?:\+\w+)?:///)(?!/)(.+)$", url)
    return f"{m.group(1)}{config.resolve(m.group(2))}" if m else url


def safe_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def read(config, src, ent, where: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    url = _url(config, src.url)
    try:
        engine = sa.create_engine(url)
    except Exception as e:  # bad URL / missing driver
        raise SourceError(f"{where}: cannot use {safe_url(src.url)}: {e}") from None
    if ent.query:
        stmt = sa.text(ent.query)
    else:
        stmt = sa.select(sa.text("*")).select_from(sa.table(ent.table))
    try:
        with engine.connect() as conn:
            if url.startswith("sqlite") and ent.table:
                found = sa.inspect(conn).has_table(ent.table)
                if not found:
                    raise SourceError(f"{where}: table {ent.table!r} not found in {safe_url(src.url)}")
            result = conn.execution_options(yield_per=batch_rows).execute(stmt)
            columns = list(result.keys())
            for rows in result.partitions(batch_rows):
                yield rows_to_batch(columns, rows)
            if not columns:
                return
    except SourceError:
        raise
    except sa.exc.SQLAlchemyError as e:
        first = str(e.orig if getattr(e, "orig", None) else e).splitlines()[0]
        raise SourceError(f"{where}: {safe_url(src.url)}: {first}") from None
    finally:
        engine.dispose()
