"""The demo data generator (pipelines.demo): layout, determinism, truth completeness, injected variations."""
from __future__ import annotations

import functools
import re
import sqlite3
import unicodedata
from collections import Counter, defaultdict
from datetime import date

import pytest
from opencc import OpenCC
from pypinyin import lazy_pinyin

from pipelines.demo import DemoPaths, generate
from pipelines.demo.vocab import COMPOUND_SURNAMES, HOMOPHONES, SHAPES, TRADITIONAL
from schemas.canonical import FLAGS, PERSON_FIELDS, HOUSE_FIELDS, QUARANTINE_REASONS
from schemas.normalise.ids import check_char, upgrade_15_to_18

POLICE = {
    "实有人口": ["人员编号", "姓名", "曾用名", "性别代码", "民族代码", "出生日期", "公民身份号码", "联系电话", "户籍地址",
             "现住地址", "人员类别", "户号", "与户主关系", "房屋编号", "派出所", "登记日期", "更新时间", "注销标志",
             "注销原因", "注销日期"],
    "实有房屋": ["房屋编号", "地址编码", "房屋地址", "街道", "社区", "小区", "楼栋", "单元", "房间号", "房屋用途", "建筑面积",
             "房主姓名", "房主公民身份号码", "房主联系电话", "是否出租", "登记日期", "更新时间"],
}
GRID = {
    "人口信息": ["人口编号", "姓名", "曾用名", "性别", "民族", "出生年月", "身份证号", "联系方式", "户籍地址", "居住地址",
             "人员类型", "与户主关系", "房屋编号", "网格编码", "网格员", "采集时间", "人员状态"],
    "房屋信息": ["房屋编号", "网格编码", "房屋地址", "楼栋号", "单元号", "房间号", "建筑用途", "建筑面积", "房主姓名",
             "房主身份证号", "房主联系方式", "是否出租", "采集时间"],
}
TRUTH = {"person_record": ["truth_id", "source", "source_key"], "house_record": ["truth_id", "source", "source_key"],
         "injected": ["source", "entity", "source_key", "field", "kind", "detail"], "meta": ["key", "value"]}
PERSON_TABLE = {"police": ("实有人口", "人员编号"), "grid": ("人口信息", "人口编号")}
HOUSE_TABLE = {"police": ("实有房屋", "房屋编号"), "grid": ("房屋信息", "房屋编号")}
ID_COL = {"police": "公民身份号码", "grid": "身份证号"}


def _valid(n: str | None) -> bool:
    return bool(n) and len(n) == 18 and n[:17].isdigit() and check_char(n[:17]) == n[17]


class Demo:
    """Read access to one generated demo, with per-source lookups cached."""

    def __init__(self, paths: DemoPaths):
        self.paths = paths
        self.db = {s: sqlite3.connect(getattr(paths, f"{s}_db")) for s in ("police", "grid", "truth")}
        for con in self.db.values():
            con.row_factory = sqlite3.Row
        t = self.db["truth"]
        self.records = [tuple(r) for r in t.execute("SELECT truth_id, source, source_key FROM person_record")]
        self.injected = [dict(r) for r in t.execute("SELECT * FROM injected")]
        self.meta = dict(tuple(r) for r in t.execute("SELECT key, value FROM meta"))

    @functools.cache
    def rows(self, source: str, entity: str = "person") -> dict[str, sqlite3.Row]:
        table, key = (PERSON_TABLE if entity == "person" else HOUSE_TABLE)[source]
        return {r[key] or "": r for r in self.db[source].execute(f'SELECT * FROM "{table}"')}   # no key: ""

    @functools.cache
    def by_truth(self, source: str) -> dict[str, list[str]]:
        out = defaultdict(list)
        for tid, s, key in self.records:
            if s == source and tid:
                out[tid].append(key)
        return out

    @functools.cache
    def truth_of(self, source: str) -> dict[str, str]:
        return {key: tid for tid, s, key in self.records if s == source}

    def inj(self, kind=None, detail=None, source=None, entity="person") -> list[dict]:
        return [i for i in self.injected if (kind is None or i["kind"] == kind) and i["entity"] == entity
                and (detail is None or i["detail"] == detail) and (source is None or i["source"] == source)]

    @functools.cache
    def varied(self, source: str, fld: str) -> set[str]:
        """Source keys whose `fld` carries any injected variation (or the row is malformed)."""
        return {i["source_key"] for i in self.injected if i["source"] == source and i["entity"] == "person"
                and (i["field"] == fld or i["kind"] == "malformed")}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Demo:
    return Demo(generate(tmp_path_factory.mktemp("demo300"), persons=300, seed=7))


