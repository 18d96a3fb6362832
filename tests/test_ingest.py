"""Streaming extract + standardise: batching changes nothing, and no row can vanish on the way to publish."""

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.landing import land
from pipelines import ingest
from pipelines.cli import run_sync
from pipelines.parquetref import FrameWriter, ParquetRef
from schemas import config as cfgmod
from schemas.standardise import MappingError, standardise
from warehouse.state import State
from tests.demos import demo_sources

ENT = {"key": "人员编号", "columns": {"name": "姓名", "id_number": "身份证号", "birth_date": "出生日期"}}


def _raw(tmp_path, rows: list[dict]) -> ParquetRef:
    path = tmp_path / "raw.parquet"
    table = pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in rows[0]]))
    n = land(table.to_batches(max_chunksize=3), path)
    assert n == len(rows)
    return ParquetRef(str(path))


def _people(n: int) -> list[dict]:
    out = []
    for i in range(n):
        key = f"P{i % (n - 4):04d}"  # the last 4 rows repeat earlier keys: duplicates across batches
        name = "???" if i % 7 == 3 else f"张{'一二三四五六七八九十'[i % 10]}"
        out.append({"人员编号": key, "姓名": name, "身份证号": "11010519491231002X" if i % 2 else "",
                    "出生日期": f"1949-12-{1 + i % 28:02d}"})
    return out


def test_batched_standardise_equals_whole_extract(tmp_path):
    ent = cfgmod.EntityConfig(**ENT)
    raw = _raw(tmp_path, _people(40))
    whole_stg, whole_q = standardise(raw.read(), "police", "person", ent)
    stg, q, counts = ingest.standardise_file(raw, "police", "person", ent, tmp_path / "out", batch_rows=7)
    got_stg, got_q = stg.read(), q.read()
    assert counts["extracted"] == 40 == counts["loaded"] + counts["quarantined"]
    assert counts["by_reason"]["key_duplicate"] == 4 - sum(1 for i in range(36, 40) if i % 7 == 3)
    def plain(df):
        return df.reset_index(drop=True).astype(object).where(lambda d: d.notna(), None)
    pd.testing.assert_frame_equal(plain(got_stg), plain(whole_stg))
    assert sorted(got_q["source_key"]) == sorted(whole_q["source_key"])
    assert list(got_q["reason"].value_counts().sort_index()) == list(whole_q["reason"].value_counts().sort_index())


def test_standardise_file_of_an_empty_extract(tmp_path):
    path = tmp_path / "empty.parquet"
    assert land([], path) == 0
    stg, q, counts = ingest.standardise_file(ParquetRef(str(path)), "grid", "person",
                                             cfgmod.EntityConfig(**ENT), tmp_path / "out")
    assert counts == {"extracted": 0, "loaded": 0, "quarantined": 0, "by_reason": {}}
    assert stg.rows == 0 and "name" in stg.columns and q.rows == 0


def test_renamed_column_fails_before_any_work(tmp_path):
    rows = [{"人员编号": "1", "名字": "张三", "身份证号": "", "出生日期": ""}]
    with pytest.raises(MappingError, match="police.person.*姓名"):
        ingest.standardise_file(_raw(tmp_path, rows), "police", "person", cfgmod.EntityConfig(**ENT), tmp_path)


def test_failed_extract_leaves_no_partial_landing(tmp_path):
    def batches():
        yield pa.record_batch({"a": pa.array(["1"])})
        raise ConnectionError("source went away")
    out = tmp_path / "landing"
    out.mkdir()
    with pytest.raises(ConnectionError):
        land(batches(), out / "x.parquet")
    assert list(out.iterdir()) == []


def test_frame_writer_keeps_one_schema_when_first_batch_is_all_null(tmp_path):
    w = FrameWriter(tmp_path / "f.parquet", ["source_key", "area", "is_rented"])
    w.write(pd.DataFrame({"source_key": ["a"], "area": [None], "is_rented": [None]}))
    w.write(pd.DataFrame({"source_key": ["b"], "area": [12.5], "is_rented": [True]}))
    ref = w.close()
    t = pq.read_table(ref.path)
    assert t.schema.field("area").type == pa.float64() and t.num_rows == 2 == w.rows


@pytest.fixture
def small_demo(tmp_path):
    demo_sources(tmp_path, persons=120, seed=3)
    return tmp_path


