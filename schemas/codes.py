"""Code tables (schemas/tables/*.csv, shared/domain/codes.md) and code-field normalisers.

`normalise_code` accepts codes (also without the leading zero), standard names, short names and the
common spellings below, after applying the source's own `values:` map. Look-ups are dict `map`s over
the whole column; tables load lazily on first use.
"""
from __future__ import annotations

import csv
from functools import cache
from importlib.resources import files

import pandas as pd

from .normalise._text import NULL_WORDS, as_text, by_unique, none_if_na

TABLE_FILES = {
    "sex": "gb2261_1_sex", "marriage": "gb2261_2_marriage", "ethnicity": "gb3304_ethnic",
    "education": "gb4658_education", "relation": "gb4761_relation", "political": "gb4762_political",
    "religion": "ga214_12_religion", "building_use": "gbt31000_building_use",
    "inflow_reason": "gbt31000_inflow_reason", "permit_type": "gbt31000_permit_type",
    "person_household_consistency": "gbt31000_person_household_consistency",
    "rental_use": "gbt31000_rental_use", "residence_type": "gbt31000_residence_type",
    "hukou_category": "hukou_category_legacy",
}
TABLE_ALIASES = {"marital_status": "marriage", "usage": "building_use", "ethnic": "ethnicity",
                 "political_status": "political", "gender": "sex"}

# Spellings seen in source systems beyond the standard names (raw -> code), per table.
EXTRA = {
    "sex": {"男": "1", "m": "1", "male": "1", "男士": "1", "女": "2", "f": "2", "female": "2",
            "女士": "2", "未知": "0", "不详": "0", "未说明": "9"},
    "ethnicity": {"毛难族": "36", "毛难": "36", "崩龙族": "46", "崩龙": "46", "其它": "97",
                  "其他民族": "97", "未识别民族": "97", "未识别": "97", "穿青人": "97", "摩梭人": "97",
                  "革家人": "97", "僜人": "97", "夏尔巴人": "97", "外国血统": "98", "入籍": "98"},
    "relation": {"儿子": "20", "之子": "20", "女儿": "30", "之女": "30", "丈夫": "11", "之夫": "11",
                 "妻子": "12", "之妻": "12", "父": "51", "之父": "51", "母": "52", "之母": "52",
                 "孙": "41", "外孙": "43", "儿媳妇": "38", "兄弟": "70", "姐妹": "70", "哥哥": "71",
                 "弟弟": "73", "姐": "75", "妹": "77", "姨夫": "87", "亲属": "97", "户主本人": "02",
                 "租户": "99", "租客": "99", "保姆": "99", "朋友": "99", "同事": "99"},
    "marriage": {"离异": "40", "有配偶": "20", "未说明": "90", "不详": "90"},
    "education": {"研究生": "10", "博士": "11", "博士研究生": "11", "硕士": "14", "硕士研究生": "14",
                  "本科": "20", "大学本科": "20", "大学": "20", "大专": "30", "专科": "30",
                  "大学专科": "30", "中专": "40", "中技": "40", "职高": "44", "技校": "47",
                  "高中": "60", "初中": "70", "小学": "80", "文盲": "90", "半文盲": "90",
                  "文盲或半文盲": "90", "不识字": "90", "学龄前": "90", "其它": "90"},
    "political": {"中共党员": "01", "党员": "01", "中共预备党员": "02", "预备党员": "02",
                  "共青团员": "03", "团员": "03", "民革": "04", "民革党员": "04", "民盟": "05",
                  "民建": "06", "民进": "07", "农工党": "08", "致公党": "09", "九三学社": "10",
                  "台盟": "11", "无党派": "12", "无党派人士": "12"},
    "religion": {"无": "00", "无宗教": "00", "不信教": "00", "佛": "10", "藏传佛教": "20",
                 "伊斯兰": "70", "基督": "50", "天主": "40", "其它": "99"},
    "building_use": {"住房": "01", "商住": "06", "商用": "02", "办公楼": "03", "厂房": "04",
                     "仓库": "05", "其它": "99"},
    "person_household_consistency": {"人户一致": "01", "人户分离": "02", "是": "01", "否": "02"},
}

PERSON_TYPE_WORDS = {
    "registered": ("registered", "户籍", "户籍人口", "户籍人员", "常住", "常住人口", "本地户籍",
                   "本地人口"),
    "floating": ("floating", "流动", "流动人口", "流动人员", "暂住", "暂住人口", "暂住人员",
                 "外来人口", "外来人员"),
    "foreign": ("foreign", "境外", "境外人员", "境外人口", "外籍", "外籍人员", "外国人", "港澳台",
                "港澳台人员"),
}
STATUS_WORDS = {
    "active": ("active", "正常", "在册", "有效", "在住", "现住", "空", "0"),
    "deceased": ("deceased", "死亡", "已死亡", "去世", "已故"),
    "moved_out": ("moved_out", "迁出", "已迁出", "离开", "已离开", "搬离"),
    "deregistered": ("deregistered", "注销", "已注销", "销户"),
}
BOOL_WORDS = {
    True: ("true", "t", "是", "有", "1", "y", "yes", "对", "√"),
    False: ("false", "f", "否", "无", "0", "n", "no", "不是", "没有", "×"),
}
CODE_COLUMNS = ["code", "flags"]


@cache
def code_table(table: str) -> dict[str, str]:
    """code -> standard name for a table ('sex', 'ethnicity', … or a CSV stem)."""
    stem = TABLE_FILES.get(TABLE_ALIASES.get(table, table), table)
    with files("schemas").joinpath("tables", f"{stem}.csv").open(encoding="utf-8") as fh:
        return {row["code"]: row["name"] for row in csv.DictReader(fh)}