@pytest.fixture(scope="module")
def mid(tmp_path_factory) -> Demo:
    return Demo(generate(tmp_path_factory.mktemp("demo2000"), persons=2000))


def _dump(path) -> list:
    con = sqlite3.connect(path)
    out = []
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
        out.append((name, con.execute(f'SELECT * FROM "{name}"').fetchall()))
    con.close()
    return out


def test_tables_and_columns_are_exactly_the_contract(small):
    for source, tables in (("police", POLICE), ("grid", GRID), ("truth", TRUTH)):
        con = small.db[source]
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert set(tables) <= names
        if source != "truth":
            assert names == set(tables)
        for table, columns in tables.items():
            info = con.execute(f'PRAGMA table_info("{table}")').fetchall()
            assert [c[1] for c in info] == columns
            assert {c[2] for c in info} == {"TEXT"}


def test_same_seed_gives_identical_databases_and_another_seed_does_not(tmp_path, small):
    again = generate(tmp_path / "a", persons=300, seed=7)
    for attr in ("police_db", "grid_db", "truth_db"):
        assert _dump(getattr(small.paths, attr)) == _dump(getattr(again, attr))
    other = generate(tmp_path / "b", persons=300, seed=8)
    assert _dump(other.police_db) != _dump(small.paths.police_db)
    again2 = generate(tmp_path / "a", persons=300, seed=7)          # overwrites in place
    assert _dump(again2.grid_db) == _dump(small.paths.grid_db)


def test_every_emitted_row_has_exactly_one_truth_row(mid):
    for source in ("police", "grid"):
        for entity, table in (("person", PERSON_TABLE), ("house", HOUSE_TABLE)):
            name, key = table[source]
            keys = Counter(r[0] or "" for r in mid.db[source].execute(f'SELECT "{key}" FROM "{name}"'))
            rec = Counter(r[0] for r in mid.db["truth"].execute(
                f"SELECT source_key FROM {entity}_record WHERE source = ?", (source,)))
            assert keys == rec and sum(keys.values()) > 0
            assert max(keys.values()) == 1, "source keys are unique (at most one keyless row)"
    assert int(mid.meta["persons"]) == 2000
    truth_ids = {r[0] for r in mid.db["truth"].execute("SELECT truth_id FROM person")}
    assert len(truth_ids) == 2000 and {tid for tid, _, _ in mid.records if tid} <= truth_ids


def test_injected_rows_point_at_emitted_rows_and_use_canonical_names(mid):
    keys = {(s, e): set(mid.rows(s, e)) for s in ("police", "grid") for e in ("person", "house")}
    kinds = {"format", "true", "malformed", "missing", "duplicate", "only_here"}
    for i in mid.injected:
        assert i["source_key"] in keys[(i["source"], i["entity"])]
        assert i["kind"] in kinds
        assert i["field"] in (PERSON_FIELDS if i["entity"] == "person" else HOUSE_FIELDS), i


def test_ids_of_unperturbed_rows_pass_the_check_digit(mid):
    for source in ("police", "grid"):
        varied = mid.varied(source, "id_number")
        rows = mid.rows(source)
        checked = [r[ID_COL[source]] for k, r in rows.items() if k not in varied]
        assert len(checked) > 1500 and all(_valid(n) for n in checked)


def test_true_population_ids_match_sex_and_birth_date(mid):
    codes = Counter()
    for tid, sex, birth, n in mid.db["truth"].execute("SELECT truth_id, sex, birth_date, id_number FROM person"):
        assert _valid(n), tid
        assert n[6:14] == birth.replace("-", "")
        assert int(n[16]) % 2 == (1 if sex == "1" else 0)
        codes[n[:6]] += 1
    assert codes["642125"] and codes["640382"], "abolished 灵武 codes on older persons"
    assert codes["640202"] == max(codes.values())


