"""Mainland phone numbers → E.164, regex only (shared/domain/phones.md).

Vectorised: mobiles written plainly or in the usual groupings (`139 1234 5678`, `+86 139…`) take an
Arrow (RE2) fast path; other fields are split into their numbers (one row per number), classified by
shape with pandas `.str`, and the first usable number is kept. Distinct (text, area code) pairs are
evaluated once. Digits are ASCII 0-9 (after NFKC): other Unicode digits make a number invalid.
`phonenumbers` is deliberately not used (yet).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._text import NULL_WORDS, as_series, as_text, factorize_text, full_match, nfkc_strip, none_if_na, truthy

PHONE_COLUMNS = ["phone", "phone_kind", "phone_flags"]
MAX_NUMBERS = 4            # numbers looked at in one field

# separators between several numbers in one field; whitespace only between two 7+ digit runs
_SPLIT = r"\s*(?:[/,，;；、|]|或|(?<=[0-9]{7})\s+(?=\+?[0-9]{7}))\s*"
_EXT = (r"^((?:\+?86|0086)?[\s-]*\(?0[0-9]{2,3}\)?[\s-]*[0-9]{7,8})\s*"
        r"(?:转|分机|ext\.?|EXT\.?|-)\s*[0-9]{1,5}$")
_MOBILE = r"1[3-9][0-9]{9}"
# 13912345678, 139 1234 5678, 139-1234-5678, +86 139…, 86139… (not 0086…: see _EXT)
_FAST_MOBILE = r"(?:\+86 ?|86 ?)?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}"
_LANDLINE = r"0(?:[12][0-9][0-9]{8}|[3-9][0-9]{2}[0-9]{7,8})"   # 010/02x + 8, 0xxx + 7-8
_NINGXIA_8 = r"095[1-5][0-9]{8}"                                 # Ningxia locals are 7 digits only
_LOCAL = r"[2-9][0-9]{6,7}"                                       # landline without area code
_SERVICE_E164 = r"[48]00[0-9]{7}"                                 # 400 / 800
_SERVICE_SHORT = r"1[0-9]{2}|1[0-9]{4}|9[56][0-9]{3,4}"           # 110, 12345, 10086, 95588, 96xxx
_PLACEHOLDER = (r"([0-9])\1+|1[3-9][0-9](?:([0-9])\2{7}|0{7}[0-9])|13800138000|0?1234567[0-9]{0,4}"
                r"|0?12345678901|0+")


def _area(area_code, index: pd.Index) -> pd.Series:
    """Area code per row as '0xxx' (from '0952', '952', '+86 952' …) or None."""
    if area_code is None:
        return pd.Series([None] * len(index), index=index, dtype=object)
    if isinstance(area_code, str):                  # one code for every row: work it out once
        code = _area(pd.Series([area_code], dtype=object), pd.RangeIndex(1)).iloc[0]
        return pd.Series([code] * len(index), index=index, dtype=object)
    a = as_text(as_series(area_code))
    a.index = index
    d = a.str.normalize("NFKC").str.replace(r"\D", "", regex=True).str.replace(r"^(?:0086|86)", "",
                                                                                   regex=True)
    d = ("0" + d.str.lstrip("0")).where(truthy(d.str.fullmatch(r"0?[1-9][0-9]{1,2}")))
    return none_if_na(d)


def _one(p: pd.Series, area: pd.Series) -> pd.DataFrame:
    """Classify one number per row (already NFKC + stripped) -> phone, phone_kind, phone_flags."""
    idx = p.index
    blank = p.isna() | (p == "")
    word_null = p.str.lower().isin(NULL_WORDS) | truthy(p.str.fullmatch(r"[-/\\.*#xX]+"))
    sci = truthy(p.str.fullmatch(r"[0-9](?:\.[0-9]+)?[eE]\+?[0-9]+"))
    p = p.str.replace(r"^([0-9]+)\.0+$", r"\1", regex=True).str.replace(_EXT, r"\1", regex=True)
    intl = p.str.extract(r"^(\+\s*86|0086)", expand=False).notna()
    foreign = ~intl & truthy(p.str.match(r"\+|00[1-9]"))            # +1 415 …: not a CN number
    d = p.str.replace(r"\D", "", regex=True)
    d = d.where(~intl, d.str.replace(r"^(?:0086|86)", "", regex=True))
    plain86 = ~intl & truthy(d.str.fullmatch(rf"86(?:{_MOBILE}|{_LANDLINE})"))
    d = d.where(~plain86, d.str[2:])
    # +86 952 2012345, +86 10 6234 5678: the trunk 0 is dropped in international form
    # (not for mobiles, nor for +86 400/800 service numbers: those have no trunk 0 either)
    no_trunk = intl & truthy(d.str.fullmatch(r"[1-9][0-9]{8,10}")) & ~truthy(d.str.fullmatch(_MOBILE)) \
        & ~truthy(d.str.fullmatch(_SERVICE_E164))
    d = d.where(~no_trunk, "0" + d)
    d = d.str.replace(rf"^0({_MOBILE})$", r"\1", regex=True)           # spurious trunk 0

    def is_(pat):
        return truthy(d.str.fullmatch(pat))

    placeholder = ~blank & (word_null | is_(_PLACEHOLDER))
    live = ~blank & ~placeholder & ~sci & ~foreign
    mobile = live & is_(_MOBILE)
    landline = live & is_(_LANDLINE) & ~is_(_NINGXIA_8)
    service = live & (is_(_SERVICE_E164) | is_(_SERVICE_SHORT))
    full = area + d                             # a bare local number completed with the area code
    local = live & is_(_LOCAL) & ~service & area.notna() \
        & truthy(full.str.fullmatch(_LANDLINE)) & ~truthy(full.str.fullmatch(_NINGXIA_8))
    phone = pd.Series([None] * len(idx), index=idx, dtype=object)
    kind = phone.copy()
    e164 = "+86" + d.str.replace(r"^0", "", regex=True)              # landlines lose the trunk 0
    phone[mobile | landline] = e164[mobile | landline]
    kind[mobile], kind[landline] = "mobile", "landline"
    phone[local] = ("+86" + area.str[1:] + d)[local]
    kind[local] = "landline"
    svc_long = service & is_(_SERVICE_E164)
    phone[service] = d[service].where(~svc_long, e164)
    kind[service] = "service"
    invalid = ~blank & ~placeholder & phone.isna()
    flags = pd.Series(np.where(placeholder, "phone_placeholder",
                               np.where(invalid, "phone_invalid", "")), index=idx, dtype=object)
    return pd.DataFrame({"phone": phone, "phone_kind": kind, "phone_flags": flags}, index=idx)


def _plain_mobile(t: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(rows, national 11 digits) of the mobile numbers the fast path takes: `_FAST_MOBILE` shapes that
    are not placeholders. For these shapes `_slow` would find no second number, no extension and no
    foreign prefix, and would keep exactly the last 11 digits."""
    shaped = full_match(t, _FAST_MOBILE)
    digits = np.array([], dtype=object)
    if shaped.any():
        arr = pa.array(t.to_numpy(dtype=object)[shaped], type=pa.string())
        digits = pc.utf8_slice_codeunits(pc.replace_substring_regex(arr, "[^0-9]", ""), -11) \
            .to_numpy(zero_copy_only=False).astype(object)
        d = np.asarray(digits, dtype="<U11").view(np.uint32).reshape(-1, 11)
        # _PLACEHOLDER on 11-digit mobiles: one digit repeated, 8 equal digits after the prefix,
        # 7 zeros and any last digit, 13800138000 (its other branches cannot match a 1[3-9] number)
        same = (d == d[:, :1]).all(axis=1) | (d[:, 3:] == d[:, 3:4]).all(axis=1) \
            | (d[:, 3:10] == ord("0")).all(axis=1) \
            | (d == np.array(list("13800138000")).view(np.uint32)).all(axis=1)
        shaped[shaped] = ~same
        digits = digits[~same]
    return shaped, digits