@cache
def _alpha2() -> dict[str, str]:
    with files("schemas").joinpath("tables", "gb3304_ethnic.csv").open(encoding="utf-8") as fh:
        return {row["alpha2"].lower(): row["code"] for row in csv.DictReader(fh) if row["alpha2"]}


def _key(s: pd.Series) -> pd.Series:
    """Look-up form of raw text: NFKC, no whitespace, lower-case, no float `.0` suffix."""
    t = as_text(s).str.normalize("NFKC").str.replace(r"\s+", "", regex=True).str.lower()
    return t.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


@cache
def _word_table(kind: str) -> dict[str, object]:
    """Look-up form -> canonical value for one of the vocabularies below (built once)."""
    words = {"person_type": PERSON_TYPE_WORDS, "status": STATUS_WORDS, "bool": BOOL_WORDS}[kind]
    keys = _key(pd.Series([w for ws in words.values() for w in ws], dtype=object)).tolist()
    canon = [c for c, ws in words.items() for _ in ws]
    return dict(zip(keys, canon))


@cache
def lookup(table: str) -> dict[str, str]:
    """Raw spelling (look-up form) -> code for a table: codes, names, short names, extras."""
    table = TABLE_ALIASES.get(table, table)
    codes = code_table(table)
    out: dict[str, str] = {}
    for code, name in codes.items():
        out[name.lower()] = code
        if table == "ethnicity" and name.endswith("族") and len(name) > 1:
            out[name[:-1]] = code                          # 汉族 -> 汉; whole-name keys only
        if table == "sex" and name.endswith("性"):
            out[name[:-1]] = code                          # 男性 -> 男
        if name.startswith("未说明的"):
            out[name[4:]] = code
    if table == "ethnicity":
        out.update(_alpha2())
    out.update(EXTRA.get(table, {}))
    out.update({c: c for c in codes})                      # codes win over any spelling
    return out


def _apply_values(key: pd.Series, values: dict | None) -> pd.Series:
    """Apply the source's `values:` map (raw -> canonical) before the standard look-up."""
    if not values:
        return key
    vmap = dict(zip(_key(pd.Series(list(values), dtype=object)).tolist(), values.values()))
    mapped = key.map(vmap)
    hit = mapped.notna()
    if not hit.any():
        return key
    return key.where(~hit, _key(mapped.where(hit)))


def _result(code: pd.Series, blank: pd.Series) -> pd.DataFrame:
    unknown = code.isna() & ~blank
    return pd.DataFrame({"code": none_if_na(code),
                         "flags": pd.Series("", index=code.index, dtype=object)
                         .mask(unknown, "code_unknown")})


def _blank(key: pd.Series) -> pd.Series:
    return (key.isna() | (key == "") | key.isin(NULL_WORDS)).astype(bool)


def _per_unique(s, func) -> pd.DataFrame:
    """Run `func` on the distinct values only (code columns hold a handful of distinct values)."""
    t = as_text(s)
    out = by_unique(t, func, CODE_COLUMNS)
    missing = t.isna()
    if missing.any():                             # missing input: decided like an empty string
        out.loc[missing] = func(pd.Series([""], dtype=object)).to_numpy()[[0] * int(missing.sum())]
    return out.assign(flags=out["flags"].fillna(""))


def normalise_code(s, table: str, values: dict | None = None) -> pd.DataFrame:
    """Decode a code field -> DataFrame[code, flags]; code as in the table or None, flags
    `code_unknown` for non-empty values that do not decode, else ''."""
    return _per_unique(s, lambda u: _code_unique(u, table, values))


def _code_unique(u: pd.Series, table: str, values: dict | None) -> pd.DataFrame:
    key = _apply_values(_key(u), values)
    codes = code_table(TABLE_ALIASES.get(table, table))
    width = max(len(c) for c in codes)
    digits = key.str.fullmatch(r"\d+").eq(True)
    padded = key.str.lstrip("0").replace("", "0").str.zfill(width)
    key = key.where(~digits | key.isin(codes.keys()), padded)   # 1 -> 01, 001 -> 01
    return _result(key.map(lookup(table)), _blank(key))


def _vocab(s, values: dict | None, kind: str, empty=None) -> pd.DataFrame:
    table = _word_table(kind)

    def func(u: pd.Series) -> pd.DataFrame:
        key = _apply_values(_key(u), values)
        code = key.map(table).astype(object)
        blank = _blank(key)
        if empty is not None:
            code[blank & code.isna()] = empty
        return _result(code, blank)
    return _per_unique(s, func)


def normalise_person_type(s, values: dict | None = None) -> pd.DataFrame:
    """人员类型 -> DataFrame[code, flags], code `registered` | `floating` | `foreign` | None."""
    return _vocab(s, values, "person_type")


def normalise_status(s, values: dict | None = None) -> pd.DataFrame:
    """Record status -> DataFrame[code, flags], code `active` | `deceased` | `moved_out` |
    `deregistered`; an empty status means active."""
    return _vocab(s, values, "status", empty="active")


def normalise_bool(s, values: dict | None = None) -> pd.DataFrame:
    """是/否, 1/0, Y/N, true/false … -> DataFrame[code, flags], code True | False | None."""
    table = _word_table("bool")

    def func(u: pd.Series) -> pd.DataFrame:
        key = _apply_values(_key(u), values)
        return _result(key.map(table).astype(object), _blank(key))
    return _per_unique(s, func)
