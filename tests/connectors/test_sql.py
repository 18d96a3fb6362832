"""The sql connector against real SQLite, PostgreSQL and MariaDB (servers from `make databases`)."""
from __future__ import annotations

import datetime as dt
import decimal
import sqlite3

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors import SourceError, read_batches, retry, sql
from connectors.retry import Backoff, RetriesExhausted, retry_call, transient_db_error
from connectors.text import column_as_text
from tests.connectors.sqlservers import (  # noqa: F401  (fixtures)
    BIG_ROWS, PEOPLE_COLUMNS, PEOPLE_TEXT, FlakyProxy, _backends, backend, big_updated_text, free_port, server)

NAMES = [n for n, _ in PEOPLE_COLUMNS]
WRONG_PASSWORD = "Wr0ng-Passw0rd-7f3c9e"


def _read(cfg, batch_rows=1_000, since=None):
    src = cfg.sources["police"]
    return sql.read(cfg, src, src.entities["person"], where="police.person", batch_rows=batch_rows, since=since)


def _rows(batches, key="人员编号"):
    table = pa.Table.from_batches(list(batches))
    return sorted(table.to_pylist(), key=lambda r: r[key])


def _one_line_failure(call) -> SourceError:
    with pytest.raises(SourceError) as err:
        list(call())
    msg = str(err.value)
    assert "\n" not in msg and "Traceback" not in msg, msg
    return err.value


def _one_line_error(call) -> str:
    return str(_one_line_failure(call))


@pytest.fixture
def waits(monkeypatch):
    """Record the backoff waits instead of sleeping them."""
    seen: list[float] = []
    monkeypatch.setattr(retry, "_sleep", seen.append)
    return seen


# --- values ----------------------------------------------------------------------------------------------
def test_table_columns_all_text_and_values_exact(backend, tmp_path):
    cfg = backend.config(tmp_path, {"table": backend.people})
    batches = list(read_batches(cfg, "police", "person"))
    assert batches and all(f.type == pa.string() for b in batches for f in b.schema)
    assert batches[0].schema.names == NAMES
    assert [[r[n] for n in NAMES] for r in _rows(batches)] == PEOPLE_TEXT


def test_query_entity(backend, tmp_path):
    query = (f"SELECT 人员编号, 姓名, 证件号码, 出生日期 FROM {backend.people} "
             f"WHERE 性别代码 = '2' ORDER BY 人员编号;")
    cfg = backend.config(tmp_path, {"query": query})
    rows = [list(r.values()) for r in pa.Table.from_batches(list(_read(cfg))).to_pylist()]
    want = [[r[0], r[1], r[4], r[6]] for r in PEOPLE_TEXT if r[5] == "2"]
    assert rows == want and len(want) == 3