def test_a_row_lost_between_extract_and_publish_stops_the_run(small_demo, monkeypatch, capsys):
    """Drop one standardised grid person on purpose: publish must refuse, the warehouse stays as it was."""
    root = small_demo
    cfg = str(root / "gridbridge.yaml")
    assert run_sync(cfg, quiet=True) == 0
    wh = root / "warehouse" / "gridbridge.duckdb"
    before = wh.read_bytes()

    real = ingest.standardise

    def lossy(raw, source, entity, ent, duplicate=None, gazetteer=None):
        stg, q = real(raw, source, entity, ent, duplicate=duplicate, gazetteer=gazetteer)
        return (stg.iloc[1:], q) if (source, entity) == ("grid", "person") else (stg, q)

    monkeypatch.setattr(ingest, "standardise", lossy)
    with pytest.raises(RuntimeError, match="row accounting"):
        ingest.standardise_file(ParquetRef(_landing(root)), "grid", "person",
                                cfgmod.load(cfg).entity("grid", "person"), root / "scratch")
    assert run_sync(cfg, quiet=True) != 0
    assert wh.read_bytes() == before
    last = State(root / "warehouse").runs().iloc[0]
    assert last["status"] == "failed" and "row accounting" in str(last["message"])


def _landing(root) -> str:
    return str(sorted((root / "warehouse" / "landing").glob("*/grid_person.parquet"))[0])


def test_publish_refuses_when_landing_and_xref_disagree(small_demo, monkeypatch):
    """The publish-side guard on its own: a record dropped after standardise (e.g. by matching)."""
    from pipelines import match as match_mod
    root = small_demo
    cfg = str(root / "gridbridge.yaml")
    real = match_mod.link

    def dropping(records, **kw):
        return real(records[records["source_key"] != records["source_key"].iloc[0]], **kw)

    monkeypatch.setattr(match_mod, "link", dropping)
    assert run_sync(cfg, quiet=True) != 0
    assert not (root / "warehouse" / "gridbridge.duckdb").exists()
    last = State(root / "warehouse").runs().iloc[0]
    assert "row accounting" in str(last["message"]) and "nothing published" in str(last["message"])


def test_gazetteer_from_police_addresses_gives_grid_short_forms_the_police_house_key(tmp_path):
    from pipelines.gazetteer import police_addresses
    from schemas.normalise import Gazetteer, learn_gazetteer
    house = cfgmod.EntityConfig(key="房屋编号", columns={"address": "标准地址"})
    police_rows = [{"房屋编号": f"H{i}", "标准地址": f"某某市青禾区云杉街道{c}社区{e}{b}号楼2单元501室"}
                   for i, (c, e, b) in enumerate([("翠柏", "澜汐雅苑", 3), ("翠柏", "澜汐雅苑", 4),
                                                  ("松涛", "枫渡小区", 1), ("松涛", "枫渡小区", 2)] * 3)]
    raw = _raw(tmp_path, police_rows)

    class Cfg:  # the two config lookups police_addresses needs
        @staticmethod
        def entity(source, entity):
            return house if entity == "house" else None

    addresses = police_addresses(Cfg, {"house": raw, "person": raw})
    assert len(addresses) == len(police_rows)
    gaz = Gazetteer.from_dict(learn_gazetteer(addresses).to_dict())  # as the asset hands it on (JSON)
    grid = pd.DataFrame({"房屋编号": ["G1", "G2"], "标准地址": ["翠柏澜汐雅苑3-2-501", "枫渡2栋2单元501"]})
    police_stg, _ = standardise(raw.read(), "police", "house", house, gazetteer=gaz)
    without, _ = standardise(grid, "grid", "house", house)
    with_gaz, _ = standardise(grid, "grid", "house", house, gazetteer=gaz)
    police_keys = set(police_stg["address_key"])
    assert without["address_key"].iloc[0] not in police_keys  # 翠柏 without 社区 reads as part of the estate
    assert set(with_gaz["address_key"]) <= police_keys


def test_prune_keeps_the_newest_runs_and_the_protected_one(tmp_path):
    import os
    import time as _t
    from connectors.landing import landing_dir, prune
    for i, run in enumerate(["r1", "r2", "r3", "r4"]):
        d = landing_dir(tmp_path, run)
        (d / "police_person.parquet").write_bytes(b"x")
        os.utime(d, (_t.time() - 100 + i, _t.time() - 100 + i))
    assert sorted(prune(tmp_path, keep=2, protect={"r1"})) == ["r2"]
    assert sorted(p.name for p in (tmp_path / "landing").iterdir()) == ["r1", "r3", "r4"]
    assert prune(tmp_path, keep=5) == []
