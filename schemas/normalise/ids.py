"""公民身份号码 (GB 11643-1999): MOD 11-2 check digit, 15 → 18 upgrade (shared/domain/id-card.md).

`normalise_id` is vectorised over the distinct values: already-canonical 18-character numbers are
recognised by one Arrow (RE2) pass and checked on an (n, 18) digit array; only the others are cleaned
with pandas `.str`. Digits are ASCII 0-9 everywhere (after NFKC, so full-width digits count).
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ._text import (
    NULL_WORDS, WS, as_text, by_unique, first_code, full_match, join_flags, none_if_na, str_len, text_array, truthy,
)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"

_W = np.array(WEIGHTS, dtype=np.int64)
_CHECK = np.array(list(CHECK), dtype=object)
_ID18 = "[0-9]{17}[0-9X]"
# the shared "no value" words (compared upper-cased here) and the fake numbers forms are filled with
_PLACEHOLDERS = frozenset({w.upper() for w in NULL_WORDS} | {"", "#NA", "123456789012345678", "12345678901234567X",
                                                             "123456789012345"})
ID_COLUMNS = ["id_number", "id_alias", "id_error", "id_flags"]


def check_char(body17: str) -> str:
    """The check character for the first 17 digits of an 18-digit number."""
    return CHECK[sum(int(d) * w for d, w in zip(body17, WEIGHTS)) % 11]


def upgrade_15_to_18(n15: str, century: str = "19") -> str:
    """A 15-digit legacy number as the 18-digit number of the same person."""
    body = n15[:6] + century + n15[6:]
    return body + check_char(body)


# --- vectorised pieces ------------------------------------------------------------------------------

def _digit_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) int array of code points - 48 for fixed-width ASCII strings ('X' -> 40)."""
    arr = np.asarray(values, dtype=f"<U{width}")
    return arr.view(np.uint32).reshape(-1, width).astype(np.int64) - 48


def _ymd(d: np.ndarray) -> np.ndarray:
    """Digits 7-14 of an (n, 18) digit matrix as 'YYYYMMDD' text (object array)."""
    chars = np.ascontiguousarray(d[:, 6:14] + 48).astype(np.uint32)
    return chars.view("<U8").reshape(-1).astype(object)


def _checksum_ok(d: np.ndarray) -> np.ndarray:
    """MOD 11-2 check per row of an (n, 18) digit matrix ('X' = 10 in the last place)."""
    last = np.where(d[:, 17] == ord("X") - 48, 10, d[:, 17])
    return np.array([1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2])[(d[:, :17] @ _W) % 11] == last


def check_chars(body17: pd.Series) -> pd.Series:
    """Check character per 17-digit body (bodies must all be 17 ASCII digits)."""
    if len(body17) == 0:
        return pd.Series([], index=body17.index, dtype=object)
    d = _digit_matrix(body17.to_numpy(dtype=object), 17)
    return pd.Series(_CHECK[(d @ _W) % 11], index=body17.index, dtype=object)


def is_valid_checksum(id18) -> pd.Series:
    """True where the value is an 18-character number whose MOD 11-2 check digit is right."""
    s = as_text(id18)
    shaped = full_match(s, _ID18)
    out = np.zeros(len(s), dtype=bool)
    if shaped.any():
        out[shaped] = _checksum_ok(_digit_matrix(s.to_numpy(dtype=object)[shaped], 18))
    return pd.Series(out, index=s.index)


def upgrade_15(n15: pd.Series) -> pd.Series:
    """Vectorised `upgrade_15_to_18` for a Series of 15-digit strings."""
    body = n15.str[:6] + "19" + n15.str[6:]
    return body + check_chars(body)


def _by_length(s: pd.Series, at18: tuple[int, int], at15: tuple[int, int], prefix15: str = "") -> np.ndarray:
    """Characters [a, b) of 18-character values and `prefix15` + [c, d) of 15-character ones, else None."""
    arr = s.to_numpy(dtype=object)
    n = str_len(arr)
    out = np.full(len(arr), None, dtype=object)
    for width, (a, b), prefix in ((18, at18, ""), (15, at15, prefix15)):
        rows = n == width
        if rows.any():
            part = text_array(arr[rows])
            if part is None:
                out[rows] = [prefix + v[a:b] for v in arr[rows]]
            else:
                part = pc.utf8_slice_codeunits(part, a, b)
                if prefix:
                    part = pc.binary_join_element_wise(prefix, part, "")
                out[rows] = part.to_numpy(zero_copy_only=False)
    return out


def id_birth_date(id18) -> pd.Series:
    """'YYYY-MM-DD' from digits 7-14 (or 7-12 of a 15-digit number, century 19); None if impossible."""
    s = as_text(id18)
    ymd = _by_length(s, (6, 14), (6, 12), "19")
    ymd[~full_match(ymd, "[0-9]{8}")] = None
    d = pd.to_datetime(pd.Series(ymd, index=s.index, dtype=object), format="%Y%m%d", errors="coerce")
    return none_if_na(d.dt.strftime("%Y-%m-%d"))


def id_sex(id18) -> pd.Series:
    """GB/T 2261.1 sex code from the sequence parity: '1' odd (male), '2' even (female), else None."""
    s = as_text(id18)
    ch = _by_length(s, (16, 17), (14, 15))
    digit = full_match(ch, "[0-9]")
    out = np.full(len(s), None, dtype=object)
    if digit.any():
        odd = np.array([int(c) % 2 for c in ch[digit]], dtype=bool)
        out[digit] = np.where(odd, "1", "2")
    return pd.Series(out, index=s.index, dtype=object)


# --- the normaliser ----------------------------------------------------------------------------------

