"""Any SQLAlchemy URL: a table or a query per entity, streamed server-side in fixed-size batches.

- Every column comes out as text (`connectors.text`): numeric IDs exact, dates and timestamps ISO.
- `since`: only rows whose `updated_at` column is later than the watermark; the table or query is wrapped
  as a subquery and the watermark is a bound parameter (compared natively by the server).
- Rows are streamed (`yield_per`: a named cursor on PostgreSQL, an unbuffered cursor on MySQL/MariaDB),
  so memory is bounded by `batch_rows`.
- Connecting and starting the query are retried with exponential backoff on transient failures
  (`connectors.retry`; each retry logged as a warning); a wrong password, a missing table or bad SQL fail at
  once. Every failure is one line naming `source.entity` and the URL with its password masked.
- A read that breaks off after it started (connection lost mid-stream) is not resumed here: its error is
  marked `transient` when the failure may pass, and the extract runs the whole read again.
"""
from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa

from connectors.errors import SourceError
from connectors.retry import Backoff, RetriesExhausted, retry_call, transient_db_error
from connectors.text import rows_to_batch

__all__ = ["read", "safe_url", "statement"]
_log = logging.getLogger(__name__)


def _url(config, url: str) -> str:
    """Resolve a relative sqlite path against the config folder."""
    m = re.match(r"^(sqlite(?:\+\w+)?:///)(?!/)(.+)$", url)
    return f"{m.group(1)}{config.resolve(m.group(2))}" if m else url


def safe_url(url: str) -> str:
    """The URL with its password masked (for messages and logs)."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable: mask whatever sits between user: and @
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _scrub(message: str, url: str) -> str:
    """Belt and braces: no driver message may carry the password."""
    try:
        password = sa.make_url(url).password
    except Exception:
        return message
    if password:
        for form in {str(password), quote(str(password), safe="")}:
            message = message.replace(form, "***")
    return message


def _connect_args(url: sa.URL, timeout_s: float) -> dict:
    """Connect timeout in the form each known driver takes (left alone when the URL sets its own)."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    seconds = max(1, math.ceil(timeout_s))
    if backend == "postgresql" and driver.startswith("psycopg") and "connect_timeout" not in url.query:
        return {"connect_timeout": seconds}
    if backend in ("mysql", "mariadb") and driver == "pymysql" and "connect_timeout" not in url.query:
        # the handshake is read with read_timeout: bound it too (reset after connecting, `_engine`)
        return {"connect_timeout": timeout_s} | ({} if "read_timeout" in url.query else {"read_timeout": timeout_s})
    if backend in ("mysql", "mariadb") and driver == "mysqldb" and "connect_timeout" not in url.query:
        return {"connect_timeout": seconds}
    if backend == "sqlite" and "timeout" not in url.query:
        return {"timeout": timeout_s}  # how long to wait for a writer's lock
    return {}


def _table(name: str, *columns: str) -> sa.TableClause:
    schema, _, table = name.rpartition(".")
    return sa.table(table, *map(sa.column, columns), schema=schema or None)


def statement(ent, since: str | None = None) -> sa.Executable:
    """SELECT for an entity: its table or query, restricted to `updated_at > since` when given.

    The watermark column is qualified (gb_source."col"): SQLite would read an unknown bare "col" as a
    string literal and silently return every row.
    """
    query = (ent.query or "").strip().rstrip(";").strip()
    if since is None:
        return sa.text(query) if query else sa.select(sa.text("*")).select_from(_table(ent.table))
    if query:
        source = sa.text(query).columns(sa.column(ent.updated_at)).subquery("gb_source")
    else:
        source = _table(ent.table, ent.updated_at).alias("gb_source")
    since_param = sa.bindparam("gb_since", since, type_=sa.types.NullType())  # typed by the server
    return sa.select(sa.text("*")).select_from(source).where(source.c[ent.updated_at] > since_param)


# --- error messages ----------------------------------------------------------------------------------------
def _codes(orig) -> set:
    """SQLSTATE and driver error number of a DB-API error (whichever it carries)."""
    codes = {getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None)}
    args = getattr(orig, "args", None)
    if args and isinstance(args[0], int):
        codes.add(args[0])
    return codes - {None}


def _first_line(orig) -> str:
    args = getattr(orig, "args", None)
    if args and len(args) == 2 and isinstance(args[0], int):  # pymysql: (1045, "Access denied …")
        text = f"{args[1]} (error {args[0]})"
    else:
        text = str(orig)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(orig).__name__


_MISSING = {"table": ({"42P01", "42S02", 1146}, "no such table"),
            "column": ({"42703", "42S22", 1054}, "no such column")}


def _missing(orig, kind: str) -> bool:
    codes, text = _MISSING[kind]
    return bool(_codes(orig) & codes) or str(orig).lower().startswith(text)