def test_each_injected_kind_present_at_300_persons(small):
    have = {(i["kind"], i["detail"]) for i in small.injected if i["entity"] == "person"}
    details = {d for _, d in have}
    for d in ("id_digit", "id_transposition", "homophone", "shape", "month_day_swap", "stale_phone", "moved"):
        assert ("true", d) in have, d
    for d in ("lower_x", "fullwidth", "id15", "spaces", "apostrophe", "traditional", "middle_dot", "padded",
              "ethnic_short"):
        assert ("format", d) in have, d
    for prefix in ("date_", "addr_", "phone_"):
        assert any(d.startswith(prefix) for d in details), prefix
    assert {("missing", "empty"), ("missing", "placeholder")} <= have
    for source in ("police", "grid"):
        kinds = {i["kind"] for i in small.injected if i["source"] == source and i["entity"] == "person"}
        assert {"duplicate", "only_here", "malformed", "missing", "format", "true"} <= kinds, source
        reasons = {i["detail"] for i in small.inj("malformed", source=source)}
        assert reasons >= {"empty_row", "name_garbage", "name_missing", "birth_date_invalid", "birth_date_future",
                           "id_excel_precision_loss", "id_invalid_length", "id_invalid_chars"}
        assert {i["detail"] for i in small.inj("malformed", source=source, entity="house")} == \
            {"address_missing", "area_negative"}
        dup = small.inj("duplicate", source=source, entity="house")
        assert dup and {i["detail"] for i in dup} == {"double_registration" if source == "police" else "collected_twice"}


def test_malformed_rows_carry_quarantine_reasons_and_are_really_broken(mid):
    for source in ("police", "grid"):
        rows = mid.rows(source)
        of = mid.truth_of(source)
        bad = mid.inj("malformed", source=source)
        assert 9 <= len(bad) <= 0.01 * len(rows) + 9
        for i in bad:
            assert i["detail"] in QUARANTINE_REASONS
            r = rows[i["source_key"]]
            n, name, birth = r[ID_COL[source]], r["姓名"], r[5]
            reason = i["detail"]
            if reason == "empty_row":
                assert of[i["source_key"]] is None and not any(r[c] for c in r.keys()[1:])
                continue
            assert of[i["source_key"]] is not None, "a broken copy of a real person"
            if reason == "id_excel_precision_loss":  # scientific form, or the last digits zeroed (bad check digit)
                assert re.fullmatch(r"\d\.\d+E\+17", n) or (re.fullmatch(r"\d{15}000", n) and not _valid(n))
            elif reason == "id_invalid_length":
                assert n.isdigit() and len(n) in (16, 17, 19)
            elif reason == "id_invalid_chars":
                assert len(n) == 18 and re.search(r"[A-Z]", n[:17])
            elif reason == "name_garbage":
                assert name in ("?", "??", "锟斤拷", "#N/A", "NULL", "测试", "\ufffd\ufffd")
            elif reason == "name_missing":
                assert not name
            elif reason in ("birth_date_invalid", "birth_date_future"):
                y, m, d = map(int, re.findall(r"\d+", birth) if not birth.isdigit() else
                              (birth[:4], birth[4:6], birth[6:]))
                if reason == "birth_date_future":
                    assert date(y, m, d) > date(2030, 1, 1)
                else:
                    with pytest.raises(ValueError):
                        date(y, m, d)
    houses = mid.rows("police", "house")
    for i in mid.inj("malformed", source="police", entity="house"):
        r = houses[i["source_key"]]
        assert (i["detail"] == "area_negative" and float(r["建筑面积"]) < 0) or \
            (i["detail"] == "address_missing" and (not r["房屋地址"] or "宁夏" not in r["房屋地址"]))


def test_15_digit_ids_upgrade_to_the_other_sides_number(small):
    rows = {s: small.rows(s) for s in ("police", "grid")}
    truth = {s: small.truth_of(s) for s in ("police", "grid")}
    found = 0
    for i in small.inj("format", "id15"):
        src, other = i["source"], "grid" if i["source"] == "police" else "police"
        n15 = rows[src][i["source_key"]][ID_COL[src]]
        assert len(n15) == 15 and n15.isdigit()
        tid = truth[src][i["source_key"]]
        clean = [rows[other][k][ID_COL[other]] for k in small.by_truth(other)[tid]
                 if k not in small.varied(other, "id_number")]
        assert clean and all(upgrade_15_to_18(n15) == n for n in clean)
        found += 1
    assert found >= 2