def normalise_phone(s, area_code: str | pd.Series | None = None) -> pd.DataFrame:
    """Normalise phone fields -> DataFrame[phone, phone_kind, phone_flags].

    phone: E.164 (`+8613912345678`, `+869522012345`), a short service number as digits (`95588`),
    or None. phone_kind: `mobile` | `landline` | `service` | None. phone_flags: `phone_invalid` or
    `phone_placeholder` (then phone is None), else ''. With several numbers in one field the first
    usable one is kept. `area_code` ('0952', or a Series aligned with `s`) completes bare 7-8 digit
    landlines when that makes a valid landline (Ningxia locals have 7 digits); without it, or when it
    does not, they are flagged `phone_invalid`.
    """
    t = nfkc_strip(as_text(s))
    idx = t.index
    out = pd.DataFrame({c: [None] * len(idx) for c in PHONE_COLUMNS}, index=idx, dtype=object)
    out["phone_flags"] = ""
    # fast path: an 11-digit mobile, plain or grouped (most rows); everything else goes through _slow
    fast, digits = _plain_mobile(t)
    fast = pd.Series(fast, index=idx)
    out.loc[fast, "phone"] = "+86" + digits
    out.loc[fast, "phone_kind"] = "mobile"
    if (~fast).any():
        rest, area = t[~fast], _area(area_code, idx)[~fast]
        # the rest once per distinct (text, area code) pair
        rc, ac = factorize_text(rest)[0], factorize_text(area)[0]
        codes, _ = pd.factorize((rc + 1) * (int(ac.max(initial=-1)) + 2) + (ac + 1))
        first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
        res = _slow(rest.iloc[first], area.iloc[first])
        out.loc[~fast] = res.to_numpy()[codes]
    return out