def _message(e: BaseException, stage: str, ent, where: str, safe: str, since: str | None) -> str:
    orig = getattr(e, "orig", None) or e
    first = _first_line(orig)
    if stage == "connect":
        return f"{where}: cannot connect to {safe}: {first}"
    if ent.table and not ent.query and _missing(orig, "table"):
        return f"{where}: table {ent.table!r} not found in {safe}"
    if since is not None and _missing(orig, "column") and ent.updated_at in str(orig):
        return f"{where}: updated_at column {ent.updated_at!r} not found in {safe}"
    what = "query" if ent.query else f"reading table {ent.table!r}"
    return f"{where}: {what} failed on {safe}: {first}"


# --- reading -----------------------------------------------------------------------------------------------
def _check_sqlite_file(u: sa.URL, where: str) -> None:
    """A missing SQLite file is an error (SQLite would quietly create an empty one)."""
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:" \
            and not u.database.startswith("file:") and not Path(u.database).exists():
        raise SourceError(f"{where}: database file not found: {u.database}")


def _engine(url: str, src, where: str, safe: str) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
        connect_args = _connect_args(parsed, src.timeout_s)
        engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool, connect_args=connect_args)
    except Exception as e:  # bad URL / missing driver
        raise SourceError(_scrub(f"{where}: cannot use {safe}: {_first_line(e)}", url)) from None
    if "read_timeout" in connect_args:
        @sa.event.listens_for(engine, "connect")
        def _slow_queries_may_take_their_time(dbapi_connection, _record):
            # pymysql: timeout_s bounded the handshake (a frozen server); a long query must not time out
            dbapi_connection._read_timeout = None
    return engine


def _forget_lost_stream(dbapi_connection) -> None:
    """pymysql: once the connection is gone, its unbuffered result still wants to drain the socket when it
    is garbage-collected (AttributeError in __del__, printed by Python, at a random later moment)."""
    result = getattr(dbapi_connection, "_result", None)
    if getattr(dbapi_connection, "_rfile", True) is None and getattr(result, "unbuffered_active", False):
        result.unbuffered_active = False


def read(config, src, ent, where: str, batch_rows: int, since: str | None = None) -> Iterator[pa.RecordBatch]:
    """Yield all-text record batches of at most `batch_rows` rows (one empty batch for an empty result)."""
    url = _url(config, src.url)
    safe = safe_url(src.url)
    if since is not None and not ent.updated_at:
        raise SourceError(f"{where}: a watermark (since) needs updated_at: in the entity's config")
    if not (ent.table or ent.query):
        raise SourceError(f"{where}: give table: or query:")
    engine = _engine(url, src, where, safe)
    _check_sqlite_file(engine.url, where)
    stmt = statement(ent, since)
    stage = {"now": "connect"}

    def open_result():
        stage["now"] = "connect"
        conn = engine.connect()
        try:
            stage["now"] = "execute"
            return conn, conn.execution_options(yield_per=batch_rows).execute(stmt)
        except BaseException:
            conn.close()
            raise

    def note(attempt: int, attempts: int, wait_s: float, e: BaseException) -> None:
        msg = _message(e, stage["now"], ent, where, safe, since)
        _log.warning(_scrub(f"{msg} — attempt {attempt} of {attempts} failed; trying again in {wait_s:g} s", url))

    try:
        conn, result = retry_call(open_result, Backoff.of(src), transient_db_error, on_retry=note)
    except RetriesExhausted as e:
        engine.dispose()
        msg = _message(e.last, stage["now"], ent, where, safe, since)
        raise SourceError(_scrub(f"{msg} (gave up after {e.attempts} attempt{'s' * (e.attempts != 1)})", url)) from None
    except Exception as e:  # SQLAlchemy/driver errors, and anything else a driver may throw: one line
        engine.dispose()
        raise SourceError(_scrub(_message(e, stage["now"], ent, where, safe, since), url)) from None

    rows_read = 0
    raw = conn.connection.dbapi_connection
    try:
        columns = list(result.keys())
        for rows in result.partitions(batch_rows):
            rows_read += len(rows)
            yield rows_to_batch(columns, rows)
        if rows_read == 0:
            yield rows_to_batch(columns, [])
    except Exception as e:
        _forget_lost_stream(raw)
        first = _first_line(getattr(e, "orig", None) or e)
        error = SourceError(_scrub(f"{where}: reading from {safe} failed after {rows_read} rows: {first}", url))
        # rows were already handed over, so this read cannot resume; the caller may run it again from the
        # start (pipelines.ingest.extract) when the failure may pass (connection lost, server restarting)
        error.transient = transient_db_error(e)
        raise error from None
    finally:
        with contextlib.suppress(Exception):  # a broken connection must not mask the real outcome
            conn.close()
        engine.dispose()
