"""A steward's corrected value, through the same normalisers as the standardise stage (schemas/standardise.py).

`normalise_value(entity, field, text)` returns the canonical text the warehouse holds for that field (ID number
upper-case 18 digits, ISO date, `+86…` phone, GB/T code, …) or raises `InvalidValue` with a Chinese message
the console and the Excel import show as they are. A correction is held to a stricter bar than a source row: an
ID number with a wrong check digit is loaded (flagged) from a source, but never accepted from a steward.
Conflict fields `birth_date~id_number` / `sex~id_number` (golden cross-checks) take a value of their first part.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from schemas.codes import normalise_bool, normalise_code, normalise_person_type, normalise_status
from schemas.normalise import normalise_id, normalise_name, normalise_phone, parse_date
from schemas.normalise._text import is_blank
from schemas.standardise import _CODE_TABLE, _GARBAGE_TEXT, clean_text
from warehouse.export import label as export_label

_ID_ERRORS = {"id_invalid_length": "长度不对（应为 18 位）", "id_invalid_chars": "含有非法字符",
              "id_excel_precision_loss": "像是被 Excel 存成了数字（科学计数法）"}


class InvalidValue(ValueError):
    """A corrected value the normalisers refuse; `str(e)` is a Chinese sentence for the steward."""


def base_field(field: str) -> str:
    """`birth_date~id_number` → `birth_date`."""
    return str(field).split("~", 1)[0]


def field_label(field: str, entity: str | None = None) -> str:
    """The Chinese label of a (conflict) field, as the exports show it (warehouse/export_labels.csv)."""
    base = base_field(field)
    return export_label(entity or "", base) or base


def _one(fn, text: str, *args, **kw) -> dict:
    return fn(pd.Series([text], dtype=object), *args, **kw).iloc[0].to_dict()


def _id(text: str, label: str) -> str:
    r = _one(normalise_id, text)
    if r["id_error"]:
        raise InvalidValue(f"{label}无效：{_ID_ERRORS.get(r['id_error'], r['id_error'])}")
    if "id_checksum" in (r["id_flags"] or ""):
        raise InvalidValue(f"{label}无效：校验位不对，请核对号码")
    if "id_birth_invalid" in (r["id_flags"] or ""):
        raise InvalidValue(f"{label}无效：号码中的出生日期不存在或在未来")
    if "id_masked" in (r["id_flags"] or ""):
        raise InvalidValue(f"{label}无效：号码含 *（已脱敏），请输入完整号码")
    return r["id_number"]


def _date(text: str, label: str, today: dt.date) -> str:
    r = _one(parse_date, text, None, today=today)
    if r["error"] == "birth_date_future":
        raise InvalidValue(f"{label}不能在今天之后")
    if r["value"] is None or r["error"]:
        raise InvalidValue(f"{label}不是有效日期（例如 1985-03-12）")
    return str(r["value"])[:10]


def _phone(text: str, label: str, area_code: str | None) -> str:
    r = _one(normalise_phone, text, area_code=area_code)
    flags = r["phone_flags"] or ""
    if r["phone"] is None or "phone_invalid" in flags or "phone_placeholder" in flags \
            or r["phone_kind"] not in ("mobile", "landline"):
        raise InvalidValue(f"{label}无法识别：请输入 11 位手机号或带区号的固定电话")
    return r["phone"]


def _name(text: str, label: str) -> str:
    r = _one(normalise_name, text)
    if r["name_error"] or r["name"] is None:
        raise InvalidValue(f"{label}无效：不能为空、乱码或占位符")
    return r["name"]


def _code(text: str, field: str, label: str, values: dict | None) -> str:
    if field in _CODE_TABLE:
        r = _one(normalise_code, text, _CODE_TABLE[field], values)
    else:
        fn = {"person_type": normalise_person_type, "status": normalise_status, "is_rented": normalise_bool}[field]
        r = _one(fn, text, values)
    if r["code"] is None or (r["flags"] or ""):
        raise InvalidValue(f"{label}“{text}”不在代码表中")
    return str(r["code"])


def _number(text: str, field: str, label: str) -> str:
    try:
        num = float(str(text).replace(",", "").strip())
    except ValueError:
        raise InvalidValue(f"{label}应为数字") from None
    if num < 0 or num != num:
        raise InvalidValue(f"{label}不能为负数")
    if field == "tenant_count":
        if num != int(num):
            raise InvalidValue(f"{label}应为整数")
        return str(int(num))
    return str(num)


def _text(text: str, label: str) -> str:
    """Free text as the standardise stage keeps it (NFKC, stripped); refused when blank, a null word (暂无, NULL …)
    or garbage (?, 锟斤拷, #N/A …), as a source address would be quarantined."""
    out = clean_text(pd.Series([text], dtype=object))
    if bool(is_blank(out).iloc[0]) or out.str.fullmatch(_GARBAGE_TEXT).fillna(True).iloc[0]:
        raise InvalidValue(f"{label}不能为空、乱码或占位符")
    return out.iloc[0]


def normalise_value(entity: str, field: str, text, *, area_code: str | None = None, values: dict | None = None,
                    today: dt.date | None = None) -> str:
    """Canonical text of `text` for `field` of `entity`, or InvalidValue. `area_code` / `values`: the source's
    `area_code:` / `values:` (config), as the standardise stage would use them."""
    field = base_field(field)
    label = field_label(field, entity)
    if text is None or (isinstance(text, float) and text != text) or not str(text).strip():
        raise InvalidValue(f"请填写更正后的{label}")
    text = str(text).strip()
    if field in ("id_number", "owner_id_number"):
        return _id(text, label)
    if field in ("birth_date", "registered_on", "status_date"):
        return _date(text, label, today or dt.date.today())
    if field in ("phone", "owner_phone"):
        return _phone(text, label, area_code)
    if field in ("name", "former_name", "owner_name"):
        return _name(text, label)
    if field in (*_CODE_TABLE, "person_type", "status", "is_rented"):
        return _code(text, field, label, (values or {}).get(field))
    if field in ("area", "tenant_count"):
        return _number(text, field, label)
    return _text(text, label)


PERSON_TYPE_LABELS = {"registered": "户籍人口", "floating": "流动人口", "foreign": "境外人员"}
STATUS_LABELS = {"active": "正常", "deceased": "死亡", "moved_out": "迁出", "deregistered": "注销"}


def display_value(field: str, value) -> str | None:
    """A canonical value as a steward reads it: a code with its name from the GB/T table (`1 男`, `03 回族`),
    person type / status / yes-no in Chinese; anything else unchanged (as text)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    field, text = base_field(field), str(value)
    if field in _CODE_TABLE:
        from schemas.codes import code_table
        name = code_table(_CODE_TABLE[field]).get(text)
        return f"{text} {name}" if name else text
    if field == "person_type":
        return PERSON_TYPE_LABELS.get(text, text)
    if field == "status":
        return STATUS_LABELS.get(text, text)
    if field == "is_rented":
        return {"True": "是", "False": "否", "true": "是", "false": "否"}.get(text, text)
    return text
