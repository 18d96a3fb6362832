"""The run report (warehouse/report.py): every section, numbers that agree with the run, nothing external,
data escaped; and the page as real Chromium (/usr/bin/chromium, installed by .ci/browser.sh) shows it."""
import base64
import json
import re
import shutil
from html.parser import HTMLParser

import duckdb
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from tests.demos import synced_demo
from warehouse import report_charts
from warehouse.publish import publish
from warehouse.report import SECTIONS, write_report

PERSONS = 200
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """A synced demo warehouse and the run's counts and gate results as the publish asset has them."""
    root = tmp_path_factory.mktemp("report_demo")
    synced_demo(root, PERSONS, seed=11)
    wh = root / "warehouse" / "gridbridge.duckdb"
    with duckdb.connect(str(wh), read_only=True) as con:
        run_id, counts, gates = con.execute(
            "SELECT run_id, counts, gates FROM run_log WHERE status = 'success' ORDER BY started_at DESC").fetchone()
    return wh, run_id, json.loads(counts), json.loads(gates)


@pytest.fixture(scope="module")
def report(synced, tmp_path_factory):
    wh, run_id, counts, gates = synced
    out = write_report(wh, tmp_path_factory.mktemp("report") / "reports" / f"{run_id}.html", run_id, counts, gates)
    return out, out.read_text(encoding="utf-8")


