"""Recording decisions: validation, roles and scopes, field visits, undo, pairs, bulk actions, and the rules the sync
applies them by (steward/decisions_model.py)."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from steward import decide, queues
from steward.decisions_model import active, latest, pair_target, parse_pair_target, undone_ids
from steward.store import decisions
from steward.values import InvalidValue

STEWARD = SimpleNamespace(username="ann", role="steward", scopes=())
VIEWER = SimpleNamespace(username="vic", role="viewer", scopes=())


@pytest.fixture
def config(tmp_path):
    from tests.steward.data_demo import fresh_copy
    return fresh_copy(tmp_path / "demo")


def _open(config, field=None, **kw) -> list[dict]:
    return queues.open_conflicts(config, field=field, **kw).items


def _one(config, field: str) -> dict:
    rows = [r for r in _open(config, field) if r["entity"] == "person"]
    assert rows, f"no open {field} conflict in the demo"
    return rows[0]


# --- the decision model (pure) ---------------------------------------------------------------------
def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(["decision_id", "kind", "target", "value", "decided_at"], r)) for r in rows])


def test_pair_target_is_order_independent_and_parses_back():
    a, b = ("police", "P1"), ("grid", "WG9")
    assert pair_target("person", a, b) == pair_target("person", b, a) == "person|grid:WG9|police:P1"
    assert parse_pair_target(pair_target("house", a, b)) == ("house", ("grid", "WG9"), ("police", "P1"))
    with pytest.raises(ValueError):
        pair_target("car", a, b)


@pytest.mark.parametrize("a, b", [
    (("police", "P1"), ("grid", "G:7|x")),                 # a key holding ':' and '|'
    (("grid", "a|b:c|"), ("police", "|police:")),           # … and '|<source>:' in the later side
    (("grid", "WG|aaa:1"), ("police", "P:2")),              # '|aaa:' sorts before the real second side
    (("police", "P1"), ("police", "P1|2")),                 # within-source pair
])
def test_parse_pair_target_reads_keys_with_separators(a, b):
    target = pair_target("person", a, b)
    assert parse_pair_target(target) == ("person", *sorted((a, b), key=lambda s: f"{s[0]}:{s[1]}"))


def test_parse_pair_target_refuses_malformed_targets():
    for bad in ("garbage", "person|police:P1", "car|grid:1|police:2", "person|grid|police:2", "", "person|",
                "person|police:B|grid:A", None, 17):
        assert parse_pair_target(bad) is None, bad


def test_add_decisions_is_one_transaction(tmp_path):
    from warehouse.state import State
    state = State(tmp_path)
    first = state.add_decision("conflict", "c0", "v", "ann")
    rows = [{"kind": "conflict", "target": f"c{i}", "value": str(i), "decided_by": "ann", "reason": "r"}
            for i in range(1, 4)]
    assert state.add_decisions(rows) == [first + 1, first + 2, first + 3]
    got = state.decisions().set_index("decision_id")
    assert [got.loc[i, "target"] for i in (first + 1, first + 2, first + 3)] == ["c1", "c2", "c3"]
    with pytest.raises(Exception):                          # the last row breaks NOT NULL: none is kept
        state.add_decisions(rows + [{"kind": None, "target": "c9", "value": None, "decided_by": "ann"}])
    assert len(state.decisions()) == 4 and state.add_decisions([]) == []


def test_undo_and_field_visit_in_the_decision_model():
    d = _frame([(1, "conflict", "c1", "A", "t1"), (2, "conflict", "c1", "B", "t2"), (3, "undo", "2", None, "t3"),
                (4, "conflict", "c2", "X", "t4"), (5, "field_visit", "c2", None, "t5"),
                (6, "conflict", "c3", "Y", "t6"), (7, "undo", "6", None, "t7"), (8, "undo", "7", None, "t8")])
    assert undone_ids(d) == {2, 7}                                # 8 undid the undo 7: decision 6 applies again
    assert set(active(d)["decision_id"]) == {1, 4, 5, 6}
    got = latest(d, ("conflict", "field_visit")).set_index("target")
    assert got.loc["c1", "value"] == "A" and got.loc["c2", "kind"] == "field_visit" and got.loc["c3", "value"] == "Y"


def test_the_sync_drops_undone_decisions_and_field_visits_withdraw_values():
    from matching.reconcile import _latest_decisions
    d = _frame([(1, "conflict", "c1", "A", "t1"), (2, "conflict", "c1", "B", "t2"), (3, "undo", "2", None, "t3"),
                (4, "conflict", "c2", "X", "t4"), (5, "field_visit", "c2", None, "t5"), (6, "undo", "1", None, "t6"),
                (7, "conflict", "c3", "Z", "t7")]).assign(police_value="p", grid_value="g", decided_by="ann")
    got = _latest_decisions(d).set_index("target")
    assert list(got.index) == ["c3"] and got.loc["c3", "value"] == "Z"
    assert _latest_decisions(d[d["decision_id"] <= 2]).set_index("target").loc["c1", "value"] == "B"


# --- one conflict ----------------------------------------------------------------------------------
def test_take_grid_is_appended_with_the_values_shown_and_leaves_the_queue(config):
    row = _one(config, "phone")
    got = decide.decide_conflict(config, STEWARD, row["conflict_id"], "take_grid", reason="网格员电话核实")
    rec = decisions(config).set_index("decision_id").loc[got.decision_id]
    assert (rec["kind"], rec["target"], rec["value"]) == ("conflict", row["conflict_id"], row["grid_value"])
    assert (rec["police_value"], rec["grid_value"], rec["decided_by"], rec["reason"]) == \
        (row["police_value"], row["grid_value"], "ann", "网格员电话核实")
    assert row["conflict_id"] not in {r["conflict_id"] for r in _open(config)}
    pending = {r["conflict_id"]: r for r in _open(config, state="pending")}
    assert pending[row["conflict_id"]]["state_label"] == "已决定，下次同步生效"
    assert pending[row["conflict_id"]]["decision_value"] == row["grid_value"]
    assert queues.counts(config)["conflicts"]["by_state"]["pending"] == 1


def test_a_corrected_value_goes_through_the_normalisers(config):
    before = len(decisions(config))
    row = _one(config, "id_number")
    for bad, words in (("640202199001011234", "校验位"), ("64020219900101123", "长度"), ("", "请填写")):
        with pytest.raises(InvalidValue, match=words):
            decide.decide_conflict(config, STEWARD, row["conflict_id"], "value", bad)
    bday = _one(config, "birth_date")
    with pytest.raises(InvalidValue, match="不是有效日期"):
        decide.decide_conflict(config, STEWARD, bday["conflict_id"], "value", "1980-02-30")
    assert len(decisions(config)) == before, "a refused value appends nothing"
    got = decide.decide_conflict(config, STEWARD, row["conflict_id"], "value", " 11010519491231002x ")
    assert got.value == "11010519491231002X"
    phone = _one(config, "phone")
    assert decide.decide_conflict(config, STEWARD, phone["conflict_id"], "value", "139 1234 5678").value == "+8613912345678"
    assert decide.decide_conflict(config, STEWARD, bday["conflict_id"], "value", "1980年2月3日").value == "1980-02-03"
    with pytest.raises(ValueError, match="未知的操作"):
        decide.decide_conflict(config, STEWARD, row["conflict_id"], "take_both")
    with pytest.raises(ValueError, match="理由不能超过"):
        decide.decide_conflict(config, STEWARD, row["conflict_id"], "take_grid", reason="长" * (decide.MAX_REASON + 1))
    with pytest.raises(PermissionError, match="登录"):
        decide.decide_conflict(config, SimpleNamespace(username=" ", role="steward", scopes=()), row["conflict_id"],
                               "take_grid")
    with pytest.raises(LookupError):
        decide.decide_conflict(config, STEWARD, "no-such-conflict", "take_grid")
    assert len(decisions(config)) == before + 3, "a refused action appends nothing"


def test_viewers_and_users_outside_their_scope_cannot_decide(config):
    row = _one(config, "name")
    with pytest.raises(PermissionError, match="只读"):
        decide.decide_conflict(config, VIEWER, row["conflict_id"], "take_police")
    elsewhere = SimpleNamespace(username="bo", role="steward", scopes=["999999"])
    with pytest.raises(PermissionError, match="范围"):
        decide.decide_conflict(config, elsewhere, row["conflict_id"], "take_police")
    with pytest.raises(PermissionError):
        decide.decide_pair(config, elsewhere, queues.match_reviews(config).items[0]["pair_id"], "same")
    assert decisions(config).empty
    home = SimpleNamespace(username="cy", role="steward", scopes=[row["grid_code"][:9]])
    assert decide.decide_conflict(config, home, row["conflict_id"], "take_police").value == row["police_value"]


def test_field_visit_keeps_the_conflict_in_the_queue_marked(config):
    row = _one(config, "name")
    got = decide.decide_conflict(config, STEWARD, row["conflict_id"], "field_visit", reason="电话打不通")
    assert (got.kind, got.value) == ("field_visit", None)
    mine = {r["conflict_id"]: r for r in _open(config)}[row["conflict_id"]]
    assert mine["state"] == "field_visit" and mine["state_label"] == "已转网格员核实"
    assert {r["conflict_id"] for r in _open(config, state="field_visit")} == {row["conflict_id"]}


def test_undo_brings_the_conflict_back_and_is_itself_a_decision(config):
    row = _one(config, "birth_date")
    first = decide.decide_conflict(config, STEWARD, row["conflict_id"], "take_police")
    second = decide.decide_conflict(config, STEWARD, row["conflict_id"], "take_grid")
    undone = decide.undo(config, STEWARD, second.decision_id, reason="点错了")
    assert (undone.kind, undone.target) == ("undo", str(second.decision_id))
    shown = {r["conflict_id"]: r for r in _open(config, state="all")}[row["conflict_id"]]
    assert shown["decision_id"] == first.decision_id and shown["state"] == "pending"   # the first applies again
    decide.undo(config, STEWARD, first.decision_id)
    assert {r["conflict_id"]: r for r in _open(config)}[row["conflict_id"]]["state"] == "open"
    with pytest.raises(ValueError, match="已经撤销"):
        decide.undo(config, STEWARD, first.decision_id)
    with pytest.raises(ValueError, match="不能再撤销"):
        decide.undo(config, STEWARD, undone.decision_id)
    with pytest.raises(LookupError):
        decide.undo(config, STEWARD, 999999)
    with pytest.raises(PermissionError):
        decide.undo(config, VIEWER, first.decision_id)
    history = queues.conflict_detail(config, row["conflict_id"])["history"]
    assert [(h["decision_id"], h["undone"]) for h in history] == \
        [(first.decision_id, True), (second.decision_id, True), (undone.decision_id, False), (undone.decision_id + 1, False)]
    assert len(decisions(config)) == 4, "nothing is ever deleted"


def test_pair_decisions(config):
    pair = queues.match_reviews(config).items[0]
    got = decide.decide_pair(config, STEWARD, pair["pair_id"], "same", reason="同一身份证")
    assert got.target == pair_target(pair["entity"], (pair["right_source"], pair["right_key"]),
                                     (pair["left_source"], pair["left_key"]))
    shown = {r["pair_id"]: r for r in queues.match_reviews(config, state="all").items}[pair["pair_id"]]
    assert shown["state"] == "pending" and pair["pair_id"] not in {r["pair_id"] for r in queues.match_reviews(config).items}
    other = queues.match_reviews(config).items[0]
    decide.decide_pair(config, STEWARD, other["pair_id"], "unsure")
    assert {r["pair_id"]: r["state"] for r in queues.match_reviews(config).items}[other["pair_id"]] == "escalated"
    with pytest.raises(ValueError, match="未知的判定"):
        decide.decide_pair(config, STEWARD, other["pair_id"], "maybe")
    decide.undo(config, STEWARD, got.decision_id)
    assert {r["pair_id"]: r["state"] for r in queues.match_reviews(config).items}[pair["pair_id"]] == "open"


# --- bulk ------------------------------------------------------------------------------------------
def test_bulk_take_grid_phone_for_one_grid_previews_then_applies(config):
    phones = [r for r in _open(config, "phone")]
    prefix = max({r["grid_code"][:6] for r in phones}, key=lambda p: sum(r["grid_code"].startswith(p) for r in phones))
    want = {r["conflict_id"]: r["grid_value"] for r in phones if r["grid_code"].startswith(prefix)}
    assert len(want) >= 2, "too few phone conflicts in one district to test a bulk action"
    plan = decide.bulk_preview(config, STEWARD, {"field": "phone", "grid": prefix}, "take_grid")
    assert {c["conflict_id"]: c["new_value"] for c in plan["changes"]} == want and plan["count"] == len(want)
    assert decisions(config).empty, "a preview writes nothing"
    with pytest.raises(ValueError, match="字段"):
        decide.bulk_preview(config, STEWARD, {"grid": prefix}, "take_grid")
    with pytest.raises(PermissionError):
        decide.bulk_preview(config, VIEWER, {"field": "phone"}, "take_grid")
    one = next(iter(want))
    decide.decide_conflict(config, STEWARD, one, "take_police")        # the data moved on since the preview
    with pytest.raises(decide.StalePlan):
        decide.bulk_apply(config, STEWARD, {"field": "phone", "grid": prefix}, "take_grid", token=plan["token"])
    plan = decide.bulk_preview(config, STEWARD, {"field": "phone", "grid": prefix}, "take_grid")
    with pytest.raises(ValueError, match="理由"):               # checked per decision: nothing appended
        decide.bulk_apply(config, STEWARD, {"field": "phone", "grid": prefix}, "take_grid", reason="长" * 501)
    assert len(decisions(config)) == 1
    done = decide.bulk_apply(config, STEWARD, {"field": "phone", "grid": prefix}, "take_grid", reason="批量",
                             token=plan["token"])
    assert len(done["appended"]) == len(want) - 1
    rows = decisions(config).set_index("decision_id").loc[done["appended"]]
    assert dict(zip(rows["target"], rows["value"])) == {k: v for k, v in want.items() if k != one}
    assert not [r for r in _open(config, "phone") if r["grid_code"].startswith(prefix)]


def test_bulk_stays_inside_the_users_scope(config):
    phones = _open(config, "phone")
    grid = phones[0]["grid_code"]
    scoped = SimpleNamespace(username="dee", role="steward", scopes=[grid])
    plan = decide.bulk_preview(config, scoped, {"field": "phone"}, "take_police")
    assert {c["conflict_id"] for c in plan["changes"]} == {r["conflict_id"] for r in phones if r["grid_code"] == grid}
