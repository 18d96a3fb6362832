"""The run report: one self-contained HTML file per sync (tables + PNG charts embedded as base64).

`write_report` reads the published warehouse read-only and the run's `counts` (pipelines/publish.py
`run_counts`) and gate results (pipelines/runs.py `gate_results`), and writes a page that opens offline:
no scripts, no external CSS, fonts or images. Every value from data is HTML-escaped. The page shows counts, never
source values: the free text on it (the run's message, gate descriptions and results) is passed through
`mask_text`, so an ID number or phone quoted there is masked. The file is owner-only (0600, in a 0700 folder).
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from matching.drift import MAX_WEIGHT, log_odds
from schemas.normalise.masking import mask_text
from warehouse import report_charts as charts
from warehouse.files import private_dir

SOURCES = ("police.person", "police.house", "grid.person", "grid.house")
TOP_CELLS_CHART = 20
TOP_CELLS_TABLE = 50
SECTIONS = {"run": "Run", "counts": "Counts per stage", "quarantine": "Quarantine reasons",
            "match-weights": "Match weights", "conflicts": "Conflicts by field", "gates": "Gate results",
            "population": "Population by grid cell"}

_CSS = """
body{font-family:"DejaVu Sans","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.5em auto;max-width:1000px;
color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:2px solid #ddd;margin-top:1.8em}
nav a{margin-right:1em}table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;vertical-align:top}th{background:#f3f3f3;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.total td{font-weight:bold;background:#fafafa}
tr.fail td{background:#fde8e8}.pass{color:#1a7f37;font-weight:bold}.fail-badge{color:#b42318;font-weight:bold}
.status-success{color:#1a7f37}.status-failed{color:#b42318}pre{margin:0;white-space:pre-wrap;font-size:.85em}
figure{margin:.6em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption,.note{color:#555;font-size:.85em}
"""


# ---- HTML helpers --------------------------------------------------------------------------------------------

def esc(value: object) -> str:
    """Escaped text of a cell: '' for None/NaN, thousands separators for integers."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):,.2f}"
    return html.escape(str(value), quote=True)


def table(headers: Sequence[str] | None, rows: Iterable[Sequence[object]], total: Sequence[object] | None = None,
          row_class: Sequence[str] | None = None) -> str:
    """An HTML table (no header row when `headers` is None); numeric cells right-aligned, `total` bold last."""
    def cells(row):
        return "".join(f'<td class="n">{esc(v)}</td>' if isinstance(v, (int, float, np.number)) and
                       not isinstance(v, (bool, np.bool_)) else f"<td>{esc(v)}</td>" for v in row)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{html.escape(row_class[i])}"' if row_class and row_class[i] else ""
        body.append(f"<tr{cls}>{cells(row)}</tr>")
    if total is not None:
        body.append(f'<tr class="total">{cells(total)}</tr>')
    if not body:
        return '<p class="note">none</p>'
    head = "" if headers is None else f"<thead><tr>{''.join(f'<th>{esc(h)}</th>' for h in headers)}</tr></thead>"
    return f"<table>{head}<tbody>{''.join(body)}</tbody></table>"


def figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def section(key: str, body: str) -> str:
    return f'<section id="{key}"><h2>{esc(SECTIONS[key])}</h2>{body}</section>'


# ---- data from the warehouse ---------------------------------------------------------------------------------

def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def run_row(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    rows = _df(con, "SELECT run_id, started_at, finished_at, status, stage, message FROM run_log WHERE run_id = ?",
               [run_id])
    return rows.iloc[-1].to_dict() if len(rows) else {"run_id": run_id, "status": "not in run_log"}


def entity_counts(con: duckdb.DuckDBPyConnection, entity: str) -> dict:
    row = _df(con, f"""SELECT count(*) AS golden, count(*) FILTER (in_police AND in_grid) AS in_both,
        count(*) FILTER (in_police AND NOT in_grid) AS only_police,
        count(*) FILTER (in_grid AND NOT in_police) AS only_grid,
        count(*) FILTER (police_records > 1 OR grid_records > 1) AS within_source_duplicates FROM {entity}""")
    out = {k: int(v) for k, v in row.iloc[0].items()}
    out["review_pairs"] = int(con.execute("SELECT count(*) FROM match_review WHERE entity = ?", [entity]).fetchone()[0])
    if entity == "person":
        out["living"] = int(con.execute("SELECT count(*) FROM v_resident").fetchone()[0])
    return out


def person_and_review_weights(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    """One weight per linked golden person: the log odds of the weakest match_probability of its records (not
    per record as the weight-drift gate counts, matching/drift.py `record_link_weights`); and the review-band
    person pairs' match_weight as they are."""
    p = _df(con, "SELECT min(match_probability) AS p FROM person_xref WHERE match_probability IS NOT NULL "
                 "GROUP BY person_id")["p"]
    review = _df(con, "SELECT match_weight FROM match_review WHERE entity = 'person' AND match_weight IS NOT NULL")
    return {"linked persons (person_xref)": log_odds(p),
            "review pairs (match_review)": review["match_weight"].to_numpy(dtype=float)}


def population(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Living residents per grid cell as the analysts' `v_population_by_grid` counts them, and the records
    of the cell that are no longer active (注销/死亡/迁出)."""
    return _df(con, """
        WITH r AS (SELECT coalesce(grid_code, '(no grid code)') AS grid_code, registered, floating, residents
                   FROM v_population_by_grid),
        gone AS (SELECT coalesce(grid_code, '(no grid code)') AS grid_code, count(*) AS not_active FROM person
                 WHERE coalesce(status, 'active') <> 'active' GROUP BY 1)
        SELECT grid_code, coalesce(registered, 0) AS registered, coalesce(floating, 0) AS floating,
               coalesce(residents, 0) - coalesce(registered, 0) - coalesce(floating, 0) AS other,
               coalesce(residents, 0) AS total, coalesce(not_active, 0) AS not_active
        FROM r FULL JOIN gone USING (grid_code) ORDER BY total DESC, grid_code""")


# ---- sections ------------------------------------------------------------------------------------------------

def header_html(run: dict) -> str:
    status = str(run.get("status") or "")
    rows = [("run id", run.get("run_id")), ("started", run.get("started_at")), ("finished", run.get("finished_at")),
            ("status", status), ("stage", run.get("stage"))]
    if run.get("message"):
        rows.append(("message", _free_text(run["message"])))
    return (f'<p class="status-{esc(status)}">Status: <b>{esc(status)}</b></p>' + table(None, rows))


def counts_html(counts: dict, entities: dict[str, dict]) -> str:
    src = counts.get("sources", {})
    keys = [k for k in SOURCES if k in src] + sorted(k for k in src if k not in SOURCES)
    rows = [(k, src[k].get("extracted", 0), src[k].get("loaded", 0), src[k].get("quarantined", 0)) for k in keys]
    total = ("total", *(sum(r[i] for r in rows) for i in (1, 2, 3))) if rows else None
    parts = ["<h3>Extract and standardise</h3>",
             table(("source.entity", "extracted", "standardised", "quarantined"), rows, total)]
    labels = {"golden": "golden records", "in_both": "matched (in both systems)", "only_police": "only in police",
              "only_grid": "only in grid", "within_source_duplicates": "within-source duplicates",
              "review_pairs": "pairs waiting in match_review",
              "living": "living residents (not 注销/死亡/迁出)"}
    parts += ["<h3>Match</h3>", table(("", *entities), [(label, *(e.get(k, "") for e in entities.values()))
                                                      for k, label in labels.items()])]
    conf = counts.get("conflicts", {})
    crow = [(e, sum(conf.get(e, {}).values())) for e in ("person", "house")]
    parts += ["<h3>Reconcile</h3>", table(("conflicts", "fields that differ"), crow,
                                          ("of which open (steward)", conf.get("open", 0)))]
    models = counts.get("models") or {}
    if models:
        parts += ["<h3>Matching models</h3>", table(("entity", "model", "version", "fingerprint"),
                                                    [(e, m.get("model"), m.get("version"), m.get("fingerprint"))
                                                     for e, m in sorted(models.items())])]
    return "".join(parts)


def quarantine_html(q: pd.DataFrame) -> str:
    if q.empty:
        return '<p class="note">No rows were quarantined.</p>'
    wide = q.pivot_table(index="reason", columns="source_entity", values="n", aggfunc="sum", fill_value=0)
    cols = [c for c in SOURCES if c in wide.columns] + sorted(c for c in wide.columns if c not in SOURCES)
    wide = wide[cols].assign(total=lambda f: f.sum(axis=1)).sort_values(["total"], ascending=False, kind="stable")
    rows = [(i, reason, *(int(v) for v in r)) for i, (reason, r) in enumerate(wide.iterrows(), start=1)]
    png = charts.stacked_barh(list(wide.index), {c: wide[c].tolist() for c in cols},
                              "Quarantined rows by reason", "rows")
    return (figure(png, "bar chart of quarantined rows by reason", "Quarantined rows by reason, stacked by "
                   "source.entity (table below).")
            + table(("#", "reason", *cols, "total"), rows, ("", "total", *(int(wide[c].sum()) for c in cols),
                                                             int(wide["total"].sum()))))


def weights_html(weights: dict[str, np.ndarray]) -> str:
    note = ("<p class=\"note\">Linked persons: <code>person_xref.match_probability</code>, one value per golden "
            "person linked by the model (the lowest of its records), shown as the match weight "
            f"log2(p / (1 − p)), capped at ±{MAX_WEIGHT:g} where p rounds to 0 or 1 (the weight-drift gate compares "
            "one weight per linked record instead). Review pairs: "
            "<code>match_review.match_weight</code> of person pairs in the review band. Persons linked without a "
            "score (single records) are not shown. Counts on a log scale.</p>")
    rows = [(name, len(a), *(float(f(a)) if len(a) else None for f in (np.min, np.median, np.max)))
            for name, a in weights.items()]
    if not any(len(a) for a in weights.values()):
        return note + '<p class="note">No scored links in this run.</p>'
    png = charts.histogram(weights, "Match weight of linked persons and review pairs", "match weight (log2 odds)",
                           log=True)
    return (note + figure(png, "histogram of match weights", "Match weight histogram.")
            + table(("series", "n", "min", "median", "max"), rows))


def conflicts_html(c: pd.DataFrame) -> str:
    if c.empty:
        return '<p class="note">No conflicts.</p>'
    c = c.assign(label=c["entity"] + "." + c["field"])
    wide = c.pivot_table(index="label", columns="status", values="conflicts", aggfunc="sum", fill_value=0)
    statuses = [s for s in ("auto", "open", "resolved") if s in wide.columns] + sorted(
        s for s in wide.columns if s not in ("auto", "open", "resolved"))
    wide = wide[statuses].assign(total=lambda f: f.sum(axis=1)).sort_values("total", ascending=False, kind="stable")
    png = charts.stacked_barh(list(wide.index), {s: wide[s].tolist() for s in statuses},
                              "Conflicts by field", "conflicts")
    rows = [(i, *label.split(".", 1), *(int(v) for v in r)) for i, (label, r) in enumerate(wide.iterrows(), start=1)]
    return (figure(png, "bar chart of conflicts by field", "Conflicts by entity.field, stacked by status "
                   "(auto: settled by the survivorship rule; open: waiting for a steward).")
            + table(("#", "entity", "field", *statuses, "total"), rows,
                    ("", "total", "", *(int(wide[s].sum()) for s in statuses), int(wide["total"].sum()))))


def _free_text(value: object) -> str | None:
    """Text that may quote a source value (a message, a gate's description or results), masked."""
    return None if value is None else mask_text(str(value))


def gates_html(gates: list[dict]) -> str:
    if not gates:
        return '<p class="note">No gate results recorded for this run.</p>'
    failed = [g for g in gates if not g.get("passed")]
    summary = f"<p>{len(gates) - len(failed)} of {len(gates)} checks passed.</p>"
    rows = []
    for g in gates:
        rows.append(f'<tr class="{"" if g.get("passed") else "fail"}"><td>{esc(g.get("check"))}</td>'
                    f'<td>{esc(g.get("asset"))}</td><td>'
                    + ('<span class="pass">PASS</span>' if g.get("passed") else '<span class="fail-badge">FAIL</span>')
                    + f'</td><td>{esc(g.get("severity"))}</td><td>{esc(_free_text(g.get("description")))}</td>'
                    f'<td><pre>{esc(_free_text(g.get("results")))}</pre></td></tr>')
    head = "".join(f"<th>{h}</th>" for h in ("check", "asset", "result", "severity", "description", "expectations"))
    return summary + f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def population_html(pop: pd.DataFrame) -> str:
    if pop.empty:
        return '<p class="note">No persons.</p>'
    top = pop.head(TOP_CELLS_CHART)
    png = charts.stacked_barh(top["grid_code"].tolist(), {t: top[t].tolist() for t in ("registered", "floating",
                              "other")}, f"Residents per grid cell (top {len(top)} of {len(pop):,})", "residents")
    cols = ("registered", "floating", "other", "total", "not_active")
    shown = pop.head(TOP_CELLS_TABLE)
    rows = [(i, r["grid_code"], *(int(r[c]) for c in cols)) for i, r in enumerate(shown.to_dict("records"), 1)]
    rest = pop.iloc[TOP_CELLS_TABLE:]
    if len(rest):
        rows.append(("", f"{len(rest):,} more cells", *(int(rest[c].sum()) for c in cols)))
    return (figure(png, "bar chart of persons per grid cell", "Living residents per grid_code by person_type (as v_population_by_grid); "
                   "rows numbered as in the table.")
            + table(("#", "grid_code", "registered", "floating", "other type", "total", "not active"), rows,
                    ("", f"{len(pop):,} cells", *(int(pop[c].sum()) for c in cols))))


# ---- the page ------------------------------------------------------------------------------------------------

def render(run: dict, counts: dict, gates: list[dict], entities: dict[str, dict], quarantine: pd.DataFrame,
           weights: dict[str, np.ndarray], conflicts: pd.DataFrame, pop: pd.DataFrame) -> str:
    """The whole page from already-loaded data (no I/O)."""
    run_id = str(run.get("run_id") or "")
    nav = "<nav>" + "".join(f'<a href="#{k}">{esc(v)}</a>' for k, v in SECTIONS.items()) + "</nav>"
    body = "".join([section("run", header_html(run)), section("counts", counts_html(counts, entities)),
                    section("quarantine", quarantine_html(quarantine)), section("match-weights", weights_html(weights)),
                    section("conflicts", conflicts_html(conflicts)), section("gates", gates_html(gates)),
                    section("population", population_html(pop))])
    return _page(f"gridbridge sync {run_id}", "gridbridge sync report", f"run {run_id}", nav + body)


def _page(title: str, heading: str, note: str, body: str) -> str:
    """The page shell: `title`, `heading`, `note` (plain text, escaped here; the generation time is added) and
    `body` (HTML)."""
    generated = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{esc(heading)}</h1><p class=\"note\">{esc(note)} · generated {esc(generated)}</p>"
            f"{body}</body></html>\n")


def write_report(warehouse_path: Path, out_path: Path, run_id: str, counts: dict, gates: list[dict]) -> Path:
    """Write the run report for `run_id` to `out_path` (atomically) from the published warehouse."""
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        run = run_row(con, run_id)
        entities = {e: entity_counts(con, e) for e in ("person", "house")}
        quarantine = _df(con, "SELECT source || '.' || entity AS source_entity, coalesce(reason, '(none)') AS reason, "
                              "count(*) AS n FROM quarantine GROUP BY ALL")
        weights = person_and_review_weights(con)
        conflicts = _df(con, "SELECT entity, field, coalesce(status, '(none)') AS status, conflicts "
                             "FROM v_conflicts_by_field")
        pop = population(con)
    finally:
        con.close()
    page = render(run, counts, gates, entities, quarantine, weights, conflicts, pop)
    return _write(out_path, page)


def render_failed(run: dict, gates: list[dict]) -> str:
    """The page of a run that published nothing: the run (stage, one-line reason) and every gate result."""
    run_id = str(run.get("run_id") or "")
    return _page(f"gridbridge sync {run_id} (failed)", "gridbridge sync report — nothing published",
                 f"run {run_id} · the previous warehouse was left as it was",
                 section("run", header_html(run)) + section("gates", gates_html(gates)))


def write_failed_report(out_path: Path, run: dict, gates: list[dict]) -> Path:
    """The gate results of a failed or held run, kept like every run's report."""
    return _write(out_path, render_failed(run, gates))


def _write(out_path: Path, page: str) -> Path:
    out_path = Path(out_path)
    private_dir(out_path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path


def report_path(state_dir: Path, run_id: str) -> Path:
    """Where a run's report lives: `<warehouse dir>/reports/<run_id>.html`."""
    return Path(state_dir) / "reports" / f"{run_id}.html"