def _slow(t: pd.Series, area: pd.Series) -> pd.DataFrame:
    """Split multi-number fields, classify every number at once, keep the first usable one."""
    t = t.mask(t.str.lower().isin(NULL_WORDS), "无")            # '/' alone: a placeholder, not a split
    pos = pd.RangeIndex(len(t))
    parts = pd.Series(t.to_numpy(dtype=object), index=pos).str.split(_SPLIT, n=MAX_NUMBERS - 1,
                                                                      regex=True).explode()
    row = parts.index.to_numpy()
    parts = parts.astype(object).str.strip().reset_index(drop=True)      # one row per number
    res = _one(parts, pd.Series(area.to_numpy(dtype=object)[row], dtype=object))
    # per field: the first part with a phone, else the first part with a flag, else nothing
    rank = np.where(res["phone"].notna(), 0, np.where(res["phone_flags"] != "", 1, 2))
    res = res.assign(_rank=rank, _row=row).reset_index(names="_part")
    best = res.sort_values(["_row", "_rank", "_part"], kind="stable").drop_duplicates("_row")
    out = best.set_index("_row").reindex(pos)[PHONE_COLUMNS]
    out.index = t.index
    out = out.astype(object).where(out.notna(), None)
    return out.assign(phone_flags=out["phone_flags"].fillna(""))


def _len(s: pd.Series) -> pd.Series:
    return s.str.len().astype(float).fillna(0).astype(int)


def _stars(n: pd.Series) -> pd.Series:
    return pd.Series("*", index=n.index, dtype=object).str.repeat(n.clip(lower=0).astype(int).tolist())


def mask_phone(s) -> pd.Series:
    """`139****5678` for display: national form, first 3 and last 4 digits kept (short: last 2)."""
    t = as_text(s).str.normalize("NFKC").str.strip()
    d = t.str.replace(r"^\+86", "", regex=True).str.replace(r"[^\d*]", "", regex=True)
    d = d.where(~(t.str.startswith("+86").eq(True) & ~d.str.startswith("1").eq(True)), "0" + d)
    n = _len(d)
    long_ = n >= 8
    head = d.str[:3].where(long_, "")
    tail = d.str[-4:].where(long_, d.str[-2:].where(n > 2, ""))
    out = head + _stars(n - _len(head) - _len(tail)) + tail
    return none_if_na(out.where(d.notna() & (n > 0)))


def mask_id(s) -> pd.Series:
    """`640202********123X` for display: 18 chars keep 6 + 4, 15 keep 6 + 3, others 2 + 2."""
    t = as_text(s).str.strip()
    n = _len(t)
    h = np.where(n >= 15, 6, np.where(n >= 6, 2, 0))
    k = np.where(n == 18, 4, np.where(n == 15, 3, np.where(n >= 6, 2, 0)))
    head, tail = _slice(t, h, head=True), _slice(t, k, head=False)
    out = head + _stars(n - h - k) + tail
    return none_if_na(out.where(t.notna() & (n > 0)))


def _slice(t: pd.Series, widths: np.ndarray, head: bool) -> pd.Series:
    out = pd.Series("", index=t.index, dtype=object)
    for w in np.unique(widths):                      # a handful of distinct widths, not per row
        m = widths == w
        if w:
            out[m] = t[m].str[: int(w)] if head else t[m].str[-int(w):]
    return out