class _Tables(HTMLParser):
    """Text of every table cell, per section id: {section: [table: [row: [cell]]]}."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, list] = {}
        self.section = self.cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.section = dict(attrs)["id"]
            self.sections[self.section] = []
        elif tag == "table":
            self.sections[self.section].append([])
        elif tag == "tr":
            self.sections[self.section][-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.sections[self.section][-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def _tables(page: str) -> dict[str, list]:
    p = _Tables()
    p.feed(page)
    return p.sections


def _num(cell: str) -> int:
    return int(cell.replace(",", ""))


def _rows(table, first: str) -> dict[str, list[str]]:
    return {r[0]: r[1:] for r in table if r and r[0] != first}


def test_report_has_every_section_and_the_run_header(report, synced):
    out, page = report
    _, run_id, _, _ = synced
    assert out.name == f"{run_id}.html" and page.startswith("<!DOCTYPE html>")
    for key, title in SECTIONS.items():
        assert f'<section id="{key}"><h2>{title}</h2>' in page, key
    header = _rows(_tables(page)["run"][0], "")
    assert header["run id"] == [run_id] and header["status"] == ["success"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", header["started"][0])
    assert header["finished"][0] >= header["started"][0]


def test_charts_are_embedded_pngs(report):
    _, page = report
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == page.count("<img") == 4  # quarantine, match weights, conflicts, population
    for b64 in images:
        png = base64.b64decode(b64, validate=True)
        assert png.startswith(PNG_MAGIC) and len(png) > 5_000


def test_nothing_is_loaded_from_outside(report):
    _, page = report
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"@import|url\(", page)
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', page))
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', page))


def test_numbers_agree_with_the_run(report, synced):
    _, page = report
    wh, _, counts, _ = synced
    t = _tables(page)
    sources = _rows(t["counts"][0], "source.entity")
    for key, c in counts["sources"].items():
        assert [_num(x) for x in sources[key]] == [c["extracted"], c["loaded"], c["quarantined"]], key
    match = _rows(t["counts"][1], "")
    assert _num(match["golden records"][0]) == counts["persons"]["golden"] == PERSONS
    assert _num(match["matched (in both systems)"][0]) == counts["persons"]["in_both"]
    assert _num(match["only in police"][0]) == counts["persons"]["only_police"]
    assert _num(match["only in grid"][0]) == counts["persons"]["only_grid"]
    assert _num(match["golden records"][1]) == counts["houses"]["golden"]
    assert _num(match["living residents (not 注销/死亡/迁出)"][0]) == counts["persons"]["living"] < PERSONS

    quarantine = t["quarantine"][0]
    assert _num(quarantine[-1][-1]) == sum(c["quarantined"] for c in counts["sources"].values()) > 0
    by_reason = {r[1]: _num(r[-1]) for r in quarantine[1:-1]}
    expected: dict[str, int] = {}
    for c in counts["sources"].values():
        for reason, n in c["by_reason"].items():
            expected[reason] = expected.get(reason, 0) + n
    assert by_reason == expected

    conflicts = t["conflicts"][0]
    assert _num(conflicts[-1][-1]) == sum(sum(v.values()) for v in (counts["conflicts"]["person"],
                                                                    counts["conflicts"]["house"])) > 0
    population = t["population"][0]
    with duckdb.connect(str(wh), read_only=True) as con:
        living = con.execute("SELECT count(*) FROM person WHERE coalesce(status, 'active') = 'active'").fetchone()[0]
        top_cell, top_n = con.execute("SELECT grid_code, count(*) n FROM person WHERE grid_code IS NOT NULL "
                                      "AND coalesce(status, 'active') = 'active' "
                                      "GROUP BY ALL ORDER BY n DESC, grid_code LIMIT 1").fetchone()
    # total row: living residents ("total") and the records no longer active add up to every golden person
    assert _num(population[-1][-2]) == living < PERSONS
    assert _num(population[-1][-2]) + _num(population[-1][-1]) == PERSONS
    assert population[1][1] == top_cell and _num(population[1][5]) == top_n

    weights = _rows(t["match-weights"][0], "series")
    assert _num(weights["linked persons (person_xref)"][0]) > 0.5 * counts["persons"]["in_both"]
    gates = t["gates"][0]
    assert len(gates) - 1 == len(synced[3]) > 0 and all(r[2] == "PASS" for r in gates[1:])


def test_data_is_escaped(synced, tmp_path):
    wh, run_id, counts, gates = synced
    hostile = tmp_path / "hostile.duckdb"
    shutil.copyfile(wh, hostile)
    cell = '<script>alert("x")</script>网格&1'
    with duckdb.connect(str(hostile)) as con:
        con.execute("UPDATE person SET grid_code = ? WHERE person_id IN (SELECT person_id FROM person "
                    "ORDER BY person_id LIMIT 60)", [cell])
        con.execute("INSERT INTO quarantine (run_id, source, entity, source_key, reason, raw) "
                    "VALUES (?, 'grid', 'person', 'k1', '<img src=x onerror=alert(1)>', '{}')", [run_id])
    gates = [dict(gates[0], description="<b>not bold</b>", passed=False, severity="ERROR"), *gates[1:]]
    page = write_report(hostile, tmp_path / "r.html", run_id, counts, gates).read_text(encoding="utf-8")
    assert "<script" not in page and "<b>not bold" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;网格&amp;1" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;b&gt;not bold&lt;/b&gt;" in page
    t = _tables(page)
    assert t["population"][0][1][1] == cell  # the top cell, read back as text
    assert t["gates"][0][1][2] == "FAIL" and f"{len(gates) - 1} of {len(gates)} checks passed." in page


def test_chart_labels_fall_back_to_row_numbers_when_no_font_has_the_glyphs():
    assert report_charts.chart_labels(["640202010001001", "address_missing"]) == ["640202010001001",
                                                                                   "address_missing"]
    assert report_charts.chart_labels(["ok", "\ue000private"]) == ["ok", "#2"]  # private-use: no font has it
    chinese = report_charts.chart_labels(["翠柏社区第一网格"])
    assert chinese == (["翠柏社区第一网格"] if report_charts.cjk_fonts() else ["#1"])


def test_an_empty_run_still_gives_a_complete_page(tmp_path):
    wh = publish(tmp_path / "empty.duckdb", {}, "r-empty")
    page = write_report(wh, tmp_path / "r.html", "r-empty", {}, []).read_text(encoding="utf-8")
    for key in SECTIONS:
        assert f'<section id="{key}">' in page
    for note in ("No rows were quarantined.", "No scored links in this run.", "No conflicts.",
                 "No gate results recorded for this run.", "No persons.", "not in run_log"):
        assert note in page
    assert "<img" not in page


def _colours(path) -> int:
    with Image.open(path) as im:
        assert im.format == "PNG"
        colours = im.convert("RGB").getcolors(maxcolors=1 << 24)
    return len(colours)


def test_report_renders_in_chromium(report, tmp_path):
    out, _ = report
    errors, outside = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else outside.append(r.url))
            page.goto(out.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({complete: e.complete, w: e.naturalWidth, h: e.naturalHeight}))")
            titles = page.eval_on_selector_all("section > h2", "els => els.map(e => e.textContent)")
            page.screenshot(path=tmp_path / "report.png", full_page=True)
            page.locator("#population img").screenshot(path=tmp_path / "population.png")
            height = page.evaluate("document.documentElement.scrollHeight")
        finally:
            browser.close()
    assert errors == [] and outside == []
    assert len(images) == 4 and all(i["complete"] and i["w"] > 0 and i["h"] > 0 for i in images), images
    assert titles == list(SECTIONS.values())
    with Image.open(tmp_path / "report.png") as shot:
        assert shot.size == (1100, height) and height > 2_000
    assert _colours(tmp_path / "report.png") > 100  # text, tables and charts: far from one colour
    assert _colours(tmp_path / "population.png") > 20  # the chart itself drew bars, labels and axes
