"""A source that cannot be read, through the real `gridbridge sync` command after a first successful sync.

Refused port, a server that accepts and never answers, a garbled or truncated export: the command exits 1 with
one line naming the source and the reason (no traceback), the run log says `failed`, no `.part` file is left in
the landing and the published warehouse stays byte for byte as it was. A read cut off mid-stream by a transient
error is run again from the start (each retry logged) and the sync publishes.
"""
from __future__ import annotations

import functools
import logging
import re
import sqlite3

import dagster as dg
import duckdb
import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from connectors import read_batches, retry
from connectors.landing import landed_path
from pipelines import cli, ingest
from pipelines.cli import main
from tests.connectors.sqlservers import FlakyProxy, free_port
from tests.demos import synced_demo
from warehouse.state import State

pytestmark = pytest.mark.slow
PERSONS = 60
SECRET = "S3cret-pw-4f1a"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    paths = synced_demo(root, PERSONS, seed=11)
    return root, paths


@pytest.fixture(autouse=True)
def event_log(monkeypatch):
    """Every sync runs on one in-memory Dagster instance (faster than the test's DAGSTER_HOME); returns a
    function giving the messages of a run's event log (what the Dagster UI shows)."""
    instance = dg.DagsterInstance.ephemeral()
    monkeypatch.setattr(cli, "_instance", lambda: instance)
    return lambda run_id: [e.user_message for e in instance.all_logs(run_id)]


@pytest.fixture
def waits(monkeypatch):
    """The backoff waits, recorded instead of slept."""
    seen: list[float] = []
    monkeypatch.setattr(retry, "_sleep", seen.append)
    return seen


def _config(root, name: str, police: dict, **settings) -> str:
    """`root/<name>.yaml`: the demo config (same warehouse, same grid source) with the police source replaced;
    `settings` are added to the police source (retries, timeouts)."""
    cfg = yaml.safe_load((root / "gridbridge.yaml").read_text(encoding="utf-8"))
    cfg["sources"]["police"] = {**police, **settings}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return str(path)


def _sql_police(root, url: str, **settings) -> str:
    cfg = yaml.safe_load((root / "gridbridge.yaml").read_text(encoding="utf-8"))
    return _config(root, "sql_fault", {**cfg["sources"]["police"], "url": url}, **settings)


def _file_police(root, connector: str, file, **person) -> str:
    """The police source as one export file for its person entity (the key and columns of the demo)."""
    cfg = yaml.safe_load((root / "gridbridge.yaml").read_text(encoding="utf-8"))
    ent = {k: v for k, v in cfg["sources"]["police"]["entities"]["person"].items() if k != "table"}
    return _config(root, f"{connector}_fault",
                   {"connector": connector, "entities": {"person": {**ent, "file": str(file), **person}}})


def _police_person(paths) -> pd.DataFrame:
    with sqlite3.connect(paths.police_db) as s:
        return pd.read_sql_query('SELECT * FROM "实有人口"', s, dtype=str)


def _this_run(runs: pd.DataFrame, out: str) -> pd.Series:
    """The run log row of the run the command printed (`gridbridge sync <id8>: …`; started_at has whole
    seconds, so the newest row need not be this run)."""
    short = re.search(r"^gridbridge sync (\w{8}): ", out, re.M).group(1)
    (row,) = [r for _, r in runs.iterrows() if r["run_id"].startswith(short)]
    return row


def _failed_sync(root, config: str, capfd, *options: str) -> str:
    """Run `gridbridge sync` expecting a failure that changes nothing; returns the one line giving the reason."""
    warehouse = root / "warehouse" / "gridbridge.duckdb"
    before = warehouse.read_bytes()
    runs_before = len(State(root / "warehouse").runs(limit=1000))
    code = main(["sync", "--config", config, *options])
    out, err = capfd.readouterr()
    assert code == 1, out + err
    assert warehouse.read_bytes() == before  # the previous warehouse, byte for byte
    both = out + err
    assert "Traceback" not in both and "Stack Trace" not in both and "Error:" not in both, both
    reasons = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("stage ")]
    assert len(reasons) == 1, out
    runs = State(root / "warehouse").runs(limit=1000)
    last = _this_run(runs, out)
    assert len(runs) == runs_before + 1 and last["status"] == "failed", last.to_dict()
    assert reasons[0] == f"stage {last['stage']}: {last['message']}"  # printed = recorded in the run log
    assert last["stage"].startswith("raw_police_")
    assert not list((root / "warehouse" / "landing").rglob("*.part"))
    return last["message"]


