"""The console's queue and decision pages through the Flask test client, on a synced demo: what they list (checked
against SQL on the warehouse), deciding from them, invalid values, viewers, scopes, CSRF, bulk with a preview,
undo, and that no ID number or phone ever lands in a URL."""
from __future__ import annotations

import html
import re

import pytest

from steward.decisions_model import pair_target
from steward.store import decisions
from tests.steward.data_demo import fresh_copy, open_conflicts, table
from tests.steward.support import add_users, console, csrf_from, login, post

ID18 = re.compile(r"\d{17}[\dXx]")
PHONE = re.compile(r"1[3-9]\d{9}")


@pytest.fixture
def site(tmp_path):
    config = fresh_copy(tmp_path / "demo")
    app = console(tmp_path / "demo" / "gridbridge.yaml")
    add_users(app, ("ann", "steward", []), ("vic", "viewer", []))
    return config, app


def client_for(app, user: str):
    c = app.test_client()
    assert login(c, user).status_code == 302
    return c


def text(resp) -> str:
    return resp.get_data(as_text=True)


def total(page: str) -> int:
    return int(re.search(r'id="total">(\d+)<', page).group(1))


def rows(page: str) -> list[str]:
    """The detail links of a queue page, in order (unescaped)."""
    return [html.unescape(h) for h in re.findall(r'<tr class="row[^"]*" data-href="([^"]+)"', page)]


def conflict_id(href: str) -> str:
    return re.match(r"/conflicts/([^/?]+)", href).group(1)


def test_the_conflict_queue_lists_what_the_warehouse_has_and_filters(site):
    config, app = site
    c = client_for(app, "ann")
    truth = open_conflicts(config)
    page = text(c.get("/conflicts"))
    assert total(page) == len(truth)
    assert 0 < len(truth) <= 50, "the demo's conflicts should fit on one page"
    assert set(map(conflict_id, rows(page))) == set(truth["conflict_id"])
    phone = truth[truth["field"] == "phone"]
    assert len(phone) >= 2
    page = text(c.get("/conflicts?field=phone"))
    assert total(page) == len(phone) and set(map(conflict_id, rows(page))) == set(phone["conflict_id"])
    grid = phone["grid_code"].iloc[0][:12]
    page = text(c.get(f"/conflicts?field=phone&grid={grid}"))
    assert set(map(conflict_id, rows(page))) == set(phone[phone["grid_code"].str.startswith(grid)]["conflict_id"])
    assert total(text(c.get("/conflicts?entity=house"))) == int((truth["entity"] == "house").sum())
    # a malformed filter is dropped, not an error
    assert total(text(c.get("/conflicts?entity=cars&min_age=abc&page=-3&state=bogus"))) == len(truth)


def test_the_review_queue_and_page_show_both_records_and_the_weights(site):
    config, app = site
    c = client_for(app, "ann")
    truth = table(config, "SELECT * FROM match_review WHERE status IN ('open', 'escalated')")
    page = text(c.get("/reviews"))
    assert total(page) == len(truth) > 0
    href = rows(page)[0]
    pair_id = re.match(r"/reviews/([^/?]+)", href).group(1)
    r = truth.set_index("pair_id").loc[pair_id]
    page = text(c.get(href))
    assert r["left_key"] in page and r["right_key"] in page
    assert 'id="weights"' in page and page.count("<mark>") > 0
    assert len(re.findall(r'<tr><td>[^<]+</td><td class="n">[+-]\d', page)) == len(re.findall(r'"\w+":', r["weights"]))


