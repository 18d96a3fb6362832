"""Reading loosely written names with a gazetteer: a left-to-right scan of the text below the county.

At each position the longest known name wins — a full name (`长城花园`, also with an extra generic
suffix: `长城花园小区`) or a stem (the name without its generic suffix: `长城`, `潮湖`, `人民东`), then
any generic suffix of that level that is written (`人民东街` for 人民东大街, `潮湖村委会`). A candidate
only counts where the text can go on after it: a house tail (digits, `#`, `-`, letters), the end, or a
lower level (known, or recognised by the suffix rules). Levels only go down (街道 → 社区/村 → road →
小区). Guards against false merges: a stem that stands for two names (two estates `祥和苑`/`祥和家园`, or
one in each of two communities) is not used; a 2-character stem must be the start of only one known
name; a name seen only in other counties / another community than the one written is not used.
Nothing found: the text is left as it is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ._addr_levels import COMMUNITY, ROAD, TOWNSHIP, anchored

H = "\u4e00-\u9fff"
_RULES = ((0, anchored(TOWNSHIP)), (1, anchored(COMMUNITY)), (2, anchored(ROAD)))
_TAIL_HAN = re.compile(r"负\d|地下")
_GROUP_HAN = re.compile(r"第\d")


def _han(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff"


@dataclass
class Index:
    """Lookup tables of a Gazetteer (built once per gazetteer)."""
    full: dict[str, list[tuple[int, str]]]
    stems: dict[str, list[tuple[int, str]]]
    prefix2: dict[str, int]                       # names (all levels) starting with two characters
    prefix2_level: dict[tuple[int, str], int]     # the same per level
    suffixes: list[tuple[str, ...]]               # per level, longest first
    districts: dict[tuple[int, str], frozenset]
    communities: dict[tuple[int, str], frozenset]
    estate_rule: re.Pattern                       # an unknown estate recognised by a generic suffix
    maxlen: int

    @classmethod
    def build(cls, gz) -> Index:
        from .gazetteer import LEVELS
        full: dict[str, list] = {}
        stems: dict[str, list] = {}
        prefix2: dict[str, int] = {}
        prefix2_level: dict[tuple[int, str], int] = {}
        districts, communities = {}, {}
        suffixes = [gz.suffixes(level) for level in LEVELS]
        for lv, level in enumerate(LEVELS):
            for name, e in gz.names.get(level, {}).items():
                full.setdefault(name, []).append((lv, name))
                prefix2[name[:2]] = prefix2.get(name[:2], 0) + 1
                prefix2_level[(lv, name[:2])] = prefix2_level.get((lv, name[:2]), 0) + 1
                districts[(lv, name)] = frozenset(e.get("districts", ()))
                communities[(lv, name)] = frozenset(e.get("communities", ()))
                for stem in _stems(name, suffixes[lv], every=level == "compound"):
                    if (lv, name) not in stems.setdefault(stem, []):
                        stems[stem].append((lv, name))
        estate = re.compile(rf"[{H}]+?(?:{'|'.join(map(re.escape, suffixes[3]))})(?![{H}])")
        maxlen = max((len(k) for k in (*full, *stems)), default=0)
        return cls(full, stems, prefix2, prefix2_level, suffixes, districts, communities, estate, maxlen)

    def fits(self, lv: int, name: str, district: str | None, community: str | None) -> bool:
        """The name was seen in the record's county and (roads, estates) its community, if known."""
        d = self.districts.get((lv, name), frozenset())
        c = self.communities.get((lv, name), frozenset())
        return (district is None or not d or district in d) and \
            (community is None or lv < 2 or not c or community in c)


def _stems(name: str, suffixes: tuple[str, ...], every: bool) -> set[str]:
    """The name without a generic suffix (2+ characters left); estates: any chain of suffixes."""
    out: set[str] = set()
    todo = [name]
    while todo:
        cur = todo.pop()
        for s in suffixes:
            if cur.endswith(s) and len(cur) - len(s) >= 2:
                stem = cur[:-len(s)]
                if stem not in out:
                    out.add(stem)
                    if every:
                        todo.append(stem)
                if not every:
                    return out
    return out


