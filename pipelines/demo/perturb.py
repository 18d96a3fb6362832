"""Pure functions that make one variant of a value.

Format-only variants keep the meaning (a normaliser must undo them); true variants change it
(a matched pair must show a conflict); malformed variants make a row unusable (quarantine).
"""
from __future__ import annotations

import random
from datetime import date, datetime

from schemas.normalise.ids import check_char

from .address import fullwidth
from .vocab import DOT_VARIANTS, HOMOPHONES, SHAPES, TRADITIONAL

ID_LETTERS = "ACDEFHKMNPRTUVWY"          # never look like a digit (no O, I, L, S, Z, B, X)
DATE_STYLES = ("iso", "slash", "compact", "cn", "dot")
MOBILE_STYLES = ("spaced", "plus86", "dashed")
LANDLINE_STYLES = ("bracket", "spaced", "compact")


def id_valid(n: str) -> bool:
    return len(n) == 18 and n[:17].isdigit() and check_char(n[:17]) == n[17]


# --- ID number: format-only -------------------------------------------------------------------
def id_lower_x(n: str) -> str:
    return n.lower()


def id_fullwidth(n: str) -> str:
    return fullwidth(n)


def id_spaced(n: str, rng: random.Random) -> str:
    return rng.choice((f"{n[:6]} {n[6:14]} {n[14:]}", f" {n} ", f"{n[:6]} {n[6:]}", f"{n}\u3000"))


def id_apostrophe(n: str) -> str:
    return "'" + n


def id15(n: str) -> str:
    """The legacy 15-digit number of a person born 1900-1999 (no century, no check digit)."""
    assert n[6:8] == "19", n
    return n[:6] + n[8:17]


# --- ID number: true differences (the check digit then fails) ---------------------------------
def id_digit_typo(n: str, rng: random.Random) -> str:
    pos = rng.randrange(10, 17)
    digit = rng.choice([d for d in "0123456789" if d != n[pos]])
    return n[:pos] + digit + n[pos + 1:]


def id_transposition(n: str, rng: random.Random) -> str | None:
    last = 16 if n[17] == "X" else 17
    spots = [i for i in range(6, last) if n[i] != n[i + 1]]
    if not spots:
        return None
    i = rng.choice(spots)
    return n[:i] + n[i + 1] + n[i] + n[i + 2:]


def id_excel_zeroed(n: str) -> str:
    """Excel keeps 15 significant digits: 640202199001011232 -> 640202199001011000."""
    return n[:15] + "000"


# --- ID number: malformed ----------------------------------------------------------------------
def id_excel_sci(n: str) -> str:
    """Excel's General format: 640202199001011232 -> 6.40202E+17."""
    mantissa, exp = f"{float(n):.5E}".split("E")
    return f"{mantissa.rstrip('0').rstrip('.')}E{exp}"


def id_wrong_length(n: str, rng: random.Random, length: int) -> str:
    if length >= 19:
        return n + str(rng.randint(0, 9))
    return n[:length]


def id_letters(n: str, rng: random.Random) -> str:
    pos = rng.randrange(8, 16)
    return n[:pos] + rng.choice(ID_LETTERS) + n[pos + 1:]


# --- names ------------------------------------------------------------------------------------
def traditional(name: str) -> str:
    return "".join(TRADITIONAL.get(c, c) for c in name)


def padded(name: str) -> str:
    """Legacy systems pad two-character names to three with an ideographic space: 王　静."""
    return name[0] + "\u3000" + name[1:] if len(name) == 2 else name


def dot_variant(name: str, rng: random.Random) -> str:
    return name.replace("·", rng.choice(DOT_VARIANTS))


def _swap_one(name: str, table: dict[str, str], rng: random.Random) -> str | None:
    spots = [i for i, c in enumerate(name) if c in table]
    if not spots:
        return None
    i = rng.choice(spots)
    return name[:i] + table[name[i]] + name[i + 1:]


def homophone(name: str, rng: random.Random) -> str | None:
    """同音字 from pinyin input: 张伟 -> 章伟, 王静 -> 王晶."""
    return _swap_one(name, HOMOPHONES, rng)


def shape(name: str, rng: random.Random) -> str | None:
    """形近字: 侯 -> 候, 王 -> 玉."""
    return _swap_one(name, SHAPES, rng)


def has_traditional(name: str) -> bool:
    return any(c in TRADITIONAL for c in name)


# --- dates ------------------------------------------------------------------------------------
def date_text(y: int, m: int, d: int, style: str) -> str:
    """One date spelling; takes numbers so impossible dates (1985-02-30) can be written too."""
    if style == "slash":
        return f"{y}/{m}/{d}"
    if style == "compact":
        return f"{y:04d}{m:02d}{d:02d}"
    if style == "cn":
        return f"{y}年{m}月{d}日"
    if style == "dot":
        return f"{y:04d}.{m:02d}.{d:02d}"
    return f"{y:04d}-{m:02d}-{d:02d}"


def month_day_swap(d: date) -> date:
    return date(d.year, d.day, d.month)


def grid_timestamp(t: datetime, short: bool) -> str:
    return f"{t:%Y/%m/%d %H:%M}" if short else f"{t:%Y-%m-%d %H:%M:%S}"


# --- phones -----------------------------------------------------------------------------------
def phone_text(p: str, style: str) -> str:
    if p.startswith("0"):                       # landline 0952-2012345
        area, local = p.split("-")
        return {"bracket": f"({area}){local}", "spaced": f"{area} {local}"}.get(style, area + local)
    return {"spaced": f"{p[:3]} {p[3:7]} {p[7:]}", "plus86": f"+86 {p}",
            "dashed": f"{p[:3]}-{p[3:7]}-{p[7:]}"}[style]