def test_deciding_a_conflict_records_it_and_moves_to_the_next(site):
    config, app = site
    c = client_for(app, "ann")
    first, second = rows(text(c.get("/conflicts?field=phone")))[:2]
    cid = conflict_id(first)
    page = text(c.get(first))
    assert 'id="decide"' in page and 'id="act-grid"' in page
    grid_value = table(config, "SELECT grid_value FROM person_conflict WHERE conflict_id = ?", [cid]).iloc[0, 0]
    resp = post(c, f"/conflicts/{cid}/decide", {"action": "take_grid", "reason": "电话核实", "field": "phone",
                                                   "pos": "0"})
    assert resp.status_code == 302
    nxt = c.get(resp.headers["Location"])
    assert nxt.status_code == 302 and conflict_id(nxt.headers["Location"]) == conflict_id(second)
    rec = decisions(config).iloc[-1]
    assert (rec["kind"], rec["target"], rec["value"], rec["decided_by"], rec["reason"]) == \
        ("conflict", cid, grid_value, "ann", "电话核实")
    page = text(c.get(f"/conflicts/{cid}"))
    assert "已决定，下次同步生效" in re.search(r'id="state"[^>]*>([^<]+)<', page).group(1)
    assert cid not in map(conflict_id, rows(text(c.get("/conflicts?field=phone"))))
    assert cid in map(conflict_id, rows(text(c.get("/conflicts?field=phone&state=pending"))))


def test_an_invalid_corrected_value_is_refused_with_a_message(site):
    config, app = site
    c = client_for(app, "ann")
    truth = open_conflicts(config)
    cid = truth[truth["field"] == "id_number"]["conflict_id"].iloc[0]
    resp = post(c, f"/conflicts/{cid}/decide", {"action": "value", "value": "64020219900101123"})
    assert resp.status_code == 400
    assert re.search(r'class="flash flash-error"[^>]*>[^<]*公民身份号码无效', text(resp))
    assert "64020219900101123" in text(resp)             # the steward's input is kept in the form
    body = "11010119900307451"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2))) % 11]
    wrong = "0" if check != "0" else "1"
    resp = post(c, f"/conflicts/{cid}/decide", {"action": "value", "value": body + wrong})
    assert resp.status_code == 400 and "校验位" in text(resp)
    assert decisions(config).empty
    resp = post(c, f"/conflicts/{cid}/decide", {"action": "value", "value": body + check.lower()})
    assert resp.status_code == 302 and decisions(config).iloc[-1]["value"] == body + check


def test_a_viewer_reads_masked_values_and_cannot_decide(site):
    config, app = site
    v = client_for(app, "vic")
    truth = open_conflicts(config)
    ids = truth[truth["field"] == "id_number"]
    page = text(v.get("/conflicts?field=id_number"))
    assert total(page) == len(ids) and not ID18.search(page)
    href = rows(page)[0]
    detail = text(v.get(href))
    assert 'id="decide"' not in detail and not ID18.search(detail) and not PHONE.search(detail)
    assert post(v, f"/conflicts/{conflict_id(href)}/decide", {"action": "take_grid"}).status_code == 403
    pair = table(config, "SELECT pair_id FROM match_review LIMIT 1").iloc[0, 0]
    assert post(v, f"/reviews/{pair}/decide", {"value": "same"}).status_code == 403
    assert decisions(config).empty
    steward = client_for(app, "ann")                    # a steward sees the full values
    assert ID18.search(re.sub(r"<[^>]+>", "", text(steward.get("/conflicts?field=id_number"))))
    post(steward, f"/conflicts/{ids['conflict_id'].iloc[0]}/decide", {"action": "take_grid"})
    assert ID18.search(text(steward.get("/decisions"))) and not ID18.search(text(v.get("/decisions")))
    assert "********" in text(v.get("/decisions"))


def test_a_scoped_steward_sees_and_decides_only_their_grids(site):
    config, app = site
    truth = open_conflicts(config)
    grid = truth["grid_code"].dropna().iloc[0]
    mine, theirs = truth[truth["grid_code"] == grid], truth[truth["grid_code"] != grid]
    add_users(app, ("sam", "steward", [grid]))
    s = client_for(app, "sam")
    page = text(s.get("/conflicts"))
    assert set(map(conflict_id, rows(page))) == set(mine["conflict_id"]) and total(page) == len(mine)
    other = theirs[~theirs["community"].fillna("").str.startswith(grid)]["conflict_id"].iloc[0]
    assert s.get(f"/conflicts/{other}").status_code == 403
    assert post(s, f"/conflicts/{other}/decide", {"action": "take_police"}).status_code == 403
    assert decisions(config).empty


