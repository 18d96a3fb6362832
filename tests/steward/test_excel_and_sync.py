"""Decisions reach the warehouse at the next sync (undo and field visits honoured), and the Excel round trip:
export → fill in with openpyxl → import, with stale rows, unknown ids and invalid values reported, not applied.
Also `gridbridge conflicts list|resolve|export|import` (pipelines/conflicts_cmd.py)."""
from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import sqlite3
import stat
from types import SimpleNamespace

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines import conflicts_cmd
from schemas.normalise import parse_timestamp
from steward import decide, queues, workbook
from steward.store import decisions
from tests.steward.data_demo import fresh_copy, sync, table

ANN = SimpleNamespace(username="ann", role="steward", scopes=())
NEW_GRID_PHONE, NEW_POLICE_PHONE = "13912345678", "13987654321"


def _person(config, field: str, skip=()) -> dict:
    return next(r for r in queues.open_conflicts(config, field=field).items
                if r["entity"] == "person" and r["conflict_id"] not in skip)


def _touch(db, table: str, key_col: str, key: str, column: str, value: str, stamp_col: str) -> None:
    """A source system changes one column of one row (and stamps it newer than any other row)."""
    con = sqlite3.connect(db, isolation_level=None)
    try:
        stamps = parse_timestamp(pd.read_sql_query(f'SELECT "{stamp_col}" FROM "{table}"', con)[stamp_col]).dropna()
        newer = (dt.datetime.fromisoformat(str(stamps.max())) + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
        con.execute(f'UPDATE "{table}" SET "{column}" = ?, "{stamp_col}" = ? WHERE "{key_col}" = ?', (value, newer, key))
    finally:
        con.close()


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """Decisions of every kind, a workbook exported, one grid phone and one police phone changed at the source,
    then a second sync."""
    root = tmp_path_factory.mktemp("excel_sync")
    config = fresh_copy(root)
    a = _person(config, "phone")
    d = _person(config, "phone", skip={a["conflict_id"]})
    f = _person(config, "phone", skip={a["conflict_id"], d["conflict_id"]})
    b, c, e = _person(config, "name"), _person(config, "birth_date"), _person(config, "id_number")
    dec = {"a": decide.decide_conflict(config, ANN, a["conflict_id"], "take_grid"),
           "b": decide.decide_conflict(config, ANN, b["conflict_id"], "take_police"),
           "c": decide.decide_conflict(config, ANN, c["conflict_id"], "take_police"),
           "e": decide.decide_conflict(config, ANN, e["conflict_id"], "value", "11010519491231002X")}
    decide.undo(config, ANN, dec["b"].decision_id, reason="点错了")
    decide.decide_conflict(config, ANN, c["conflict_id"], "field_visit")        # withdraws c's value
    book = root / "before_sync.xlsx"
    workbook.export_workbook(config, book)
    first = queues.open_conflicts(config, state="all").items
    _touch(root / "demo" / "grid.sqlite", "人口信息", "人口编号", d["grid_key"], "联系方式", NEW_GRID_PHONE, "采集时间")
    _touch(root / "demo" / "police.sqlite", "实有人口", "人员编号", f["police_key"], "联系电话", NEW_POLICE_PHONE, "更新时间")
    sync(root / "gridbridge.yaml")
    return SimpleNamespace(config=config, root=root, rows={"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}, dec=dec,
                           book=book, first={r["conflict_id"]: r for r in first})


def _conflict(config, conflict_id: str) -> dict:
    got = table(config, "SELECT * FROM person_conflict WHERE conflict_id = ?", [conflict_id])
    assert len(got) == 1, conflict_id
    return got.iloc[0].to_dict()


def test_the_next_sync_applies_decisions_and_honours_undo_and_field_visits(synced):
    config, rows, dec = synced.config, synced.rows, synced.dec
    a = _conflict(config, rows["a"]["conflict_id"])
    assert (a["status"], a["chosen_value"], a["decision_id"], a["resolved_by"]) == \
        ("resolved", rows["a"]["grid_value"], dec["a"].decision_id, "ann")
    person = table(config, "SELECT phone, phone_source FROM person WHERE person_id = ?", [rows["a"]["entity_id"]]).iloc[0]
    assert (person["phone"], person["phone_source"]) == (rows["a"]["grid_value"], "steward")
    e = _conflict(config, rows["e"]["conflict_id"])
    assert (e["status"], e["chosen_value"]) == ("resolved", "11010519491231002X")
    for key in ("b", "c"):                       # undone / withdrawn by a field visit: open, no decision on it
        got = _conflict(config, rows[key]["conflict_id"])
        assert got["status"] == "open" and pd.isna(got["decision_id"]), (key, got)
    states = {r["conflict_id"]: r["state"] for r in queues.open_conflicts(config, state="all").items}
    assert states[rows["b"]["conflict_id"]] == "open" and states[rows["c"]["conflict_id"]] == "field_visit"
    assert rows["a"]["conflict_id"] not in states
    copy = table(config, "SELECT decision_id, kind FROM steward_decision ORDER BY decision_id")
    assert list(copy["kind"]) == ["conflict"] * 4 + ["undo", "field_visit"]


def test_age_starts_again_when_the_golden_value_changes(synced):
    """first_seen is the publish since which the conflict's golden field is unchanged: the police phone of `f`
    changed (the golden value of an open conflict is the police one), so its age starts at the second publish;
    conflicts nobody touched keep the first. A grid-only change (`d`) does not show in the golden history: it
    keeps its age (steward/queues.py)."""
    config, rows = synced.config, synced.rows
    runs = table(config, "SELECT run_seq, published_at FROM publish_history ORDER BY run_seq")["published_at"].tolist()
    assert len(runs) == 2 and runs[0] != runs[1]
    now = {r["conflict_id"]: r for r in queues.open_conflicts(config, state="all").items}
    f = now[rows["f"]["conflict_id"]]
    assert f["police_value"] == "+86" + NEW_POLICE_PHONE and f["first_seen"] == runs[1]
    untouched = [i for i, r in synced.first.items() if r["state"] == "open" and i in now
                 and i not in {rows[k]["conflict_id"] for k in rows}
                 and (now[i]["police_value"], now[i]["grid_value"]) == (r["police_value"], r["grid_value"])]
    assert len(untouched) >= 5
    assert {now[i]["first_seen"] for i in untouched} == {runs[0]}
    assert now[rows["d"]["conflict_id"]]["first_seen"] == runs[0]


def _fill(book, out, fills: dict[str, tuple[str, str | None]], edits=None):
    """Copy `book` to `out` with 决定/更正值 filled per conflict/pair id and hidden cells edited."""
    shutil.copyfile(book, out)
    wb = load_workbook(out)
    for ws in (wb[workbook.CONFLICT_SHEET], wb[workbook.PAIR_SHEET]):
        head = {c.value: c.column for c in ws[1]}
        ident = head[workbook.CONFLICT_HIDDEN[0][1]] if ws.title == workbook.CONFLICT_SHEET else head[workbook.PAIR_HIDDEN[0][1]]
        for row in ws.iter_rows(min_row=2):
            key = row[ident - 1].value
            if key in fills:
                choice, value = fills[key]
                row[head[workbook.DECISION] - 1].value = choice
                if value is not None:
                    row[head[workbook.CORRECTED] - 1].value = value
            for (k, header), new in (edits or {}).items():
                if k == key:
                    row[head[header] - 1].value = new
    wb.save(out)
    return out


def test_import_applies_good_rows_and_reports_the_rest(synced, tmp_path):
    config, rows = synced.config, synced.rows
    assert _conflict(config, rows["d"]["conflict_id"])["grid_value"] != rows["d"]["grid_value"], "source change lost"
    exported = {r["conflict_id"] for r in queues.open_conflicts(config).items}
    names = [r for r in queues.open_conflicts(config, field="name").items if r["conflict_id"] in exported
             and r["conflict_id"] != rows["b"]["conflict_id"]]
    good, taken_since, wordy = names[0], names[1], names[2]
    ids = [r for r in queues.open_conflicts(config, field="id_number").items if r["conflict_id"] != rows["e"]["conflict_id"]]
    pair, odd_pair = queues.match_reviews(config).items[:2]
    ghost = rows["b"]["conflict_id"]
    fills = {good["conflict_id"]: ("采用公安值", None), rows["d"]["conflict_id"]: ("采用网格值", None),
             ids[0]["conflict_id"]: ("更正为", "640202199001011234"), taken_since["conflict_id"]: ("采用网格值", None),
             ghost: ("采用网格值", None), pair["pair_id"]: ("同一人", None), odd_pair["pair_id"]: ("也许", None),
             wordy["conflict_id"]: ("采用网格值", None)}
    edits = {(ghost, workbook.CONFLICT_HIDDEN[0][1]): "ffffffffffffffff",
             (wordy["conflict_id"], workbook.REASON): "长" * (decide.MAX_REASON + 1)}
    filled = _fill(synced.book, tmp_path / "filled.xlsx", fills, edits)
    decide.decide_conflict(config, ANN, taken_since["conflict_id"], "take_police")      # someone else, after export
    before = len(decisions(config))

    dry = workbook.import_workbook(config, filled, ANN, dry_run=True)
    assert len(decisions(config)) == before, "a dry run appends nothing"
    report = workbook.import_workbook(config, filled, ANN)
    assert report.summary() == dry.summary()
    problems = {(p["id"], p["problem"]) for p in report.problems}
    assert problems == {(rows["d"]["conflict_id"], "stale"), (taken_since["conflict_id"], "stale"),
                        ("ffffffffffffffff", "unknown"), (ids[0]["conflict_id"], "invalid"),
                        (odd_pair["pair_id"], "invalid"), (wordy["conflict_id"], "invalid")}
    assert {a["id"] for a in report.applied} == {good["conflict_id"], pair["pair_id"]}
    new = decisions(config).iloc[before:]
    assert len(new) == 2 and sorted(a["decision_id"] for a in report.applied) == new["decision_id"].tolist()
    got = new.set_index("target")
    assert got.loc[good["conflict_id"], "value"] == good["police_value"]
    assert got.loc[good["conflict_id"], "grid_value"] == good["grid_value"]
    assert got.loc[pair["target"], "value"] == "same" and got.loc[pair["target"], "kind"] == "pair"
    invalid = next(p for p in report.problems if p["id"] == ids[0]["conflict_id"])
    assert "校验位" in invalid["message"] and invalid["row"] >= 2


def test_exported_workbook_has_chinese_headers_text_ids_a_drop_down_and_hidden_ids(synced, tmp_path):
    config = synced.config
    out = workbook.export_workbook(config, tmp_path / "open.xlsx")
    assert stat.S_IMODE(out["path"].stat().st_mode) == 0o600
    assert out["conflicts"] == queues.open_conflicts(config).total and out["reviews"] == queues.match_reviews(config).total
    wb = load_workbook(out["path"])
    ws = wb[workbook.CONFLICT_SHEET]
    head = [c.value for c in ws[1]]
    assert head[:8] == ["实体", "人员/房屋编号", "姓名/地址", "网格编码", "社区（村）", "字段", "公安值", "网格值"]
    assert {"决定", "更正值", "理由", "差异编号"} <= set(head)
    col = {h: i for i, h in enumerate(head)}
    id_rows = [r for r in ws.iter_rows(min_row=2) if r[col["字段代码"]].value == "id_number"]
    assert id_rows
    for r in id_rows:
        cell = r[col["公安值"]]
        assert cell.data_type == "s" and re.fullmatch(r"\d{17}[\dX]", cell.value) and cell.number_format == "@"
    lists = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert len(lists) == 1 and "采用公安值" in lists[0].formula1 and "转网格员核实" in lists[0].formula1
    assert str(lists[0].sqref).startswith(ws.cell(row=2, column=col["决定"] + 1).coordinate)
    hidden = {ws.cell(row=1, column=i).column_letter for i in range(1, len(head) + 1)
              if ws.column_dimensions[ws.cell(row=1, column=i).column_letter].hidden}
    first_hidden = ws.cell(row=1, column=col["差异编号"] + 1).column_letter
    assert first_hidden in hidden and ws.cell(row=1, column=col["决定"] + 1).column_letter not in hidden
    pairs = wb[workbook.PAIR_SHEET]
    assert any("同一人" in dv.formula1 and "同一房屋" in dv.formula1 for dv in pairs.data_validations.dataValidation)


def test_a_failed_export_leaves_no_partial_file(synced, tmp_path, monkeypatch):
    def broken(tmp, conflicts, pairs):
        tmp.write_bytes(b"half a workbook")
        raise OSError("disk full")
    monkeypatch.setattr(workbook, "_write", broken)
    with pytest.raises(OSError):
        workbook.export_workbook(synced.config, tmp_path / "out" / "open.xlsx")
    assert list((tmp_path / "out").iterdir()) == []


def _cli(*argv) -> int:
    p = argparse.ArgumentParser()
    conflicts_cmd.add_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(list(argv))
    return args.func(args)


def test_the_command_line_lists_masked_resolves_and_imports(synced, tmp_path, capsys):
    cfg = str(synced.root / "gridbridge.yaml")
    assert _cli("conflicts", "list", "--config", cfg, "--limit", "100") == 0
    out = capsys.readouterr().out
    assert "公民身份号码" in out and "********" in out
    assert not re.search(r"(?<!\d)\d{17}[\dX](?!\d)", out) and not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", out)
    target = next(r for r in queues.open_conflicts(synced.config, field="name").items)
    assert _cli("conflicts", "resolve", target["conflict_id"], "--take", "grid", "--by", "cli_user", "--config", cfg) == 0
    assert "applies at the next sync" in capsys.readouterr().out
    last = decisions(synced.config).iloc[-1]
    assert (last["target"], last["value"], last["decided_by"]) == (target["conflict_id"], target["grid_value"], "cli_user")
    id_row = next(r for r in queues.open_conflicts(synced.config, field="id_number").items)
    assert _cli("conflicts", "resolve", id_row["conflict_id"], "--value", "640202199001011234", "--by", "bob",
                "--config", cfg) == 2
    assert "校验位" in capsys.readouterr().err
    book = tmp_path / "cli.xlsx"
    assert _cli("conflicts", "export", "--out", str(book), "--config", cfg) == 0
    filled = _fill(book, tmp_path / "cli_filled.xlsx", {id_row["conflict_id"]: ("采用公安值", None)})
    n = len(decisions(synced.config))
    assert _cli("conflicts", "import", str(filled), "--by", "bob", "--dry-run", "--config", cfg) == 0
    out = capsys.readouterr().out
    assert "已导入" in out and "would append 1 decisions" in out and len(decisions(synced.config)) == n
