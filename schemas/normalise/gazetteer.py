"""A gazetteer of the names below the county (街道/镇, 社区/村, roads, 小区), learned from addresses.

The police standard addresses (一标三实) are the reference: `learn_gazetteer` parses them with the
suffix rules alone and keeps every 街道/社区/村/road/小区 name with its count and where it was seen
(counties, communities). `parse_address(..., gazetteer=g)` then reads the names grid workers write
loosely — without their suffix (`金凤3-2-502`), with another generic suffix (`长城花园小区`, `祥和家园`
for 祥和嘉园), a road with 街/大街 swapped or no suffix, a village without 村, an unsuffixed 社区 before the
estate — as the known name they stand for (`_addr_scan`). No place name is built in; only generic
suffixes are, and further estate suffixes are learned (a word that ends several known estates).

Serialisable with `to_dict` / `from_dict` (plain JSON types) so a run can persist the one it used.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from . import _addr_scan
from ._addr_levels import ESTATE_SUFFIXES, ROAD_TYPES, compound_key
from ._text import as_text, factorize_text

FORMAT = "gridbridge.gazetteer/1"
LEVELS = ("township", "community", "road", "compound")
COLUMN = {"township": "street_office", "community": "community", "road": "road", "compound": "compound"}
# generic suffixes (not place names); a stem is a name without one of them
SUFFIXES = {
    "township": ("街道办事处", "街道办", "街道", "镇", "乡", "苏木"),
    "community": ("社区居民委员会", "社区居委会", "居民委员会", "居委会", "村民委员会", "村委会", "社区", "村",
                  "嘎查"),
    "road": ROAD_TYPES,
    "compound": ESTATE_SUFFIXES,
}
_NAME = re.compile(r"[\u4e00-\u9fffA-Za-z]{2,24}")
_SUFFIX = re.compile(r"[\u4e00-\u9fff]{1,3}")


@dataclass(frozen=True)
class Gazetteer:
    """names[level][name] = {"count": rows, "districts": [...], "communities": [...]};
    compound_suffixes: estate suffixes learned from the names (beyond the built-in generic ones).
    Treat it as immutable: its lookup index is built once, on first use."""
    names: dict[str, dict[str, dict]] = field(default_factory=dict)
    compound_suffixes: tuple[str, ...] = ()

    # --- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        levels = {}
        for level in LEVELS:
            entries = self.names.get(level, {})
            levels[level] = {n: {"count": int(e["count"]), "key": self._key(level, n),
                                 "districts": list(e.get("districts", [])),
                                 "communities": list(e.get("communities", []))}
                             for n, e in sorted(entries.items())}
        return {"format": FORMAT, "compound_suffixes": list(self.compound_suffixes), "levels": levels}

    @classmethod
    def from_dict(cls, d: dict) -> Gazetteer:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"not a gazetteer: expected format {FORMAT!r}")
        levels = d.get("levels")
        if not isinstance(levels, dict) or set(levels) - set(LEVELS):
            raise ValueError(f"gazetteer levels must be a mapping with keys from {LEVELS}")
        names: dict[str, dict[str, dict]] = {}
        for level in LEVELS:
            names[level] = {}
            for name, e in (levels.get(level) or {}).items():
                if not isinstance(name, str) or not isinstance(e, dict) or \
                        not isinstance(e.get("count"), int):
                    raise ValueError(f"gazetteer {level} entry {name!r}: needs an integer count")
                names[level][name] = {"count": e["count"],
                                      "districts": [str(x) for x in e.get("districts") or []],
                                      "communities": [str(x) for x in e.get("communities") or []]}
        sufs = d.get("compound_suffixes") or []
        if not isinstance(sufs, list) or not all(isinstance(x, str) and x for x in sufs):
            raise ValueError("gazetteer compound_suffixes must be non-empty strings")
        return cls(names=names, compound_suffixes=tuple(sufs))

    def _key(self, level: str, name: str) -> str:
        if level != "compound" or name in self.shared_stem_compounds:
            return name
        return compound_key(name)

    def __len__(self) -> int:
        return sum(len(v) for v in self.names.values())

    # --- lookup ----------------------------------------------------------------------------------
    def known(self, level: str, values: np.ndarray) -> np.ndarray:
        """True where the value is a known name of that level. Missing values and values that could never
        be learned (not 2-24 Han characters or letters, e.g. `镇，`) count as known: nothing to rewrite."""
        names = self.names.get(level, {})
        return np.fromiter((v is None or v in names or _NAME.fullmatch(v) is None for v in values),
                           dtype=bool, count=len(values))

    @cached_property
    def shared_stem_compounds(self) -> frozenset[str]:
        """Known estates whose stem (`compound_key`) another known estate has too: their house key
        keeps the full name, so `长兴小区` and `长兴新村` (two estates, maybe in two counties) never
        share a key. Stems stay the key of every other estate (`金凤小区` = `金凤花园小区` = `金凤`)."""
        by_stem: dict[str, int] = {}
        for name in self.names.get("compound", {}):
            by_stem[compound_key(name)] = by_stem.get(compound_key(name), 0) + 1
        return frozenset(n for n in self.names.get("compound", {}) if by_stem[compound_key(n)] > 1)

    @cached_property
    def index(self) -> _addr_scan.Index:
        return _addr_scan.Index.build(self)

    def suffixes(self, level: str) -> tuple[str, ...]:
        extra = self.compound_suffixes if level == "compound" else ()
        return tuple(sorted(set(SUFFIXES[level]) | set(extra), key=lambda s: (-len(s), s)))

    def rewrite(self, rest: list[str], parsed: dict[str, np.ndarray]) -> tuple[list[int], list[str]]:
        """Rows of `rest` (cleaned text below the county) whose parse has an unknown name or no house,
        rewritten with the known names; only rows that changed are returned."""
        todo = np.equal(parsed["address_key"], None)
        for level in LEVELS:
            todo |= ~self.known(level, parsed[COLUMN[level]])
        rows, texts, done = [], [], {}
        for i in np.flatnonzero(todo):
            if not rest[i]:
                continue
            key = (rest[i], parsed["district"][i])
            if key not in done:
                done[key] = _addr_scan.rewrite(self.index, *key)
            if done[key] is not None:
                rows.append(int(i))
                texts.append(done[key])
        return rows, texts


def learn_gazetteer(addresses, parsed: pd.DataFrame | None = None,
                    min_suffix_names: int = 3) -> Gazetteer:
    """Learn the names below the county from addresses (the police standard addresses: house
    addresses and persons' current addresses). Deterministic; parses each distinct address once.

    parsed: `parse_address(addresses)` (no gazetteer) if the caller has it already, row for row;
    then nothing is parsed again. Every name is kept, however rare: the reference addresses must
    all read as themselves. min_suffix_names: distinct estates a word must end (leaving 2+
    characters) to be learned as a generic estate suffix.
    """
    from .addresses import ADDRESS_COLUMNS, parse_address

    if parsed is not None:
        if len(parsed) != len(addresses) or set(ADDRESS_COLUMNS) - set(parsed.columns):
            raise ValueError("learn_gazetteer: parsed must be parse_address(addresses), row for row")
        p = parsed[ADDRESS_COLUMNS].reset_index(drop=True).assign(n=1)
    else:
        codes, uniq = factorize_text(as_text(addresses))
        p = parse_address(pd.Series(uniq, dtype=object))
        p["n"] = np.bincount(codes[codes >= 0], minlength=len(uniq))
    names: dict[str, dict[str, dict]] = {}
    for level in LEVELS:
        col = COLUMN[level]
        ok = [v is not None and _NAME.fullmatch(v) is not None for v in p[col]]
        sub = p[np.array(ok, dtype=bool)]
        entries = {}
        for name, g in sub.groupby(col, sort=True):
            entries[name] = {"count": int(g["n"].sum()), "districts": sorted(set(g["district"].dropna())),
                             "communities": sorted(set(g["community"].dropna()))
                             if level in ("road", "compound") else []}
        names[level] = entries
    return Gazetteer(names=names, compound_suffixes=_learn_suffixes(names["compound"], min_suffix_names))


def _learn_suffixes(compounds: dict, min_names: int) -> tuple[str, ...]:
    """Words of 1-3 Han characters that end at least `min_names` distinct estate names which keep
    2+ characters without them (嘉园, 雅居, 名邸 …). Longer suffixes first, built-in before learned:
    a name ending in one does not count for a shorter one (公寓 does not teach 寓, 嘉园 does not 园)."""
    left = list(compounds)
    learned: list[str] = []
    for k in (3, 2, 1):
        left = [n for n in left if not any(len(s) == k and n.endswith(s) and len(n) - k >= 2
                                           for s in ESTATE_SUFFIXES)]
        seen: dict[str, int] = {}
        for name in left:
            if len(name) - k >= 2 and _SUFFIX.fullmatch(name[-k:]):
                seen[name[-k:]] = seen.get(name[-k:], 0) + 1
        new = sorted(s for s, n in seen.items() if n >= min_names)
        learned += new
        left = [n for n in left if n[-k:] not in new]
    return tuple(sorted(learned))