def test_decisions_need_a_csrf_token(site):
    config, app = site
    c = client_for(app, "ann")
    cid = open_conflicts(config)["conflict_id"].iloc[0]
    assert post(c, f"/conflicts/{cid}/decide", {"action": "take_police"}, token="").status_code == 400
    assert post(c, f"/conflicts/{cid}/decide", {"action": "take_police"}, token="forged").status_code == 400
    assert decisions(config).empty


def test_a_pair_decision_from_the_review_page(site):
    config, app = site
    c = client_for(app, "ann")
    href = rows(text(c.get("/reviews")))[0]
    pair_id = re.match(r"/reviews/([^/?]+)", href).group(1)
    r = table(config, "SELECT * FROM match_review WHERE pair_id = ?", [pair_id]).iloc[0]
    resp = post(c, f"/reviews/{pair_id}/decide", {"value": "different", "reason": "不同出生地", "pos": "0"})
    assert resp.status_code == 302 and "/reviews/at/0" in resp.headers["Location"]
    rec = decisions(config).iloc[-1]
    assert (rec["kind"], rec["value"], rec["target"]) == \
        ("pair", "different", pair_target(r["entity"], (r["left_source"], r["left_key"]),
                                          (r["right_source"], r["right_key"])))
    assert pair_id not in text(c.get("/reviews"))
    assert "已决定，下次同步生效" in text(c.get(f"/reviews/{pair_id}"))
    assert post(c, f"/reviews/{pair_id}/decide", {"value": "maybe"}).status_code == 302
    assert len(decisions(config)) == 1


def test_undo_from_the_history_brings_the_conflict_back(site):
    config, app = site
    c = client_for(app, "ann")
    cid = open_conflicts(config)["conflict_id"].iloc[0]
    post(c, f"/conflicts/{cid}/decide", {"action": "take_police"})
    did = int(decisions(config).iloc[-1]["decision_id"])
    page = text(c.get(f"/conflicts/{cid}"))
    form = re.search(r'<form method="post" action="(/decisions/\d+/undo)" class="undo', page)
    assert form and form.group(1) == f"/decisions/{did}/undo"
    back = html.unescape(re.search(r'name="back" value="([^"]+)"', page).group(1))
    resp = post(c, form.group(1), {"back": back, "reason": "点错了"})
    assert resp.status_code == 302 and resp.headers["Location"] == back
    undo = decisions(config).iloc[-1]
    assert (undo["kind"], undo["target"], undo["reason"]) == ("undo", str(did), "点错了")
    assert cid in map(conflict_id, rows(text(c.get("/conflicts"))))
    log = text(c.get("/decisions"))
    assert f"#{did}" in log and "已撤销" in log
    # a redirect target off the site is ignored
    post(c, f"/conflicts/{cid}/decide", {"action": "take_grid"})
    resp = post(c, f"/decisions/{int(decisions(config).iloc[-1]['decision_id'])}/undo", {"back": "//evil.example/x"})
    assert resp.headers["Location"].endswith("/decisions")


