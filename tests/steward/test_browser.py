"""The stewards' console as a person uses it, in real Chromium (/usr/bin/chromium via Playwright, never a
downloaded browser) at 1366×768: log in, follow the home page's counts to the queues, decide a match-review pair
(keyboard `s`) and a conflict (take the grid value; an invalid corrected ID number is refused), run a sync and see
both decisions applied — in the browser and, independently, in the warehouse with SQL — and still applied after a
second sync. No console errors (CSP violations included), no server errors, no horizontal scrolling.

Screenshots (full page) go to `test-output/steward/` in the repository (gitignored) for a person to look at.
"""
from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from tests.steward.data_demo import fresh_copy, open_conflicts, sync
from tests.steward.support import add_users, console, password_for
from tests.test_report import CHROMIUM, CHROMIUM_ARGS

VIEWPORT = {"width": 1366, "height": 768}
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "steward"
PENDING, RESOLVED, RECORDED = "已决定，下次同步生效", "已处理", "已记录决定"
XREF_ID = {"person": ("person_xref", "person_id"), "house": ("house_xref", "house_id")}


# --- the server and the browser ---------------------------------------------------------------------
@pytest.fixture
def served(tmp_path):
    """A synced 200-person demo (a copy), its console served on 127.0.0.1:<free port> in a background thread."""
    config = fresh_copy(tmp_path / "demo")
    config_path = tmp_path / "demo" / "gridbridge.yaml"
    app = console(config_path)
    add_users(app, ("ann", "steward", []))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="steward-console", daemon=True)
    thread.start()
    try:
        yield config, config_path, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Browser:
    """One page of Chromium with what went wrong collected: console errors, page errors, server errors."""

    def __init__(self, page, base: str):
        self.page, self.base = page, base
        self.errors: list[str] = []
        self.server_errors: list[str] = []
        self.contract: list[str] = []       # the page contract's ids/elements not met (all reported at the end)
        self.expected_statuses: set[tuple[int, str]] = set()   # (status, url) a step expects: not an error
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e} @ {page.url}"))
        page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: self.server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    def _console(self, m) -> None:
        if m.type != "error":
            return
        url = (m.location or {}).get("url", "")
        if any(m.text.startswith(f"Failed to load resource: the server responded with a status of {status} ")
               and url == expected for status, expected in self.expected_statuses):
            return
        self.errors.append(f"console {m.type}: {m.text} @ {url or self.page.url}")

    def expect(self, ok, message: str) -> None:
        if not ok:
            self.contract.append(f"{message} ({self.page.url})")

    def has(self, page_name: str, *selectors: str) -> None:
        for sel in selectors:
            n = self.page.locator(sel).count()
            self.expect(n == 1, f"{page_name}: {n} elements match {sel!r}, expected 1")

    def goto(self, path: str):
        resp = self.page.goto(self.base + path, wait_until="load")
        assert resp is not None and resp.status < 500, (path, resp and resp.status)
        return resp

    def path(self) -> str:
        return urlsplit(self.page.url).path

    def text(self, selector: str) -> str:
        return self.page.locator(selector).first.inner_text().strip()

    def shot(self, name: str) -> Path:
        """A full-page screenshot, and no horizontal scrolling at 1366 px."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORT["width"], f"{name}: page is {width} px wide at {VIEWPORT['width']} px ({self.page.url})"
        return path

    def flashes(self) -> list[str]:
        return [t.strip() for t in self.page.locator(".flash").all_inner_texts()]

    def rows(self) -> list[str]:
        """The data-href of each queue row on the page."""
        return self.page.locator("table#queue tr.row").evaluate_all("rs => rs.map(r => r.dataset.href)")

    def total(self) -> int:
        text = self.text("#total")
        assert re.fullmatch(r"\d+", text), f"#total should hold digits only, got {text!r}"
        return int(text)


def _count(b: Browser, key: str) -> int:
    text = b.page.locator(f"#count-{key}").inner_text()
    m = re.search(r"\d+", text)
    assert m, f"no number in #count-{key}: {text!r}"
    return int(m.group())


def _id_from(path: str, prefix: str) -> str:
    m = re.fullmatch(rf"/{prefix}/([^/?]+)", path)
    assert m, f"not a /{prefix}/<id> page: {path}"
    return m.group(1)


# --- independent reads: the warehouse (DuckDB) and the decision log (SQLite) -----------------------
def _wh(config, sql: str, params=()):
    con = duckdb.connect(str(config.warehouse_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _decisions(config) -> list[dict]:
    con = sqlite3.connect(Path(config.state_dir) / "state.sqlite")
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM steward_decision ORDER BY decision_id")]
    finally:
        con.close()


def _conflict(config, conflict_id: str) -> dict:
    for entity in ("person", "house"):
        got = _wh(config, f"SELECT field, police_value, grid_value, status, chosen_value, resolved_by "
                          f"FROM {entity}_conflict WHERE conflict_id = ?", [conflict_id])
        if got:
            assert len(got) == 1
            return dict(zip(("field", "police_value", "grid_value", "status", "chosen_value", "resolved_by"),
                            got[0]), entity=entity)
    raise AssertionError(f"conflict {conflict_id} is not in the warehouse")


def _pair(config, pair_id: str) -> dict:
    got = _wh(config, "SELECT entity, left_source, left_key, right_source, right_key FROM match_review "
                      "WHERE pair_id = ?", [pair_id])
    assert len(got) == 1, pair_id
    return dict(zip(("entity", "left_source", "left_key", "right_source", "right_key"), got[0]))


def _golden_ids(config, pair: dict) -> list[tuple]:
    xref, id_col = XREF_ID[pair["entity"]]
    return _wh(config, f"SELECT source, source_key, {id_col} FROM {xref} WHERE (source = ? AND source_key = ?) "
                       f"OR (source = ? AND source_key = ?) ORDER BY source, source_key",
               [pair["left_source"], pair["left_key"], pair["right_source"], pair["right_key"]])


# --- the steps -------------------------------------------------------------------------------------
def _log_in(b: Browser):
    b.goto("/")
    assert b.path() == "/login", "the console must send a logged-out visitor to the login page"
    assert b.page.locator("html").get_attribute("lang") == "zh-CN"
    b.page.fill("#username", "ann")
    b.page.fill("#password", password_for("ann"))
    with b.page.expect_navigation():
        b.page.click("button[type=submit]")
    assert b.path() == "/", f"after logging in: {b.page.url}"


def _decide_pair(b: Browser, config) -> tuple[str, dict]:
    """Home → review-queue count → first pair → `s` with a reason; it shows as decided at once."""
    expected = _count(b, "reviews")
    assert expected >= 1, "the demo has pairs to review"
    b.shot("01_home")
    with b.page.expect_navigation():
        b.page.click("#count-reviews a")
    assert b.path() == "/reviews"
    assert b.total() == expected, "the home page's count and the queue's total disagree"
    hrefs = b.rows()
    assert len(hrefs) == min(expected, 50) and all(h.startswith("/reviews/") for h in hrefs), hrefs
    b.page.keyboard.press("?")
    assert b.page.locator("#shortcuts").is_visible(), "`?` shows the shortcut help"
    b.page.keyboard.press("?")
    assert not b.page.locator("#shortcuts").is_visible(), "`?` again hides it"
    b.shot("02_review_queue")

    first = b.page.locator("table#queue tr.row").first
    link = first.locator("a.open") if first.locator("a.open").count() else first.locator("a").first
    with b.page.expect_navigation():
        link.click()
    pair_id = _id_from(b.path(), "reviews")
    assert hrefs[0].startswith(f"/reviews/{pair_id}?") or hrefs[0] == f"/reviews/{pair_id}"
    pair = _pair(config, pair_id)
    before = _golden_ids(config, pair)
    assert len({g[2] for g in before}) == 2, f"the pair's records are two entities before the decision: {before}"
    b.has("review page", "#state", "table#compare", "#left", "#right", "table#weights", "table#history", "form#decide", "#reason",
          "#act-same", "#act-different", "#act-unsure")
    assert b.page.locator("main mark").count() >= 1, "the differing characters of the two records are highlighted"
    b.expect(b.page.locator("#compare tr.differs mark").count() >= 1,
             "review page: no differing characters in `mark` in the side-by-side table #compare")
    b.shot("03_review_page")

    n = len(_decisions(config))
    reason = "ids and dates agree, same household: 同一人"   # letters s, d, u typed in the textarea do nothing
    b.page.click("#reason")
    b.page.keyboard.type(reason)
    assert b.page.locator("form#decide").get_attribute("data-sent") is None, "a shortcut fired while typing"
    b.page.wait_for_timeout(300)
    assert len(_decisions(config)) == n and b.path() == f"/reviews/{pair_id}", "a shortcut fired while typing"
    assert b.page.input_value("#reason") == reason
    b.page.click("#state")                                   # leave the text box, then the shortcut
    with b.page.expect_navigation():
        b.page.keyboard.press("s")
    assert any(RECORDED in f for f in b.flashes()), b.flashes()
    got = _decisions(config)
    assert len(got) == n + 1
    assert (got[-1]["kind"], got[-1]["value"], got[-1]["decided_by"], got[-1]["reason"]) == \
        ("pair", "same", "ann", reason)

    b.goto(f"/reviews/{pair_id}")
    assert PENDING in b.text("#state")
    b.goto("/reviews")
    assert b.total() == expected - 1 and not any(h.startswith(f"/reviews/{pair_id}") for h in b.rows())
    b.goto("/reviews?state=pending")
    assert any(h.startswith(f"/reviews/{pair_id}") for h in b.rows()), "the decided pair is listed as pending"
    return pair_id, pair


def _refuse_invalid_id(b: Browser, config):
    """A corrected ID number that is no ID number: refused with a message (400), nothing recorded."""
    b.goto("/conflicts?entity=person&field=id_number")
    hrefs = b.rows()
    assert hrefs, "the demo has open id_number conflicts"
    with b.page.expect_navigation():
        b.page.locator("table#queue tr.row").first.locator("a.open").click()
    conflict_id = _id_from(b.path(), "conflicts")
    assert _conflict(config, conflict_id)["field"] == "id_number"
    n = len(_decisions(config))
    b.expected_statuses.add((400, f"{b.base}/conflicts/{conflict_id}/decide"))  # Chromium logs a 400 as an error
    b.page.fill("#value", "110105194912310021")              # the check digit is wrong (X is right)
    b.page.fill("#reason", "户籍底册上的号码")
    with b.page.expect_navigation() as nav:
        b.page.click("#act-value")
    assert nav.value.status == 400, nav.value.status
    assert "公民身份号码无效" in " ".join(b.page.locator(".flash-error").all_inner_texts()), "no error message"
    b.shot("06_conflict_invalid_value")
    assert len(_decisions(config)) == n, "a refused value must not be recorded"
    b.goto(f"/conflicts/{conflict_id}")
    assert PENDING not in b.text("#state")


def _decide_conflict(b: Browser, config) -> tuple[str, dict]:
    """Home → person-conflict count → first conflict → take the grid value, with a reason."""
    b.goto("/")
    expected = _count(b, "person")
    assert expected >= 1
    with b.page.expect_navigation():
        b.page.click("#count-person a")
    assert b.path() == "/conflicts"
    assert b.total() == expected, "the home page's count and the queue's total disagree"
    hrefs = b.rows()
    assert len(hrefs) == min(expected, 50) and all(h.startswith("/conflicts/") for h in hrefs), hrefs
    b.shot("04_conflict_queue")

    b.page.keyboard.press("j")                               # the keyboard: select the first row, open it
    assert "selected" in (b.page.locator("table#queue tr.row").first.get_attribute("class") or "")
    with b.page.expect_navigation():
        b.page.keyboard.press("Enter")
    conflict_id = _id_from(b.path(), "conflicts")
    assert urlsplit(hrefs[0]).path == f"/conflicts/{conflict_id}"
    wh = _conflict(config, conflict_id)
    assert wh["status"] == "open" and wh["grid_value"] and wh["grid_value"] != wh["police_value"]
    b.has("conflict page", "#state", "#police-value", "#grid-value", "#police", "#grid", "table#history",
          "form#decide", "#reason", "#value", "#act-police", "#act-grid", "#act-value", "#act-visit")
    assert "待处理" in b.text("#state")
    assert b.page.locator("#police-value mark, #grid-value mark").count() >= 1, "differing characters are highlighted"
    b.shot("05_conflict_page")

    n = len(_decisions(config))
    reason = "网格员上门核实过"
    b.page.fill("#reason", reason)
    with b.page.expect_navigation():
        b.page.click("#act-grid")
    assert any(RECORDED in f for f in b.flashes()), b.flashes()
    nxt = urlsplit(hrefs[1]).path if len(hrefs) > 1 else "/conflicts"
    b.expect(b.path() == nxt, f"after a decision the next conflict of the queue opens: {nxt}, not {b.path()}")
    got = _decisions(config)
    assert len(got) == n + 1
    assert (got[-1]["kind"], got[-1]["target"], got[-1]["value"], got[-1]["decided_by"], got[-1]["reason"]) == \
        ("conflict", conflict_id, wh["grid_value"], "ann", reason)
    b.goto(f"/conflicts/{conflict_id}")
    assert PENDING in b.text("#state")
    return conflict_id, wh


def _bulk_preview(b: Browser, config):
    """The bulk form on a filtered queue: preview only (nothing recorded)."""
    b.goto("/conflicts?entity=person&field=phone")
    assert b.rows(), "the demo has open phone conflicts"
    form = b.page.locator("form[action$='/conflicts/bulk']")
    assert form.count() == 1, "no bulk-action form (POST /conflicts/bulk) on the filtered conflict queue"
    n = len(_decisions(config))
    action = form.locator("select[name=action]")
    if action.count():
        action.select_option("take_grid")
        submit = form.locator("button[type=submit], input[type=submit]").first
    else:
        submit = form.locator("button[name=action][value=take_grid]")
    with b.page.expect_navigation():
        submit.click()
    assert b.page.locator("table#bulk-changes").count() == 1 and b.page.locator("#bulk-confirm").count() == 1
    truth = open_conflicts(config)                    # SQL on the warehouse, minus what was decided since
    decided = {d["target"] for d in _decisions(config)}
    want = truth[(truth["entity"] == "person") & (truth["field"] == "phone") & truth["grid_value"].notna()
                 & ~truth["conflict_id"].isin(decided)]
    assert int(re.search(r"\d+", b.text("#bulk-count")).group()) == len(want) > 0
    assert b.page.locator("table#bulk-changes tbody tr").count() == len(want)
    b.shot("07_bulk_preview")
    assert len(_decisions(config)) == n, "a preview records nothing"


def _check_applied(b: Browser, config, conflict_id: str, wh: dict, pair_id: str, pair: dict, after: str,
                   shot: str | None = None):
    # the warehouse, straight SQL
    now = _conflict(config, conflict_id)
    assert (now["status"], now["chosen_value"], now["resolved_by"]) == ("resolved", wh["grid_value"], "ann"), \
        (after, now)
    golden = _golden_ids(config, pair)
    assert len(golden) == 2 and len({g[2] for g in golden}) == 1, (after, golden)
    left = _wh(config, "SELECT count(*) FROM match_review WHERE pair_id = ? OR ((left_source, left_key, right_source, "
                       "right_key) IN ((?, ?, ?, ?), (?, ?, ?, ?)))",
               [pair_id, pair["left_source"], pair["left_key"], pair["right_source"], pair["right_key"],
                pair["right_source"], pair["right_key"], pair["left_source"], pair["left_key"]])[0][0]
    assert left == 0, f"{after}: the pair is still in match_review"
    # the browser
    b.goto(f"/conflicts/{conflict_id}")
    state = b.text("#state")
    assert RESOLVED in state and PENDING not in state, (after, state)
    assert wh["grid_value"] in b.page.locator("main").inner_text(), f"{after}: the chosen value is not shown"
    if shot:
        b.shot(shot)
    b.goto("/reviews?state=all")
    assert not any(h.startswith(f"/reviews/{pair_id}") for h in b.rows()), f"{after}: the pair is still queued"
    b.goto("/reviews")
    assert not any(h.startswith(f"/reviews/{pair_id}") for h in b.rows())


def test_a_steward_decides_in_the_browser_and_the_syncs_apply_it(served):
    config, config_path, base = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
            page.set_default_timeout(5_000)
            b = Browser(page, base)
            _log_in(b)
            pair_id, pair = _decide_pair(b, config)
            _refuse_invalid_id(b, config)
            conflict_id, wh = _decide_conflict(b, config)
            _bulk_preview(b, config)

            sync(config_path)
            _check_applied(b, config, conflict_id, wh, pair_id, pair, "first sync", shot="08_conflict_resolved")
            sync(config_path)
            _check_applied(b, config, conflict_id, wh, pair_id, pair, "second sync")
        finally:
            browser.close()
    assert b.errors == [], b.errors
    assert b.server_errors == [], b.server_errors
    assert b.contract == [], "the pages differ from the page contract:\n" + "\n".join(b.contract)
