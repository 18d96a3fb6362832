"""Map one extracted source entity onto the canonical schema; split loaded rows from quarantined ones.

`standardise(raw, source, entity, ent)` → (stg, quarantine). Pure: a DataFrame of text columns in, two
DataFrames out; `len(raw) == len(stg) + len(quarantine)` always holds (nothing is dropped silently).
Normalisers come from `schemas.normalise`; which field uses which is the table `_HANDLERS` below.
"""
from __future__ import annotations

import datetime as dt
from functools import reduce

import numpy as np
import pandas as pd

from schemas.canonical import DERIVED, FIELDS
from schemas.codes import normalise_bool, normalise_code, normalise_person_type, normalise_status
from schemas.config import ConfigError, EntityConfig
from schemas.normalise.addresses import parse_address
from schemas.normalise.dates import parse_date, parse_timestamp
from schemas.normalise.ids import id_birth_date, id_sex, normalise_id
from schemas.normalise.names import normalise_name
from schemas.normalise.phones import normalise_phone

_GARBAGE_TEXT = r"^(?:[?？�□\s]*|#N/A|N/A|NULL|null|None|无|不详|-+|0+)$"
_CODE_TABLE = {"sex": "sex", "ethnicity": "ethnicity", "relation": "relation", "usage": "building_use"}


class MappingError(ConfigError):
    """A mapped column is missing in the source (names the source, entity and column)."""


def clean_text(s: pd.Series) -> pd.Series:
    out = s.astype("object").where(s.notna(), None)
    out = out.str.normalize("NFKC").str.strip()
    return out.where(out.str.len() > 0, None)


class _Acc:
    """Accumulates output columns, quarantine reasons (in priority order) and flags."""

    def __init__(self, index: pd.Index):
        self.index = index
        self.cols: dict[str, pd.Series] = {}
        self.reasons: list[pd.Series] = []
        self.flags: list[pd.Series] = []

    def reason(self, s: pd.Series | None):
        if s is not None:
            self.reasons.append(s.where(s.notna() & (s != ""), None))

    def flag(self, s: pd.Series | None):
        if s is not None:
            self.flags.append(s.fillna("").astype(str))

    def flag_where(self, mask: pd.Series, code: str):
        self.flags.append(pd.Series(np.where(mask.fillna(False), code, ""), index=self.index))

    def joined_flags(self) -> pd.Series:
        if not self.flags:
            return pd.Series("", index=self.index)
        s = reduce(lambda a, b: a + ";" + b, self.flags)
        return s.str.replace(r";{2,}", ";", regex=True).str.strip(";")

    def first_reason(self) -> pd.Series:
        out = pd.Series(None, index=self.index, dtype="object")
        for r in reversed(self.reasons):  # earlier reasons win
            out = r.where(r.notna(), out)
        return out


# --- field handlers: (acc, series, field, ent) -> None ------------------------------------------
def _name(acc, s, field, ent):
    n = normalise_name(s)
    if field == "name":
        acc.cols.update(name=n["name"], name_key=n["name_key"], name_pinyin=n["name_pinyin"])
        acc.reason(n["name_error"])
        acc.flag(n["name_flags"])
    else:  # former_name / owner_name: a bad value is dropped to missing, never a quarantine
        acc.cols[field] = n["name"].where(n["name_error"].isna(), None)


def _id(acc, s, field, ent):
    r = normalise_id(s)
    if field == "id_number":
        acc.cols.update(id_number=r["id_number"], id_alias=r["id_alias"])
        acc.reason(r["id_error"])
        acc.flag(r["id_flags"])
    else:
        acc.cols[field] = r["id_number"].where(r["id_error"].isna(), None)


def _code(acc, s, field, ent):
    r = normalise_code(s, _CODE_TABLE[field], ent.values.get(field))
    acc.cols[field] = r["code"]
    acc.flag(r["flags"])


def _date(acc, s, field, ent):
    r = parse_date(s, ent.date_formats.get(field), today=dt.date.today())
    acc.cols[field] = r["value"]
    if field == "birth_date":
        acc.reason(r["error"])
        acc.flag(r["flags"])
        acc.flag_where(r["value"].isna() & r["error"].isna(), "birth_date_missing")
    else:  # other dates: never a quarantine, only the parser's own flags (date_unparsed)
        acc.flag(r["flags"])


def _timestamp(acc, s, field, ent):
    acc.cols[field] = parse_timestamp(s, ent.date_formats.get(field))


def _phone(acc, s, field, ent):
    r = normalise_phone(s, area_code=ent.area_code)
    acc.cols[field] = r["phone"]
    if field == "phone":
        acc.flag(r["phone_flags"])