def test_batches_are_bounded_and_complete(backend, tmp_path):
    cfg = backend.config(tmp_path, {"table": backend.big})
    batches = list(_read(cfg, batch_rows=300))
    assert len(batches) == -(-BIG_ROWS // 300)
    assert all(0 < b.num_rows <= 300 for b in batches)
    ids = pa.Table.from_batches(batches).column("身份号码数值").to_pylist()
    assert sorted(ids) == [str(640202198000000000 + i) for i in range(BIG_ROWS)]


_PROBES = {
    "postgres": ("SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 200000) AS g",
                 "SELECT query FROM pg_stat_activity WHERE application_name = 'gb_stream_probe'"),
    "mariadb": ("SELECT seq, REPEAT('x', 1000) AS pad FROM seq_1_to_200000 /* gb_stream_probe */",
                "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() "
                "AND COMMAND = 'Query' AND INFO LIKE '%%gb_stream_probe%%'"),
}

_KILL = {"postgres": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name = 'gb_stream_probe'",
         "mariadb": "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() "
                    "AND INFO LIKE '%%gb_stream_probe%%'"}


def _probe_stream(server, tmp_path):
    """The probe query streaming from `server` (tagged `gb_stream_probe`), its first 500-row batch read."""
    url = server.url_with_env_password()
    if server.kind == "postgres":
        url += "?application_name=gb_stream_probe"
    batches = _read(server.config(tmp_path, {"query": _PROBES[server.kind][0]}, url=url), batch_rows=500)
    assert next(batches).num_rows == 500
    return batches


@pytest.mark.filterwarnings("ignore:Previous unbuffered result:UserWarning")  # pymysql, after KILL QUERY
def test_rows_stream_from_a_server_side_cursor(server, tmp_path):
    """After the first batch the server still holds the rest: a named cursor being FETCHed (PostgreSQL),
    a query still sending (MariaDB) — not a result pulled whole into memory."""
    batches = _probe_stream(server, tmp_path)
    with server.engine.connect() as conn:
        seen = [r[0] for r in conn.exec_driver_sql(_PROBES[server.kind][1])]
        if server.kind == "mariadb":  # stop the sender, so closing does not read 200 MB
            for (pid,) in conn.exec_driver_sql(_KILL["mariadb"]):
                conn.exec_driver_sql(f"KILL QUERY {int(pid)}")
    batches.close()
    assert len(seen) == 1, seen
    assert seen[0].startswith("FETCH") if server.kind == "postgres" else "seq_1_to_200000" in seen[0]


@pytest.mark.filterwarnings("ignore:Previous unbuffered result:UserWarning")
def test_connection_lost_mid_stream_is_one_line(server, tmp_path, waits):
    batches = _probe_stream(server, tmp_path)
    with server.engine.connect() as conn:
        killed = conn.exec_driver_sql(_KILL[server.kind]).fetchall()
        if server.kind == "mariadb":
            for (pid,) in killed:
                conn.exec_driver_sql(f"KILL CONNECTION {int(pid)}")
    assert len(killed) == 1
    err = _one_line_failure(lambda: batches)
    msg = str(err)
    assert msg.startswith("police.person: reading from ") and "failed after " in msg, msg
    assert server.password not in msg and waits == []  # rows already handed over: no silent restart
    assert retry.transient_read_error(err), msg          # … but the extract retries it from the start


# --- watermark -------------------------------------------------------------------------------------------
def test_since_reads_only_later_rows_from_table_and_query(backend, tmp_path):
    k = 1_999
    since = big_updated_text(k)
    for entity in ({"table": backend.big},
                   {"query": f"SELECT 人员编号, 更新时间 FROM {backend.big} WHERE 人员编号 <> 'P002000'"}):
        cfg = backend.config(tmp_path, {**entity, "updated_at": "更新时间"})
        rows = _rows(_read(cfg, batch_rows=200, since=since))
        keep = [i for i in range(k + 1, BIG_ROWS) if "query" not in entity or i != 2000]
        assert [r["人员编号"] for r in rows] == [f"P{i:06d}" for i in keep]
        assert min(r["更新时间"] for r in rows) > since


def max_text(batches, column: str) -> str | None:
    """Largest non-null text of `column` over record batches (ISO text order is time order)."""
    values = [v for b in batches for v in b.column(column).to_pylist() if v is not None]
    return max(values, default=None)


def test_watermark_of_a_full_read_then_nothing_new(backend, tmp_path):
    cfg = backend.config(tmp_path, {"table": backend.people, "updated_at": "更新时间"})
    mark = max_text(_read(cfg), "更新时间")
    assert mark == "2024-05-02 10:15:30"  # P0005 has no 更新时间: NULLs never win
    rows = _rows(_read(cfg, since="2024-05-01 08:30:00"))
    assert [r["人员编号"] for r in rows] == ["P0002", "P0003"]
    empty = list(_read(cfg, since=mark))
    assert len(empty) == 1 and empty[0].num_rows == 0 and empty[0].schema.names == NAMES


def test_since_needs_updated_at(backend, tmp_path):
    cfg = backend.config(tmp_path, {"table": backend.people})
    assert "updated_at" in _one_line_error(lambda: _read(cfg, since="2024-01-01"))


def test_missing_updated_at_column(backend, tmp_path):
    cfg = backend.config(tmp_path, {"table": backend.people, "updated_at": "修改时间"})
    msg = _one_line_error(lambda: _read(cfg, since="2024-01-01"))
    assert "police.person" in msg and "'修改时间'" in msg and "not found" in msg


# --- errors ----------------------------------------------------------------------------------------------
def test_missing_table_is_one_line_naming_entity_and_table(backend, tmp_path, waits):
    cfg = backend.config(tmp_path, {"table": "不存在的表"})
    msg = _one_line_error(lambda: read_batches(cfg, "police", "person"))
    assert msg.startswith("police.person: table '不存在的表' not found in "), msg
    assert waits == []  # permanent: not retried
    if backend.password:
        assert backend.password not in msg and ":***@" in msg


def test_bad_sql_is_one_line(backend, tmp_path, waits):
    cfg = backend.config(tmp_path, {"query": f"SELEC 姓名 FORM {backend.people}"})
    msg = _one_line_error(lambda: _read(cfg))
    assert msg.startswith("police.person: query failed on "), msg
    assert waits == []


def test_wrong_password_is_one_line_without_the_password(server, tmp_path, monkeypatch, waits):
    monkeypatch.setenv("GB_TEST_DB_PASSWORD", WRONG_PASSWORD)  # the config takes it from ${ENV}
    cfg = server.config(tmp_path, {"table": server.people})
    assert WRONG_PASSWORD in cfg.sources["police"].url
    msg = _one_line_error(lambda: _read(cfg))
    assert msg.startswith("police.person: cannot connect to "), msg
    assert WRONG_PASSWORD not in msg and server.password not in msg and ":***@" in msg
    assert waits == []  # an authentication failure is not retried


def test_sqlite_file_missing(tmp_path):
    from tests.connectors.sqlservers import Backend
    b = Backend("sqlite", "sqlite:///missing.sqlite", people="t", big="t", engine=None)
    msg = _one_line_error(lambda: _read(b.config(tmp_path, {"table": "t"})))
    assert msg == f"police.person: database file not found: {tmp_path / 'missing.sqlite'}"
    assert not (tmp_path / "missing.sqlite").exists()  # not created as a side effect


# --- retries ---------------------------------------------------------------------------------------------
def test_unreachable_server_is_retried_with_backoff_then_one_line(server, tmp_path, waits):
    hangup = FlakyProxy(drop=10**9)  # accepts, then hangs up: every attempt reaches it
    try:
        url = server.url_with_env_password(hangup.url_for(server.url))
        cfg = server.config(tmp_path, {"table": server.people}, url=url, retries=3, retry_wait_s=0.01)
        msg = _one_line_error(lambda: _read(cfg))
    finally:
        hangup.close()
    assert hangup.attempts == 4
    assert waits == [0.01, 0.02, 0.04]
    assert msg.startswith("police.person: cannot connect to ") and msg.endswith("(gave up after 4 attempts)"), msg
    assert f":{hangup.port}/" in msg and server.password not in msg


def test_refused_port_is_retried(server, tmp_path, waits):
    url = server.url_with_env_password(sa.make_url(server.url).set(port=free_port()).render_as_string(False))
    cfg = server.config(tmp_path, {"table": server.people}, url=url, retries=2, retry_wait_s=0.5)
    msg = _one_line_error(lambda: _read(cfg))
    assert waits == [0.5, 1.0] and "gave up after 3 attempts" in msg and server.password not in msg


def test_transient_failures_then_success(server, tmp_path, waits):
    target = sa.make_url(server.url)
    flaky = FlakyProxy(drop=2, target=(target.host, target.port))
    try:
        url = server.url_with_env_password(flaky.url_for(server.url))
        cfg = server.config(tmp_path, {"table": server.people}, url=url, retries=3, retry_wait_s=0.01)
        rows = _rows(_read(cfg))
    finally:
        flaky.close()
    assert flaky.attempts == 3 and waits == [0.01, 0.02]
    assert [[r[n] for n in NAMES] for r in rows] == PEOPLE_TEXT


def test_connect_timeout_is_retried(_backends, tmp_path, waits, monkeypatch):  # noqa: F811
    """A server that accepts and never answers: the driver's connect timeout (timeout_s) fires each time."""
    b = _backends("mariadb")  # pymysql takes fractions of a second; libpq's minimum is 2 s
    monkeypatch.setenv("GB_TEST_DB_PASSWORD", b.password)
    frozen = FlakyProxy(drop=0, silent=True)
    try:
        url = b.url_with_env_password(frozen.url_for(b.url))
        cfg = b.config(tmp_path, {"table": b.people}, url=url, retries=2, retry_wait_s=0.01, timeout_s=0.2)
        msg = _one_line_error(lambda: _read(cfg))
    finally:
        frozen.close()
    assert frozen.attempts == 3 and waits == [0.01, 0.02]
    assert "timed out" in msg and "gave up after 3 attempts" in msg, msg


def test_frozen_postgres_times_out(_backends, tmp_path, waits, monkeypatch):  # noqa: F811
    b = _backends("postgres")
    monkeypatch.setenv("GB_TEST_DB_PASSWORD", b.password)
    frozen = FlakyProxy(drop=0, silent=True)
    try:
        url = b.url_with_env_password(frozen.url_for(b.url))
        cfg = b.config(tmp_path, {"table": b.people}, url=url, retries=0, timeout_s=1)  # libpq waits 2 s at least
        msg = _one_line_error(lambda: _read(cfg))
    finally:
        frozen.close()
    assert frozen.attempts == 1 and "timeout expired" in msg and msg.endswith("(gave up after 1 attempt)"), msg


def test_mariadb_read_timeout_only_guards_the_handshake(_backends, tmp_path, monkeypatch):  # noqa: F811
    b = _backends("mariadb")
    monkeypatch.setenv("GB_TEST_DB_PASSWORD", b.password)
    cfg = b.config(tmp_path, {"query": "SELECT SLEEP(0.6) AS slept, 1 AS one"}, timeout_s=0.2)
    assert _rows(_read(cfg), key="one") == [{"slept": "0", "one": "1"}]


def test_driver_connect_args():
    args = sql._connect_args
    assert args(sa.make_url("postgresql+psycopg://u@h/db"), 2.5) == {"connect_timeout": 3}
    assert args(sa.make_url("postgresql+psycopg://u@h/db?connect_timeout=9"), 2.5) == {}
    assert args(sa.make_url("mysql+pymysql://u@h/db"), 2.5) == {"connect_timeout": 2.5, "read_timeout": 2.5}
    assert args(sa.make_url("sqlite:///x.sqlite"), 2.5) == {"timeout": 2.5}
    assert args(sa.make_url("oracle+oracledb://u@h/db"), 2.5) == {}


def test_sqlite_locked_database_is_retried_until_free(tmp_path, monkeypatch):
    from tests.connectors.sqlservers import Backend
    db = tmp_path / "police.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE 人员 (人员编号 TEXT, 姓名 TEXT)")
        con.execute("INSERT INTO 人员 VALUES ('P1', '张三')")
    writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN EXCLUSIVE")  # nobody may read until it ends
    waited: list[float] = []

    def wait_then_release(s):
        waited.append(s)
        if len(waited) == 2:
            writer.execute("COMMIT")

    monkeypatch.setattr(retry, "_sleep", wait_then_release)
    b = Backend("sqlite", f"sqlite:///{db}", people="人员", big="人员", engine=None)
    cfg = b.config(tmp_path, {"table": "人员"}, retries=4, retry_wait_s=0.01, timeout_s=0.05)
    assert _rows(_read(cfg)) == [{"人员编号": "P1", "姓名": "张三"}]
    assert waited == [0.01, 0.02]
    writer.execute("BEGIN EXCLUSIVE")
    msg = _one_line_error(lambda: _read(b.config(tmp_path, {"table": "人员"}, retries=1, retry_wait_s=0.01,
                                                 timeout_s=0.05)))
    writer.close()
    assert "database is locked" in msg and "gave up after 2 attempts" in msg


