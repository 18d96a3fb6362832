"""公民身份号码 (GB 11643-1999): MOD 11-2 check digit, 15 → 18 upgrade (shared/domain/id-card.md).

`normalise_id` is vectorised: cleaning with pandas `.str`, the check digit on an (n, 17) digit array.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ._text import WS, as_text, by_unique, first_code, join_flags, none_if_na, truthy

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"

_W = np.array(WEIGHTS, dtype=np.int64)
_CHECK = np.array(list(CHECK), dtype=object)
_ID18 = r"\d{17}[\dX]"
_PLACEHOLDERS = frozenset({"", "无", "NULL", "NONE", "NAN", "NA", "#NA", "不详", "空",
                           "123456789012345678", "12345678901234567X", "123456789012345"})
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


def check_chars(body17: pd.Series) -> pd.Series:
    """Check character per 17-digit body (bodies must all be 17 ASCII digits)."""
    if len(body17) == 0:
        return pd.Series([], index=body17.index, dtype=object)
    d = _digit_matrix(body17.to_numpy(dtype=object), 17)
    return pd.Series(_CHECK[(d @ _W) % 11], index=body17.index, dtype=object)


def is_valid_checksum(id18) -> pd.Series:
    """True where the value is an 18-character number whose MOD 11-2 check digit is right."""
    s = as_text(id18)
    shaped = truthy(s.str.fullmatch(_ID18))
    out = pd.Series(False, index=s.index)
    if shaped.any():
        ids = s[shaped]
        d = _digit_matrix(ids.to_numpy(dtype=object), 18)
        last = np.where(d[:, 17] == ord("X") - 48, 10, d[:, 17])
        expected = np.array([1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2])[(d[:, :17] @ _W) % 11]
        out[shaped] = expected == last
    return out


def upgrade_15(n15: pd.Series) -> pd.Series:
    """Vectorised `upgrade_15_to_18` for a Series of 15-digit strings."""
    body = n15.str[:6] + "19" + n15.str[6:]
    return body + check_chars(body)


def id_birth_date(id18) -> pd.Series:
    """'YYYY-MM-DD' from digits 7-14 (or 7-12 of a 15-digit number, century 19); None if impossible."""
    s = as_text(id18)
    n = s.str.len()
    ymd = s.str[6:14].where(n == 18, ("19" + s.str[6:12]).where(n == 15)).astype(object)
    d = pd.to_datetime(ymd.where(truthy(ymd.str.fullmatch(r"\d{8}"))),
                       format="%Y%m%d", errors="coerce")
    return none_if_na(d.dt.strftime("%Y-%m-%d"))


def id_sex(id18) -> pd.Series:
    """GB/T 2261.1 sex code from the sequence parity: '1' odd (male), '2' even (female), else None."""
    s = as_text(id18)
    n = s.str.len()
    ch = s.str[16].where(n == 18, s.str[14].where(n == 15)).astype(object)
    digit = ch.where(truthy(ch.str.fullmatch(r"\d")))
    parity = pd.to_numeric(digit, errors="coerce") % 2
    return none_if_na(parity.map({1.0: "1", 0.0: "2"}))


# --- the normaliser ----------------------------------------------------------------------------------

def clean_id_text(s) -> pd.Series:
    """NFKC, no whitespace/zero-width chars, no leading Excel apostrophe, upper-case, `×` → X."""
    t = as_text(s).str.normalize("NFKC")
    t = t.str.replace(f"[{WS}]+", "", regex=True).str.replace(r"^['‘’`]+", "", regex=True)
    return t.str.upper().str.replace("×", "X", regex=False)


def normalise_id(s, today: date | None = None) -> pd.DataFrame:
    """Normalise ID numbers -> DataFrame[id_number, id_alias, id_error, id_flags].

    - id_number: 18 chars (upper-case X; 15-digit numbers upgraded), the masked text for masked
      values, None for missing values and errors.
    - id_alias: the original 15-digit number when upgraded, else None.
    - id_error: one of QUARANTINE_REASONS `id_excel_precision_loss`, `id_invalid_length`,
      `id_invalid_chars`, or None.
    - id_flags: ';'-joined FLAGS (`id_missing`, `id_masked`, `id_upgraded_15`, `id_checksum`,
      `id_birth_invalid`) or ''.
    Evaluated once per distinct value.
    """
    limit = pd.Timestamp(today or date.today())
    return by_unique(as_text(s), lambda u: _normalise_unique(u, limit), ID_COLUMNS).assign(
        id_flags=lambda f: f["id_flags"].fillna("id_missing"))


def _match(t: pd.Series, where: pd.Series, pattern: str) -> pd.Series:
    """`t.str.fullmatch(pattern)` evaluated only where `where` (False elsewhere)."""
    out = np.zeros(len(t), dtype=bool)
    w = where.to_numpy(dtype=bool)
    if w.any():
        out[w] = truthy(t[w].str.fullmatch(pattern)).to_numpy(dtype=bool)
    return pd.Series(out, index=t.index)


def _normalise_unique(u: pd.Series, limit: pd.Timestamp) -> pd.DataFrame:
    idx = u.index
    clean = truthy(u.str.fullmatch(_ID18))            # fast path: already 18 canonical characters
    dirty = ~clean
    t = u.copy()
    t[dirty] = clean_id_text(u[dirty])
    sci = _match(t, dirty, r"\d(?:\.\d+)?E\+?\d+")
    via_float = _match(t, dirty, r"\d{16,}\.0*")
    if dirty.any():
        t[dirty] = (t[dirty].str.replace(r"^(\d{15})\.0+$", r"\1", regex=True)  # 15 digits survive
                    .str.replace(r"[-./]", "", regex=True))                  # a float exactly

    missing = t.isna() | t.isin(_PLACEHOLDERS) | truthy(t.str.fullmatch(r"(\d)\1*|\*+"))
    masked = ~missing & _match(t, dirty, r".*\*.*")
    todo = ~missing & ~masked
    n = t.str.len()
    len15, len18 = todo & (n == 15), todo & (n == 18)
    shape15 = _match(t, len15, r"\d{15}")
    shape18 = len18 & (clean | _match(t, len18 & dirty, _ID18))
    checksum_ok = is_valid_checksum(t.where(shape18))
    # Excel keeps 15 significant digits: an 18-digit number ending in 000 that fails the check
    excel_zeros = shape18 & truthy(t.str.endswith("000")) & ~checksum_ok

    error = first_code(idx, [
        (todo & (sci | via_float | excel_zeros), "id_excel_precision_loss"),
        (todo & ~(len15 | len18), "id_invalid_length"),
        (todo & ~(shape15 | shape18), "id_invalid_chars"),
    ])
    ok = todo & error.isna()
    up = ok & shape15
    number = t.where(ok | masked)
    if up.any():
        number[up] = upgrade_15(t[up])
    birth = id_birth_date(number.where(ok))
    born = pd.to_datetime(birth, format="%Y-%m-%d", errors="coerce")
    bad_birth = ok & (born.isna() | (born > limit))
    flags = join_flags(idx, [
        (missing, "id_missing"),
        (masked, "id_masked"),
        (up, "id_upgraded_15"),
        (ok & shape18 & ~checksum_ok, "id_checksum"),
        (bad_birth, "id_birth_invalid"),
    ])
    return pd.DataFrame({
        "id_number": none_if_na(number),
        "id_alias": none_if_na(t.where(up)),
        "id_error": error,
        "id_flags": flags,
    }, index=idx)
