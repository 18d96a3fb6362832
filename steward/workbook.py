"""The Excel round trip: open conflicts and reviews out to a workbook, stewards' decisions back in.

`export_workbook(config, path, user)` writes sheets 差异 (open conflicts) and 候选对 (open match reviews), plus 说明
(how to fill it in). Headers are Chinese (warehouse.export.label); every value is a text cell on a text-formatted
column, so Excel never turns an ID number into 6.40202E+17; 决定 has a drop-down list (采用公安值 / 采用网格值 / 更正为 /
转网格员核实; for pairs 同一人 / 不同人 / 不确定), 更正值 and 理由 are free text. Hidden columns carry the id and what the
row showed at export time (values, latest decision id, match probability); the file is owner-only (personal data).

`import_workbook(config, path, user, dry_run=False)` reads it back (openpyxl) and checks every row with a 决定:
unknown ids, invalid decisions or values (same normalisers as the console), stale rows (the conflict's values or
the pair changed since export, or someone decided it since) and rows outside the user's scope are reported with
their Excel row number and not applied; the rest are appended as decisions (nothing with `dry_run`).
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field as dc_field
from pathlib import Path

from steward import queues
from steward.decide import conflict_value, require_steward
from steward.decisions_model import (ACTION_LABELS, CONFLICT_ACTIONS, PAIR, PAIR_LABELS, PAIR_VALUES, pair_target)
from steward.detail import weights_of
from steward.users import in_scope
from steward.values import InvalidValue
from warehouse.export import label
from warehouse.state import State

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
CONFLICT_HIDDEN = [("conflict_id", label("person_conflict", "conflict_id")), ("field", "字段代码"),
                   ("police_value", "导出时公安值"), ("grid_value", "导出时网格值"), ("decision_id", "导出时决定编号")]
SIDE_FIELDS = {"person": [("name", "姓名"), ("id_number", "公民身份号码"), ("birth_date", "出生日期"), ("sex", "性别"),
                          ("phone", "联系电话"), ("current_address", "现住址")],
               "house": [("address", "房屋地址"), ("owner_name", "房主姓名"), ("owner_id_number", "房主公民身份号码"),
                         ("owner_phone", "房主联系电话"), ("area", "面积（平方米）"), ("usage", "房屋用途")]}
SIDE_SLOTS = 6
PAIR_HIDDEN = [("pair_id", label("match_review", "pair_id")), ("target", "决定对象"),
               ("match_probability", "导出时匹配概率"), ("decision_id", "导出时决定编号")]
ACTION_BY_LABEL = {v: k for k, v in ACTION_LABELS.items()}
PAIR_BY_LABEL = {v: k for k, v in PAIR_LABELS.items()} | {"同一房屋": "same", "不同房屋": "different"}
SOURCE_LABELS = {"police": "公安", "grid": "网格"}
SEX = {"1": "男", "2": "女", "9": "未说明"}


# --- export ----------------------------------------------------------------------------------------
def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _pair_rows(config, items: list[dict]) -> list[dict]:
    """Each review row with both records' main fields (from the standardised records)."""
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
        r["target"] = pair_target(r["entity"], (r["left_source"], r["left_key"]), (r["right_source"], r["right_key"]))
        r["weights_text"] = "；".join(f"{w['label']} {w['weight']:+.2f}" for w in weights_of(r.get("weights")))
        out.append(r)
    return out


def _pair_headers() -> list[str]:
    heads = ["实体", label("match_review", "match_probability"), label("match_review", "weights")]
    for side in ("甲方", "乙方"):
        heads += [f"{side}来源系统", f"{side}记录编号"] + [f"{side}字段{i + 1}" for i in range(SIDE_SLOTS)]
    return heads + [label("person", "grid_code"), label("house", "community"), "处理状态"]


def _pair_values(r: dict) -> list:
    vals = [r["entity_label"], r["match_probability"], r["weights_text"]]
    for s in ("left", "right"):
        rec = r[f"{s}_record"]
        fields = SIDE_FIELDS[r["entity"]]
        vals += [SOURCE_LABELS.get(r[f"{s}_source"], r[f"{s}_source"]), r[f"{s}_key"]]
        vals += [f"{lab}：{_text(SEX.get(rec.get(f), rec.get(f)) if f == 'sex' else rec.get(f))}"
                 if rec.get(f) is not None else f"{lab}：" for f, lab in fields]
    return vals + [r.get("grid_code"), r.get("community"), r["state_label"]]


