"""Map one extracted source entity onto the canonical schema; split loaded rows from quarantined ones.

`standardise(raw, source, entity, ent)` → (stg, quarantine). Pure: a DataFrame of text columns in, two
DataFrames out; `len(raw) == len(stg) + len(quarantine)` always holds (nothing is dropped silently).
Normalisers come from `schemas.normalise`; which field uses which is the table `_HANDLERS` below.
Each raw column is converted to Arrow once: the NFKC/strip clean-up recognises already-clean text with
one RE2 pass, and the raw row's JSON (`raw`, exactly as pandas `to_json` writes it) is joined
column-wise with Arrow string kernels.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from functools import reduce

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.canonical import DERIVED, FIELDS
from schemas.codes import normalise_bool, normalise_code, normalise_person_type, normalise_status
from schemas.config import ConfigError, EntityConfig
from schemas.normalise._text import SETTLED, is_blank, map_settled, text_array, true_mask
from schemas.normalise.addresses import parse_address
from schemas.normalise.dates import parse_date, parse_timestamp
from schemas.normalise.ids import id_birth_date, id_sex, normalise_id
from schemas.normalise.names import normalise_name
from schemas.normalise.phones import normalise_phone

# beside the null words (is_blank): question marks, dashes, zeros, and mojibake alone (锟斤拷 = U+FFFD read back
# as GBK; 烫/屯 = uninitialised memory)
_GARBAGE_TEXT = r"^(?:[?？�□\s]*|#N/A|-+|0+|(?:锟斤拷|[烫屯�\s])+)$"
_CODE_TABLE = {"sex": "sex", "ethnicity": "ethnicity", "relation": "relation", "usage": "building_use"}


class MappingError(ConfigError):
    """A mapped column is missing in the source (names the source, entity and column)."""


def clean_text(s: pd.Series) -> pd.Series:
    """NFKC + strip; empty, missing and non-text cells -> None."""
    return _clean(s, _arrow_text(s))


def _arrow_text(s: pd.Series) -> pa.Array | None:
    """`s` as an Arrow string array when it holds only text (and missing values), else None."""
    return text_array(s) if pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty") else None


def _clean(s: pd.Series, text: pa.Array | None) -> pd.Series:
    """`clean_text(s)`, given `_arrow_text(s)`."""
    arr = s.to_numpy(dtype=object, copy=True)
    if text is None:                                       # mixed cells: non-str ones become missing
        out = s.astype("object").where(s.notna(), None).str.normalize("NFKC").str.strip()
        return out.where(out.str.len() > 0, None)
    gone = true_mask(pc.or_kleene(text.is_null(), pc.equal(pc.utf8_length(text), 0)))
    settled = true_mask(pc.match_substring_regex(text, f"^(?:{SETTLED})$"))
    arr = map_settled(pd.Series(arr, index=s.index, dtype=object), settled | gone,
                      lambda v: unicodedata.normalize("NFKC", v).strip() or None).to_numpy(dtype=object)
    arr[gone] = None
    return pd.Series(arr, index=s.index, dtype=object, name=s.name)


class _Acc:
    """Accumulates output columns, quarantine reasons (in priority order) and flags."""

    def __init__(self, index: pd.Index, gazetteer=None):
        self.index = index
        self.gazetteer = gazetteer  # schemas.normalise.Gazetteer for the address keys, or None
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
        arrays = [text_array(f) for f in self.flags]
        if len(self.index) == 0 or any(a is None for a in arrays):
            s = reduce(lambda a, b: a + ";" + b, self.flags)
            return s.str.replace(r";{2,}", ";", regex=True).str.strip(";")
        s = pc.binary_join_element_wise(*arrays, ";")
        s = pc.utf8_trim(pc.replace_substring_regex(s, ";{2,}", ";"), characters=";")
        return pd.Series(s.to_numpy(zero_copy_only=False), index=self.index, dtype=object)

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
        parsed = parse_address(text, gazetteer=acc.gazetteer)
        acc.cols["address_key"] = parsed["address_key"]
        if field == "address":
            acc.cols["district"] = parsed["district"]          # 区/县: tells apart one village name in two counties
            for part in ("street", "community", "compound", "building", "unit", "room"):
                src = {"street": "street_office"}.get(part, part)    # street = 街道/乡镇, as the police's 街道 column
                if part not in ent.columns and src in parsed:
                    acc.cols[part] = parsed[src]
            bad = is_blank(text) | text.str.fullmatch(_GARBAGE_TEXT, na=True)     # null words: 暂无, 未知, NULL …
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


# fields whose handler applies the source's `values:` map itself (code tables, vocabularies): never twice
_VALUES_IN_HANDLER = frozenset({*_CODE_TABLE, "person_type", "status", "is_rented"})


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


# JSON string escapes exactly as pandas' `to_json` (ujson, force_ascii=False) writes them.
_JSON_ESCAPES = [("\\", "\\\\"), ('"', '\\"'), ("/", "\\/")]
_JSON_CONTROL = [(chr(c), {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(c, f"\\u{c:04x}"))
                 for c in range(0x20)]


def _json_escaped(arr: pa.Array) -> pa.Array:
    """Each str with the JSON string escapes applied (no quotes). Only the characters present are
    replaced (found by counting the bytes of the UTF-8 data: ASCII never occurs inside a multi-byte
    character)."""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is not None and len(offsets) > 1:
        data = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]]
        present = np.bincount(data[(data < 0x30) | (data == 0x5C)], minlength=256)
        for ch, esc in _JSON_ESCAPES + _JSON_CONTROL:
            if present[ord(ch)]:
                arr = pc.replace_substring(arr, ch, esc)
    return arr


def _text_columns(raw: pd.DataFrame) -> dict[str, pa.Array | None]:
    """`_arrow_text` of every column (empty when the column names are not unique strings)."""
    cols = list(raw.columns)
    if not (all(isinstance(c, str) for c in cols) and len(set(cols)) == len(cols)):
        return {}
    return {c: _arrow_text(raw[c]) for c in cols}


def raw_json_lines(raw: pd.DataFrame, texts: dict[str, pa.Array | None] | None = None) -> np.ndarray:
    """Each row of `raw` as a JSON object (column order kept), identical to the lines of
    `raw.to_json(orient="records", lines=True, force_ascii=False)`; built column-wise with Arrow when
    every column holds text. `texts`: `_text_columns(raw)` if already at hand."""
    if not len(raw):
        return np.array([], dtype=object)
    cols = list(raw.columns)
    texts = _text_columns(raw) if texts is None else texts
    arrays = [texts.get(c) for c in cols] if texts else []
    if not arrays or any(a is None for a in arrays):
        text = raw.to_json(orient="records", lines=True, force_ascii=False)
        return np.array(text.split("\n")[:len(raw)], dtype=object)   # values never hold a raw "\n"
    keys = _json_escaped(text_array(cols)).to_pylist()
    pieces: list = []
    for i, (key, arr) in enumerate(zip(keys, arrays)):
        head = ("{" if i == 0 else ",") + '"' + key + '":'
        if arr.null_count:
            pieces += [head, pc.binary_join_element_wise('"', _json_escaped(arr), '"', "").fill_null("null")]
        else:                                         # no nulls: the quotes go into the fixed pieces
            pieces += [head + '"', _json_escaped(arr), '"']
    pieces.append("}")
    merged: list = []
    for p in pieces:                                  # adjacent fixed pieces as one
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        else:
            merged.append(p)
    return pc.binary_join_element_wise(*merged, "").to_numpy(zero_copy_only=False)


def duplicate_keys(keys: pd.Series) -> pd.Series:
    """True for every occurrence of a source key after its first (the whole extract, in source order)."""
    key = clean_text(keys)
    return key.notna() & key.duplicated(keep="first")


def standardise(raw: pd.DataFrame, source: str, entity: str, ent: EntityConfig,
                duplicate: pd.Series | np.ndarray | None = None, gazetteer=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`duplicate`: the rows' share of `duplicate_keys` over the whole extract when `raw` is one batch of it
    (computed here when `raw` is the whole extract). `gazetteer`: place names learned from the police
    addresses (schemas.normalise.learn_gazetteer), so loosely written addresses get the standard house key."""
    check_columns(raw.columns, source, entity, ent)
    if not raw.index.equals(pd.RangeIndex(len(raw))):
        raw = raw.reset_index(drop=True)
    acc = _Acc(raw.index, gazetteer)
    columns = dict(ent.columns)
    if ent.updated_at and "updated_at" not in columns:
        columns["updated_at"] = ent.updated_at
    texts = _text_columns(raw)                 # each raw column converted to Arrow once
    key = _clean(raw[ent.key], texts.get(ent.key)) if texts else clean_text(raw[ent.key])

    mapped = pd.DataFrame({f: _clean(raw[c], texts.get(c)) if texts else clean_text(raw[c])
                           for f, c in columns.items()}, index=raw.index)
    empty = mapped.drop(columns=[f for f in ("updated_at",) if f in mapped]).isna().all(axis=1)
    acc.reason(pd.Series(np.where(empty, "empty_row", None), index=raw.index))
    acc.reason(pd.Series(np.where(key.isna(), "key_missing", None), index=raw.index))

    for field in FIELDS[entity]:
        if field == "source_key" or field not in columns:
            continue
        s = _apply_values(mapped[field], ent.values.get(field) if field not in _VALUES_IN_HANDLER else None)
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
    dup = (key.notna() & key.duplicated(keep="first") if duplicate is None       # = duplicate_keys(raw[ent.key])
           else pd.Series(np.asarray(duplicate, dtype=bool), index=raw.index)) & reason.isna()
    reason = reason.where(~dup, "key_duplicate")

    raw_json = raw_json_lines(raw, texts)
    acc.cols.update(source_key=key, flags=acc.joined_flags(), raw=pd.Series(raw_json, dtype="object"))
    bad = reason.notna().to_numpy()
    good = ~bad
    missing = np.full(int(good.sum()), None, dtype=object)
    out = pd.DataFrame({"source": pd.Series(source, index=pd.RangeIndex(int(good.sum())), dtype=object)})
    for field in FIELDS[entity] + DERIVED[entity]:
        col = acc.cols.get(field)
        out[field] = missing if col is None else col.to_numpy()[good]
    quarantine = pd.DataFrame({
        "source": source, "entity": entity, "source_key": raw[ent.key].to_numpy()[bad],
        "reason": reason.to_numpy()[bad],
        "raw": raw_json[bad],
    })
    return out, quarantine
