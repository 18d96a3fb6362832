"""Person names: cleaned display name, comparison keys, garbage detection (shared/domain/fields.md §4).

Everything runs on the distinct names only (`by_unique`). Names of plain CJK ideographs (nearly
all) are recognised by one Arrow (RE2) pass and need no cleaning; the others are cleaned and checked
with pandas `.str`. OpenCC and pypinyin run per distinct name (they have no batch API), cached
across calls. OpenCC, pypinyin and the four-corner table are loaded lazily on first use.
"""
from __future__ import annotations

import re
from functools import cache, lru_cache

import numpy as np
import pandas as pd

from ._text import WS, as_text, by_unique, full_match, join_flags, search, truthy

NAME_COLUMNS = ["name", "name_key", "name_pinyin", "name_error", "name_flags"]

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
PUA = "\ue000-\uf8ff\U000f0000-\U0010ffff"
DOT = "\u00b7"
# U+00B7 · U+2022 • U+30FB ・ U+FF65 ･ U+2027 ‧ U+22C5 ⋅ U+2219 ∙ U+0387 ·  . ． - ‐ ‑ ‒ – — U+318D
_DOTS = "\u00b7\u2022\u30fb\uff65\u2027\u22c5\u2219\u0387.\uff0e\\-\u2010\u2011\u2012\u2013\u2014\u318d"
_HANISH = HAN + PUA + "?\ufffd\u25a1"              # characters that can stand for a Han char

_GARBAGE_WORDS = (r"\?+|？+|#?n/?a|null|none|nan|无|空|不详|未知|测试.*|test\w*|tmp|temp|demo"
                  r"|x+|abc|asdf|qwe\w*|aaa+")
_MOJIBAKE = r"锟斤拷|烫烫烫|屯屯屯|\ufffd{2,}"
_LATIN_NAME = r"[^\W\d_](?:[^\W\d_]|[ .'\-])*"          # letters of any script, no digits
_PLAIN_HAN = "[\u4e00-\u9fff]+"                          # NFKC-stable, no space, no dot
_GARBAGE_HAN = "无|空|不详|未知|测试.*"                     # the Han words among _GARBAGE_WORDS
_MOJIBAKE_HAN = "锟斤拷|烫烫烫|屯屯屯"                       # the Han ones among _MOJIBAKE
_RX_WS = re.compile(f"[{WS}]+")


@cache
def _t2s():
    import opencc
    return opencc.OpenCC("t2s")


@cache
def _four_corner() -> dict[str, str]:
    from four_corner_method import FourCornerMethod   # pinned four-corner-method==0.2.0 (MIT)
    return FourCornerMethod().data


def clean_name(u: pd.Series) -> pd.Series:
    """Display form: NFKC, trimmed, no whitespace in Han names, middle dots unified to U+00B7."""
    t = u.str.normalize("NFKC").str.replace(f"^[{WS}]+|[{WS}]+$", "", regex=True)
    han = truthy(t.str.contains(f"[{HAN}]"))
    t = t.where(~han, t.str.replace(f"[{WS}]+", "", regex=True))
    t = t.where(han, t.str.replace(f"[{WS}]+", " ", regex=True))
    dots = f"(?<=[{_HANISH}])[{_DOTS}]+(?=[{_HANISH}])"
    t = t.where(~han, t.str.replace(dots, DOT, regex=True).str.strip(DOT))
    # deleting a space can leave a combining mark after a letter (NFKC turned `¸` into space + mark):
    # compose again, so that cleaning a clean name changes nothing
    return t.str.normalize("NFKC")


@lru_cache(maxsize=1 << 18)                   # distinct names; bounded memory
def _key_pinyin(name: str) -> tuple[str, str]:
    """(name_key, name_pinyin) of one cleaned name; cached across calls (batches, sources)."""
    from pypinyin import lazy_pinyin
    key = _t2s().convert(name).replace(DOT, "").lower()
    return key, _RX_WS.sub("", "".join(lazy_pinyin(key)).lower())