# --- unreachable and frozen servers ---------------------------------------------------------------------------
def _retries_logged(caplog, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_refused_police_database(demo, capfd, caplog, waits):
    """Nothing listens on the port (a server down, a wrong port): retried with backoff, then one line."""
    root, _ = demo
    port = free_port()
    config = _sql_police(root, f"postgresql+psycopg://gb:{SECRET}@127.0.0.1:{port}/syrk", retries=2,
                         retry_wait_s=0.01)
    with caplog.at_level(logging.WARNING, logger="connectors.sql"):
        msg = _failed_sync(root, config, capfd)
    assert msg.startswith("police.") and f"cannot connect to postgresql+psycopg://gb:***@127.0.0.1:{port}/syrk" in msg
    assert "refused" in msg.lower() and msg.endswith("(gave up after 3 attempts)") and SECRET not in msg, msg
    assert waits[:2] == [0.01, 0.02], waits  # per police entity: 3 attempts, waits doubling
    logged = _retries_logged(caplog, "connectors.sql")
    assert [m.split(" — ")[1] for m in logged if m.startswith("police.person: ")] == [
        "attempt 1 of 3 failed; trying again in 0.01 s", "attempt 2 of 3 failed; trying again in 0.02 s"]
    assert all("cannot connect to" in m and SECRET not in m for m in logged), logged


def test_police_database_that_never_answers(demo, capfd, waits):
    root, _ = demo
    frozen = FlakyProxy(drop=0, silent=True)  # accepts the connection, never says a word
    try:
        config = _sql_police(root, f"mysql+pymysql://gb:{SECRET}@127.0.0.1:{frozen.port}/syrk", retries=1,
                             retry_wait_s=0.01, timeout_s=0.2)
        msg = _failed_sync(root, config, capfd)
    finally:
        frozen.close()
    assert msg.startswith("police.") and f"cannot connect to mysql+pymysql://gb:***@127.0.0.1:{frozen.port}/syrk" in msg
    assert "timed out" in msg and msg.endswith("(gave up after 2 attempts)") and SECRET not in msg, msg
    assert frozen.attempts >= 2 and waits[:1] == [0.01]


# --- a read cut off mid-stream ----------------------------------------------------------------------------------
class _Cut:
    """SQLite connections whose cursor, reading the police person table, fails on its third fetch (after the
    first batch was handed over and landed) with a transient error, the first `times` times."""

    def __init__(self, table: str, times: int = 1, error: str = "database is locked"):
        self.table, self.times, self.error, self.fired = table, times, error, 0
        cut = self

        class Cursor(sqlite3.Cursor):
            sql, fetches = "", 0

            def execute(self, sql, *args):
                self.sql = sql
                return super().execute(sql, *args)

            def fetchmany(self, *args):
                self.fetches += 1
                if cut.table in self.sql and self.fetches == 3 and cut.fired < cut.times:
                    cut.fired += 1
                    raise sqlite3.OperationalError(cut.error)
                return super().fetchmany(*args)

        class Connection(sqlite3.Connection):
            def cursor(self, factory=Cursor):
                return super().cursor(factory)

        self.connection = Connection

    def __call__(self, dialect, _record, _cargs, cparams):
        if dialect.name == "sqlite":
            cparams["factory"] = self.connection  # sqlite3.connect(…, factory=…)


@pytest.fixture
def cut_reads(monkeypatch):
    """`cut_reads(times)`: cut the police person read off mid-stream the first `times` times (in batches of a
    third of the table, so rows were landed in the `.part` file when it breaks)."""
    cuts = []

    def install(times: int, rows: int) -> _Cut:
        monkeypatch.setattr(ingest, "read_batches", functools.partial(read_batches, batch_rows=rows // 3))
        cuts.append(_Cut("实有人口", times))
        sa.event.listen(sa.engine.Engine, "do_connect", cuts[-1])
        return cuts[-1]

    yield install
    for cut in cuts:
        sa.event.remove(sa.engine.Engine, "do_connect", cut)


def _police_retrying(root) -> str:
    cfg = yaml.safe_load((root / "gridbridge.yaml").read_text(encoding="utf-8"))
    return _config(root, "retrying", cfg["sources"]["police"], retries=2, retry_wait_s=0.01)


def test_read_cut_off_mid_stream_is_retried_and_publishes(demo, cut_reads, capfd, caplog, waits, event_log):
    root, paths = demo
    rows = len(_police_person(paths))
    cut, batch = cut_reads(1, rows), rows // 3
    with caplog.at_level(logging.WARNING, logger="pipelines.ingest"):
        code = main(["sync", "--config", _police_retrying(root), "--full"])
    out, err = capfd.readouterr()
    assert code == 0, out + err
    assert cut.fired == 1 and waits == [0.01]
    retried = _retries_logged(caplog, "pipelines.ingest")
    assert retried == [f"police.person: reading from sqlite:///demo/police.sqlite failed after {batch} rows: "
                       "database is locked — attempt 1 of 3 failed; extracting again from the start in 0.01 s"]
    run = _this_run(State(root / "warehouse").runs(), out)
    assert run["status"] == "success"
    # the run's event log (Dagster UI) has the same line
    assert retried[0] in event_log(run["run_id"])
    # landed once, in full: the broken first attempt left neither rows nor a .part file behind
    landed = landed_path(root / "warehouse", run["run_id"], "police", "person")
    assert pd.read_parquet(landed).shape[0] == rows
    assert not list(landed.parent.glob("*.part"))
    assert re.search(rf"^  police\.person +{rows} ", out, re.M), out  # the summary counts each row once
    with duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True) as con:
        published = [r[0] for r in con.execute("SELECT run_id FROM publish_history").fetchall()]
    assert published[-1] == run["run_id"]


def test_read_cut_off_every_time_gives_up(demo, cut_reads, capfd, caplog, waits):
    root, paths = demo
    rows = len(_police_person(paths))
    cut = cut_reads(99, rows)
    with caplog.at_level(logging.WARNING, logger="pipelines.ingest"):
        msg = _failed_sync(root, _police_retrying(root), capfd, "--full")
    assert cut.fired == 3 and waits == [0.01, 0.02]
    assert msg == (f"police.person: reading from sqlite:///demo/police.sqlite failed after {rows // 3} rows: "
                   "database is locked (gave up after 3 attempts)")
    assert [m.split(" — ")[1] for m in _retries_logged(caplog, "pipelines.ingest")] == [
        "attempt 1 of 3 failed; extracting again from the start in 0.01 s",
        "attempt 2 of 3 failed; extracting again from the start in 0.02 s"]


# --- garbled and truncated exports -------------------------------------------------------------------------------
def test_garbled_csv_export(demo, tmp_path, capfd, waits):
    root, paths = demo
    data = bytearray(_police_person(paths).to_csv(index=False).encode("gb18030"))
    at = data.index(b"\n", len(data) // 2) + 1 + len("P6402210000001,")  # a row in the middle, after its key
    data[at:at] = b"\xff\xfe\xff"  # garbage: no GB18030 character starts with 0xFF
    (tmp_path / "police.csv").write_bytes(bytes(data))
    msg = _failed_sync(root, _file_police(root, "csv", tmp_path / "police.csv", encoding="gb18030"), capfd)
    assert msg == f"police.person: police.csv: not valid gb18030 (bad byte at offset {at})", msg
    assert waits == []  # a broken file is not retried


def test_truncated_csv_export(demo, tmp_path, capfd, waits):
    root, paths = demo
    frame = _police_person(paths)
    text = frame.to_csv(index=False)
    cut = text.index("\n", len(text) // 2) + 1 + 30  # 30 characters into a row
    (tmp_path / "police.csv").write_text(text[:cut], encoding="utf-8")
    line = text[:cut].count("\n") + 1
    msg = _failed_sync(root, _file_police(root, "csv", tmp_path / "police.csv"), capfd)
    assert msg.startswith(f"police.person: police.csv: line {line} has ") and msg.endswith(
        f"expected {frame.shape[1]} (the file looks truncated)"), msg
    assert waits == []


def test_truncated_xlsx_export(demo, tmp_path, capfd, waits):
    root, paths = demo
    frame = _police_person(paths)
    wb = openpyxl.Workbook()
    wb.active.title = "实有人口"
    wb.active.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        wb.active.append(list(row))
    wb.save(tmp_path / "police.xlsx")
    data = (tmp_path / "police.xlsx").read_bytes()
    (tmp_path / "police.xlsx").write_bytes(data[: len(data) * 2 // 3])  # the download stopped
    msg = _failed_sync(root, _file_police(root, "xlsx", tmp_path / "police.xlsx", sheet="实有人口"), capfd)
    assert msg.startswith("police.person: police.xlsx: ") and "damaged or truncated .xlsx" in msg, msg
    assert waits == []
