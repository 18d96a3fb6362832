"""ID numbers and phone numbers masked inside free text: log lines, error messages, run reports.

`mask_text` finds what looks like a 公民身份号码 or a Chinese phone number in any text and replaces it by
the display mask of `mask_id` / `mask_phone` (`640202********123X`, `139****5678`, `095****2345`), so a
message quoting a source value never carries the full value. Shapes:

- ID: 17 digits + digit/X (also written 6-8-4 with spaces or dashes), a 15-digit legacy ID, and any run of
  16 or more digits (a mistyped ID or a card number is still personal). Any 15-digit number whose digits 7-12
  read as a date (YYMMDD) is taken for a legacy ID, so a 15-digit grid code (county + 街道 + 社区 + cell) stays
  only when they do not: 640202004001001 stays, but 640202001001001 (街道 001, 社区 001: "001001" reads as
  2000-10-01) is masked like an ID. On purpose: the two cannot be told apart, and a masked grid code costs
  less than a leaked ID;
- mobile: 1[3-9] + 9 digits, plain or grouped 3-4-4 with spaces/dashes, with an optional +86/0086/86 prefix;
- landline: 0 + area code + local number (11-12 digits in all), written plainly, `0952-2012345`,
  `(0952)2012345`, `010 62345678`, or `+86 952 2012345`.

Left alone: uuids (run ids), timestamps and dates, counts with thousands separators, decimals and percentages,
and digit runs of 10 or fewer digits (source keys) — none has one of the shapes above. A bare 7-8 digit local
number without its area code cannot be told from a key or a count and is not masked. Digits are any Unicode
decimal digits (full-width ６４０… too). A value masked already is kept as it is, so
`mask_text(mask_text(s)) == mask_text(s)`.

`install_log_masking()` applies the same masking to every log record of the process.
"""
from __future__ import annotations

import logging
import re
import traceback

import pandas as pd

from .phones import mask_id, mask_phone

_NO_DIGIT_BEFORE = r"(?<!\d)(?<!\d\.)"            # not inside a number, nor its decimals (0.13912345678)
_NO_DIGIT_AFTER = r"(?!\d|\.\d)"
_PATTERN = re.compile(rf"""
    (?P<skip>\b[0-9a-fA-F]{{8}}(?:-[0-9a-fA-F]{{4}}){{3}}-[0-9a-fA-F]{{12}}\b     # uuid: a run id
           |\b(?=[0-9a-f]*[a-f])[0-9a-f]{{32,}}\b                              # a hex digest
           |(?<!\d)\d{{1,6}}\*+[\dXxＸｘ]{{1,4}}(?![\dXxＸｘ]))                    # masked already: 139****5678
  | {_NO_DIGIT_BEFORE}(?:(?:\+|00)?86[ -]?)?                                  # before IDs: 0086 + 11 is 15 digits
           (?P<mobile>1[3-9]\d[ -]?\d{{4}}[ -]?\d{{4}}){_NO_DIGIT_AFTER}
  | {_NO_DIGIT_BEFORE}(?P<id>\d{{6}}[ -]\d{{8}}[ -]\d{{3}}[\dXxＸｘ]              # 640202 19900101 123X
           |\d{{17}}[\dXxＸｘ]|\d{{16,}}
           |\d{{8}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{{3}}){_NO_DIGIT_AFTER}  # 15: YYMMDD in it
  | {_NO_DIGIT_BEFORE}(?:\+|00)86[ -]?                                         # +86 952 2012345
           (?P<intl>\(?0?(?:[12]\d|[3-9]\d\d)\)?[ -]?\d{{7,8}}){_NO_DIGIT_AFTER}
  | {_NO_DIGIT_BEFORE}(?P<landline>\(0?\d{{2,3}}\)[ -]?\d{{7,8}}              # (0952)2012345
           |0\d{{2,3}}[ -]\d{{7,8}}                                            # 0952-2012345, 010 62345678
           |0(?:[12]\d{{9}}|[3-9]\d{{9,10}})                                   # 01062345678, 09522012345
           ){_NO_DIGIT_AFTER}
""", re.VERBOSE)


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit() or c in "XxＸｘ")


def _found(m: re.Match) -> tuple[str, str] | None:
    """(kind, digits) of one match: `id` or `phone` (landlines in national form), or None to keep it."""
    if m.group("skip"):
        return None
    if m.group("id"):
        return "id", _digits(m.group("id"))
    if m.group("mobile"):
        return "phone", _digits(m.group("mobile"))
    d = _digits(m.group("landline") or m.group("intl"))
    return "phone", d if d.startswith("0") else "0" + d


def mask_text(s: str) -> str:
    """`s` with every ID number and phone number in it masked as `mask_id` / `mask_phone` show them
    (all matches of `s` masked in one vectorised call per kind)."""
    if not s:
        return s
    s = str(s)
    matches = [(m, _found(m)) for m in _PATTERN.finditer(s)]
    matches = [(m, f) for m, f in matches if f]
    if not matches:
        return s
    kinds = pd.Series([f[0] for _, f in matches])
    values = pd.Series([f[1] for _, f in matches], dtype=object)
    masked = mask_id(values).where(kinds.eq("id"), mask_phone(values))
    out, end = [], 0
    for (m, _), rep in zip(matches, masked):
        out += [s[end:m.start()], rep]
        end = m.end()
    return "".join(out) + s[end:]


ID_FIELDS = frozenset({"id_number", "id_alias", "owner_id_number"})
PHONE_FIELDS = frozenset({"phone", "owner_phone"})


def mask_fields(fields: pd.Series, values: pd.Series) -> pd.Series:
    """Values for display, each masked by its field: ID fields as `mask_id`, phone fields as `mask_phone`,
    anything else through `mask_text`. A cross-field check `sex~id_number` is masked as its own field."""
    base = pd.Series(fields, dtype=object).astype(str).str.split("~").str[0].to_numpy()
    v = pd.Series(values, dtype=object).reset_index(drop=True)
    v = v.where(v.isna(), v.astype(str))
    is_id, is_phone = pd.Series(base).isin(ID_FIELDS).to_numpy(), pd.Series(base).isin(PHONE_FIELDS).to_numpy()
    other = ~(is_id | is_phone)
    out = pd.Series(None, index=v.index, dtype=object)
    if other.any():
        out[other] = v[other].map(lambda x: None if x is None or x != x else mask_text(x))
    if is_id.any():
        out[is_id] = mask_id(v[is_id])
    if is_phone.any():
        out[is_phone] = mask_phone(v[is_phone])
    return out.set_axis(pd.Series(values).index)


def mask_value(field: str, value) -> str | None:
    """One value for display, masked by its field (see `mask_fields`)."""
    return mask_fields(pd.Series([field]), pd.Series([value], dtype=object)).iloc[0]


# ---- logging ---------------------------------------------------------------------------------------------------

def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a log record in place: its formatted message (args merged in), traceback text and stack."""
    try:
        msg = record.getMessage()
    except Exception:  # noqa: BLE001  a bad format string: logging reports it itself at emit time
        return record
    record.msg, record.args = mask_text(msg), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    return record


_installed = False


def install_log_masking() -> None:
    """Mask every log record of this process (idempotent): the log record factory masks each record as it is
    made, whatever logger makes it — also one outside the `logging.getLogger` hierarchy (Dagster's per-run
    console logger), another library's, or a handler added later — and its traceback."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        return mask_record(make(*args, **kwargs))

    logging.setLogRecordFactory(masked_record)
    _installed = True