def _keys(name: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(name_key, name_pinyin) for unique cleaned names; per value: OpenCC, pypinyin (no batch API)."""
    pairs = [_key_pinyin(v) for v in name]
    return (pd.Series([k for k, _ in pairs], index=name.index, dtype=object),
            pd.Series([p for _, p in pairs], index=name.index, dtype=object))


def _general_unique(u: pd.Series) -> pd.DataFrame:
    name = clean_name(u)
    han = truthy(name.str.contains(f"[{HAN}]"))
    missing = name.eq("")
    low = name.str.lower()
    garbage = ~missing & (
        truthy(low.str.fullmatch(_GARBAGE_WORDS))
        | truthy(name.str.contains(_MOJIBAKE))
        | truthy(name.str.fullmatch(r"[\W\d_]+"))                       # digits / punctuation only
        | truthy(name.str.fullmatch(r"(?=.*[A-Za-z])(?=.*\d)[A-Za-z\d\s._\-]+"))  # abc123
        | (~han & ~truthy(name.str.fullmatch(_LATIN_NAME)))             # no Han, not a Latin name
    )
    unrepresentable = han & (
        truthy(name.str.contains(f"[{PUA}\ufffd\u25a1?]"))
        | truthy(name.str.contains(rf"\([^)]*[{HAN}][^)]*\)"))           # 小(氵甸)村 descriptions
    )
    error = pd.Series([None] * len(u), index=u.index, dtype=object)
    error[missing] = "name_missing"
    error[garbage] = "name_garbage"
    return pd.DataFrame({"name": name, "name_error": error,
                         "name_flags": join_flags(u.index, [(error.isna() & unrepresentable,
                                                             "name_unrepresentable")])})


def _plain_unique(u: pd.Series) -> pd.DataFrame:
    """Names of CJK Unified Ideographs only: `clean_name` keeps them as they are, and of the checks
    only the Chinese garbage words and mojibake can apply."""
    garbage = full_match(u, _GARBAGE_HAN) | search(u, _MOJIBAKE_HAN)
    return pd.DataFrame({"name": u, "name_error": np.where(garbage, "name_garbage", None),
                         "name_flags": ""}, index=u.index)


def _normalise_unique(u: pd.Series) -> pd.DataFrame:
    plain = full_match(u, _PLAIN_HAN)
    parts = [_plain_unique(u[plain])] if plain.any() else []
    if not plain.all():
        parts.append(_general_unique(u[~plain]))
    out = pd.concat(parts).reindex(u.index) if len(parts) > 1 else parts[0]
    ok = out["name_error"].isna()
    key = pd.Series([None] * len(u), index=u.index, dtype=object)
    pinyin = key.copy()
    if ok.any():
        key[ok], pinyin[ok] = _keys(out["name"][ok])
    return pd.DataFrame({
        "name": out["name"].where(ok, None),
        "name_key": key,
        "name_pinyin": pinyin,
        "name_error": out["name_error"].astype(object),
        "name_flags": out["name_flags"].astype(object),
    }, index=u.index)


def normalise_name(s) -> pd.DataFrame:
    """Normalise names -> DataFrame[name, name_key, name_pinyin, name_error, name_flags].

    name: display form (original characters kept). name_key: OpenCC t2s, dots removed, lower-case
    (comparison key). name_pinyin: toneless pinyin of name_key, no separators (homophone key).
    name_error: `name_missing` | `name_garbage` | None (then name/keys are None).
    name_flags: `name_unrepresentable` or ''.
    """
    t = as_text(s)
    out = by_unique(t, _normalise_unique, NAME_COLUMNS)
    missing = t.isna()
    out.loc[missing, "name_error"] = "name_missing"
    out["name_flags"] = out["name_flags"].fillna("")
    return out


def _shape_unique(u: pd.Series) -> pd.DataFrame:
    table = _four_corner()
    t = u.str.normalize("NFKC").str.replace(f"[{WS}{_DOTS}]+", "", regex=True)
    # per unique value: one dict look-up per character
    codes = [" ".join(table.get(c, c) for c in v) if v else None for v in t]
    return pd.DataFrame({"shape_key": codes}, index=u.index)


def shape_key(s) -> pd.Series:
    """Four-corner codes per character, space-joined (`己` and `已` both give 17717): equal shape
    keys with different names suggest a 形近字 typo. Characters without a code stay as they are.
    Needs `four-corner-method==0.2.0`."""
    t = as_text(s)
    return by_unique(t, _shape_unique, ["shape_key"])["shape_key"]
