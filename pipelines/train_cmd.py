"""`gridbridge train`: learn the matching model (m/u by EM, u from random pairs, name frequencies) from the
standardised records of the last sync, and save it where the next sync picks it up.

    gridbridge train [--config F] [--out PATH]

The model file holds both entities (person, house). Nightly syncs reuse it unchanged; retrain after a large
change in the sources (a new district, a new export) and compare `gridbridge status` before and after.
"""
from __future__ import annotations

import time
from pathlib import Path

from pipelines.constants import fail

ENTITIES = ("person", "house")


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="learn the matching model from the last sync's standardised records")
    t.add_argument("--config", default="gridbridge.yaml")
    t.add_argument("--out", help="model file (default: matching.model in the config, else "
                                 "<warehouse dir>/models/matching_model.json)")
    t.set_defaults(func=cmd_train)


def stg_records(config, entity: str):
    """Both sources' standardised records of `entity` as the last sync kept them (None if there is none);
    with the run context the match stage gives them (`matching.context`)."""
    import pandas as pd

    from matching.context import with_run_context
    from pipelines import constants as C
    work = config.state_dir / "work"
    paths = [work / f"{C.stg(s, entity)}.parquet" for s in ("police", "grid")]
    if not all(p.exists() for p in paths):
        return None
    records = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    links = work / "house_links.parquet"
    return with_run_context(records, entity, pd.read_parquet(links) if entity == "person" and links.exists() else None)


def cmd_train(args) -> int:
    from matching import MatchSettings, train
    from schemas.config import load

    config = load(args.config)
    out = Path(args.out) if args.out else config.matching.model_target(config)
    base = config.matching.model_path(config)
    settings = MatchSettings.from_config(config)
    models = {}
    for entity in ENTITIES:
        records = stg_records(config, entity)
        if records is None:
            return fail(f"no standardised {entity} records under {config.state_dir / 'work'}; "
                        f"run `gridbridge sync` first")
        t0 = time.perf_counter()
        try:
            models[entity] = train(records, entity, settings)
        except ValueError as e:
            return fail(f"cannot train the {entity} model: {e}")
        tr = models[entity].training          # always set by train()
        print(f"{entity}: {len(records):,} records, {tr['candidate_pairs']:,} candidate pairs, "
              f"{tr['random_pairs']:,} random pairs; EM {tr['em_iterations']} iterations "
              f"(converged: {tr['em_converged']}); expected matches {tr['expected_matches']:,.0f} "
              f"in {time.perf_counter() - t0:.1f} s")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part.json")
    tmp.unlink(missing_ok=True)
    for model in models.values():
        model.save(tmp)
    tmp.replace(out)
    print(f"model saved to {out} (base: {base or 'built-in starting model'}); the next sync uses it"
          + ("" if out == config.matching.model_path(config) else
             f" once `matching: {{model: {out}}}` is set in {args.config}"))
    return 0