def test_bulk_action_previews_then_applies_the_same_plan(site):
    config, app = site
    c = client_for(app, "ann")
    truth = open_conflicts(config)
    phone = truth[(truth["field"] == "phone") & truth["grid_value"].notna()]
    resp = post(c, "/conflicts/bulk", {"field": "phone", "action": "take_grid"})
    page = text(resp)
    assert resp.status_code == 200 and int(re.search(r'id="bulk-count">(\d+)<', page).group(1)) == len(phone)
    assert decisions(config).empty, "a preview writes nothing"
    token = csrf_from(page)
    plan_token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    resp = post(c, "/conflicts/bulk/apply", {"field": "phone", "action": "take_grid", "token": plan_token,
                                             "reason": "批量"}, token=token)
    assert resp.status_code == 302
    got = decisions(config)
    assert dict(zip(got["target"], got["value"])) == dict(zip(phone["conflict_id"], phone["grid_value"]))
    assert set(got["reason"]) == {"批量"}
    again = post(c, "/conflicts/bulk/apply", {"field": "phone", "action": "take_grid", "token": plan_token})
    assert again.status_code == 302 and len(decisions(config)) == len(phone)   # stale plan: nothing appended
    assert "请重新预览" in text(c.get(again.headers["Location"]))
    resp = post(c, "/conflicts/bulk", {"action": "take_grid"})        # no field chosen: refused with a message
    assert resp.status_code == 302 and "必须先选定字段" in text(c.get(resp.headers["Location"]))


def test_no_id_number_or_phone_in_any_link_or_form_action(site):
    config, app = site
    c = client_for(app, "ann")
    pages = ["/", "/conflicts", "/reviews", "/decisions"]
    pages += rows(text(c.get("/conflicts")))[:10] + rows(text(c.get("/reviews")))[:10]
    seen = 0
    for url in pages:
        page = text(c.get(url))
        for link in re.findall(r'(?:href|action|data-href)="([^"]*)"', page):
            seen += 1
            assert not ID18.search(link) and not PHONE.search(link), (url, link)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), f"inline script on {url}"
    assert seen > 100


def test_keyboard_shortcuts_script_is_served_and_wired(site):
    _, app = site
    c = client_for(app, "ann")
    js = text(c.get("/static/steward.js"))
    for key, button in (("p", "#act-police"), ("g", "#act-grid"), ("f", "#act-visit"), ("s", "#act-same"),
                        ("d", "#act-different"), ("u", "#act-unsure")):
        assert re.search(rf'\b{key}: "{button}"', js)
    href = rows(text(c.get("/conflicts")))[0]
    page = text(c.get(href))
    for button in ("act-police", "act-grid", "act-visit", "act-value"):
        assert f'id="{button}"' in page
    assert '/static/steward.js' in page and 'id="shortcuts"' in page


def test_home_counts_lead_to_queues_with_the_same_totals(site):
    _, app = site
    c = client_for(app, "ann")
    home = text(c.get("/"))
    links = dict(re.findall(r'id="count-(\w+)">\s*<a href="([^"]+)"><span class="number">(?:\d+)</span>', home))
    counts = dict(re.findall(r'id="count-(\w+)">\s*<a href="[^"]+"><span class="number">(\d+)</span>', home))
    for key in ("reviews", "person", "house", "field_visit"):
        assert total(text(c.get(html.unescape(links[key])))) == int(counts[key]), key


