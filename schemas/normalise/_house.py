"""The house part of an address (楼栋 / 单元 / 楼层 / 户室, dash notation, 组, 门牌) - address.md §3.5-8.

`parse_tail` reads one tail such as `3号楼2单元502室`, `3#2单元502户`, `3-2-502`, `3幢2门5楼2号`.
`parse_tails` reads many: the common shapes (`3号楼2单元502室`, `3#502`, `3-2-502`, `3-502`) in one
vectorised RE2 pass, the others with `parse_tail` once per distinct (tail, rural) pair.
"""
from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BUILDING = ("号楼", "#楼", "#", "栋", "幢", "座")
_TOKEN = re.compile(
    r"(?P<v>负\d+|地下\d+|-\d+(?=层|楼)|[Bb]\d+(?=层|楼)?|\d+(?:-\d+)*|[A-Za-z]\d*)"
    r"(?P<m>号楼|号院|#楼|#|栋|幢|座|单元|门|层|楼|室|户|号|村民小组|小组|组|队|社|期|区|排)?"
    r"|(?P<dir>[东西南北中])(?P<dm>单元|户|区)"
)
FIELDS = ("building", "unit", "floor", "room", "door_no", "group_no", "phase")


def _num(v: str) -> str:
    """'03' -> '3'; basement forms (负1, -1, B1, 地下1) -> '-1'; letters kept upper-case."""
    m = re.fullmatch(r"(?:负|地下|-|[Bb])(\d+)", v)
    if m:
        return "-" + str(int(m.group(1)))
    return str(int(v)) if v.isdigit() else v.upper()


def parse_tail(tail: str, rural: bool = False) -> dict[str, str | None]:
    """Components of a house tail; unknown parts None. `rural`: a bare `N号` is a door number."""
    out: dict[str, str | None] = dict.fromkeys(FIELDS)
    toks = [(m.group("v") or m.group("dir"), m.group("m") or m.group("dm") or "")
            for m in _TOKEN.finditer(tail or "")]
    phase = []
    for i, (v, mk) in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if "-" in v.strip("-") and mk in ("", "室", "户", "号"):
            _dash(out, [_num(p) for p in v.split("-") if p])
        elif mk in BUILDING:
            out["building"] = out["building"] or _num(v)
        elif mk == "号院":
            out["door_no"] = out["door_no"] or v
        elif mk in ("单元", "门"):
            out["unit"] = _num(v)
        elif mk == "层":
            out["floor"] = _num(v)
        elif mk == "楼":
            _lou(out, _num(v), nxt)
        elif mk in ("室", "户"):
            out["room"] = _num(v)
        elif mk == "号":
            if rural and not (out["building"] or out["unit"]) and not out["door_no"]:
                out["door_no"] = v
            elif out["building"] or out["unit"] or out["floor"]:
                out["room"] = _num(v)
            else:
                out["building"] = _num(v)
        elif mk in ("村民小组", "小组", "组", "队", "社"):
            out["group_no"] = _num(v)
        elif mk in ("期", "区", "排"):
            phase.append(v.upper() + mk)
        elif not out["room"]:                      # a bare number: the room
            out["room"] = _num(v)
    out["phase"] = "".join(phase) or None
    _derive_floor(out)
    return out


def _dash(out: dict, parts: list[str]) -> None:
    """3-2-502 = building-unit-room; 3-502 = building-room (or unit-room after a building)."""
    if len(parts) == 3 and not out["building"]:
        out["building"], out["unit"], out["room"] = parts
    elif len(parts) == 2 and not out["building"]:
        out["building"], out["room"] = parts
    elif len(parts) == 2:
        out["unit"], out["room"] = parts