def export_workbook(config, path, user=None) -> dict:
    """Write the workbook (see module doc) for what `user` may see (None: everything); returns row counts."""
    import xlsxwriter
    scope = list(getattr(user, "scopes", ()) or ()) if user is not None else []
    conflicts = queues.select_conflicts(config, scope=scope)
    reviews = queues.select_reviews(config, scope=scope)
    pairs = _pair_rows(config, reviews.items)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # personal data: owner only from the start
    os.close(fd)
    wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False,
                                        "strings_to_urls": False})
    text = wb.add_format({"num_format": "@"})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "num_format": "@"})
    pick = wb.add_format({"num_format": "@", "bg_color": "#FFF2CC"})
    number = wb.add_format({"num_format": "0.0000"})

    def sheet(name, headers, hidden, rows, options, widths, numeric):
        ws = wb.add_worksheet(name)
        cols = headers + [DECISION, CORRECTED, REASON] if name == CONFLICT_SHEET else headers + [DECISION, REASON]
        cols += [h for _, h in hidden]
        for c, h in enumerate(cols):
            ws.write_string(0, c, h, head)
        for i, (vals, hid) in enumerate(rows, start=1):
            for c, v in enumerate(vals):
                if c in numeric and isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(i, c, v, number if isinstance(v, float) else None)
                else:
                    ws.write_string(i, c, _text(v), text)
            base = len(headers)
            for c in range(base, base + (3 if name == CONFLICT_SHEET else 2)):
                ws.write_blank(i, c, None, pick)
            for c, v in enumerate(hid, start=len(cols) - len(hidden)):
                ws.write_string(i, c, _text(v), text)
        last = max(len(rows), 1)
        ws.data_validation(1, len(headers), last, len(headers), {
            "validate": "list", "source": options, "ignore_blank": True,
            "input_title": DECISION, "input_message": "从下拉列表中选择",
            "error_title": "无效的决定", "error_message": "请从下拉列表中选择：" + " / ".join(options)})
        for c, w in enumerate(widths + [14, 18, 24][: len(cols) - len(widths) - len(hidden)]):
            ws.set_column(c, c, w, text)
        for c in range(len(cols) - len(hidden), len(cols)):
            ws.set_column(c, c, 18, text, {"hidden": True})
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, last, len(cols) - 1)

    c_rows = [([r.get(k) for k, _ in CONFLICT_COLUMNS], [r.get(k) for k, _ in CONFLICT_HIDDEN]) for r in conflicts.items]
    sheet(CONFLICT_SHEET, [h for _, h in CONFLICT_COLUMNS], CONFLICT_HIDDEN, c_rows, list(ACTION_LABELS.values()),
          [6, 12, 14, 16, 12, 12, 22, 22, 22, 22, 14, 10], numeric={len(CONFLICT_COLUMNS) - 1})
    p_rows = [(_pair_values(r), [r.get(k) for k, _ in PAIR_HIDDEN]) for r in pairs]
    sheet(PAIR_SHEET, _pair_headers(), PAIR_HIDDEN, p_rows, list(PAIR_LABELS.values()),
          [6, 10, 40] + [8, 16] + [22] * SIDE_SLOTS + [8, 16] + [22] * SIDE_SLOTS + [16, 12, 14], numeric={1})
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
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return {"path": path, "conflicts": len(c_rows), "reviews": len(p_rows)}


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


PROBLEM_LABELS = {"applied": "已导入", "unknown": "编号不存在", "invalid": "决定或更正值无效", "stale": "导出后已变化",
                  "scope": "不在管辖范围", "duplicate": "同一编号重复", "empty": "未填写决定（跳过）"}


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


