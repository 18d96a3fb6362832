"""The Excel round trip: open conflicts and reviews out to a workbook, stewards' decisions back in.

`export_workbook(config, path, user)` writes sheets 差异 (open conflicts) and 候选对 (open match reviews), plus 说明
(how to fill it in). Headers are Chinese (warehouse.export.label); every value is a text cell on a text-formatted
column, so Excel never turns an ID number into 6.40202E+17; 决定 has a drop-down list (采用公安值 / 采用网格值 / 更正为 /
转网格员核实; for pairs 同一人 / 不同人 / 同一房屋 / 不同房屋 / 不确定), 更正值 and 理由 are free text. Hidden columns carry
the id and what the row showed at export time (values, latest decision id, match probability); the file is
owner-only (personal data) and appears whole or not at all (written beside it, then renamed; removed on error).

`import_workbook(config, path, user, dry_run=False)` reads it back (openpyxl) and checks every row with a 决定:
unknown ids, invalid decisions, values or reasons (the same checks as the console: steward/decide.py), stale rows
(the conflict's values or the pair changed since export, or someone decided it since) and rows outside the user's
scope are reported with their Excel row number and not applied; the rest are appended in one transaction (all or
none; nothing with `dry_run`).
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Callable

from schemas.codes import code_table
from schemas.standardise import _CODE_TABLE
from steward import queues
from steward.decide import (conflict_decision, conflict_scope, conflict_value, pair_decision, pair_scope, record,
                            require_steward)
from steward.decisions_model import (ACTION_LABELS, CONFLICT_ACTIONS, DIFFERENT, HOUSE_PAIR_LABELS, PAIR_LABELS,
                                     PAIR_VALUES, SAME, UNSURE)
from steward.detail import weights_of
from steward.users import in_scope
from warehouse.export import MAX_WIDTH, TEXT, Column, column_widths, display_width, label

CONFLICT_SHEET, PAIR_SHEET, HELP_SHEET = "差异", "候选对", "说明"
DECISION, CORRECTED, REASON = "决定", "更正值", "理由"
# visible columns of 差异: (key in the queue row, header)
CONFLICT_COLUMNS = [("entity_label", "实体"), ("entity_id", "人员/房屋编号"), ("label", "姓名/地址"),
                    ("grid_code", label("person", "grid_code")), ("community", label("house", "community")),
                    ("field_label", label("person_conflict", "field")),
                    ("police_value", label("person_conflict", "police_value")),
                    ("grid_value", label("person_conflict", "grid_value")),
                    ("police_raw", label("person_conflict", "police_raw")),
                    ("grid_raw", label("person_conflict", "grid_raw")), ("state_label", "处理状态"),
                    ("age_days", "已等待天数")]
# hidden columns: (key in the queue row, header); the import reads them back by key
CONFLICT_HIDDEN = [("conflict_id", label("person_conflict", "conflict_id")), ("field", "字段代码"),
                   ("police_value", "导出时公安值"), ("grid_value", "导出时网格值"), ("decision_id", "导出时决定编号")]
PAIR_HIDDEN = [("pair_id", label("match_review", "pair_id")), ("target", "决定对象"),
               ("match_probability", "导出时匹配概率"), ("decision_id", "导出时决定编号")]
# each side of a pair: these fields of its record, as 标签：值 (labels: warehouse/export_labels.csv)
SIDE_FIELDS = {"person": ("name", "id_number", "birth_date", "sex", "phone", "current_address"),
               "house": ("address", "owner_name", "owner_id_number", "owner_phone", "area", "usage")}
SIDE_SLOTS = max(len(f) for f in SIDE_FIELDS.values())
ACTION_BY_LABEL = {v: k for k, v in ACTION_LABELS.items()}
PAIR_OPTIONS = [PAIR_LABELS[SAME], PAIR_LABELS[DIFFERENT], HOUSE_PAIR_LABELS[SAME], HOUSE_PAIR_LABELS[DIFFERENT],
                PAIR_LABELS[UNSURE]]
PAIR_BY_LABEL = {v: k for k, v in PAIR_LABELS.items()} | {v: k for k, v in HOUSE_PAIR_LABELS.items()}
SOURCE_LABELS = {"police": "公安", "grid": "网格"}
# as warehouse/export.py writes its headers
HEAD_FORMAT = {"bold": True, "bg_color": "#DDEBF7", "border": 1, "num_format": "@"}
PICK_WIDTHS = {DECISION: None, CORRECTED: 22, REASON: 30}     # 决定: as wide as its longest option


# --- export ----------------------------------------------------------------------------------------
def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _shown(entity: str, f: str, value) -> str:
    """`标签：值` for one field of a side; a code as its standard name (性别：男性)."""
    if value is not None and f in _CODE_TABLE:
        value = code_table(_CODE_TABLE[f]).get(str(value), value)
    return f"{label(entity, f) or f}：{_text(value)}"


def _pair_rows(config, items: list[dict]) -> list[dict]:
    """Each review row with both records (from the standardised records, one read per source and entity)."""
    from steward.detail import source_rows
    keys: dict[tuple[str, str], list[str]] = {}
    for r in items:
        for s in ("left", "right"):
            keys.setdefault((r[f"{s}_source"], r["entity"]), []).append(r[f"{s}_key"])
    recs = {(src, ent, x["source_key"]): x for (src, ent), ks in keys.items()
            for x in source_rows(config, src, ent, keys=ks)}
    out = []
    for r in items:
        r = dict(r)
        for s in ("left", "right"):
            r[f"{s}_record"] = recs.get((r[f"{s}_source"], r["entity"], r[f"{s}_key"])) or {}
        r["weights_text"] = "；".join(f"{w['label']} {w['weight']:+.2f}" for w in weights_of(r.get("weights")))
        out.append(r)
    return out


def _pair_headers() -> list[str]:
    heads = [label("match_review", f) for f in ("entity", "match_probability", "weights")]
    for side in ("甲方", "乙方"):
        heads += [f"{side}来源系统", f"{side}记录编号"] + [f"{side}字段{i + 1}" for i in range(SIDE_SLOTS)]
    return heads + [label("person", "grid_code"), label("house", "community"), "处理状态"]


def _pair_values(r: dict) -> list:
    vals = [r["entity_label"], r["match_probability"], r["weights_text"]]
    for s in ("left", "right"):
        rec, fields = r[f"{s}_record"], SIDE_FIELDS[r["entity"]]
        vals += [SOURCE_LABELS.get(r[f"{s}_source"], r[f"{s}_source"]), r[f"{s}_key"]]
        vals += [_shown(r["entity"], f, rec.get(f)) for f in fields] + [""] * (SIDE_SLOTS - len(fields))
    return vals + [r.get("grid_code"), r.get("community"), r["state_label"]]


def _sheet(wb, formats, name: str, headers: list[str], picks: list[str], hidden: list[str], rows, options,
           numeric: set[int]) -> None:
    """One sheet: visible columns, the columns to fill in (`picks`: 决定 with the drop-down of `options` first),
    then the hidden ones. `rows`: (visible values, hidden values); `numeric`: visible columns written as numbers."""
    text, head, pick, number = formats
    ws = wb.add_worksheet(name)
    cols = headers + picks + hidden
    for c, h in enumerate(cols):
        ws.write_string(0, c, h, head)
    sample = []
    for i, (vals, hid) in enumerate(rows, start=1):
        for c, v in enumerate(vals):
            if c in numeric and isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(i, c, v, number if isinstance(v, float) else None)
            else:
                ws.write_string(i, c, _text(v), text)
        for c in range(len(headers), len(headers) + len(picks)):
            ws.write_blank(i, c, None, pick)
        for c, v in enumerate(hid, start=len(headers) + len(picks)):
            ws.write_string(i, c, _text(v), text)
        if i <= 1000:
            sample.append(tuple(_text(v) for v in vals))
    widths = column_widths([Column(h, "VARCHAR", h, TEXT) for h in headers], sample)
    widths += [PICK_WIDTHS[p] or min(max(map(display_width, options)) + 4, MAX_WIDTH) for p in picks]
    for c, w in enumerate(widths):
        ws.set_column(c, c, w, text)
    for c in range(len(headers) + len(picks), len(cols)):
        ws.set_column(c, c, 18, text, {"hidden": True})
    last = max(len(rows), 1)
    ws.data_validation(1, len(headers), last, len(headers), {
        "validate": "list", "source": options, "ignore_blank": True,
        "input_title": DECISION, "input_message": "从下拉列表中选择",
        "error_title": "无效的决定", "error_message": "请从下拉列表中选择：" + " / ".join(options)})
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, last, len(cols) - 1)


def _write(tmp: Path, conflicts, pairs: list[dict]) -> tuple[int, int]:
    import xlsxwriter
    wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False,
                                        "strings_to_urls": False})
    formats = (wb.add_format({"num_format": "@"}), wb.add_format(HEAD_FORMAT),
               wb.add_format({"num_format": "@", "bg_color": "#FFF2CC"}), wb.add_format({"num_format": "0.0000"}))
    c_rows = [([r.get(k) for k, _ in CONFLICT_COLUMNS], [r.get(k) for k, _ in CONFLICT_HIDDEN])
              for r in conflicts.items]
    _sheet(wb, formats, CONFLICT_SHEET, [h for _, h in CONFLICT_COLUMNS], [DECISION, CORRECTED, REASON],
           [h for _, h in CONFLICT_HIDDEN], c_rows, list(ACTION_LABELS.values()), numeric={len(CONFLICT_COLUMNS) - 1})
    p_rows = [(_pair_values(r), [r.get(k) for k, _ in PAIR_HIDDEN]) for r in pairs]
    _sheet(wb, formats, PAIR_SHEET, _pair_headers(), [DECISION, REASON], [h for _, h in PAIR_HIDDEN], p_rows,
           PAIR_OPTIONS, numeric={1})
    info = conflicts.warehouse
    ws = wb.add_worksheet(HELP_SHEET)
    lines = ["填写说明",
             f"导出时间：{dt.datetime.now().isoformat(timespec='seconds')}；数据批次：{info.get('run_id')}（发布于 {info.get('published_at')}）",
             "在“决定”列的下拉列表中选择；选“更正为”时在“更正值”列填写正确的值（身份证号、日期、电话会按入库规则校验）。",
             "“理由”可不填。不要修改隐藏列，也不要改动编号；空着“决定”的行不会导入。",
             "导入：gridbridge conflicts import 本文件.xlsx --by 姓名 [--dry-run]。导出后数据已变化或已被他人处理的行不会导入，会逐行列出。"]
    for i, line in enumerate(lines):
        ws.write_string(i, 0, line)
    ws.set_column(0, 0, 120)
    wb.close()
    return len(c_rows), len(p_rows)


def export_workbook(config, path, user=None) -> dict:
    """Write the workbook (see module doc) for what `user` may see (None: everything); returns row counts."""
    scope = list(getattr(user, "scopes", ()) or ()) if user is not None else []
    conflicts = queues.select_conflicts(config, scope=scope)
    pairs = _pair_rows(config, queues.select_reviews(config, scope=scope).items)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))   # personal data: owner only
        n_conflicts, n_pairs = _write(tmp, conflicts, pairs)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"path": path, "conflicts": n_conflicts, "reviews": n_pairs}


# --- import ----------------------------------------------------------------------------------------
@dataclass
class ImportReport:
    applied: list[dict] = dc_field(default_factory=list)       # sheet, row, id, kind, decision_id (None on dry run)
    problems: list[dict] = dc_field(default_factory=list)     # sheet, row, id, problem, message
    empty_rows: int = 0
    dry_run: bool = False

    def summary(self) -> dict[str, int]:
        out = {"applied": len(self.applied)}
        for p in self.problems:
            out[p["problem"]] = out.get(p["problem"], 0) + 1
        out["empty"] = self.empty_rows
        return out


PROBLEM_LABELS = {"applied": "已导入", "unknown": "编号不存在", "invalid": "决定、更正值或理由无效",
                  "stale": "导出后已变化", "scope": "不在管辖范围", "duplicate": "同一编号重复", "empty": "未填写决定（跳过）"}


class _Refused(Exception):
    """A row that is not applied: `problem` (a PROBLEM_LABELS key) and a message for the steward."""

    def __init__(self, problem: str, message: str):
        super().__init__(message)
        self.problem = problem


def _cell(v):
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    return s or None


def _rows(wb, name: str):
    """(excel row number, {header: value}) of a sheet, or nothing if the sheet is missing."""
    if name not in wb.sheetnames:
        return
    it = wb[name].iter_rows(values_only=True)
    headers = [str(h).strip() if h is not None else "" for h in next(it, ())]
    for n, values in enumerate(it, start=2):
        yield n, {h: _cell(v) for h, v in zip(headers, values) if h}


def _same(a, b) -> bool:
    return (a or None) == (b or None)


def _decided_since(cur: dict, exported: dict) -> None:
    """Refuse a row someone decided after the export (the latest decision id changed)."""
    if not _same(_text(cur["decision_id"]), exported["decision_id"]):
        raise _Refused("stale", f"导出后已有人处理（决定 #{cur['decision_id']}）")


def _conflict(config, user, cur: dict, exported: dict, r: dict) -> dict:
    """The decision row for a filled-in 差异 row, or _Refused."""
    choice = r.get(DECISION)
    action = ACTION_BY_LABEL.get(choice) or (choice if choice in CONFLICT_ACTIONS else None)
    if action is None:
        raise _Refused("invalid", f"“{choice}”不是可选的决定")
    if not (_same(cur["police_value"], exported["police_value"]) and _same(cur["grid_value"], exported["grid_value"])):
        raise _Refused("stale", "导出后两系统的值已变化，请重新导出后再决定")
    _decided_since(cur, exported)
    if not in_scope(list(getattr(user, "scopes", ()) or ()), *conflict_scope(cur)):
        raise _Refused("scope", "该记录不在您负责的网格/社区范围内")
    try:
        kind, value = conflict_value(config, cur, action, r.get(CORRECTED))
        return conflict_decision(user, cur, kind, value, r.get(REASON))
    except ValueError as e:                      # InvalidValue too
        raise _Refused("invalid", str(e)) from None


def _pair(config, user, cur: dict, exported: dict, r: dict) -> dict:
    """The decision row for a filled-in 候选对 row, or _Refused."""
    choice = r.get(DECISION)
    value = PAIR_BY_LABEL.get(choice) or (choice if choice in PAIR_VALUES else None)
    if value is None:
        raise _Refused("invalid", f"“{choice}”不是可选的判定")
    try:
        changed = abs(float(exported["match_probability"] or "nan") - float(cur["match_probability"])) > 1e-9
    except (TypeError, ValueError):
        changed = True
    if changed or cur["status"] not in ("open", "escalated") or cur["target"] != exported["target"]:
        raise _Refused("stale", "导出后这对记录的匹配情况已变化，请重新导出")
    _decided_since(cur, exported)
    if not in_scope(list(getattr(user, "scopes", ()) or ()), *pair_scope(cur)):
        raise _Refused("scope", "该记录不在您负责的网格/社区范围内")
    try:
        return pair_decision(user, cur, value, r.get(REASON))
    except ValueError as e:
        raise _Refused("invalid", str(e)) from None


@dataclass(frozen=True)
class _SheetRules:
    name: str
    hidden: list[tuple[str, str]]                      # (queue row key, header); the first is the id
    lookup: Callable                                   # queues.lookup_conflicts / lookup_reviews
    decide: Callable                                   # _conflict / _pair
    unknown: str
    duplicate: str


SHEETS = (_SheetRules(CONFLICT_SHEET, CONFLICT_HIDDEN, queues.lookup_conflicts, _conflict,
                      "没有这个差异编号（可能已在同步中消失）", "同一差异在文件中出现了多次，只导入第一行"),
          _SheetRules(PAIR_SHEET, PAIR_HIDDEN, queues.lookup_reviews, _pair,
                      "没有这个候选对编号（可能已在同步中处理）", "同一候选对在文件中出现了多次，只导入第一行"))


def _import_sheet(config, user, rules: _SheetRules, rows, report: ImportReport) -> list[tuple[dict, dict]]:
    """Check the filled-in rows of one sheet: (report entry, decision row) of each to apply; problems and empty rows
    go into `report`."""
    id_key = rules.hidden[0][0]
    filled = [(n, r, {k: r.get(h) for k, h in rules.hidden}) for n, r in rows]
    current = rules.lookup(config, [e[id_key] for _, r, e in filled if r.get(DECISION) and e[id_key]])
    seen: set[str] = set()
    out = []
    for n, r, exported in filled:
        ident = exported[id_key]
        if not r.get(DECISION):
            report.empty_rows += 1
            continue
        try:
            cur = current.get(ident) if ident else None
            if cur is None:
                raise _Refused("unknown", rules.unknown)
            if ident in seen:
                raise _Refused("duplicate", rules.duplicate)
            seen.add(ident)
            row = rules.decide(config, user, cur, exported, r)
        except _Refused as e:
            report.problems.append({"sheet": rules.name, "row": n, "id": ident, "problem": e.problem,
                                    "message": str(e)})
            continue
        out.append(({"sheet": rules.name, "row": n, "id": ident, "kind": row["kind"], "decision_id": None}, row))
    return out


def import_workbook(config, path, user, dry_run: bool = False) -> ImportReport:
    """Validate and apply a filled-in workbook (module doc). `user`: who decides (steward role; scopes apply)."""
    from openpyxl import load_workbook
    require_steward(user)
    report = ImportReport(dry_run=dry_run)
    wb = load_workbook(str(path), read_only=True, data_only=True)
    try:
        sheets = [(rules, list(_rows(wb, rules.name))) for rules in SHEETS]
    finally:
        wb.close()
    todo = [item for rules, rows in sheets for item in _import_sheet(config, user, rules, rows, report)]
    decided = [] if dry_run else record(config, [row for _, row in todo])
    for (entry, _), d in zip(todo, decided):
        entry["decision_id"] = d.decision_id
    report.applied = [entry for entry, _ in todo]
    return report


__all__ = ["ImportReport", "PROBLEM_LABELS", "export_workbook", "import_workbook"]
