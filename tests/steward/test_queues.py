"""The work queues on a synced demo: what they list, filters, scope, order, pages, age, counts, the home page and
detail pages."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from schemas.config import load
from steward import queues
from steward.decisions_model import pair_target
from tests.steward.data_demo import base, fresh_copy, open_conflicts, table


@pytest.fixture(scope="module")
def config():
    return load(base() / "gridbridge.yaml")


def _ids(page) -> list[str]:
    return [r["conflict_id"] for r in page.items]


def test_the_queue_lists_every_open_conflict_most_important_first(config):
    truth = open_conflicts(config)
    assert len(truth) >= 10 and truth["field"].nunique() >= 4, "the demo has too few open conflicts to test with"
    assert (truth["entity"] == "house").any(), "the demo has no open house conflict (area: steward)"
    page = queues.open_conflicts(config)
    assert page.total == len(truth) and set(_ids(page)) == set(truth["conflict_id"])
    impacts = [r["impact"] for r in page.items]
    assert impacts == sorted(impacts, reverse=True)
    tiers = [r["tier"] for r in page.items]
    assert tiers == sorted(tiers), "identity fields (ID number, name, birth date) come first"
    first = page.items[0]
    assert first["field"] in queues.IDENTITY and first["state"] == "open" and first["state_label"] == "待处理"
    by_id = truth.set_index("conflict_id")
    for r in page.items:                              # values and places straight from the warehouse
        t = by_id.loc[r["conflict_id"]]
        assert (r["entity"], r["entity_id"], r["police_value"], r["grid_value"], r["grid_code"], r["community"]) == \
            (t["entity"], t["entity_id"], t["police_value"], t["grid_value"], t["grid_code"], t["community"])
    house = next(r for r in page.items if r["entity"] == "house")
    address = table(config, "SELECT address FROM house WHERE house_id = ?", [house["entity_id"]]).iloc[0, 0]
    assert (house["entity_label"], house["field_label"], house["label"]) == ("房屋", "面积（平方米）", address)
    assert house["tier"] == 2


def test_household_size_orders_conflicts_within_a_tier(config):
    items = queues.open_conflicts(config).items
    for tier in {r["tier"] for r in items}:
        same = [r for r in items if r["tier"] == tier and r["in_both"]]
        members = [r["members"] for r in same]
        assert members == sorted(members, reverse=True)
    sizes = table(config, "SELECT house_id, count(*) AS n FROM person GROUP BY house_id").set_index("house_id")["n"]
    houses = table(config, "SELECT person_id, house_id FROM person").set_index("person_id")["house_id"]
    for r in items:
        if r["entity"] == "person":                   # persons sharing the golden house (1: alone or no house)
            house = houses[r["entity_id"]]
            assert r["members"] == (sizes[house] if house is not None else 1)
        else:                                         # a house: its residents
            assert r["members"] == sizes.get(r["entity_id"], 0)


def test_filters_by_field_grid_and_community(config):
    truth = open_conflicts(config)
    field = truth["field"].value_counts().index[0]
    got = queues.open_conflicts(config, field=field)
    assert set(_ids(got)) == set(truth.loc[truth["field"] == field, "conflict_id"]) and got.total > 0
    got = queues.open_conflicts(config, entity="house")
    assert set(_ids(got)) == set(truth.loc[truth["entity"] == "house", "conflict_id"])
    grid = truth["grid_code"].dropna().iloc[0][:9]
    got = queues.open_conflicts(config, grid=grid)
    assert set(_ids(got)) == set(truth.loc[truth["grid_code"].fillna("").str.startswith(grid), "conflict_id"])
    community = truth["community"].dropna().iloc[0]
    got = queues.open_conflicts(config, community=community)
    assert set(_ids(got)) == set(truth.loc[truth["community"] == community, "conflict_id"])
    assert queues.open_conflicts(config, field="no_such_field").total == 0


def test_a_scoped_user_sees_only_their_grids_and_communities(config):
    truth = open_conflicts(config)
    community = truth["community"].value_counts().index[0]
    grid = truth.loc[truth["community"] != community, "grid_code"].dropna().iloc[0]
    scope = [community, grid]
    want = truth[(truth["community"] == community) | (truth["grid_code"] == grid)]
    got = queues.open_conflicts(config, scope=scope)
    assert set(_ids(got)) == set(want["conflict_id"]) and 0 < got.total < len(truth)
    counts = queues.counts(config, scope)
    assert counts["conflicts"]["queue"] == len(want)
    assert queues.open_conflicts(config, scope=["no-such-prefix"]).total == 0


def test_pages_cover_the_queue_once(config):
    whole = _ids(queues.open_conflicts(config))
    pages = [_ids(queues.open_conflicts(config, limit=4, offset=o)) for o in range(0, len(whole) + 4, 4)]
    assert [i for p in pages for i in p] == whole
    assert queues.open_conflicts(config, limit=4, offset=len(whole) + 10).total == len(whole)


def test_age_is_whole_days_since_first_seen_and_filters(config):
    """The arithmetic of age_days and min_age_days (which publish first_seen is: test_excel_and_sync.py, with two
    publishes)."""
    published = table(config, "SELECT published_at FROM publish_history ORDER BY run_seq DESC LIMIT 1").iloc[0, 0]
    later = dt.datetime.fromisoformat(published).timestamp() + 3 * 86400 + 60
    items = queues.open_conflicts(config, now=later).items
    assert items and all(r["age_days"] == 3 and r["first_seen"] == published for r in items)
    assert queues.open_conflicts(config, now=later, min_age_days=3).total == len(items)
    assert queues.open_conflicts(config, now=later, min_age_days=4).total == 0


def test_counts_for_the_home_page(config):
    truth = open_conflicts(config)
    c = queues.counts(config)
    assert c["conflicts"]["queue"] == len(truth) and c["conflicts"]["by_state"] == {"open": len(truth)}
    assert c["conflicts"]["by_field"] == truth["field"].value_counts().to_dict()
    assert c["conflicts"]["by_entity"] == truth["entity"].value_counts().to_dict()
    reviews = table(config, "SELECT entity, count(*) AS n FROM match_review GROUP BY entity")
    assert c["reviews"]["queue"] == reviews["n"].sum() > 0
    assert c["reviews"]["by_entity"] == dict(zip(reviews["entity"], reviews["n"]))
    assert c["warehouse"]["run_id"] == table(config, "SELECT run_id FROM publish_history").iloc[0, 0]


def test_the_home_page_shows_the_users_counts(tmp_path):
    from tests.steward.support import add_users, console, login
    config = fresh_copy(tmp_path / "demo")
    truth = open_conflicts(config)
    reviews = len(table(config, "SELECT pair_id FROM match_review"))
    community = truth["community"].value_counts().index[0]
    mine = truth[truth["community"] == community]
    app = console(tmp_path / "demo" / "gridbridge.yaml")
    add_users(app, ("all", "viewer", []), ("one", "viewer", [community]))

    def shown(user) -> dict[str, int]:
        client = app.test_client()
        login(client, user)
        html = client.get("/").get_data(as_text=True)
        return {k: int(n) for k, n in re.findall(r'id="count-(\w+)">\s*<a href="[^"]+"><span class="number">(\d+)</span>', html)}
    assert shown("all") == {"reviews": reviews, "person": int((truth["entity"] == "person").sum()),
                            "house": int((truth["entity"] == "house").sum()), "field_visit": 0, "pending": 0}
    got = shown("one")
    assert (got["person"], got["house"]) == ((mine["entity"] == "person").sum(), (mine["entity"] == "house").sum())
    assert got["person"] < shown("all")["person"]


def test_review_queue_and_detail(config):
    truth = table(config, "SELECT * FROM match_review")
    page = queues.match_reviews(config)
    assert {r["pair_id"] for r in page.items} == set(truth["pair_id"])
    assert [r["impact"] for r in page.items] == sorted((r["impact"] for r in page.items), reverse=True)
    r = page.items[0]
    assert r["target"] == pair_target(r["entity"], (r["left_source"], r["left_key"]), (r["right_source"], r["right_key"]))
    d = queues.review_detail(config, r["pair_id"])
    assert d["target"] == r["target"]
    assert {w["name"]: w["weight"] for w in d["weights"]} == json.loads(r["weights"])
    assert all(w["label"] for w in d["weights"])
    for name in ("left", "right"):
        assert d[name]["record"]["source_key"] == r[f"{name}_key"]
        assert d[name]["golden"][f"{r['entity']}_id"] == r[f"{name}_id"]
    assert d["history"] == [] and queues.review_detail(config, "no-such-pair") is None
    assert queues.match_reviews(config, scope=["no-such-prefix"]).total == 0


def test_conflict_detail_shows_both_records_their_households_and_houses(config):
    row = next(r for r in queues.open_conflicts(config).items if r["entity"] == "person" and "~" not in r["field"])
    d = queues.conflict_detail(config, row["conflict_id"])
    assert d["conflict"]["conflict_id"] == row["conflict_id"] and d["entity"]["person_id"] == row["entity_id"]
    for side in ("police", "grid"):
        rec = d[side]["record"]
        assert rec["source_key"] == row[f"{side}_key"]
        assert str(rec[row["field"]]) == row[f"{side}_value"]     # the value in conflict, on its source record
        assert rec["raw"] and isinstance(rec["raw"], dict)
        assert all(m["house_key"] == rec["house_key"] and m["source_key"] != rec["source_key"]
                   for m in d[side]["members"])
        if d[side]["house"] is not None:
            assert d[side]["house"]["source_key"] == rec["house_key"]
    assert any(m["members"] for m in (d["police"], d["grid"])), "no household shown on either side"
    assert {(x["source"], x["source_key"]) for x in d["xref"]} >= {("police", row["police_key"]), ("grid", row["grid_key"])}
    assert d["columns"]["name"]["police"] == "姓名" and d["columns"]["name"]["label"] == "姓名"
    for side in ("police", "grid"):                           # runs rebuild the value; the differing ones marked
        assert "".join(t for t, _ in d["diff"][side]) == row[f"{side}_value"]
        assert any(changed for _, changed in d["diff"][side])
    assert queues.conflict_detail(config, "no-such-conflict") is None


def test_house_conflict_detail_shows_both_houses_and_their_residents(config):
    row = next(r for r in queues.open_conflicts(config, entity="house").items)
    d = queues.conflict_detail(config, row["conflict_id"])
    assert d["entity"]["house_id"] == row["entity_id"] and d["conflict"]["field_label"] == "面积（平方米）"
    for side in ("police", "grid"):
        rec = d[side]["record"]
        assert rec["source_key"] == row[f"{side}_key"] and d[side]["house"] == rec
        residents = table(config, "SELECT x.source_key FROM person p JOIN person_xref x USING (person_id) "
                                  "WHERE p.house_id = ? AND x.source = ?", [row["entity_id"], side])
        assert {m["source_key"] for m in d[side]["members"]} <= set(residents["source_key"])
        assert all(m["house_key"] == rec["source_key"] for m in d[side]["members"])
    assert any(d[side]["members"] for side in ("police", "grid")), "no residents shown for the house"


def test_warm_reads_the_snapshots_once_per_published_file(config):
    import os
    import shutil
    queues.clear_cache()
    assert queues.warm(config) is True and queues.warm(config) is False
    first = queues.open_conflicts(config).items[0]
    # detail lookups of open conflicts come from the warm snapshot and agree with the SQL lookup
    warm_row = queues.lookup_conflicts(config, [first["conflict_id"]])[first["conflict_id"]]
    queues.clear_cache()
    cold_row = queues.lookup_conflicts(config, [first["conflict_id"]])[first["conflict_id"]]
    assert warm_row == cold_row
    queues.warm(config)
    path = config.warehouse_path                       # a sync swaps a new file in: read again
    shutil.copyfile(path, f"{path}.new")
    os.replace(f"{path}.new", path)
    assert queues.warm(config) is True
