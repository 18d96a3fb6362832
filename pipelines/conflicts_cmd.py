"""`gridbridge conflicts list|resolve|export|import`: the stewards' work from the command line and Excel.

    gridbridge conflicts list [--field F] [--grid G] [--entity person|house] [--limit N]
    gridbridge conflicts resolve CONFLICT_ID (--take police|grid | --value V | --field-visit) [--reason R] --by NAME
    gridbridge conflicts export --out F.xlsx
    gridbridge conflicts import F.xlsx --by NAME [--dry-run]

The same queues and rules as the console (steward/queues.py, steward/decide.py, steward/workbook.py): decisions are
appended to `steward_decision` and applied by the next sync. `list` masks ID numbers and phones; the workbook
carries full values (it is the stewards' file, owner-only). Someone at this command line can read state.sqlite
anyway, so `--by` acts without console scopes, as a steward. Heavy imports stay inside the commands.
"""
from __future__ import annotations

from pipelines.constants import fail


def add_parser(sub) -> None:
    c = sub.add_parser("conflicts", help="open conflicts and match reviews: list, resolve, Excel export/import")
    cs = c.add_subparsers(dest="conflicts_command", required=True)
    ls = cs.add_parser("list", help="open conflicts, most important first (ID numbers and phones masked)")
    ls.add_argument("--config", default="gridbridge.yaml")
    ls.add_argument("--field", help="only this field (name, id_number, birth_date, phone, …)")
    ls.add_argument("--grid", help="only grid cells starting with this code")
    ls.add_argument("--entity", choices=["person", "house"])
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=cmd_list)
    rs = cs.add_parser("resolve", help="decide one conflict (applied by the next sync)")
    rs.add_argument("conflict_id")
    how = rs.add_mutually_exclusive_group(required=True)
    how.add_argument("--take", choices=["police", "grid"], help="take the police or the grid value")
    how.add_argument("--value", help="a corrected value (checked like a source value: an invalid ID is refused)")
    how.add_argument("--field-visit", action="store_true", help="转网格员核实: a grid worker checks on site")
    rs.add_argument("--reason")
    rs.add_argument("--by", required=True, help="who decides (kept in steward_decision.decided_by)")
    rs.add_argument("--config", default="gridbridge.yaml")
    rs.set_defaults(func=cmd_resolve)
    ex = cs.add_parser("export", help="open conflicts and reviews to an Excel workbook to fill in offline")
    ex.add_argument("--out", required=True, metavar="F.xlsx")
    ex.add_argument("--config", default="gridbridge.yaml")
    ex.set_defaults(func=cmd_export)
    im = cs.add_parser("import", help="decisions from a filled-in workbook (checked; problems are reported)")
    im.add_argument("path", metavar="F.xlsx")
    im.add_argument("--by", required=True, help="who decides (kept in steward_decision.decided_by)")
    im.add_argument("--dry-run", action="store_true", help="check and report only; append nothing")
    im.add_argument("--config", default="gridbridge.yaml")
    im.set_defaults(func=cmd_import)


def _cli_user(name: str):
    from types import SimpleNamespace

    from steward.users import check_username
    return SimpleNamespace(username=check_username(name), role="steward", scopes=())


def _cell(s, width: int) -> str:
    from warehouse.export import display_width

    s = "" if s is None else str(s)
    while display_width(s) > width:
        s = s[:-2] + "…"
    return s + " " * (width - display_width(s))


def table(headers: list[str], rows: list[list], widths: list[int]) -> str:
    lines = ["  ".join(_cell(h, w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(_cell(v, w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def cmd_list(args) -> int:
    import pandas as pd

    from schemas.config import load
    from schemas.normalise.masking import mask_fields
    from steward.queues import open_conflicts
    from steward.store import NoWarehouse

    config = load(args.config)
    try:
        page = open_conflicts(config, field=args.field, grid=args.grid, entity=args.entity, limit=args.limit)
    except NoWarehouse as e:
        return fail(str(e))
    shown = pd.DataFrame(page.items, columns=["field", "police_value", "grid_value"])
    police, grid = (mask_fields(shown["field"], shown[c]).tolist() for c in ("police_value", "grid_value"))
    rows = [[r["conflict_id"], r["entity_id"], r["field_label"], p, g, r["grid_code"], r["age_days"], r["state_label"]]
            for r, p, g in zip(page.items, police, grid)]
    print(table(["差异编号", "编号", "字段", "公安值", "网格值", "网格", "天数", "状态"], rows,
                [16, 10, 12, 24, 24, 15, 4, 20]))
    print(f"{len(rows)} of {page.total} open conflicts (most important first; --limit N for more)")
    return 0


def cmd_resolve(args) -> int:
    from schemas.config import load
    from schemas.normalise.masking import mask_text
    from steward.decide import decide_conflict
    from steward.store import NoWarehouse

    config = load(args.config)
    action = "field_visit" if args.field_visit else ("value" if args.value is not None else f"take_{args.take}")
    try:
        d = decide_conflict(config, _cli_user(args.by), args.conflict_id, action, args.value, args.reason)
    except (LookupError, ValueError, PermissionError, NoWarehouse) as e:
        return fail(str(e))
    shown = mask_text(d.value) if d.value is not None else "（转网格员核实）"
    print(f"decision #{d.decision_id} recorded for conflict {d.target}: {shown}; it applies at the next sync")
    return 0


def cmd_export(args) -> int:
    from schemas.config import load
    from steward.store import NoWarehouse
    from steward.workbook import export_workbook

    config = load(args.config)
    try:
        out = export_workbook(config, args.out)
    except NoWarehouse as e:
        return fail(str(e))
    print(f"wrote {out['path']}: {out['conflicts']} open conflicts, {out['reviews']} match reviews "
          f"(fill in 决定, then: gridbridge conflicts import {out['path']} --by NAME)")
    return 0


def cmd_import(args) -> int:
    from pathlib import Path

    from schemas.config import load
    from schemas.normalise.masking import mask_text
    from steward.store import NoWarehouse
    from steward.workbook import PROBLEM_LABELS, import_workbook

    config = load(args.config)
    if not Path(args.path).exists():
        return fail(f"no such file: {args.path}")
    try:
        report = import_workbook(config, args.path, _cli_user(args.by), dry_run=args.dry_run)
    except (NoWarehouse, ValueError, PermissionError) as e:
        return fail(str(e))
    except Exception as e:  # noqa: BLE001  (a file that is not a workbook: zipfile/openpyxl errors)
        return fail(f"cannot read {args.path} as an Excel workbook: {type(e).__name__}")
    summary = report.summary()
    print(table(["结果", "行数"], [[PROBLEM_LABELS.get(k, k), n] for k, n in summary.items()], [20, 6]))
    if report.problems:
        print()
        print(table(["工作表", "行", "编号", "问题", "说明"],
                    [[p["sheet"], p["row"], p["id"], PROBLEM_LABELS.get(p["problem"], p["problem"]),
                      mask_text(p["message"])] for p in report.problems], [6, 5, 16, 14, 60]))
    verb = "would append" if args.dry_run else "appended"
    print(f"{verb} {len(report.applied)} decisions; {len(report.problems)} rows not applied"
          + (" (dry run: nothing written)" if args.dry_run else "; they apply at the next sync"))
    return 0
