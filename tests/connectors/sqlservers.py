"""Real database servers for the sql connector tests: SQLite files, PostgreSQL and MariaDB.

The server URLs come from GRIDBRIDGE_TEST_POSTGRES_URL / GRIDBRIDGE_TEST_MARIADB_URL or from
.ci/databases.env, which `make databases` (.ci/databases.sh) writes after installing and starting the
servers. A server that is not configured or not reachable FAILS the tests that need it (never a skip).

Each test session loads its own tables (a random suffix on every name, so parallel runs on one server do
not collide) with police-style data and drops them at the end.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from schemas.config import parse

REPO = Path(__file__).resolve().parents[2]
ENV_FILE = REPO / ".ci" / "databases.env"
SERVERS = {"postgres": "GRIDBRIDGE_TEST_POSTGRES_URL", "mariadb": "GRIDBRIDGE_TEST_MARIADB_URL"}
BACKENDS = ["sqlite", *SERVERS]
PASSWORD_VAR = "GB_TEST_DB_PASSWORD"
HOW = "run `make databases` (as root: installs, starts and configures PostgreSQL and MariaDB) first"


def _env_file() -> dict[str, str]:
    if not ENV_FILE.exists():
        return {}
    pairs = (ln.split("=", 1) for ln in ENV_FILE.read_text(encoding="utf-8").splitlines()
             if "=" in ln and not ln.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def server_url(kind: str) -> str:
    """The URL of a running test server, or a test failure that says how to get one."""
    var = SERVERS[kind]
    url = os.environ.get(var) or _env_file().get(var)
    if not url:
        pytest.fail(f"{kind} test server not configured ({var} unset, {ENV_FILE} missing): {HOW}", pytrace=False)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as e:
        first = str(e.orig or e).splitlines()[0]
        safe = sa.make_url(url).render_as_string(hide_password=True)
        pytest.fail(f"{kind} test server {safe} not reachable ({first}): {HOW}", pytrace=False)
    finally:
        engine.dispose()
    return url


# --- police-style test data ------------------------------------------------------------------------------
PEOPLE_COLUMNS = [
    ("人员编号", sa.String(20)),
    ("姓名", sa.String(50)),
    ("公民身份号码", sa.String(18)),       # the ID as text
    ("身份号码数值", sa.BigInteger),       # the ID as BIGINT (18 digits: beyond float precision)
    ("证件号码", sa.Numeric(18, 0)),       # the ID as DECIMAL(18,0)
    ("性别代码", sa.String(1)),
    ("出生日期", sa.Date),
    ("联系电话", sa.String(20)),
    ("现住地址", sa.String(200)),
    ("建筑面积", sa.Double),
    ("人员类别", sa.Integer),
    ("更新时间", sa.DateTime),
    ("备注", sa.String(200)),
]
D, T = dt.date, dt.datetime
PEOPLE_ROWS = [
    ("P0001", "张伟", "640202198503120013", 640202198503120013, Decimal("640202198503120013"), "1",
     D(1985, 3, 12), "13995201234", "某市某区幸福路12号3栋2单元301室", 85.5, 1, T(2024, 5, 1, 8, 30), None),
    ("P0002", "阿卜杜拉·买买提", "65010119900101002X", None, None, "1",
     D(1990, 1, 1), "0952-2012345", "某县某镇团结村三组", 120.25, 2, T(2024, 5, 1, 9, 0), None),
    ("P0003", "王𪚥", "110101200002290016", 110101200002290016, Decimal("110101200002290016"), "2",
     D(2000, 2, 29), None, None, None, 1, T(2024, 5, 2, 10, 15, 30), "户籍迁出"),
    ("P0004", "陳麗華", "640221197001010000", 640221197001010000, Decimal("640221197001010000"), "2",
     D(1970, 1, 1), "+86 139 9520 0000", "某区建设街道和平社区5号楼1单元502", 90.0, 2, T(2023, 12, 31, 23, 59, 59),
     "含'引号\"与,逗号"),
    ("P0005", "赵六", None, None, None, None, None, None, None, None, None, None, None),
    ("P0006", "欧阳 娜娜", "64020219991231990X", None, Decimal("0"), "2",
     D(1999, 12, 31), "01012345678", "  前后空格  ", 0.1, 1, T(2024, 1, 1, 0, 0, 0), ""),
]
# What the connector must hand over, written out by hand (all text, exact digits, ISO dates, a whole
# DOUBLE without ".0" as connectors.arrowtext writes numbers).
PEOPLE_TEXT = [
    ["P0001", "张伟", "640202198503120013", "640202198503120013", "640202198503120013", "1",
     "1985-03-12", "13995201234", "某市某区幸福路12号3栋2单元301室", "85.5", "1", "2024-05-01 08:30:00", None],
    ["P0002", "阿卜杜拉·买买提", "65010119900101002X", None, None, "1",
     "1990-01-01", "0952-2012345", "某县某镇团结村三组", "120.25", "2", "2024-05-01 09:00:00", None],
    ["P0003", "王𪚥", "110101200002290016", "110101200002290016", "110101200002290016", "2",
     "2000-02-29", None, None, None, "1", "2024-05-02 10:15:30", "户籍迁出"],
    ["P0004", "陳麗華", "640221197001010000", "640221197001010000", "640221197001010000", "2",
     "1970-01-01", "+86 139 9520 0000", "某区建设街道和平社区5号楼1单元502", "90", "2", "2023-12-31 23:59:59",
     "含'引号\"与,逗号"],
    ["P0005", "赵六", None, None, None, None, None, None, None, None, None, None, None],
    ["P0006", "欧阳 娜娜", "64020219991231990X", None, "0", "2",
     "1999-12-31", "01012345678", "  前后空格  ", "0.1", "1", "2024-01-01 00:00:00", ""],
]
BIG_ROWS = 2_500
BIG_START = T(2024, 3, 1, 0, 0, 0)
BIG_COLUMNS = [
    ("人员编号", sa.String(20)),
    ("姓名", sa.String(50)),
    ("身份号码数值", sa.BigInteger),
    ("出生日期", sa.Date),
    ("更新时间", sa.DateTime),
]


def big_row(i: int) -> tuple:
    return (f"P{i:06d}", f"测试人员{i}", 640202198000000000 + i, D(1960, 1, 1) + dt.timedelta(days=i),
            BIG_START + dt.timedelta(minutes=i))


def big_updated_text(i: int) -> str:
    return f"{BIG_START + dt.timedelta(minutes=i):%Y-%m-%d %H:%M:%S}"


# --- backends --------------------------------------------------------------------------------------------
def _for_sqlite(v):
    """SQLite has no DATE/DECIMAL storage: ISO text and integers, as a real SQLite source holds them."""
    if isinstance(v, dt.datetime):
        return f"{v:%Y-%m-%d %H:%M:%S}"
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return int(v)
    return v


@dataclass
class Backend:
    kind: str
    url: str
    people: str
    big: str
    engine: sa.Engine = field(repr=False)

    @property
    def password(self) -> str | None:
        return sa.make_url(self.url).password

    def url_with_env_password(self, url: str | None = None) -> str:
        """The URL as a config file would hold it: the password as ${ENV}."""
        url = url or self.url
        if not self.password:
            return url
        return url.replace(f":{self.password}@", f":${{{PASSWORD_VAR}}}@")

    def quote(self, name: str) -> str:
        return self.engine.dialect.identifier_preparer.quote(name)

    def config(self, tmp_path: Path, entity: dict, url: str | None = None, **source):
        """A gridbridge config whose police.person entity is `entity` on this backend."""
        person = {"key": "人员编号", "columns": {"name": "姓名"}, **entity}
        src = {"connector": "sql", "url": url or self.url_with_env_password(), **source,
               "entities": {"person": person}}
        return parse({"sources": {"police": src, "grid": src}}, base_dir=tmp_path)

    def load(self, name: str, columns: list[tuple[str, sa.types.TypeEngine]], rows: list[tuple]) -> None:
        """CREATE TABLE with the columns' types (first column the primary key), then INSERT the rows."""
        names = [n for n, _ in columns]
        cols = [sa.Column(n, t, primary_key=(i == 0)) for i, (n, t) in enumerate(columns)]
        sa.Table(name, sa.MetaData(), *cols).create(self.engine)
        plain = sa.table(name, *[sa.column(n) for n in names])  # untyped: values go to the driver as given
        adapt = _for_sqlite if self.kind == "sqlite" else (lambda v: v)
        with self.engine.begin() as conn:
            conn.execute(sa.insert(plain), [{n: adapt(v) for n, v in zip(names, r)} for r in rows])

    def drop(self) -> None:
        with self.engine.begin() as conn:
            for name in (self.people, self.big):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {self.quote(name)}"))
        self.engine.dispose()


