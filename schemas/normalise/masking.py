"""ID numbers and phone numbers masked inside free text: log lines, error messages, run reports.

`mask_text` finds what looks like a 公民身份号码 or a Chinese phone number in any text and replaces it by
the display mask of `mask_id` / `mask_phone` (`640202********123X`, `139****5678`, `095****2345`), so a
message quoting a source value never carries the full value. Shapes:

- ID: 17 digits + digit/X (also written 6-8-4 with spaces or dashes), a 15-digit legacy ID (its YYMMDD
  must be a plausible date: a 15-digit grid code such as 640202004001001 stays), and any run of 16 or more
  digits (a mistyped ID or a card number is still personal);
- mobile: 1[3-9] + 9 digits, plain or grouped 3-4-4 with spaces/dashes, with an optional +86/0086/86 prefix;
- landline: 0 + area code + local number (11-12 digits in all), written plainly, `0952-2012345`,
  `(0952)2012345`, `010 62345678`, or `+86 952 2012345`.

Left alone: uuids (run ids), timestamps and dates, counts with thousands separators, decimals and percentages,
and digit runs of 10 or fewer digits (source keys) — none has one of the shapes above. A bare 7-8 digit local
number without its area code cannot be told from a key or a count and is not masked. Digits are any Unicode
decimal digits (full-width ６４０… too). A value masked already is kept as it is, so
`mask_text(mask_text(s)) == mask_text(s)`.

`MaskingFilter` / `install_log_masking()` apply the same masking to every log record of the process.
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


def _replace(m: re.Match) -> str:
    if m.group("skip"):
        return m.group(0)
    if m.group("id"):
        return mask_id(pd.Series([_digits(m.group("id"))], dtype=object)).iloc[0]
    if m.group("mobile"):
        return mask_phone(pd.Series([_digits(m.group("mobile"))], dtype=object)).iloc[0]
    d = _digits(m.group("landline") or m.group("intl"))
    return mask_phone(pd.Series([d if d.startswith("0") else "0" + d], dtype=object)).iloc[0]


def mask_text(s: str) -> str:
    """`s` with every ID number and phone number in it masked as `mask_id` / `mask_phone` show them."""
    if not s:
        return s
    return _PATTERN.sub(_replace, str(s))


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


class MaskingFilter(logging.Filter):
    """A logging filter that masks ID numbers and phones in every record it sees (and drops none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


LOGGERS = ("dagster", "gridbridge")
_FILTER = MaskingFilter()
_installed = False


def install_log_masking() -> None:
    """Mask every log record of this process (idempotent).

    The filter goes on the `dagster` and `gridbridge` loggers and on the root logger's handlers; the log record
    factory masks as well, because Dagster's per-run console logger is a logger object outside the logging
    hierarchy (`logging.getLogger("dagster")` is not the one a run writes to)."""
    global _installed
    for name in LOGGERS:
        if _FILTER not in logging.getLogger(name).filters:
            logging.getLogger(name).addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        return mask_record(make(*args, **kwargs))

    logging.setLogRecordFactory(masked_record)
    _installed = True
