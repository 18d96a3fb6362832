"""End to end: the demo police database served by PostgreSQL and MariaDB syncs exactly like the SQLite file."""
from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from pipelines.cli import execute_sync
from pipelines.demo import generate
from tests.connectors.sqlservers import PASSWORD_VAR, REPO, SERVERS, server_url
from warehouse.state import State

pytestmark = pytest.mark.slow
PERSONS = 300
POLICE_TABLES = {"person": "实有人口", "house": "实有房屋"}


def _sync(root: Path, name: str, sources: dict) -> dict:
    """Run the sync job on the demo config with the police source replaced; the run_log counts."""
    cfg = yaml.safe_load((REPO / "gridbridge.yaml").read_text(encoding="utf-8"))
    for key, police in sources.items():
        if key == "url":
            cfg["sources"]["police"]["url"] = police
        else:
            cfg["sources"]["police"]["entities"][key]["table"] = police
    cfg["sources"]["grid"]["url"] = f"sqlite:///{root / 'demo' / 'grid.sqlite'}"
    where = root / name
    where.mkdir()
    (where / "gridbridge.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    config, run_id, result = execute_sync(str(where / "gridbridge.yaml"), instance=dg.DagsterInstance.ephemeral())
    run = State(config.state_dir).runs().set_index("run_id").loc[run_id]
    assert result.success and run["status"] == "success", (name, run["message"])
    return json.loads(run["counts"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("sqlsync")
    generate(root / "demo", persons=PERSONS, seed=11)
    baseline = _sync(root, "sqlite", {"url": f"sqlite:///{root / 'demo' / 'police.sqlite'}"})
    return root, baseline


@pytest.fixture(params=list(SERVERS))
def police_on_server(request, demo, monkeypatch):
    """The demo police tables copied (as TEXT columns) to a server under fresh names."""
    root, _ = demo
    url = server_url(request.param)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    suffix = secrets.token_hex(3)
    tables = {entity: f"{table}_{suffix}" for entity, table in POLICE_TABLES.items()}
    with sqlite3.connect(root / "demo" / "police.sqlite") as con:
        for entity, table in POLICE_TABLES.items():
            frame = pd.read_sql_query(f'SELECT * FROM "{table}"', con)
            frame.to_sql(tables[entity], engine, index=False, chunksize=500,
                         dtype={c: sa.Text() for c in frame.columns})
    password = sa.make_url(url).password
    monkeypatch.setenv(PASSWORD_VAR, password)
    yield request.param, url.replace(f":{password}@", f":${{{PASSWORD_VAR}}}@"), tables
    with engine.begin() as conn:
        for table in tables.values():
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {engine.dialect.identifier_preparer.quote(table)}"))
    engine.dispose()


def test_police_source_on_a_server_syncs_like_sqlite(demo, police_on_server):
    root, baseline = demo
    kind, url, tables = police_on_server
    assert "${" in url  # the config carries no password, only the variable
    counts = _sync(root, kind, {"url": url, **tables})
    for name in ("police.person", "police.house", "grid.person", "grid.house"):
        assert counts["sources"][name] == baseline["sources"][name], name
    assert baseline["sources"]["police.person"]["extracted"] > PERSONS * 0.9
    assert counts["persons"] == baseline["persons"]
    assert counts["conflicts"] == baseline["conflicts"]