def _pair_values(demo: Demo, inj: dict, col: dict[str, str]):
    """(value in the injected row, values of the same person's clean rows in the other system)."""
    src = inj["source"]
    other = "grid" if src == "police" else "police"
    tid = demo.truth_of(src)[inj["source_key"]]
    rows = demo.rows(src), demo.rows(other)
    clean = [rows[1][k][col[other]] for k in demo.by_truth(other).get(tid, [])
             if k not in demo.varied(other, inj["field"])]
    return rows[0][inj["source_key"]][col[src]], clean


def test_format_variants_normalise_to_the_other_side(mid):
    t2s = OpenCC("t2s")
    name = {"police": "姓名", "grid": "姓名"}
    for i in mid.inj("format", "traditional"):
        v, others = _pair_values(mid, i, name)
        assert all(t2s.convert(v) == t2s.convert(o) and v != o for o in others)     # 劉昇/刘昇: both → 刘升
    for i in mid.inj("format", "padded"):
        v, others = _pair_values(mid, i, name)
        assert "\u3000" in v and all(v.replace("\u3000", "") == o for o in others)
    for i in mid.inj("format", "middle_dot"):
        v, others = _pair_values(mid, i, name)
        assert all(re.sub(r"[·•・.．]", "", v) == o.replace("·", "") for o in others)
    for d in ("lower_x", "fullwidth", "spaces", "apostrophe"):
        for i in mid.inj("format", d):
            v, others = _pair_values(mid, i, ID_COL)
            norm = re.sub(r"\s", "", unicodedata.normalize("NFKC", v)).lstrip("'").upper()
            assert v != norm and all(norm == o for o in others), (d, v, others)
    births = {"police": "出生日期", "grid": "出生年月"}
    for i in mid.inj("format"):
        if i["detail"].startswith("date_"):
            v, others = _pair_values(mid, i, births)
            y, m, d = map(int, re.findall(r"\d+", v)) if not v.isdigit() else (v[:4], v[4:6], v[6:])
            assert all(f"{int(y):04d}{int(m):02d}{int(d):02d}" == o for o in others)


CN = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}
UNIT_NUMERAL = re.compile(r"([〇零一二两三四五六七八九十]+)(?=号|栋|幢|单元|组|队|室|户|村民小组|$)")


def _cn_int(s: str) -> int:
    if "十" not in s:
        return int("".join(str(CN[c]) for c in s))         # read digit by digit: 五〇二
    tens, _, ones = s.partition("十")
    return (CN[tens] if tens else 1) * 10 + (CN[ones] if ones else 0)


def _address_numbers(s: str) -> list[int]:
    """Building/unit/room/group/door numbers of an address, whatever the spelling."""
    s = unicodedata.normalize("NFKC", s)
    s = UNIT_NUMERAL.sub(lambda m: str(_cn_int(m.group(1))), s)
    return [int(x) for x in re.findall(r"\d+", s)]


def test_phone_and_address_variants_keep_the_value(mid):
    phones = {"police": "联系电话", "grid": "联系方式"}
    seen = Counter()
    for i in mid.inj("format"):
        if i["detail"].startswith("phone_"):
            v, others = _pair_values(mid, i, phones)
            digits = re.sub(r"\D", "", v)
            digits = digits[2:] if v.startswith("+86") else digits
            assert all(digits == re.sub(r"\D", "", o) for o in others), (v, others)
            seen["phone"] += len(others)
        elif i["detail"].startswith("addr_"):
            cols = {"current_address": {"police": "现住地址", "grid": "居住地址"},
                    "hukou_address": {"police": "户籍地址", "grid": "户籍地址"}}[i["field"]]
            v, others = _pair_values(mid, i, cols)
            assert all(_address_numbers(v) == _address_numbers(o) and v != o for o in others), (v, others)
            seen["address"] += len(others)
    police_houses, grid_houses = mid.rows("police", "house"), mid.rows("grid", "house")
    house_of = {(s, k): t for t, s, k in mid.db["truth"].execute("SELECT * FROM house_record")}
    broken = {i["source_key"] for i in mid.inj("malformed", source="police", entity="house")}
    police_by_house = {house_of["police", k]: r for k, r in police_houses.items() if k not in broken}
    for i in mid.inj("format", entity="house"):
        police = police_by_house.get(house_of["grid", i["source_key"]])
        if i["detail"].startswith("addr_") and police is not None:
            v = grid_houses[i["source_key"]]["房屋地址"]
            assert _address_numbers(v) == _address_numbers(police["房屋地址"]) and v != police["房屋地址"]
            seen["house"] += 1
    assert seen["phone"] > 100 and seen["address"] > 500 and seen["house"] > 100


