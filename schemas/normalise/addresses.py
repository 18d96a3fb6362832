"""Free-text addresses → components and a house key (shared/domain/address.md §3, in that order).

Runs on the distinct addresses only, in stages that each work on fewer distinct values:

1. cleaning and numerals (`_addr_text`, Arrow/RE2 with Python only on the rows that need it);
2. the levels (`_addr_levels`): province/city/county and 街道/社区 depend only on the text before the
   first digit; 组/road/门牌/小区 on the digit-masked remainder; both run once per distinct key and
   the digits (门牌, 组, the house tail) are read back from the real text by position;
3. the house tail (`_house.parse_tails`) and the house key, vectorised.

With a `Gazetteer` (gazetteer.py, learned from the police standard addresses), addresses whose names
are not all known are rewritten to the known spelling (`金凤3-2-502` → `金凤小区3-2-502`) and parsed again.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._addr_levels import admin_prefix, compound_key, lower_levels, upper_levels
from ._addr_text import clean, heads, mask_digits
from ._house import parse_tails
from ._text import as_text, by_unique, factorize_text

if TYPE_CHECKING:
    from .gazetteer import Gazetteer

ADDRESS_COLUMNS = ["province", "city", "district", "street_office", "community", "road", "door_no",
                   "compound", "building", "unit", "floor", "room", "group_no", "address_key",
                   "address_norm"]
BELOW_COUNTY = ADDRESS_COLUMNS[3:-1]


def _per_distinct(keys: list[str], fn) -> list:
    """`fn(key)` once per distinct key, in row order."""
    codes, uniq = factorize_text(keys)
    res = [fn(k) for k in uniq]
    return [res[c] for c in codes]


def _obj(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _coalesce(*cols: np.ndarray) -> np.ndarray:
    out = cols[0].copy()
    for c in cols[1:]:
        gap = np.equal(out, None)
        out[gap] = c[gap]
    return out


def _slice(texts: list[str], start: np.ndarray, spans: list) -> np.ndarray:
    return _obj([None if sp is None else t[s + sp[0]:s + sp[1]]
                 for t, s, sp in zip(texts, start, spans)])


def _join(*cols: np.ndarray) -> np.ndarray:
    """`a|b|c` with missing parts as ''."""
    arrs = [pa.array(c, pa.string()) for c in cols]
    return pc.binary_join_element_wise(*arrs, "|", null_handling="replace",
                                       null_replacement="").to_numpy(zero_copy_only=False)


def _below_county(rest: list[str], gazetteer: Gazetteer | None = None) -> dict[str, np.ndarray]:
    """Components below the county (and the house key) of cleaned texts without their prefix.
    With a gazetteer, a known estate whose stem another known estate shares keeps its full name in
    the key (`长兴小区` and `长兴新村` are two estates, not one `长兴`)."""
    n = len(rest)
    masked = mask_digits(rest)
    office, community, p_up = (_obj(c) for c in zip(*_per_distinct(heads(masked), upper_levels))) \
        if n else (_obj([]),) * 3
    p_up = p_up.astype(np.int64)
    village = np.array([c is not None and c.endswith("村") for c in community], dtype=bool)
    keys = [m[p:] + ("\x01" if v else "\x00") for m, p, v in zip(masked, p_up, village)]
    low = _per_distinct(keys, lambda k: lower_levels(k[:-1], k[-1] == "\x01"))
    group_sp, road, road_door_sp, door_sp, compound, p_low = (list(c) for c in zip(*low)) \
        if n else ([],) * 6
    group = _slice(rest, p_up, group_sp)
    road, compound = _obj(road), _obj(compound)
    rural = ~np.equal(group, None) | village
    start = p_up + np.asarray(p_low, dtype=np.int64)
    tail = parse_tails([t[s:] for t, s in zip(rest, start)], rural)
    out = {"street_office": office, "community": community, "road": road, "compound": compound}
    out["door_no"] = _coalesce(_slice(rest, p_up, road_door_sp), _slice(rest, p_up, door_sp),
                               tail["door_no"])
    grp = _coalesce(group, tail["group_no"])
    out["group_no"] = _obj([g if g is None else g.lstrip("0") for g in grp])
    for col in ("building", "unit", "floor", "room"):
        out[col] = tail[col]
    full = gazetteer.shared_stem_compounds if gazetteer is not None else frozenset()
    ckey = _obj(_per_distinct([c or "" for c in compound],
                              lambda c: c if c in full else compound_key(c or None)))
    has_phase = ~np.equal(ckey, None) & ~np.equal(tail["phase"], None)
    ckey[has_phase] = ckey[has_phase] + tail["phase"][has_phase]              # 锦华 + 2期
    out["address_key"] = _house_key(out, ckey)
    return out


def _house_key(o: dict[str, np.ndarray], ckey: np.ndarray) -> np.ndarray:
    def has(c):
        return ~np.equal(c, None)
    b, u, r, door = o["building"], o["unit"], o["room"], o["door_no"]
    has_house = has(b) | has(u) | has(r)
    estate = has(ckey) & (has_house | has(door))
    street = ~estate & has(o["road"]) & has(door)
    rural = ~estate & ~street & has(o["community"]) & (has(o["group_no"]) | has(door))
    flat = ~estate & ~street & ~rural & has(o["community"]) & has_house
    key = np.full(len(b), None, dtype=object)
    if not len(b):
        return key
    key[estate] = _join(ckey, _coalesce(b, door), u, r)[estate]
    street_key = np.where(has_house, _join(o["road"], door, b, u, r), _join(o["road"], door))
    key[street] = street_key[street]
    key[rural] = _join(o["community"], o["group_no"], door)[rural]
    key[flat] = _join(o["community"], b, u, r)[flat]
    return key


def _parse_unique(u: pd.Series, gazetteer: Gazetteer | None = None) -> pd.DataFrame:
    text, blank = clean(u.tolist())
    text = ["" if b else t for t, b in zip(text, blank)]
    head = heads(mask_digits(text))
    prov, city, dist, p_admin = (_obj(c) for c in zip(*_per_distinct(head, admin_prefix))) \
        if len(text) else (_obj([]),) * 4
    rest = [t[p:] for t, p in zip(text, p_admin)]
    out = {"province": prov, "city": city, "district": dist, **_below_county(rest, gazetteer),
           "address_norm": _obj([r or None for r in rest])}
    if gazetteer is not None and len(rest):
        _apply_gazetteer(gazetteer, rest, out)
    return pd.DataFrame({c: out[c] for c in ADDRESS_COLUMNS}, index=u.index, dtype=object)


def _apply_gazetteer(gazetteer: Gazetteer, rest: list[str], out: dict[str, np.ndarray]) -> None:
    """Rewrite texts with unknown names to the gazetteer's spelling; keep the new parse if it finds a
    house (or the old one did not)."""
    rows, texts = gazetteer.rewrite(rest, out)
    if not rows:
        return
    rows = np.asarray(rows, dtype=np.int64)
    new = _below_county(texts, gazetteer)
    take = ~np.equal(new["address_key"], None) | np.equal(out["address_key"][rows], None)
    rows, idx = rows[take], np.flatnonzero(take)
    for col in BELOW_COUNTY:
        out[col][rows] = new[col][idx]
    out["address_norm"][rows] = _obj([texts[i] or None for i in idx])


def canonical_address(parsed: pd.DataFrame) -> pd.Series:
    """One standard spelling per parsed address (below the county): 街道 社区 组 road 门牌 小区 号楼
    单元 室 from the components (`锦华苑3号楼2单元502室`, `潮湖村3组15号`); None where nothing was parsed.
    Parsing it again gives the same address_key."""
    parts = [(parsed["street_office"], ""), (parsed["community"], ""), (parsed["group_no"], "组"),
             (parsed["road"], ""), (parsed["door_no"], "号"), (parsed["compound"], ""),
             (parsed["building"], "号楼"), (parsed["unit"], "单元"), (parsed["room"], "室")]
    acc = pd.Series("", index=parsed.index, dtype=object)
    for col, marker in parts:
        acc = acc + (col + marker).fillna("")
    return acc.where(acc != "", None)


def parse_address(s, gazetteer: Gazetteer | None = None) -> pd.DataFrame:
    """Parse addresses -> DataFrame[province, city, district, street_office, community, road,
    door_no, compound, building, unit, floor, room, group_no, address_key, address_norm].

    address_key is equal for the same house written in police full form and grid short form:
    `compound key|building|unit|room` (estate), `road|door` (street; + `|building|unit|room` when
    present), `village|group|door` (rural); None if no house can be identified. address_norm is the
    cleaned text without the province/city/county prefix. All None for empty/garbage input.

    `gazetteer` (see `gazetteer.learn_gazetteer`): names written without or with another generic
    suffix, or glued to an unsuffixed 社区/村, are read as the known name they stand for when that is
    unambiguous; without it the parse uses the suffix rules only.
    """
    return by_unique(as_text(s), lambda u: _parse_unique(u, gazetteer), ADDRESS_COLUMNS)
