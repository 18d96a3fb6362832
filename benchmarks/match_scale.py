"""Person matching at scale: seconds per phase, candidate pairs, pairs per record and peak memory.

    .venv/bin/python -m benchmarks.match_scale --persons 10000 100000 1000000

Inputs (prepared once, cached under benchmarks/.data/match_scale/):

* 10k and 100k: the demo generator's police 实有人口 and grid 人口信息 tables (SQLite, read with pandas as
  text), standardised with `schemas.standardise.standardise` and the repo's gridbridge.yaml entity configs,
  addresses parsed with a gazetteer learned from the police addresses (as the pipeline does).
* above 100k: the standardised 100k records tiled, tile t (1..9) perturbed so it is a *different*
  population that behaves like the original one, not a copy (the output says so):
  - source_key + `~t`;
  - ID numbers (18- and 15-digit, id_number and id_alias): the three sequence digits mapped digit-wise
    (d+t, d+3t, d+2t mod 10: the sex parity of the last one is kept), the check digit re-derived when it
    was valid and kept invalid when it was not, so typos between the two systems survive;
  - names: every character of name / name_key / former_name through a bijection of the 100k set's
    characters (ranked by frequency, shifted t places, so common characters stay common), and
    name_pinyin through a bijection of pinyin syllables (homophones stay homophones; the pinyin is no
    longer the reading of the new characters, but matching compares pinyin only for equality);
  - phone: one digit shifted by t; address_key: prefixed with the tile (a tile is another district).
  Birth dates, sex and ethnicity are kept, so names and birth dates collide across tiles as in a real
  population. Equality, Jaro-Winkler, one-edit and prefix relations *inside* a tile are preserved.

Each size runs `matching.link(records, entity="person")` in its own process; the phases are timed by
wrapping the functions `matching.linker` calls (linker.py itself is not modified), and peak RSS
(`benchmarks.memory.peak_mb`, the child's own) is read after each phase. Prints one table with ratios to the smallest size.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from schemas.normalise.ids import CHECK, check_char

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / ".data"
CACHE = DATA / "match_scale"
BASE = 100_000                    # largest size generated; above it the standardised records are tiled
SOURCES = {"police": "实有人口", "grid": "人口信息"}
KEEP = ("source", "source_key", "name", "name_key", "name_pinyin", "former_name", "sex", "ethnicity",
        "birth_date", "id_number", "id_alias", "phone", "address_key")
PHASES = ("prepare", "blocking", "comparisons", "scoring", "clustering", "ids", "review+other")


# --- inputs ------------------------------------------------------------------------------------------------
def _standardised(persons: int):
    import sqlite3

    import pandas as pd

    from pipelines.demo import generate
    from schemas.config import load
    from schemas.normalise import learn_gazetteer
    from schemas.standardise import standardise

    demo = DATA / f"demo_{persons}"
    if not (demo / "grid.sqlite").exists():
        generate(demo, persons=persons)
    config = load(REPO / "gridbridge.yaml")
    raw = {}
    for source, table in SOURCES.items():
        with sqlite3.connect(demo / f"{source}.sqlite") as con:
            raw[source] = pd.read_sql_query(f'SELECT * FROM "{table}"', con, dtype=str)
    police = config.entity("police", "person")
    gazetteer = learn_gazetteer(raw["police"][police.columns["current_address"]])
    parts = []
    for source in SOURCES:
        stg, _ = standardise(raw[source], source, "person", config.entity(source, "person"), gazetteer=gazetteer)
        parts.append(stg.assign(source=source))
    out = pd.concat(parts, ignore_index=True)
    for c in KEEP:
        if c not in out:
            out[c] = None
    return out[list(KEEP)]


def _shift_id(v, t: int):
    """Sequence digits mapped for tile t (see module docstring); None and odd shapes pass through."""
    if not isinstance(v, str):
        return v
    if len(v) == 18 and v[:17].isdigit():
        seq = v[14:17]
        new = v[:14] + str((int(seq[0]) + t) % 10) + str((int(seq[1]) + 3 * t) % 10) + str((int(seq[2]) + 2 * t) % 10)
        check = check_char(new)
        if v[17].upper() != check_char(v[:17]):            # invalid before: stays invalid
            check = CHECK[(CHECK.index(check) + 1) % 11]
        return new + check
    if len(v) == 15 and v.isdigit():
        seq = v[12:15]
        return v[:12] + str((int(seq[0]) + t) % 10) + str((int(seq[1]) + 3 * t) % 10) + str((int(seq[2]) + 2 * t) % 10)
    return v


def _tile(base, t: int, char_rank: list[str], syllables: list[str]):
    """Tile t of the standardised base records (see module docstring)."""
    import pandas as pd
    from pypinyin import lazy_pinyin

    out = base.copy()
    out["source_key"] = out["source_key"] + f"~{t}"
    for c in ("id_number", "id_alias"):
        u = pd.unique(out[c].dropna())
        out[c] = out[c].map(dict(zip(u, (_shift_id(v, t) for v in u))))
    n = len(char_rank)
    table = str.maketrans({ch: char_rank[(i + t) % n] for i, ch in enumerate(char_rank)})
    for c in ("name", "name_key", "former_name"):
        u = pd.unique(out[c].dropna())
        out[c] = out[c].map(dict(zip(u, (v.translate(table) for v in u))))
    syl_map = {s: syllables[(i + 7 * t) % len(syllables)] for i, s in enumerate(syllables)}
    # the tile's pinyin: each syllable of the row's *original* name_key mapped (homophones stay homophones)
    u = pd.unique(base["name_key"].dropna())
    pin = dict(zip(u, ("".join(syl_map.get(s, s) for s in lazy_pinyin(k)).lower() for k in u)))
    out["name_pinyin"] = base["name_key"].map(pin).where(base["name_pinyin"].notna(), None)
    ph = out["phone"]                                     # 5th digit from the end shifted by t
    ok = (ph.str.len().fillna(0) >= 6).to_numpy() & ph.str[-5].str.isdigit().eq(True).to_numpy()
    digit = ph[ok].str[-5].astype(int)
    out.loc[ok, "phone"] = ph[ok].str[:-5] + ((digit + t) % 10).astype(str) + ph[ok].str[-4:]
    out["address_key"] = (f"{t}#" + out["address_key"]).where(out["address_key"].notna(), None)
    return out


def records(persons: int):
    """Standardised person records of both sources for `persons` per side (cached as Parquet)."""
    import pandas as pd
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"persons_{persons}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    if persons <= BASE:
        df = _standardised(persons)
    else:
        from collections import Counter

        from pypinyin import lazy_pinyin
        base = records(BASE)
        chars = Counter("".join(pd.concat([base["name"], base["name_key"], base["former_name"]]).dropna()))
        char_rank = [c for c, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))]
        syllables = sorted({s for k in base["name_key"].dropna().unique() for s in lazy_pinyin(k)})
        tiles = -(-persons // BASE)
        df = pd.concat([base] + [_tile(base, t, char_rank, syllables) for t in range(1, tiles)], ignore_index=True)
    df.to_parquet(path, index=False)
    return df


# --- one run (child process) -------------------------------------------------------------------------------
def _peak_mb() -> float:
    from benchmarks.memory import peak_mb
    return peak_mb()


def child(persons: int) -> dict:
    import matching.linker as linker
    from matching import link

    t_load = time.perf_counter()
    recs = records(persons)
    load_s = time.perf_counter() - t_load
    base_mb = _peak_mb()
    times, peaks, seen = {}, {}, {}

    def timed(phase, fn):
        def run(*a, **k):
            t0 = time.perf_counter()
            out = fn(*a, **k)
            times[phase] = times.get(phase, 0.0) + time.perf_counter() - t0
            peaks[phase] = _peak_mb()
            seen[phase] = out
            return out
        return run

    for phase, name in (("prepare", "prepare_records"), ("blocking", "run_blocking"),
                        ("comparisons", "compute_gammas"), ("scoring", "score"),
                        ("clustering", "cluster_pairs"), ("ids", "assign_ids")):
        setattr(linker, name, timed(phase, getattr(linker, name)))
    t0 = time.perf_counter()
    result = link(recs, entity="person")
    total = time.perf_counter() - t0
    times["review+other"] = total - sum(times.values())
    pairs = len(result.pairs)
    per_source = recs["source"].value_counts().to_dict()
    return {"persons": persons, "records": len(recs), "police": int(per_source.get("police", 0)),
            "grid": int(per_source.get("grid", 0)), "load_s": round(load_s, 2), "total_s": total,
            "phases": times, "peak_mb": _peak_mb(), "peak_after": peaks, "base_mb": base_mb,
            "pairs": pairs, "pairs_per_record": pairs / len(recs),
            "persons_out": int(result.xref["person_id"].nunique()), "review": len(result.review),
            "blocking": result.blocking_report[["rule", "pairs", "new_pairs", "largest_block",
                                                "skipped_blocks"]].to_dict("records")}


# --- parent: run sizes, print the table --------------------------------------------------------------------
def run(persons: int) -> dict:
    records(persons)                              # prepare the input outside the timed child
    proc = subprocess.run([sys.executable, "-m", "benchmarks.match_scale", "--child", str(persons)],
                          cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"match_scale child for {persons} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    first = rows[0]
    head = (f"{'persons/side':>12} {'records':>9} {'pairs':>10} {'pairs/rec':>9} "
            + " ".join(f"{p[:11]:>11}" for p in PHASES) + f" {'total s':>8} {'peak MB':>8} "
            f"{'x records':>9} {'x time':>7} {'x pairs':>7} {'x MB':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['persons']:>12,} {r['records']:>9,} {r['pairs']:>10,} {r['pairs_per_record']:>9.2f} "
            + " ".join(f"{r['phases'].get(p, 0.0):>11.2f}" for p in PHASES)
            + f" {r['total_s']:>8.2f} {r['peak_mb']:>8.0f} {r['records'] / first['records']:>9.1f} "
            f"{r['total_s'] / first['total_s']:>7.1f} {r['pairs'] / first['pairs']:>7.1f} "
            f"{r['peak_mb'] / first['peak_mb']:>6.1f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    rows = []
    for n in args.persons:
        t0 = time.perf_counter()
        rows.append(run(n))
        print(f"  {n:,} persons/side done in {time.perf_counter() - t0:.0f} s (input prep included)", file=sys.stderr)
    print(table(rows))
    if any(n > BASE for n in args.persons):
        print(f"\nsizes above {BASE:,}: the standardised {BASE:,}-person demo records tiled with new keys and "
              "perturbed identities (IDs, names, pinyin, phones, addresses; see module docstring), "
              "not generated people.")
    print("\nblocking, pairs per rule (largest size):")
    for b in rows[-1]["blocking"]:
        print(f"  {b['rule']:<36} pairs {b['pairs']:>10,}  new {b['new_pairs']:>10,}  largest block "
              f"{b['largest_block']:>6,}  skipped blocks {b['skipped_blocks']:>5,}")
    print("\npeak RSS (MB) after each phase, largest size: "
          + ", ".join(f"{k} {v:.0f}" for k, v in rows[-1]["peak_after"].items())
          + f"; records loaded {rows[-1]['base_mb']:.0f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