def _lou(out: dict, v: str, nxt) -> None:
    """`楼` is floor after a unit/building, building before a unit; else the room decides."""
    if out["unit"] or out["building"]:
        out["floor"] = v
    elif nxt and nxt[1] in ("单元", "门"):
        out["building"] = v
    elif nxt and nxt[1] in ("", "室", "户") and nxt[0].isdigit() and len(nxt[0]) >= 3:
        same = nxt[0][:-2] == v                    # 3楼301: room 301 is on floor 3
        out["floor" if same else "building"] = v
    else:
        out["building"] = v


def _derive_floor(out: dict) -> None:
    room, floor = out["room"], out["floor"]
    if room and floor and room.isdigit() and int(room) < 100 and floor.lstrip("-").isdigit():
        out["room"] = str(int(floor) * 100 + int(room)) if int(floor) > 0 else room  # 5楼2号 -> 502
    elif room and not floor and room.isdigit() and len(room) in (3, 4):
        out["floor"] = str(int(room) // 100)         # 1201 -> 12


# building marker, optional unit, room; or 2-3 dash-separated numbers (then no marker between them)
_FAST = (r"^(?:(?P<b>[0-9]{1,9})(?:号楼|#楼|#|栋|幢|座)(?:(?P<u>[0-9]{1,9})(?:单元|门))?(?P<r>[0-9]{1,9})"
         r"|(?P<d1>[0-9]{1,9})-(?P<d2>[0-9]{1,9})(?:-(?P<d3>[0-9]{1,9}))?)(?:室|户|号)?$")


def _ints(col: pa.Array, ok: np.ndarray) -> np.ndarray:
    """'03' -> '3' where `ok` (digits only, <= 9 of them), None elsewhere."""
    out = np.full(len(col), None, dtype=object)
    if ok.any():
        vals = pc.cast(pc.cast(pc.filter(col, pa.array(ok)), pa.int64()), pa.string())
        out[ok] = vals.to_numpy(zero_copy_only=False)
    return out


def parse_tails(tails: list[str], rural: np.ndarray) -> dict[str, np.ndarray]:
    """`parse_tail` of every (tail, rural) pair -> {field: object array}; identical results, but the
    common shapes are read in one Arrow pass and the rest once per distinct pair."""
    n = len(tails)
    out = {f: np.full(n, None, dtype=object) for f in FIELDS}
    arr = pa.array(tails, pa.string())
    ext = pc.extract_regex(arr, _FAST)
    fast = ext.is_valid().to_numpy(zero_copy_only=False)
    if fast.any():
        g = {k: ext.field(k) for k in ("b", "u", "r", "d1", "d2", "d3")}
        has = {k: fast & (pc.utf8_length(v).to_numpy(zero_copy_only=False) > 0) for k, v in g.items()}
        marked = has["b"]
        dash3 = has["d3"]
        dash2 = has["d1"] & ~dash3
        out["building"] = np.where(marked, _ints(g["b"], marked), _ints(g["d1"], has["d1"]))
        out["unit"] = np.where(has["u"], _ints(g["u"], has["u"]), _ints(g["d2"], dash3))
        room = np.where(marked, _ints(g["r"], marked),
                        np.where(dash3, _ints(g["d3"], dash3), _ints(g["d2"], dash2)))
        out["room"] = room
        rl = np.array([len(r) if r is not None else 0 for r in room])
        three = fast & ((rl == 3) | (rl == 4))
        if three.any():                                          # 1201 -> floor 12
            out["floor"][three] = [str(int(r) // 100) for r in room[three]]
    slow = np.flatnonzero(~fast & (pc.utf8_length(arr).to_numpy(zero_copy_only=False) > 0))
    if len(slow):
        index: dict[str, int] = {}
        codes = [index.setdefault(tails[i] + ("\x01" if rural[i] else "\x00"), len(index)) for i in slow]
        uniq = list(index)
        res = [parse_tail(k[:-1], k[-1] == "\x01") for k in uniq]
        for f in FIELDS:
            col = np.array([r[f] for r in res] + [None], dtype=object)
            out[f][slow] = col[codes]
    return out