def import_workbook(config, path, user, dry_run: bool = False) -> ImportReport:
    """Validate and apply a filled-in workbook (module doc). `user`: who decides (steward role; scopes apply)."""
    from openpyxl import load_workbook
    require_steward(user)
    by = str(user.username)
    scopes = list(getattr(user, "scopes", ()) or ())
    report = ImportReport(dry_run=dry_run)
    wb = load_workbook(str(path), read_only=True, data_only=True)
    try:
        c_in = [(n, r) for n, r in _rows(wb, CONFLICT_SHEET)]
        p_in = [(n, r) for n, r in _rows(wb, PAIR_SHEET)]
    finally:
        wb.close()
    cid_h, pid_h = CONFLICT_HIDDEN[0][1], PAIR_HIDDEN[0][1]
    c_ids = [r.get(cid_h) for _, r in c_in if r.get(DECISION) and r.get(cid_h)]
    p_ids = [r.get(pid_h) for _, r in p_in if r.get(DECISION) and r.get(pid_h)]
    now_c = queues.lookup_conflicts(config, c_ids)
    now_p = queues.lookup_reviews(config, p_ids)
    state = None if dry_run else State(config.state_dir)
    seen: set[str] = set()

    def problem(sheet, n, ident, kind, message):
        report.problems.append({"sheet": sheet, "row": n, "id": ident, "problem": kind, "message": message})

    for n, r in c_in:
        choice, ident = r.get(DECISION), r.get(cid_h)
        if not choice:
            report.empty_rows += 1
            continue
        cur = now_c.get(ident)
        if not ident or cur is None:
            problem(CONFLICT_SHEET, n, ident, "unknown", "没有这个差异编号（可能已在同步中消失）")
            continue
        if ident in seen:
            problem(CONFLICT_SHEET, n, ident, "duplicate", "同一差异在文件中出现了多次，只导入第一行")
            continue
        seen.add(ident)
        action = ACTION_BY_LABEL.get(choice) or (choice if choice in CONFLICT_ACTIONS else None)
        if action is None:
            problem(CONFLICT_SHEET, n, ident, "invalid", f"“{choice}”不是可选的决定")
            continue
        exported_dec = r.get(CONFLICT_HIDDEN[4][1])
        if not (_same(cur["police_value"], r.get(CONFLICT_HIDDEN[2][1])) and _same(cur["grid_value"], r.get(CONFLICT_HIDDEN[3][1]))):
            problem(CONFLICT_SHEET, n, ident, "stale", "导出后两系统的值已变化，请重新导出后再决定")
            continue
        if not _same(str(cur["decision_id"]) if cur["decision_id"] is not None else None, exported_dec):
            problem(CONFLICT_SHEET, n, ident, "stale", f"导出后已有人处理（决定 #{cur['decision_id']}）")
            continue
        if not in_scope(scopes, cur["grid_code"], cur["community"]):
            problem(CONFLICT_SHEET, n, ident, "scope", "该记录不在您负责的网格/社区范围内")
            continue
        try:
            kind, value = conflict_value(config, cur, action, r.get(CORRECTED))
        except (InvalidValue, ValueError) as e:
            problem(CONFLICT_SHEET, n, ident, "invalid", str(e))
            continue
        did = None if dry_run else state.add_decision(kind, ident, value, by, police_value=cur["police_value"],
                                                      grid_value=cur["grid_value"], reason=r.get(REASON))
        report.applied.append({"sheet": CONFLICT_SHEET, "row": n, "id": ident, "kind": kind, "decision_id": did})

    for n, r in p_in:
        choice, ident = r.get(DECISION), r.get(pid_h)
        if not choice:
            report.empty_rows += 1
            continue
        cur = now_p.get(ident)
        if not ident or cur is None:
            problem(PAIR_SHEET, n, ident, "unknown", "没有这个候选对编号（可能已在同步中处理）")
            continue
        if ident in seen:
            problem(PAIR_SHEET, n, ident, "duplicate", "同一候选对在文件中出现了多次，只导入第一行")
            continue
        seen.add(ident)
        value = PAIR_BY_LABEL.get(choice) or (choice if choice in PAIR_VALUES else None)
        if value is None:
            problem(PAIR_SHEET, n, ident, "invalid", f"“{choice}”不是可选的判定")
            continue
        try:
            changed = abs(float(r.get(PAIR_HIDDEN[2][1]) or "nan") - float(cur["match_probability"])) > 1e-9
        except (TypeError, ValueError):
            changed = True
        target = pair_target(cur["entity"], (cur["left_source"], cur["left_key"]), (cur["right_source"], cur["right_key"]))
        if changed or cur["status"] not in ("open", "escalated") or target != r.get(PAIR_HIDDEN[1][1]):
            problem(PAIR_SHEET, n, ident, "stale", "导出后这对记录的匹配情况已变化，请重新导出")
            continue
        if not _same(str(cur["decision_id"]) if cur["decision_id"] is not None else None, r.get(PAIR_HIDDEN[3][1])):
            problem(PAIR_SHEET, n, ident, "stale", f"导出后已有人处理（决定 #{cur['decision_id']}）")
            continue
        if not in_scope(scopes, cur["left_grid"], cur["right_grid"], cur["left_community"], cur["right_community"]):
            problem(PAIR_SHEET, n, ident, "scope", "该记录不在您负责的网格/社区范围内")
            continue
        did = None if dry_run else state.add_decision(PAIR, target, value, by, reason=r.get(REASON))
        report.applied.append({"sheet": PAIR_SHEET, "row": n, "id": ident, "kind": PAIR, "decision_id": did})
    return report


__all__ = ["ImportReport", "PROBLEM_LABELS", "export_workbook", "import_workbook"]