def test_retry_call_policy(waits):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("slow")
        return "ok"

    def transient(e):
        return isinstance(e, (TimeoutError, ConnectionError))

    assert retry_call(flaky, Backoff(retries=5, wait_s=0.5, max_wait_s=0.75), transient) == "ok"
    assert waits == [0.5, 0.75] and len(calls) == 3
    with pytest.raises(FileNotFoundError):                        # not transient: raised at once
        retry_call(lambda: open("/nonexistent/x"), Backoff(retries=5), transient)
    assert len(waits) == 2
    with pytest.raises(RetriesExhausted) as e:
        retry_call(lambda: (_ for _ in ()).throw(ConnectionResetError("reset")), Backoff(retries=1, wait_s=0),
                   transient)
    assert e.value.attempts == 2 and isinstance(e.value.last, ConnectionResetError)
    assert not transient_db_error(ValueError("x")) and transient_db_error(TimeoutError())


def test_safe_url_masks_passwords():
    assert sql.safe_url("postgresql+psycopg://gb:s3cr%40t@db:5432/syrk") == "postgresql+psycopg://gb:***@db:5432/syrk"
    assert sql.safe_url("sqlite:///demo/police.sqlite") == "sqlite:///demo/police.sqlite"
    assert "s3cr" not in sql.safe_url("not a url://gb:s3cr@t@host")


