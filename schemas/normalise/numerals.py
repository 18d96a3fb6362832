"""Chinese numerals → Arabic digits (address unit tokens, small numbers only).

Handles digit-by-digit forms (五〇二 → 502, 一二〇一 → 1201) and positional forms with 十/百/千
(十二 → 12, 二十 → 20, 一百零五 → 105, 两 → 2). cn2an is not needed for this subset.
"""
from __future__ import annotations

from functools import lru_cache

DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
          "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
          "九": 9, "玖": 9}
UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
NUMERAL_CHARS = "".join(DIGITS) + "".join(UNITS)


def cn_to_int(tok: str) -> int | None:
    """The value of a Chinese numeral token, or None if it is not one."""
    if not tok or any(c not in DIGITS and c not in UNITS for c in tok):
        return None
    if not any(c in UNITS for c in tok):                 # digit by digit: 五〇二
        return int("".join(str(DIGITS[c]) for c in tok))
    total, pending = 0, None
    for c in tok:
        if c in DIGITS:
            pending = DIGITS[c]
        else:                                           # 十/百/千: multiply the pending digit
            unit = UNITS[c]
            total += (1 if pending is None else pending) * unit
            pending = None
    return total + (pending or 0)


@lru_cache(maxsize=4096)
def cn_to_digits(tok: str) -> str:
    """`cn_to_int` as text; the token unchanged when it is not a numeral."""
    n = cn_to_int(tok)
    return tok if n is None else str(n)
