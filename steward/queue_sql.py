"""The warehouse side of the queues: SQL that reads conflicts and review pairs with what the queues sort and filter
by (grid cell, community, household size, first publish). Decisions are joined later, in steward/queues.py.
Every function takes an open read-only DuckDB connection and returns a DataFrame.
"""
from __future__ import annotations

import pandas as pd

from steward.decisions_model import ENTITIES

MEMBERS = "SELECT house_id, count(*) AS members FROM person WHERE house_id IS NOT NULL GROUP BY house_id"


def quoted(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def conflict_base_sql(entity: str, where: str) -> str:
    """One row per conflict of `entity` matching `where` (on `c.`), with its entity's grid/community/household."""
    if entity == "person":
        return f"""
        SELECT 'person' AS entity, c.conflict_id, c.person_id AS entity_id, c.field, c.police_key, c.grid_key,
               c.police_value, c.grid_value, c.police_raw, c.grid_raw, c.chosen_value, c.rule, c.status,
               c.resolved_by, c.resolved_at, c.note, c.decision_id AS wh_decision_id, p.name AS label,
               p.grid_code, h.community, coalesce(p.in_police AND p.in_grid, false) AS in_both,
               coalesce(m.members, 1) AS members
        FROM person_conflict c JOIN person p ON p.person_id = c.person_id
        LEFT JOIN house h ON h.house_id = p.house_id LEFT JOIN members m ON m.house_id = p.house_id
        WHERE {where}"""
    return f"""
        SELECT 'house' AS entity, c.conflict_id, c.house_id AS entity_id, c.field, c.police_key, c.grid_key,
               c.police_value, c.grid_value, c.police_raw, c.grid_raw, c.chosen_value, c.rule, c.status,
               c.resolved_by, c.resolved_at, c.note, c.decision_id AS wh_decision_id, h.address AS label,
               h.grid_code, h.community, coalesce(h.in_police AND h.in_grid, false) AS in_both,
               coalesce(m.members, 0) AS members
        FROM house_conflict c JOIN house h ON h.house_id = c.house_id LEFT JOIN members m ON m.house_id = h.house_id
        WHERE {where}"""


def _history_columns(con, entity: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?",
                                      [f"{entity}_history"]).fetchall()}


def _age_sql(con, entity: str, fields: list[str]) -> list[str]:
    """Per field, the run_seq since which the golden field (and its `_source`; for `x~id_number` also the ID number)
    stayed as it is now, without a gap in the entity's versions (steward/queues.py explains the age)."""
    key, have, parts = f"{entity}_id", _history_columns(con, entity), []
    for f in fields:
        cols = [f.split("~")[0]] + (["id_number"] if f.endswith("~id_number") else [])
        cols = [c for c in cols if c in have] + [f"{c}_source" for c in cols if f"{c}_source" in have]
        if not cols:
            continue
        lit = f.replace("'", "''")
        brk = " OR ".join(f'(lag(CAST("{c}" AS VARCHAR)) OVER w IS DISTINCT FROM CAST("{c}" AS VARCHAR))' for c in cols)
        parts.append(f"""
        SELECT '{entity}' AS entity, {key} AS entity_id, '{lit}' AS field,
               max(valid_from_seq) FILTER (WHERE brk) AS since_seq
        FROM (SELECT {key}, valid_from_seq, coalesce(lag(valid_to_seq) OVER w <> valid_from_seq, true) OR {brk} AS brk
              FROM {entity}_history
              WHERE {key} IN (SELECT entity_id FROM base WHERE entity = '{entity}' AND field = '{lit}')
              WINDOW w AS (PARTITION BY {key} ORDER BY valid_from_seq))
        GROUP BY {key}""")
    return parts


def _where(alias: str, statuses, id_column: str, ids) -> str:
    """`alias.status IN statuses` (none: any) and, when `ids` is given, `alias.id_column IN ids`."""
    conds = [f"{alias}.status IN ({quoted(statuses)})"] if statuses else []
    if ids is not None:
        conds.append(f"{alias}.{id_column} IN ({quoted(ids) or 'NULL'})")
    return " AND ".join(conds) or "true"


