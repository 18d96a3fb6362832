"""Analyst views on a synced demo, each checked against the golden tables computed independently in pandas."""
import duckdb
import pandas as pd
import pytest

from tests.demos import synced_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    synced_demo(root, 400, seed=11)
    c = duckdb.connect(str(root / "warehouse" / "gridbridge.duckdb"), read_only=True)
    yield c
    c.close()


def _df(con, sql) -> pd.DataFrame:
    return con.execute(sql).df()


def test_deregistered_people_stay_in_person_but_are_not_residents(con):
    person = _df(con, "SELECT person_id, status FROM person")
    gone = person[person["status"].fillna("active") != "active"]
    assert len(gone) > 0                                     # the demo has 注销/死亡/迁出 records
    residents = set(_df(con, "SELECT person_id FROM v_resident")["person_id"])
    assert residents == set(person.loc[person["status"].fillna("active") == "active", "person_id"])
    by_grid = _df(con, "SELECT * FROM v_population_by_grid")
    assert by_grid["residents"].sum() == len(residents)
    assert (by_grid["registered"] + by_grid["floating"] <= by_grid["residents"]).all()
    assert (by_grid["in_both"] <= by_grid[["known_to_police", "known_to_grid"]].min(axis=1)).all()
    assert _df(con, "SELECT sum(residents) AS n FROM v_population_by_community")["n"].iloc[0] == len(residents)


def test_floating_registration_rate_matches_the_golden_records(con):
    p = _df(con, "SELECT grid_code, in_police, in_grid, person_type, status FROM person")
    found = p[(p["status"].fillna("active") == "active") & p["in_grid"] & (p["person_type"] == "floating")]
    assert len(found) > 0
    v = _df(con, "SELECT * FROM v_floating_registration")
    total = v[v["grid_code"].isna()].iloc[0]
    assert total["floating_found_by_grid"] == len(found)
    assert total["registered_by_police"] == int(found["in_police"].sum())
    assert total["registration_rate"] == pytest.approx(found["in_police"].mean(), abs=1e-4)
    per_grid = found.groupby("grid_code")["in_police"].agg(["size", "sum"])
    got = v.dropna(subset=["grid_code"]).set_index("grid_code")
    assert got["floating_found_by_grid"].to_dict() == per_grid["size"].to_dict()


def test_rental_houses_without_a_police_known_tenant(con):
    houses = _df(con, "SELECT house_id, is_rented FROM house")
    living = _df(con, "SELECT house_id, in_police FROM v_resident WHERE house_id IS NOT NULL")
    with_tenant = set(living.loc[living["in_police"], "house_id"])
    want = set(houses.loc[houses["is_rented"].fillna(False).astype(bool), "house_id"]) - with_tenant
    got = _df(con, "SELECT house_id, owner_id_number FROM v_rental_without_tenant")
    assert set(got["house_id"]) == want and len(want) > 0
    assert got["owner_id_number"].dropna().str.contains(r"\*\*\*").all()   # masked for analysts


def test_freshness_and_stale_records(con):
    fresh = _df(con, "SELECT * FROM v_freshness")
    assert fresh["days_since_police_update"].notna().any() and fresh["days_since_grid_update"].notna().any()
    latest = fresh[["days_since_police_update", "days_since_grid_update"]].min(axis=1)    # either system
    assert (fresh["days_since_update"].fillna(-1) == latest.fillna(-1)).all()
    both = fresh.dropna(subset=["days_since_police_update", "days_since_grid_update"])
    assert (both["days_since_police_update"] != both["days_since_grid_update"]).any()
    for n in (0, int(latest.median()), int(latest.max())):
        got = set(_df(con, f"SELECT person_id FROM stale_persons({n})")["person_id"])
        assert got == set(fresh.loc[latest.isna() | (latest > n), "person_id"]), n


def test_conflicts_by_grid_add_up_to_the_conflicts(con):
    total = _df(con, "SELECT count(*) AS n FROM person_conflict")["n"].iloc[0]
    assert total > 0
    assert _df(con, "SELECT sum(conflicts) AS n FROM v_conflicts_by_grid")["n"].iloc[0] == total


def test_first_sync_history_lists_every_golden_record_as_added(con):
    assert _df(con, "SELECT count(*) AS n FROM publish_history")["n"].iloc[0] == 1
    changes = _df(con, "SELECT change, count(*) AS n FROM v_person_changes GROUP BY 1")
    persons = _df(con, "SELECT count(*) AS n FROM person")["n"].iloc[0]
    assert changes.set_index("change")["n"].to_dict() == {"added": persons}