def make_backend(kind: str, tmp_dir: Path) -> Backend:
    url = f"sqlite:///{tmp_dir / 'police.sqlite'}" if kind == "sqlite" else server_url(kind)
    suffix = secrets.token_hex(3)
    b = Backend(kind, url, people=f"实有人口_{suffix}", big=f"人口大表_{suffix}",
                engine=sa.create_engine(url, poolclass=sa.pool.NullPool))
    b.load(b.people, PEOPLE_COLUMNS, PEOPLE_ROWS)
    b.load(b.big, BIG_COLUMNS, [big_row(i) for i in range(BIG_ROWS)])
    return b


@pytest.fixture(scope="session")
def _backends(tmp_path_factory):
    made: dict[str, Backend] = {}

    def get(kind: str) -> Backend:
        if kind not in made:
            made[kind] = make_backend(kind, tmp_path_factory.mktemp(kind))
        return made[kind]

    yield get
    for b in made.values():
        b.drop()


@pytest.fixture(params=BACKENDS)
def backend(request, _backends, monkeypatch) -> Backend:
    b = _backends(request.param)
    if b.password:
        monkeypatch.setenv(PASSWORD_VAR, b.password)
    return b


@pytest.fixture(params=list(SERVERS))
def server(request, _backends, monkeypatch) -> Backend:
    b = _backends(request.param)
    monkeypatch.setenv(PASSWORD_VAR, b.password)
    return b


# --- network trouble -------------------------------------------------------------------------------------
class FlakyProxy:
    """A TCP port on 127.0.0.1 that hangs up on the first `drop` connections, then forwards to `target`
    (or keeps hanging up when there is no target; with `silent`, accepts and never answers, like a
    firewalled or frozen server). Counts the connection attempts it saw."""

    def __init__(self, drop: int, target: tuple[str, int] | None = None, silent: bool = False):
        self.drop, self.target, self.silent, self.attempts = drop, target, silent, 0
        self.held: list[socket.socket] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.attempts += 1
            if self.silent:
                self.held.append(client)
                continue
            if self.target is None or self.attempts <= self.drop:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def url_for(self, url: str) -> str:
        return sa.make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def close(self):
        self.sock.close()
        for s in self.held:
            s.close()


def free_port() -> int:
    """A local port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
