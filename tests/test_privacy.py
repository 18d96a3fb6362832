"""No full ID number or phone number in what a sync prints, logs or reports, and the state on disk is owner-only.

Known values are planted in the demo sources; one sync passes (a step also logs the planted values, as a careless
log line would), two fail with a driver error that quotes a planted value (in process, and as a subprocess with
GRIDBRIDGE_LOG_LEVEL=DEBUG). None of the full values may appear in stdout, stderr, log records, the run log (every
column, gate results included), the HTML reports or Dagster's own storage; the masked forms must (so the text that
quoted them really was there)."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines import cli
from schemas.normalise import mask_id, mask_phone
from tests.demos import REPO, demo_sources

ID_X = "64020219850317108X"                         # 18 characters, check character X
ID_18 = "640204197709214565"
ID_15 = "640321911203258"                           # legacy: YYMMDD 911203
MOBILE, MOBILE_WRITTEN = "13995271234", "+86 139 9527 1234"
MOBILE_2 = "18609521357"
LANDLINE, LANDLINE_WRITTEN = "09523871234", "0952-3871234"
PLANTED = {ID_X: ID_X, ID_18: ID_18, ID_15: ID_15, MOBILE: MOBILE_WRITTEN, MOBILE_2: MOBILE_2,
           LANDLINE: LANDLINE_WRITTEN}


def _mask(full: str) -> str:
    f = mask_id if len(full) >= 15 else mask_phone
    return f(pd.Series([full], dtype=object)).iloc[0]


def leaks(text: str, values=None) -> list[str]:
    """The planted (or given) full values found in `text`, as written, as digits, or with separators dropped."""
    squeezed = re.sub(r"[ \-]", "", text)
    found = []
    for full, written in (values or PLANTED).items():
        if written in text or full in text or full in squeezed:
            found.append(full)
    return found


def _plant(paths) -> None:
    """Planted values in both systems' person tables, and a garbled police row (an ID in the name, a phone in the
    address) that is quarantined."""
    with sqlite3.connect(paths.police_db) as con:
        keys = [k for (k,) in con.execute('SELECT "人员编号" FROM "实有人口" ORDER BY 1 LIMIT 2')]
        con.execute('UPDATE "实有人口" SET "公民身份号码" = ?, "联系电话" = ? WHERE "人员编号" = ?',
                    (ID_X, MOBILE_WRITTEN, keys[0]))
        con.execute('UPDATE "实有人口" SET "姓名" = ?, "现住地址" = ?, "公民身份号码" = ? WHERE "人员编号" = ?',
                    (f"王{ID_18}", f"金桂社区 电话{MOBILE_2}", ID_18[:17], keys[1]))
    with sqlite3.connect(paths.grid_db) as con:
        key = con.execute('SELECT "人口编号" FROM "人口信息" ORDER BY 1 LIMIT 1').fetchone()[0]
        con.execute('UPDATE "人口信息" SET "身份证号" = ?, "联系方式" = ? WHERE "人口编号" = ?',
                    (ID_15, LANDLINE_WRITTEN, key))


def _source_values(paths) -> dict[str, str]:
    """Every ID number and phone of the demo sources (none may show up either)."""
    cols = {paths.police_db: ('"实有人口"', ('"公民身份号码"', '"联系电话"')),
            paths.grid_db: ('"人口信息"', ('"身份证号"', '"联系方式"'))}
    out = {}
    for db, (table, columns) in cols.items():
        with sqlite3.connect(db) as con:
            for col in columns:
                for (v,) in con.execute(f"SELECT {col} FROM {table}"):
                    d = re.sub(r"\D", "", v or "")
                    if len(d) >= 11:
                        out[d] = v
    return out


def _failing_config(root: Path, name: str, token: str) -> Path:
    """The demo config with queries the driver rejects, quoting `token` in its error (every entity: the run stops
    at extract, without the ~5 s Great Expectations import of a gate)."""
    cfg = yaml.safe_load((root / "gridbridge.yaml").read_text(encoding="utf-8"))
    for source in cfg["sources"].values():
        for entity in source["entities"].values():
            entity["query"] = f'SELECT * FROM "{entity.pop("table")}" WHERE 1 <> {token}'
    path = root / name
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _run_log(root: Path) -> str:
    with sqlite3.connect(root / "warehouse" / "state.sqlite") as con:
        return "\n".join(" | ".join("" if v is None else str(v) for v in row)
                         for row in con.execute("SELECT * FROM run_log"))


def _storage(home: Path) -> str:
    """Every file under a Dagster home (run/event-log SQLite, compute logs) as text."""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in home.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    paths = demo_sources(root, persons=60, seed=11)
    _plant(paths)
    return root, paths


@pytest.fixture(scope="module")
def passed(demo):
    """One passing sync through `cli.main` with the Dagster console at DEBUG, its output and log records captured;
    standardise also logs the planted values through the run's logger."""
    root, paths = demo
    import pipelines.ingest as ingest

    real = ingest.standardise_file

    def careless(raw, source, entity, ent, out_dir, log=None, **kw):
        if log is not None:
            log(f"{source}.{entity}: first row {ID_X} {MOBILE_WRITTEN} {LANDLINE_WRITTEN} {ID_15}")
        return real(raw, source, entity, ent, out_dir, log=log, **kw)

    out, err, records = io.StringIO(), io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(records)
    umask = os.umask(0o022)
    os.umask(umask)
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        mp.delenv("DAGSTER_HOME", raising=False)
        mp.setattr(cli, "LOG_LEVEL", "DEBUG")
        mp.setattr(ingest, "standardise_file", careless)
        logging.getLogger().addHandler(handler)
        try:
            code = cli.main(["sync", "--config", str(root / "gridbridge.yaml")])
        finally:
            logging.getLogger().removeHandler(handler)
    assert code == 0, out.getvalue() + err.getvalue()
    assert os.umask(umask) == umask            # the run's owner-only umask was given back
    return root, paths, out.getvalue(), err.getvalue(), records.getvalue()