def conflict_table(con, *, conflict_ids=None, statuses=("open",)) -> pd.DataFrame:
    """Conflicts (of `statuses`; all when empty; only `conflict_ids` if given) with grid_code, community, in_both,
    members and `first_seen` (published_at of the run since which the conflict's golden field is unchanged) /
    `first_seen_epoch`."""
    entities = ENTITIES
    where = _where("c", statuses, "conflict_id", conflict_ids)
    base = " UNION ALL ".join(conflict_base_sql(e, where) for e in entities)
    fields = {e: [r[0] for r in con.execute(f"SELECT DISTINCT field FROM {e}_conflict c WHERE {where}").fetchall()]
              for e in entities}
    ages = [p for e in entities for p in _age_sql(con, e, fields[e])]
    age = " UNION ALL ".join(ages) if ages else \
        "SELECT NULL::VARCHAR AS entity, NULL::VARCHAR AS entity_id, NULL::VARCHAR AS field, NULL::INTEGER AS since_seq"
    members = MEMBERS
    if conflict_ids is not None:            # a few conflicts: count only their houses' members
        houses = " UNION ALL ".join(
            f"SELECT p.house_id FROM person_conflict c JOIN person p ON p.person_id = c.person_id WHERE {where}"
            if e == "person" else f"SELECT c.house_id FROM house_conflict c WHERE {where}" for e in entities)
        members = members.replace("WHERE house_id IS NOT NULL", f"WHERE house_id IN ({houses})")
    return con.execute(f"""
    WITH members AS MATERIALIZED ({members}), base AS MATERIALIZED ({base}), age AS ({age}),
    cur AS (SELECT max(run_seq) AS seq FROM publish_history)
    SELECT b.*, ph.published_at AS first_seen, epoch(CAST(ph.published_at AS TIMESTAMPTZ)) AS first_seen_epoch
    FROM base b LEFT JOIN age a ON a.entity = b.entity AND a.entity_id = b.entity_id AND a.field = b.field
    LEFT JOIN publish_history ph ON ph.run_seq = coalesce(a.since_seq, (SELECT seq FROM cur))""").df()


def _side_sql(entity: str, side: str) -> str:
    """Joins for one side of a review pair: its golden entity and where it lives."""
    s = side[0]
    if entity == "person":
        return f"""
        LEFT JOIN person_xref {s}x ON {s}x.source = r.{side}_source AND {s}x.source_key = r.{side}_key
        LEFT JOIN person {s}p ON {s}p.person_id = {s}x.person_id
        LEFT JOIN house {s}h ON {s}h.house_id = {s}p.house_id
        LEFT JOIN members {s}m ON {s}m.house_id = {s}p.house_id
        LEFT JOIN first {s}f ON {s}f.entity_id = {s}x.person_id"""
    return f"""
        LEFT JOIN house_xref {s}x ON {s}x.source = r.{side}_source AND {s}x.source_key = r.{side}_key
        LEFT JOIN house {s}h ON {s}h.house_id = {s}x.house_id
        LEFT JOIN members {s}m ON {s}m.house_id = {s}x.house_id
        LEFT JOIN first {s}f ON {s}f.entity_id = {s}x.house_id"""