def clean_id_text(s) -> pd.Series:
    """NFKC, no whitespace/zero-width chars, no leading Excel apostrophe, upper-case, `×` → X."""
    t = as_text(s).str.normalize("NFKC")
    t = t.str.replace(f"[{WS}]+", "", regex=True).str.replace(r"^['‘’`]+", "", regex=True)
    # NFKC once more: deleting a space may leave a combining mark to compose (idempotent cleaning)
    return t.str.upper().str.replace("×", "X", regex=False).str.normalize("NFKC")


def normalise_id(s, today: date | None = None) -> pd.DataFrame:
    """Normalise ID numbers -> DataFrame[id_number, id_alias, id_error, id_flags].

    - id_number: 18 chars (upper-case X; 15-digit numbers upgraded), the masked text for masked
      values, None for missing values and errors.
    - id_alias: the original 15-digit number when upgraded, else None.
    - id_error: one of QUARANTINE_REASONS `id_excel_precision_loss`, `id_invalid_length`,
      `id_invalid_chars`, or None.
    - id_flags: ';'-joined FLAGS (`id_missing`, `id_masked`, `id_upgraded_15`, `id_checksum`,
      `id_birth_invalid`) or ''.
    Digits are ASCII 0-9 (after NFKC, so full-width digits count). Evaluated once per distinct value.
    """
    limit = pd.Timestamp(today or date.today())
    return by_unique(as_text(s), lambda u: _normalise_unique(u, limit), ID_COLUMNS).assign(
        id_flags=lambda f: f["id_flags"].fillna("id_missing"))


def _match(t: pd.Series, where: np.ndarray, pattern: str) -> np.ndarray:
    """`t.str.fullmatch(pattern)` evaluated only where `where` (False elsewhere)."""
    out = np.zeros(len(t), dtype=bool)
    if where.any():
        out[where] = truthy(t[where].str.fullmatch(pattern)).to_numpy(dtype=bool)
    return out


def _normalise_unique(u: pd.Series, limit: pd.Timestamp) -> pd.DataFrame:
    idx = u.index
    n_rows = len(u)
    clean = full_match(u, _ID18)                    # fast path: already 18 canonical characters
    dirty = ~clean
    t = u.copy()
    if dirty.any():
        t[dirty] = clean_id_text(u[dirty])
    sci = _match(t, dirty, r"[0-9](?:\.[0-9]+)?E\+?[0-9]+")
    via_float = _match(t, dirty, r"[0-9]{16,}\.0*")
    if dirty.any():
        t[dirty] = (t[dirty].str.replace(r"^([0-9]{15})\.0+$", r"\1", regex=True)  # 15 digits survive
                    .str.replace(r"[-./]", "", regex=True)                       # a float exactly
                    .str.normalize("NFKC"))  # a removed separator may leave a combining mark to compose
    arr = t.to_numpy(dtype=object)

    # the canonical 18-character values: one digit matrix
    d18 = _digit_matrix(arr[clean], 18) if clean.any() else np.zeros((0, 18), dtype=np.int64)
    missing = pd.isna(arr) | t.isin(_PLACEHOLDERS).to_numpy()
    missing[clean] |= (d18 == d18[:, :1]).all(axis=1)                       # 000000000000000000
    missing |= _match(t, dirty, r"([0-9])\1*|\*+")
    masked = ~missing & _match(t, dirty, r".*\*.*")
    todo = ~missing & ~masked
    n = np.full(n_rows, 18.0)
    n[dirty] = str_len(arr[dirty])
    len15, len18 = todo & (n == 15), todo & (n == 18)
    shape15 = _match(t, len15 & dirty, r"[0-9]{15}")
    shape18 = len18 & (clean | _match(t, len18 & dirty, _ID18))
    d = np.zeros((n_rows, 18), dtype=np.int64)
    d[clean] = d18
    extra = shape18 & dirty
    if extra.any():
        d[extra] = _digit_matrix(arr[extra], 18)
    checksum_ok = np.zeros(n_rows, dtype=bool)
    checksum_ok[shape18] = _checksum_ok(d[shape18])
    # Excel keeps 15 significant digits: an 18-digit number ending in 000 that fails the check
    excel_zeros = shape18 & (d[:, 15:] == 0).all(axis=1) & ~checksum_ok

    error = first_code(idx, [
        (todo & (sci | via_float | excel_zeros), "id_excel_precision_loss"),
        (todo & ~(len15 | len18), "id_invalid_length"),
        (todo & ~(shape15 | shape18), "id_invalid_chars"),
    ])
    ok = todo & error.isna().to_numpy()
    up = ok & shape15
    number = np.where(ok | masked, arr, None)
    if up.any():
        number[up] = upgrade_15(t[up]).to_numpy(dtype=object)
        d[up] = _digit_matrix(number[up], 18)
    born = pd.to_datetime(pd.Series(_ymd(d[ok]), dtype=object), format="%Y%m%d", errors="coerce")
    bad_birth = np.zeros(n_rows, dtype=bool)
    bad_birth[ok] = (born.isna() | (born > limit)).to_numpy()
    flags = join_flags(idx, [
        (missing, "id_missing"),
        (masked, "id_masked"),
        (up, "id_upgraded_15"),
        (ok & shape18 & ~checksum_ok, "id_checksum"),
        (bad_birth, "id_birth_invalid"),
    ])
    return pd.DataFrame({
        "id_number": pd.Series(number, index=idx, dtype=object),
        "id_alias": pd.Series(np.where(up, arr, None), index=idx, dtype=object),
        "id_error": error,
        "id_flags": flags,
    }, index=idx)
