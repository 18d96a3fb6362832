"""Address text before parsing: cleaning (address.md §3.1-2), numerals before unit markers (§3.4), masks.

Vectorised with Arrow compute (RE2, C++) over the distinct addresses. The few rules that need
look-arounds (phone numbers, Chinese numerals) run Python `re` only on the rows that an RE2
pre-filter found able to match, so the result is the same as running them on every row.
"""
from __future__ import annotations

import re
from unicodedata import normalize

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._text import NULL_WORDS
from .numerals import NUMERAL_CHARS, cn_to_digits

H = "\u4e00-\u9fff"
# Python's `\s` for str (str.isspace) plus the zero-width characters of _text.WS, as an RE2 class
# (RE2's own \s is ASCII only); tests check it against Python.
WS_RE2 = (r"[\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200d}\x{2028}\x{2029}\x{202f}\x{205f}"
          r"\x{2060}\x{3000}\x{feff}]+")
DASHES = r"[－—–―‐‑‒−~～]+|-{2,}"
BRACKETS = r"\([^()]*\)|\[[^\]]*\]|【[^】]*】|〔[^〕]*〕|\([^)]*$"
TRAILING = r"(?:附近|对面|旁边|旁|隔壁|[东西南北]侧)$"
STRIP = "-,，。.;；:："
_PHONE = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
_PHONE_RE2 = r"1[3-9]\p{Nd}{9}|0\p{Nd}{2,3}-?\p{Nd}{7,8}"          # superset of _PHONE (no look-arounds)

# Chinese numerals -> digits only in the token right before a unit marker (never 五一路, 九竹社区)
MARKERS = (r"号楼|号院|号|栋|幢|座|单元|门(?!峡|头沟|口|诊|卫|市|面|店)|层|楼|室|户|村民小组|小组|组|队"
           r"|社(?!区|会)|期|区(?!域)|排")
# a numeral token with at least one digit or 十 (千户村, 百户 stay text)
_NUM_TOKEN = rf"(?<![{NUMERAL_CHARS}])([{NUMERAL_CHARS}]*[零〇○一二两三四五六七八九十][{NUMERAL_CHARS}]*)"
_CN_BEFORE_MARKER = re.compile(rf"{_NUM_TOKEN}(?={MARKERS})")
_CN_ROOM_AT_END = re.compile(rf"(?:(?<=单元)|(?<=[门层楼号栋幢座#室户-]))([{NUMERAL_CHARS}]+)$")
# RE2 pre-filter: the two patterns above without their look-arounds (a superset of their matches)
_MARKERS_PLAIN = "号|栋|幢|座|单元|门|层|楼|室|户|村民小组|小组|组|队|社|期|区|排"
_MAY_HAVE_NUMERAL = (rf"[{NUMERAL_CHARS}](?:{_MARKERS_PLAIN})"
                     rf"|(?:单元|[门层楼号栋幢座#室户-])[{NUMERAL_CHARS}]+$")
_MEANINGFUL = re.compile(rf"[{H}\d]")


def _repl(m: re.Match) -> str:
    return cn_to_digits(m.group(1))


def _python_on(arr: pa.Array, mask: pa.Array, fn) -> pa.Array:
    """Apply the str -> str function `fn` to the rows where `mask` is true (few rows)."""
    idx = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    if not len(idx):
        return arr
    vals = arr.to_numpy(zero_copy_only=False).astype(object)
    vals[idx] = [fn(v) for v in vals[idx]]
    return pa.array(vals, pa.string())


def numerals(arr: pa.Array) -> pa.Array:
    """三栋 -> 3栋, 二单元 -> 2单元, 第三村民小组 -> 第3村民小组, a trailing room 五〇二 -> 502."""
    def fn(s: str) -> str:
        return _CN_ROOM_AT_END.sub(_repl, _CN_BEFORE_MARKER.sub(_repl, s))
    return _python_on(arr, pc.match_substring_regex(arr, _MAY_HAVE_NUMERAL), fn)


def clean(values) -> tuple[list[str], np.ndarray]:
    """Distinct raw addresses (str) -> (cleaned text with numerals converted, blank mask).

    NFKC, no whitespace, one dash, no bracketed remarks / embedded phone numbers / trailing 附近,
    then Chinese numerals before unit markers. Blank: empty, a null word, or no Han character/digit.
    """
    a = pa.array([normalize("NFKC", v) for v in values], pa.string())
    a = pc.replace_substring_regex(a, WS_RE2, "")
    a = pc.replace_substring_regex(a, DASHES, "-")
    a = pc.replace_substring_regex(a, BRACKETS, "")
    a = _python_on(a, pc.match_substring_regex(a, _PHONE_RE2), lambda s: _PHONE.sub("", s))
    a = pc.replace_substring_regex(a, TRAILING, "")
    a = numerals(pc.utf8_trim(a, characters=STRIP))
    text = a.to_pylist()
    # blank: RE2 finds the rows with a Han character or an ASCII digit; Python checks the others
    has = pc.match_substring_regex(a, f"[{H}0-9]").to_numpy(zero_copy_only=False)
    blank = np.zeros(len(text), dtype=bool)
    for i in np.flatnonzero(~has):
        blank[i] = not _MEANINGFUL.search(text[i])
    for i in np.flatnonzero(has & (pc.utf8_length(a).to_numpy(zero_copy_only=False) <= 4)):
        blank[i] = text[i] == "" or text[i].lower() in NULL_WORDS
    return text, blank


_ZEROS = bytes.maketrans(b"123456789", b"000000000")


def mask_digits(values: list[str]) -> list[str]:
    """Every ASCII digit -> '0' (the level patterns treat all digits alike: same spans, fewer values).

    One bytes.translate over the joined texts (an ASCII digit is one byte in UTF-8, and no byte of a
    multi-byte character is in 0x30-0x39)."""
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1:              # cleaned texts have no newline; be safe
        return pc.replace_substring_regex(pa.array(values, pa.string()), "[0-9]", "0").to_pylist()
    return joined.encode().translate(_ZEROS).decode().split("\n") if values else []


def heads(masked: list[str]) -> list[str]:
    """The text up to its first digit (+ '0' if one follows): all that the upper levels can see."""
    out = []
    for s in masked:
        i = s.find("0")
        out.append(s if i < 0 else s[:i + 1])
    return out
