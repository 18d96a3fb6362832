"""`gridbridge explain --police KEY --grid KEY`: the comparison waterfall of one police/grid pair.

Reads the latest standardised records the pipeline keeps (`<state dir>/work/stg_<source>_<entity>.parquet`,
written by `resources.ParquetIOManager`) and scores the pair as the match stage does (`matching.explain`):
the config's thresholds and the model file it picks (`matching.model`, else the trained
`<warehouse dir>/models/matching_model.json`, else the built-in model). A model retrained after the last
sync is the one shown; the header gives its version. A steward's pair decision in force on the pair
(`steward_decision` in `state.sqlite`, matching/constraints.py) is printed after the waterfall: the match stage
applies it whatever the pair scores. Heavy imports stay inside `cmd_explain`.
"""
from __future__ import annotations

from pipelines.constants import fail


def add_parser(sub) -> None:
    e = sub.add_parser("explain", help="why a police record and a grid record did or did not match "
                       "(comparison levels and weights)")
    e.add_argument("--police", required=True, metavar="KEY", help="source key of the police record")
    e.add_argument("--grid", required=True, metavar="KEY", help="source key of the grid record")
    e.add_argument("--config", default="gridbridge.yaml")
    e.add_argument("--entity", choices=["person", "house"], default="person")
    e.set_defaults(func=cmd_explain)


def cmd_explain(args) -> int:
    from matching import MatchSettings
    from matching.constraints import pair_constraints
    from matching.explain import explain_pair, render
    from pipelines import constants as C
    from pipelines.train_cmd import stg_records
    from schemas.config import load
    from warehouse.state import State

    config = load(args.config)
    work = config.state_dir / "work"
    records = stg_records(config, args.entity)
    if records is None:
        return fail(f"no standardised {args.entity} data under {work}; run `gridbridge sync` first")
    picked = {}
    for source, key in (("police", args.police), ("grid", args.grid)):
        hit = records[(records["source"] == source) & (records["source_key"].astype(str) == str(key))]
        if hit.empty:
            return fail(f"no {source} {args.entity} record with key {key!r} in the latest standardised data "
                        f"({work / (C.stg(source, args.entity) + '.parquet')})")
        picked[source] = hit.iloc[0]
    settings = MatchSettings.from_config(config)             # the match stage's choice (pipelines/match.py)
    model_path = settings.model_path
    explanation = explain_pair(picked["police"], picked["grid"], args.entity, settings, records=records)
    print(f"model file: {model_path or 'built-in starting model'}")
    print(render(explanation))
    decided = pair_constraints(State(config.state_dir).decisions(), args.entity).decision_for(
        explanation.left_id, explanation.right_id)
    if decided is not None:
        print(f"steward decision #{decided[1]}: {decided[0]} — applied regardless of the score")
    return 0