def test_config_retry_fields_are_validated(tmp_path):
    from schemas.config import ConfigError
    from tests.connectors.sqlservers import Backend
    b = Backend("sqlite", "sqlite:///x.sqlite", people="t", big="t", engine=None)
    assert b.config(tmp_path, {"table": "t"}).sources["police"].retries == 3
    with pytest.raises(ConfigError, match="retries"):
        b.config(tmp_path, {"table": "t"}, retries=-1)
    with pytest.raises(ConfigError, match="timeout_s"):
        b.config(tmp_path, {"table": "t"}, timeout_s=0)


# --- text conversion -------------------------------------------------------------------------------------
@pytest.mark.parametrize("values, text", [
    ([640202198503120013, None, 2**70], ["640202198503120013", None, str(2**70)]),
    ([decimal.Decimal("110101198503120011"), decimal.Decimal("12.50")], ["110101198503120011.00", "12.50"]),
    ([decimal.Decimal("110101198503120011")], ["110101198503120011"]),
    ([dt.date(2000, 2, 29), None], ["2000-02-29", None]),
    ([dt.datetime(2024, 5, 1, 8, 30), dt.datetime(2024, 5, 1, 8, 30, 0, 123000)],
     ["2024-05-01 08:30:00", "2024-05-01 08:30:00.123000"]),
    ([dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))], ["2024-05-01 08:30:00"]),
    ([85.5, 13995201234.0, 6.402021985031201e17, 0.1, float("nan"), None],
     ["85.5", "13995201234", "6.402021985031201E+17", "0.1", None, None]),
    ([True, False, None], ["TRUE", "FALSE", None]),
    (["P1", 12, 3.5, b"\xe5\xbc\xa0", None], ["P1", "12", "3.5", "张", None]),  # SQLite: one column, many types
    ([640202198503120013, 2.5], ["640202198503120013", "2.5"]),  # ints never widened to float
    ([], []),
])
def test_column_as_text(values, text):
    arr = column_as_text(values)
    assert arr.type == pa.string() and arr.to_pylist() == text