def test_a_passing_sync_prints_logs_and_reports_no_full_id_or_phone(passed):
    root, paths, out, err, records = passed
    assert "success" in out
    assert _mask(ID_X) in err and _mask(MOBILE) in err and _mask(LANDLINE) in err   # the careless line, masked
    reports = list((root / "warehouse" / "reports").glob("*.html"))
    assert len(reports) == 1
    texts = {"stdout": out, "stderr": err, "log records": records, "run_log": _run_log(root),
             "report": reports[0].read_text(encoding="utf-8")}
    everything = _source_values(paths) | PLANTED
    assert len(everything) > 100
    for where, text in texts.items():
        assert not leaks(text, everything), (where, leaks(text, everything))
    with sqlite3.connect(root / "warehouse" / "state.sqlite") as con:
        gates = con.execute("SELECT gates FROM run_log WHERE status = 'success'").fetchone()[0]
    assert '"check"' in gates and not leaks(gates, everything)


def test_state_on_disk_is_owner_only(passed):
    root = passed[0]
    wh = root / "warehouse"
    dirs = [wh / "landing", *(d for d in (wh / "landing").iterdir() if d.is_dir()), wh / "work", wh / "reports"]
    files = [p for d in dirs for p in d.iterdir() if p.is_file()]
    files += [p for p in wh.iterdir() if p.name.startswith("state.sqlite")] + [wh / "gridbridge.duckdb"]
    assert len(dirs) >= 4 and len(files) >= 20
    modes = {str(p.relative_to(wh)): oct(stat.S_IMODE(p.stat().st_mode)) for p in dirs + files}
    assert {k: m for k, m in modes.items() if m != oct(0o700 if Path(wh / k).is_dir() else 0o600)} == {}


def test_a_failing_sync_quotes_no_full_id(demo, capfd, caplog, monkeypatch, tmp_path):
    """In process: the driver's error quotes a planted ID; console, stderr, logs, run log and Dagster's storage
    carry only its mask."""
    root, _ = demo
    config = _failing_config(root, "fail_id.yaml", ID_X)
    monkeypatch.setattr(cli, "LOG_LEVEL", "DEBUG")
    with caplog.at_level(logging.INFO):
        code = cli.main(["sync", "--config", str(config)])
    out, err = capfd.readouterr()
    assert code == cli.EXIT_RUN_FAILED
    assert f'unrecognized token: "{_mask(ID_X)}"' in out          # the one-line reason, masked
    assert _mask(ID_X) in err                                      # the DEBUG console log of the failed step
    run_log = _run_log(root)
    assert _mask(ID_X) in run_log
    home = Path(os.environ["DAGSTER_HOME"])
    for where, text in {"stdout": out, "stderr": err, "log records": caplog.text, "run_log": run_log,
                        "dagster storage": _storage(home)}.items():
        assert not leaks(text), (where, leaks(text))


def test_a_failing_sync_in_a_subprocess_at_debug_quotes_no_full_phone(demo):
    root, _ = demo
    config = _failing_config(root, "fail_phone.yaml", MOBILE + "abc")
    env = os.environ | {"GRIDBRIDGE_LOG_LEVEL": "DEBUG"}
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "sync", "--config", str(config)],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert run.returncode == cli.EXIT_RUN_FAILED, run.stderr[-2000:]
    assert f'unrecognized token: "{_mask(MOBILE)}abc"' in run.stdout
    assert "STEP_FAILURE" in run.stderr and _mask(MOBILE) in run.stderr
    home = Path(os.environ["DAGSTER_HOME"])
    for where, text in {"stdout": run.stdout, "stderr": run.stderr, "run_log": _run_log(root),
                        "dagster storage": _storage(home)}.items():
        assert not leaks(text), (where, leaks(text))


def test_the_report_masks_its_free_text():
    """The report shows counts, and its free text (the run's message, gate descriptions and results) masked."""
    from warehouse.report import gates_html, header_html

    page = header_html({"run_id": "r", "status": "failed", "message": f"bad value {ID_X} / {MOBILE_WRITTEN}"}) \
        + gates_html([{"check": "c", "asset": "a", "passed": False, "severity": "WARN",
                       "description": f"observed {LANDLINE_WRITTEN}", "results": f"- FAIL {ID_15}"}])
    assert not leaks(page)
    assert all(_mask(v) in page for v in (ID_X, MOBILE, LANDLINE, ID_15))
