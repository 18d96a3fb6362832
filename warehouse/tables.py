"""Declarations of the warehouse tables (one source of truth: DDL is generated from these)."""
from __future__ import annotations

from schemas.canonical import HOUSE_SHARED, PERSON_SHARED

_DATE_FIELDS = {"birth_date", "registered_on", "status_date"}
_TYPES = {"area": "DOUBLE", "tenant_count": "INTEGER", "is_rented": "BOOLEAN"}


def _golden(id_col: str, shared: tuple[str, ...], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    cols = [(id_col, "VARCHAR NOT NULL")]
    for f in shared:
        cols.append((f, "DATE" if f in _DATE_FIELDS else _TYPES.get(f, "VARCHAR")))
        cols.append((f"{f}_source", "VARCHAR"))
    return cols + extra + [("in_police", "BOOLEAN"), ("in_grid", "BOOLEAN"), ("police_records", "INTEGER"),
                           ("grid_records", "INTEGER"), ("run_id", "VARCHAR")]


def _xref(id_col: str) -> list[tuple[str, str]]:
    return [("source", "VARCHAR NOT NULL"), ("source_key", "VARCHAR NOT NULL"), (id_col, "VARCHAR NOT NULL"),
            ("match_probability", "DOUBLE"), ("match_rule", "VARCHAR"), ("flags", "VARCHAR"),
            ("run_id", "VARCHAR")]


def _conflict(id_col: str) -> list[tuple[str, str]]:
    return [("conflict_id", "VARCHAR NOT NULL"), (id_col, "VARCHAR NOT NULL"), ("field", "VARCHAR"),
            ("police_key", "VARCHAR"), ("grid_key", "VARCHAR"), ("police_value", "VARCHAR"),
            ("grid_value", "VARCHAR"), ("police_raw", "VARCHAR"), ("grid_raw", "VARCHAR"),
            ("chosen_value", "VARCHAR"), ("rule", "VARCHAR"), ("status", "VARCHAR"), ("resolved_by", "VARCHAR"),
            ("resolved_at", "VARCHAR"), ("decision_id", "BIGINT"), ("note", "VARCHAR"), ("run_id", "VARCHAR")]


TABLES: dict[str, list[tuple[str, str]]] = {
    "person": _golden("person_id", PERSON_SHARED, [
        ("house_id", "VARCHAR"), ("grid_code", "VARCHAR"), ("police_station", "VARCHAR"), ("status", "VARCHAR"),
        ("status_reason", "VARCHAR"), ("updated_at_police", "VARCHAR"), ("updated_at_grid", "VARCHAR")]),
    "person_xref": _xref("person_id"),
    "person_conflict": _conflict("person_id"),
    "house": _golden("house_id", HOUSE_SHARED, [
        ("address_key", "VARCHAR"), ("compound", "VARCHAR"), ("building", "VARCHAR"), ("unit", "VARCHAR"),
        ("room", "VARCHAR"), ("grid_code", "VARCHAR"), ("street", "VARCHAR"), ("community", "VARCHAR"),
        ("district", "VARCHAR")]),
    "house_xref": _xref("house_id"),
    "house_conflict": _conflict("house_id"),
    "match_review": [("pair_id", "VARCHAR NOT NULL"), ("entity", "VARCHAR"), ("left_source", "VARCHAR"),
                     ("left_key", "VARCHAR"), ("right_source", "VARCHAR"), ("right_key", "VARCHAR"),
                     ("match_probability", "DOUBLE"), ("match_weight", "DOUBLE"), ("weights", "VARCHAR"),
                     ("status", "VARCHAR"), ("run_id", "VARCHAR")],
    "steward_decision": [("decision_id", "BIGINT"), ("kind", "VARCHAR"), ("target", "VARCHAR"),
                         ("value", "VARCHAR"), ("police_value", "VARCHAR"), ("grid_value", "VARCHAR"),
                         ("decided_by", "VARCHAR"), ("decided_at", "VARCHAR"), ("reason", "VARCHAR")],
    "quarantine": [("run_id", "VARCHAR"), ("source", "VARCHAR"), ("entity", "VARCHAR"), ("source_key", "VARCHAR"),
                   ("reason", "VARCHAR"), ("raw", "VARCHAR")],
    "run_log": [("run_id", "VARCHAR"), ("started_at", "VARCHAR"), ("finished_at", "VARCHAR"), ("status", "VARCHAR"),
                ("stage", "VARCHAR"), ("message", "VARCHAR"), ("counts", "VARCHAR"), ("gates", "VARCHAR"),
                ("forced_reason", "VARCHAR")],
}


def ddl(name: str) -> str:
    cols = ",\n  ".join(f'"{c}" {t}' for c, t in TABLES[name])
    return f'CREATE TABLE "{name}" (\n  {cols}\n)'
