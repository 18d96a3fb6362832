"""Retry transient failures with exponential backoff; everything else fails at once.

`retry_call(fn, policy, transient)` runs `fn` up to `policy.retries + 1` times, waiting
`wait_s, 2·wait_s, 4·wait_s …` (capped at `max_wait_s`) between attempts while `transient(error)` says
the failure may pass (server restarting, network blip, connect timeout). A permanent failure — wrong
password, missing table, bad SQL, missing file — is raised on the first attempt. When the attempts run
out, the last error is raised as `RetriesExhausted` (its `attempts` and `last` for the message).
`on_retry(attempt, attempts, wait_s, error)` hears of every failed attempt that is tried again (for the log).

`transient_db_error` classifies SQLAlchemy/DB-API errors (PostgreSQL, MySQL/MariaDB, SQLite);
`transient_read_error` also accepts a connector's one-line error marked `transient` (a read that broke off
part-way, e.g. the connection was lost mid-stream: worth running the whole read again).
"""
from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
_sleep = time.sleep  # the tests swap this to count waits without waiting


@dataclass(frozen=True)
class Backoff:
    retries: int = 3
    wait_s: float = 1.0
    factor: float = 2.0
    max_wait_s: float = 60.0

    def waits(self) -> list[float]:
        return [min(self.wait_s * self.factor**i, self.max_wait_s) for i in range(self.retries)]

    @classmethod
    def of(cls, source_config) -> Backoff:
        return cls(retries=source_config.retries, wait_s=source_config.retry_wait_s)


class RetriesExhausted(Exception):
    def __init__(self, attempts: int, last: BaseException):
        super().__init__(f"gave up after {attempts} attempts: {last}")
        self.attempts = attempts
        self.last = last


def retry_call(fn: Callable[[], T], policy: Backoff, transient: Callable[[BaseException], bool],
               on_retry: Callable[[int, int, float, BaseException], None] | None = None) -> T:
    waits = policy.waits()
    for attempt in range(len(waits) + 1):
        try:
            return fn()
        except Exception as e:
            if not transient(e):
                raise
            if attempt == len(waits):
                raise RetriesExhausted(attempt + 1, e) from e
            if on_retry is not None:
                on_retry(attempt + 1, len(waits) + 1, waits[attempt], e)
            _sleep(waits[attempt])
    raise AssertionError("unreachable")


# --- databases -------------------------------------------------------------------------------------------
# PostgreSQL SQLSTATE classes/codes that may pass: connection exceptions, server shutting down or starting,
# too many connections, serialization failure / deadlock, lock or statement timeouts.
_PG_TRANSIENT = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01", "55P03", "57014")
# libpq connect failures carry no SQLSTATE: recognise the passing ones by their text (allow-list, so a
# wrong password or a missing database is never retried).
_PG_TRANSIENT_TEXT = ("could not connect", "connection refused", "timeout expired", "timed out",
                      "server closed the connection", "connection reset", "no route to host",
                      "network is unreachable", "temporary failure in name resolution", "starting up",
                      "shutting down", "too many clients", "ssl syscall error", "eof detected",
                      "consuming input failed", "connection is lost", "connection is closed")
# MySQL/MariaDB client and server error numbers that may pass.
_MY_TRANSIENT = {1040, 1053, 1205, 1213, 2002, 2003, 2005, 2006, 2013, 2055, 1158, 1159, 1160, 1161}


def _pg_state(orig) -> str | None:
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def transient_db_error(e: BaseException) -> bool:
    """True when a database error may pass on its own (so the operation is worth another try)."""
    import sqlalchemy as sa

    if isinstance(e, (TimeoutError, ConnectionError, socket.timeout)):
        return True
    if not isinstance(e, sa.exc.DBAPIError):
        return False
    orig = e.orig
    module = type(orig).__module__ or ""
    if module.startswith("psycopg"):
        state = _pg_state(orig)
        if state:
            return state.startswith(_PG_TRANSIENT[0]) or state in _PG_TRANSIENT[1:]
        return any(t in str(orig).lower() for t in _PG_TRANSIENT_TEXT)
    if module.startswith(("pymysql", "MySQLdb", "mysql")):
        code = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
        return code in _MY_TRANSIENT
    if module.startswith("sqlite3"):
        text = str(orig).lower()
        return "database is locked" in text or "database table is locked" in text or "busy" in text
    # another driver: connection-level errors are worth another try, everything else is not
    return bool(e.connection_invalidated) or isinstance(e, (sa.exc.InterfaceError,))


def transient_read_error(e: BaseException) -> bool:
    """True when a whole read is worth running again: a transient database error, or a connector's one-line
    error that it marked `transient` (`connectors.sql`: the connection was lost part-way through the rows)."""
    return getattr(e, "transient", False) is True or transient_db_error(e)