def review_table(con, *, pair_ids=None, statuses=("open", "escalated")) -> pd.DataFrame:
    """Review pairs (of `statuses`; all when empty; only `pair_ids` if given) with both sides' golden ids, labels,
    grid/community, the larger household, the decision `target` (as decisions_model.pair_target makes it) and
    `first_seen` (the later first publish of the two entities)."""
    entities = ENTITIES
    where = _where("r", statuses, "pair_id", pair_ids)
    parts = []
    for e in entities:
        key, one = f"{e}_id", 1 if e == "person" else 0
        lab = ("lp.name", "rp.name") if e == "person" else ("lh.address", "rh.address")
        grid = ("coalesce(lp.grid_code, lh.grid_code)", "coalesce(rp.grid_code, rh.grid_code)") if e == "person" \
            else ("lh.grid_code", "rh.grid_code")
        parts.append(f"""
        SELECT r.pair_id, r.entity, r.left_source, r.left_key, r.right_source, r.right_key, r.match_probability,
               r.match_weight, r.weights, r.status, lx.{key} AS left_id, rx.{key} AS right_id,
               {lab[0]} AS left_label, {lab[1]} AS right_label, {grid[0]} AS left_grid, {grid[1]} AS right_grid,
               lh.community AS left_community, rh.community AS right_community,
               greatest(coalesce(lm.members, {one}), coalesce(rm.members, {one})) AS members,
               greatest(lf.first_seq, rf.first_seq) AS since_seq
        FROM match_review r {_side_sql(e, 'left')} {_side_sql(e, 'right')}
        WHERE r.entity = '{e}' AND {where}""")
    first = " UNION ALL ".join(f"SELECT {e}_id AS entity_id, min(valid_from_seq) AS first_seq FROM {e}_history "
                               f"GROUP BY {e}_id" for e in entities)
    return con.execute(f"""
    WITH members AS MATERIALIZED ({MEMBERS}), first AS ({first}), cur AS (SELECT max(run_seq) AS seq FROM publish_history),
    b AS ({' UNION ALL '.join(parts)})
    SELECT b.*, b.entity || '|' || least(b.left_source || ':' || b.left_key, b.right_source || ':' || b.right_key)
             || '|' || greatest(b.left_source || ':' || b.left_key, b.right_source || ':' || b.right_key) AS target,
           coalesce(b.left_grid, b.right_grid) AS grid_code, coalesce(b.left_community, b.right_community) AS community,
           b.left_source <> b.right_source AS cross_system, ph.published_at AS first_seen,
           epoch(CAST(ph.published_at AS TIMESTAMPTZ)) AS first_seen_epoch
    FROM b LEFT JOIN publish_history ph ON ph.run_seq = coalesce(b.since_seq, (SELECT seq FROM cur))""").df()


def conflict_places(con, conflict_ids) -> dict[str, tuple]:
    """conflict_id → (grid_code, community) of its entity, as the queues scope it (a person's grid cell and the
    community of their golden house; a house's own), for `conflict_ids` in any status."""
    ids = [str(i) for i in conflict_ids]
    if not ids:
        return {}
    rows = con.execute("""
        SELECT c.conflict_id, p.grid_code, h.community FROM person_conflict c JOIN person p ON p.person_id = c.person_id
        LEFT JOIN house h ON h.house_id = p.house_id WHERE c.conflict_id IN (SELECT unnest($ids))
        UNION ALL
        SELECT c.conflict_id, h.grid_code, h.community FROM house_conflict c JOIN house h ON h.house_id = c.house_id
        WHERE c.conflict_id IN (SELECT unnest($ids))""", {"ids": ids}).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def record_places(con, entity: str, refs) -> dict[tuple[str, str], tuple]:
    """(source, source_key) → (grid_code, community) of the golden `entity` each source record belongs to now
    (a person's grid cell, else their house's; the house's community), for the records the warehouse has."""
    refs = list(dict.fromkeys((str(s), str(k)) for s, k in refs))
    if not refs:
        return {}
    grid = "coalesce(g.grid_code, h.grid_code)" if entity == "person" else "h.grid_code"
    join = ("JOIN person g ON g.person_id = x.person_id LEFT JOIN house h ON h.house_id = g.house_id"
            if entity == "person" else "JOIN house h ON h.house_id = x.house_id")
    rows = con.execute(f"""
        SELECT x.source, x.source_key, {grid}, h.community
        FROM (SELECT unnest($sources) AS source, unnest($keys) AS source_key) r
        JOIN {entity}_xref x ON x.source = r.source AND x.source_key = r.source_key {join}""",
                       {"sources": [s for s, _ in refs], "keys": [k for _, k in refs]}).fetchall()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}