def test_true_differences_really_differ(mid):
    name, births, phone = {"police": "姓名", "grid": "姓名"}, {"police": "出生日期", "grid": "出生年月"}, \
        {"police": "联系电话", "grid": "联系方式"}
    counts = Counter(i["detail"] for i in mid.inj("true"))
    per_person = Counter(tid for tid, _ in {(mid.truth_of(i["source"])[i["source_key"]], i["detail"])
                                             for i in mid.inj("true")})
    assert max(per_person.values()) <= 2
    for i in mid.inj("true", "homophone"):
        v, others = _pair_values(mid, i, name)
        assert all(v != o and lazy_pinyin(v) == lazy_pinyin(o) for o in others)
    for i in mid.inj("true", "shape"):
        v, others = _pair_values(mid, i, name)
        assert all(v != o and len(v) == len(o) and sum(a != b for a, b in zip(v, o)) == 1 for o in others)
    for d in ("id_digit", "id_transposition"):
        for i in mid.inj("true", d):
            v, others = _pair_values(mid, i, ID_COL)
            assert not _valid(v) and len(v) == 18 and others
            for o in others:
                diff = [k for k in range(18) if v[k] != o[k]]
                assert (d == "id_digit" and len(diff) == 1) or (d == "id_transposition" and len(diff) == 2
                        and diff[1] == diff[0] + 1)
    for i in mid.inj("true", "month_day_swap"):
        v, others = _pair_values(mid, i, births)
        y, m, d = (int(x) for x in (re.findall(r"\d+", v) if not v.isdigit() else (v[:4], v[4:6], v[6:])))
        assert all(o == f"{y:04d}{d:02d}{m:02d}" and m != d for o in others)
    police, grid = mid.rows("police"), mid.rows("grid")
    grid_truth = mid.truth_of("grid")
    house_truth = {(s, k): t for t, s, k in mid.db["truth"].execute("SELECT * FROM house_record")}
    phone_varied = mid.varied("grid", "phone")
    for i in mid.inj("true", "stale_phone") + mid.inj("true", "moved"):
        assert i["source"] == "police"
        p = police[i["source_key"]]
        g = [grid[k] for k in mid.by_truth("grid")[mid.truth_of("police")[i["source_key"]]]]
        assert g and all(r["采集时间"].replace("/", "-") > p["更新时间"] for r in g), "the grid saw it later"
        for r in g:
            if i["detail"] == "stale_phone" and r["人口编号"] not in phone_varied:
                assert p["联系电话"] and r["联系方式"] and r["联系方式"] != p["联系电话"]
            if i["detail"] == "moved" and grid_truth[r["人口编号"]]:
                assert house_truth["police", p["房屋编号"]] != house_truth["grid", r["房屋编号"]]
    assert counts["stale_phone"] >= 30 and counts["moved"] >= 15


