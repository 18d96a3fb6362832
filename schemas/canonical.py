"""The canonical model every source entity is mapped onto (contract: shared/design.md).

Field names are part of the product contract: the warehouse, conflicts and exports use them.
This module is data only; normalisers live in `schemas.normalise`, mapping in `schemas.standardise`.
"""
from __future__ import annotations

SOURCES = ("police", "grid")
ENTITIES = ("person", "house")

PERSON_FIELDS = (
    "source_key", "name", "former_name", "sex", "ethnicity", "birth_date", "id_number", "phone",
    "hukou_address", "current_address", "person_type", "household_no", "relation", "house_key",
    "grid_code", "police_station", "registered_on", "updated_at", "status", "status_reason",
    "status_date", "collector",
)
HOUSE_FIELDS = (
    "source_key", "address", "street", "community", "compound", "building", "unit", "room",
    "house_type", "usage", "area", "owner_name", "owner_id_number", "owner_phone", "is_rented",
    "tenant_count", "grid_code", "registered_on", "updated_at", "status",
)
FIELDS = {"person": PERSON_FIELDS, "house": HOUSE_FIELDS}

# Columns the standardise stage adds next to the canonical fields (match keys and bookkeeping).
# They never appear in `columns:` of the config.
DERIVED = {
    "person": ("name_key", "name_pinyin", "id_alias", "address_key", "flags", "raw"),
    "house": ("address_key", "district", "flags", "raw"),
}

# Fields compared between the two systems for a matched entity (reconcile stage) and the
# default survivorship rule of each (design.md + domain/fields.md §1).
PERSON_SHARED = ("name", "id_number", "sex", "ethnicity", "birth_date", "phone", "hukou_address",
                 "current_address", "person_type", "household_no", "relation", "former_name")
HOUSE_SHARED = ("address", "usage", "area", "owner_name", "owner_id_number", "owner_phone",
                "is_rented")
DEFAULT_SURVIVORSHIP = {
    "name": "police", "id_number": "police", "sex": "police", "ethnicity": "police",
    "birth_date": "police", "hukou_address": "police", "household_no": "police",
    "relation": "police", "former_name": "police", "person_type": "police",
    "phone": "most_recent", "current_address": "grid",
    "address": "police", "usage": "most_recent", "area": "police", "owner_name": "police",
    "owner_id_number": "police", "owner_phone": "most_recent", "is_rented": "grid",
}
SURVIVORSHIP_RULES = ("police", "grid", "most_recent", "longest", "steward")

# Columns always read as text, never as numbers (IDs, phones, keys: leading zeros, X, 18 digits).
TEXT_FIELDS = frozenset({
    "source_key", "id_number", "owner_id_number", "phone", "owner_phone", "household_no",
    "house_key", "grid_code", "room", "unit", "building", "sex", "ethnicity", "relation",
})

# Quarantine reasons: the row cannot be used as a person/house at all (design.md "Quarantine vs flag").
QUARANTINE_REASONS = {
    "empty_row": "空行：所有字段为空",
    "key_missing": "缺少源系统主键",
    "key_duplicate": "源系统主键重复（同一主键多行）",
    "name_missing": "姓名为空",
    "name_garbage": "姓名为乱码或占位符（?、锟斤拷、#N/A、NULL、测试…）",
    "birth_date_invalid": "出生日期不是有效日期",
    "birth_date_future": "出生日期在未来",
    "id_excel_precision_loss": "身份证号被 Excel 存成数字（科学计数法/末位丢失），不可修复",
    "id_invalid_length": "身份证号长度错误",
    "id_invalid_chars": "身份证号含非法字符",
    "address_missing": "房屋地址为空或乱码",
    "area_negative": "面积为负数",
}

# Flags: the row is loaded and matched, but carries a data-quality note (';'-joined in `flags`).
FLAGS = {
    "id_missing": "身份证号为空",
    "id_checksum": "身份证号校验位错误（疑似录入错误）",
    "id_upgraded_15": "15 位旧身份证号，已升为 18 位",
    "id_masked": "身份证号已脱敏（含 *）",
    "id_birth_invalid": "身份证号中的出生日期不存在或在未来",
    "id_birth_mismatch": "出生日期与身份证号不一致",
    "id_sex_mismatch": "性别与身份证号不一致",
    "birth_date_missing": "出生日期为空",
    "phone_invalid": "联系电话无法识别",
    "phone_placeholder": "联系电话为占位号码",
    "name_unrepresentable": "姓名含无法表示的字（?、□、私用区字符）",
    "code_unknown": "代码值不在代码表中",
    "date_unparsed": "日期无法识别",
}

# Source-system vocabularies → canonical values that need no configuration.
PERSON_TYPES = ("registered", "floating", "foreign")
STATUSES = ("active", "deceased", "moved_out", "deregistered")