def _address(acc, s, field, ent):
    text = clean_text(s)
    acc.cols[field] = text
    if field in ("current_address", "address"):
        parsed = parse_address(text)
        acc.cols["address_key"] = parsed["address_key"]
        if field == "address":
            for part in ("street", "community", "compound", "building", "unit", "room"):
                src = {"street": "road"}.get(part, part)
                if part not in ent.columns and src in parsed:
                    acc.cols[part] = parsed[src]
            bad = text.isna() | text.str.fullmatch(_GARBAGE_TEXT, na=True)
            acc.reason(pd.Series(np.where(bad, "address_missing", None), index=acc.index))


def _vocab(fn):
    def handle(acc, s, field, ent):
        r = fn(s, ent.values.get(field))
        acc.cols[field] = r["code"]
        acc.flag(r["flags"])
    return handle


def _number(acc, s, field, ent):
    num = pd.to_numeric(clean_text(s), errors="coerce")
    acc.cols[field] = num
    if field == "area":
        acc.reason(pd.Series(np.where(num < 0, "area_negative", None), index=acc.index))


_HANDLERS = {
    "name": _name, "former_name": _name, "owner_name": _name,
    "id_number": _id, "owner_id_number": _id,
    "sex": _code, "ethnicity": _code, "relation": _code, "usage": _code,
    "birth_date": _date, "registered_on": _date, "status_date": _date,
    "updated_at": _timestamp,
    "phone": _phone, "owner_phone": _phone,
    "hukou_address": _address, "current_address": _address, "address": _address,
    "person_type": _vocab(normalise_person_type), "status": _vocab(normalise_status),
    "is_rented": _vocab(normalise_bool),
    "area": _number, "tenant_count": _number,
}


def check_columns(raw_columns, source: str, entity: str, ent: EntityConfig) -> None:
    have = set(raw_columns)
    wanted = [("key", ent.key)] + list(ent.columns.items())
    if ent.updated_at:
        wanted.append(("updated_at", ent.updated_at))
    for field, col in wanted:
        if col not in have:
            raise MappingError(f"{source}.{entity}: column {col!r} (mapped to {field}) not found in the source")


def _apply_values(s: pd.Series, mapping: dict | None) -> pd.Series:
    if not mapping:
        return s
    table = {str(k): v for k, v in mapping.items()}
    mapped = s.map(table)
    return mapped.where(mapped.notna(), s)


def standardise(raw: pd.DataFrame, source: str, entity: str, ent: EntityConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    check_columns(raw.columns, source, entity, ent)
    raw = raw.reset_index(drop=True)
    acc = _Acc(raw.index)
    columns = dict(ent.columns)
    if ent.updated_at and "updated_at" not in columns:
        columns["updated_at"] = ent.updated_at
    key = clean_text(raw[ent.key])

    mapped = pd.DataFrame({f: clean_text(raw[c]) for f, c in columns.items()}, index=raw.index)
    empty = mapped.drop(columns=[f for f in ("updated_at",) if f in mapped]).isna().all(axis=1)
    acc.reason(pd.Series(np.where(empty, "empty_row", None), index=raw.index))
    acc.reason(pd.Series(np.where(key.isna(), "key_missing", None), index=raw.index))

    for field in FIELDS[entity]:
        if field == "source_key" or field not in columns:
            continue
        s = _apply_values(mapped[field], ent.values.get(field) if field not in _CODE_TABLE else None)
        _HANDLERS.get(field, lambda a, s, f, e: a.cols.__setitem__(f, s))(acc, s, field, ent)

    if entity == "person" and "id_number" in acc.cols:
        ids = acc.cols["id_number"]
        if "birth_date" in acc.cols:
            bd = id_birth_date(ids)
            acc.flag_where(bd.notna() & acc.cols["birth_date"].notna() & (bd != acc.cols["birth_date"]), "id_birth_mismatch")
        if "sex" in acc.cols:
            sx = id_sex(ids)
            acc.flag_where(sx.notna() & acc.cols["sex"].isin(["1", "2"]) & (sx != acc.cols["sex"]), "id_sex_mismatch")
    if entity == "person" and "status" not in acc.cols:
        acc.cols["status"] = pd.Series("active", index=raw.index)

    reason = acc.first_reason()
    dup = key.notna() & key.duplicated(keep="first") & reason.isna()
    reason = reason.where(~dup, "key_duplicate")

    raw_json = pd.Series(raw.to_json(orient="records", lines=True, force_ascii=False).splitlines()
                         if len(raw) else [], index=raw.index, dtype="object")
    out = pd.DataFrame({"source": source, "source_key": key}, index=raw.index)
    for field in FIELDS[entity][1:] + DERIVED[entity]:
        out[field] = acc.cols.get(field, pd.Series(None, index=raw.index, dtype="object"))
    out["flags"] = acc.joined_flags()
    out["raw"] = raw_json

    bad = reason.notna()
    quarantine = pd.DataFrame({
        "source": source, "entity": entity, "source_key": raw.loc[bad, ent.key],
        "reason": reason[bad],
        "raw": raw_json[bad],
    })
    return out[~bad].reset_index(drop=True), quarantine.reset_index(drop=True)