def _rule(text: str, pos: int, lvl: int) -> tuple[int, int] | None:
    """A 街道/社区/road name recognised by its suffix at `pos` -> (level, end)."""
    rest = text[pos:]
    for lv, rx in _RULES:
        if lv >= lvl and (m := rx.match(rest)) is not None:
            return lv, pos + (m.end("v") if lv != 1 else m.start("_rest"))
    return None


def _follow(ix: Index, text: str, end: int, lv: int, district, community) -> int:
    """How the text goes on after a name of level `lv` ending at `end`: 0 it cannot, 1 with a house
    tail / the end / a level recognised by its suffix, 2 with a known full name of a lower level."""
    if end >= len(text) or not _han(text[end]):
        return 1
    if lv == 3:
        return 1 if _TAIL_HAN.match(text, end) else 0
    if lv <= 1 and _GROUP_HAN.match(text, end):
        return 1
    cand = _candidate(ix, text, end, lv + 1, district, community)
    if cand is not None:
        return 2 if cand[3] else 1
    return 1 if _rule(text, end, lv + 1) is not None or ix.estate_rule.match(text, end) else 0


def _end(ix: Index, text: str, stop: int, lv: int, name: str, district, community):
    """(end, suffix written, _follow) of a candidate: after a written generic suffix of its level if
    the text goes on there, else right after the name; None if the text cannot go on."""
    comm = name if lv == 1 else community
    for suf in ix.suffixes[lv]:
        if text.startswith(suf, stop) and (f := _follow(ix, text, stop + len(suf), lv, district, comm)):
            return stop + len(suf), True, f
    f = _follow(ix, text, stop, lv, district, comm)
    return (stop, False, f) if f else None


def _short_ok(ix: Index, word: str, lv: int, suffix: bool, follow: int) -> bool:
    """A 2-character stem: its level's suffix is written and it starts one name of that level, or a
    known name follows it, or it starts only one known name at all."""
    if suffix:
        return ix.prefix2_level.get((lv, word), 0) == 1
    return follow == 2 or ix.prefix2.get(word, 0) == 1


def _candidate(ix: Index, text: str, pos: int, lvl: int, district, community):
    """The known name of level >= lvl at `pos` -> (end, level, name, full), None if none or two."""
    for length in range(min(ix.maxlen, len(text) - pos), 1, -1):
        word = text[pos:pos + length]
        for full, table in ((True, ix.full), (False, ix.stems)):
            found = {}
            for lv, name in table.get(word, ()):
                if lv < lvl or not ix.fits(lv, name, district, community):
                    continue
                got = _end(ix, text, pos + length, lv, name, district, community)
                if got is None or (not full and length == 2 and not _short_ok(ix, word, lv, *got[1:])):
                    continue
                found[(lv, name)] = got[0]
            if len(found) == 1:
                (lv, name), end = next(iter(found.items()))
                return end, lv, name, full
            if found:
                return None                       # two names fit: do not force either
    return None


def rewrite(ix: Index, text: str, district: str | None) -> str | None:
    """`text` with the names at its start spelled as in the gazetteer; None if nothing changed."""
    pos, lvl, pieces, changed = 0, 0, [], False
    comm = None
    while pos < len(text) and lvl < 4 and _han(text[pos]):
        cand = _candidate(ix, text, pos, lvl, district, comm)
        if cand is not None:
            end, lv, name, _ = cand
            changed |= text[pos:end] != name
            pieces.append(name)
            comm = name if lv == 1 else comm
        else:
            rule = _rule(text, pos, lvl)
            if rule is None:
                break
            lv, end = rule
            pieces.append(text[pos:end])
        pos, lvl = end, lv + 1
    return "".join(pieces) + text[pos:] if changed else None