def test_rates_are_roughly_as_configured(mid):
    n = 2000
    only = Counter((i["source"], i["detail"]) for i in mid.inj("only_here"))
    assert 0.05 * n <= only["grid", "floating_unregistered"] <= 0.08 * n
    assert 0.02 * n <= only["police", "deregistered"] + only["police", "not_visited"] <= 0.045 * n
    dup = Counter(i["source"] for i in mid.inj("duplicate"))
    assert 0.006 * n <= dup["police"] <= 0.014 * n and 0.01 * n <= dup["grid"] <= 0.02 * n
    missing_id = [i for i in mid.inj("missing", "empty", "grid") if i["field"] == "id_number"]
    assert 0.012 * n <= len(missing_id) <= 0.03 * n
    persons = list(mid.db["truth"].execute("SELECT ethnicity, person_type FROM person"))
    eth = Counter(e for e, _ in persons)
    assert 0.25 <= eth["03"] / n <= 0.40 and 0.55 <= eth["01"] / n <= 0.72
    floating = sum(1 for _, t in persons if t == "floating") / n
    assert 0.15 <= floating <= 0.26
    grid = mid.rows("grid")
    assert {r["人员类型"] for r in grid.values()} <= {"户籍人口", "流动人口", ""}
    assert Counter(r["人员状态"] for r in grid.values())["正常"] > 0.95 * len(grid)


def test_names_repeat_and_name_birth_twins_are_different_people(mid):
    persons = {r[0]: r for r in mid.db["truth"].execute("SELECT truth_id, name, birth_date, id_number FROM person")}
    by_name = Counter(p[1] for p in persons.values())
    assert by_name.most_common(1)[0][1] >= 5
    assert any(by_name[n] >= 2 for n in ("王伟", "张伟", "马伟", "王静", "马静", "李伟"))
    assert any(p[1][:2] in COMPOUND_SURNAMES for p in persons.values())
    twins = list(mid.db["truth"].execute("SELECT truth_id_a, truth_id_b FROM name_twin"))
    assert len(twins) >= 2
    for a, b in twins:
        pa, pb = persons[a], persons[b]
        assert pa[1] == pb[1] and pa[2] == pb[2] and pa[3] != pb[3]
    assert any("·" in p[1] for p in persons.values())


def test_all_dates_lie_before_the_demo_reference_date(mid):
    ref = mid.meta["ref_date"]
    cols = {"police": ("登记日期", "更新时间", "注销日期"), "grid": ("采集时间",)}
    for source, names in cols.items():
        for entity in ("person", "house"):
            for r in mid.rows(source, entity).values():
                for c in names:
                    if c in r.keys() and r[c]:
                        assert "1990" < r[c].replace("/", "-") < ref, (source, c, r[c])


def test_person_rows_point_at_existing_houses_and_grid_codes(mid):
    for source, col in (("police", "房屋编号"), ("grid", "房屋编号")):
        houses = mid.rows(source, "house")
        for r in mid.rows(source).values():
            assert not r[col] or r[col] in houses
    for r in mid.rows("grid").values():
        assert not r["网格编码"] or re.fullmatch(r"64\d{13}", r["网格编码"])
    for k, r in mid.rows("police").items():
        assert k == "" or re.fullmatch(r"P64\d{11}", k)
        if k and r["姓名"]:
            assert r["现住地址"] is None or r["现住地址"].startswith("宁夏回族自治区")
    assert all(k == "" or re.fullmatch(r"WG20\d{8}", k) for k in mid.rows("grid"))
    keyless = [i for i in mid.inj("malformed", "empty_row") if i["source_key"] == ""]
    assert sorted(i["source"] for i in keyless) == ["grid", "police"], "one row without a key per source"
    assert mid.db["police"].execute("SELECT count(*) FROM 实有人口 WHERE 人员编号 IS NULL").fetchone()[0] == 1
    assert mid.db["grid"].execute("SELECT count(*) FROM 人口信息 WHERE 人口编号 = ''").fetchone()[0] == 1


def test_hand_made_character_tables_hold():
    t2s = OpenCC("t2s")
    for s, t in TRADITIONAL.items():
        assert s != t and t2s.convert(t) == s
    for a, b in HOMOPHONES.items():
        assert a != b and lazy_pinyin(a) == lazy_pinyin(b), (a, b)
    assert all(a != b for a, b in SHAPES.items())
    assert set(FLAGS) >= {"id_checksum", "id_upgraded_15"}


def test_small_populations_work(tmp_path):
    paths = generate(tmp_path, persons=12, seed=1)
    con = sqlite3.connect(paths.truth_db)
    assert con.execute("SELECT value FROM meta WHERE key = 'persons'").fetchone() == ("12",)
    assert con.execute("SELECT count(DISTINCT truth_id) FROM person").fetchone() == (12,)
    with pytest.raises(ValueError):
        generate(tmp_path, persons=0)