def test_the_decision_log_shows_a_scoped_user_only_their_records(site):
    config, app = site
    truth = open_conflicts(config)
    grid = truth["grid_code"].dropna().iloc[0]
    mine = truth[truth["grid_code"] == grid]["conflict_id"].iloc[0]
    theirs = truth[~truth["grid_code"].fillna("").str.startswith(grid)
                   & ~truth["community"].fillna("").str.startswith(grid)]["conflict_id"].iloc[0]
    reviews = table(config, "SELECT pair_id FROM match_review")["pair_id"]
    ann = client_for(app, "ann")
    for cid in (mine, theirs):
        post(ann, f"/conflicts/{cid}/decide", {"action": "take_police"})
    for pair in reviews:
        post(ann, f"/reviews/{pair}/decide", {"value": "unsure"})
    post(ann, f"/decisions/{int(decisions(config).iloc[0]['decision_id'])}/undo")
    add_users(app, ("sam", "steward", [grid]))
    everyone = text(ann.get("/decisions"))
    scoped = text(client_for(app, "sam").get("/decisions"))
    assert f"差异 {mine}" in everyone and f"差异 {theirs}" in everyone
    assert f"差异 {mine}" in scoped and f"差异 {theirs}" not in scoped
    assert "撤销决定 #" in scoped                          # the undo of the in-scope decision
    # pairs: shown when either record is in scope (checked with SQL on the xref)
    in_scope_pairs = table(config, f"""
        SELECT DISTINCT r.pair_id FROM match_review r
        JOIN person_xref x ON (x.source = r.left_source AND x.source_key = r.left_key)
                           OR (x.source = r.right_source AND x.source_key = r.right_key)
        JOIN person p USING (person_id) LEFT JOIN house h ON h.house_id = p.house_id
        WHERE r.entity = 'person' AND (coalesce(p.grid_code, h.grid_code) LIKE '{grid}%' OR h.community LIKE '{grid}%')
        UNION
        SELECT DISTINCT r.pair_id FROM match_review r
        JOIN house_xref x ON (x.source = r.left_source AND x.source_key = r.left_key)
                          OR (x.source = r.right_source AND x.source_key = r.right_key)
        JOIN house h USING (house_id)
        WHERE r.entity = 'house' AND (h.grid_code LIKE '{grid}%' OR h.community LIKE '{grid}%')""")
    assert scoped.count("候选对") == len(in_scope_pairs) < everyone.count("候选对")


def test_next_goes_to_the_row_after_one_that_stays_in_the_queue(site):
    config, app = site
    c = client_for(app, "ann")
    first, second, third = map(conflict_id, rows(text(c.get("/conflicts")))[:3])
    resp = post(c, f"/conflicts/{first}/decide", {"action": "field_visit", "pos": "0"})   # stays at position 0
    landed = c.get(resp.headers["Location"]).headers["Location"]
    assert conflict_id(landed) == second and "pos=1" in landed
    assert "第 2 条" in text(c.get(landed))
    resp = post(c, f"/conflicts/{second}/decide", {"action": "take_police", "pos": "1"})   # leaves the queue
    landed = c.get(resp.headers["Location"]).headers["Location"]
    assert conflict_id(landed) == third and "pos=1" in landed
    again = post(c, f"/conflicts/{first}/decide", {"action": "field_visit"})              # already waiting
    assert again.status_code == 400 and "已经转网格员核实" in text(again)
    assert len(decisions(config)) == 2
    assert "已超出队列末尾" in text(c.get("/conflicts?page=99"))


def test_a_viewer_never_sees_ids_or_phones_in_reasons(site):
    config, app = site
    cid = open_conflicts(config)["conflict_id"].iloc[0]
    ann, vic = client_for(app, "ann"), client_for(app, "vic")
    post(ann, f"/conflicts/{cid}/decide", {"action": "take_grid", "reason": "电话 13912345678 身份证 110101199003074514"})
    for page in (text(ann.get("/decisions")), text(ann.get(f"/conflicts/{cid}"))):
        assert "13912345678" in page and "110101199003074514" in page
    for page in (text(vic.get("/decisions")), text(vic.get(f"/conflicts/{cid}"))):
        assert "电话 139****5678" in page and "110101********4514" in page
        assert not PHONE.search(page) and not ID18.search(page)


def test_undo_returns_only_to_a_path_on_this_site(site):
    config, app = site
    c = client_for(app, "ann")
    cid = open_conflicts(config)["conflict_id"].iloc[0]
    for back in ("//evil.example/x", "/\t/evil.example/x", "https://evil.example/", "\\\\evil.example"):
        post(c, f"/conflicts/{cid}/decide", {"action": "take_grid"})
        resp = post(c, f"/decisions/{int(decisions(config).iloc[-1]['decision_id'])}/undo", {"back": back})
        assert resp.status_code == 302 and resp.headers["Location"] == "/decisions", back
