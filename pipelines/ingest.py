"""Extract and standardise assets, one per source × entity (police/grid × person/house).

Both stages stream: the raw asset lands the connector's Arrow batches straight into Parquet (never the
whole extract in memory) and the standardise step reads that file back batch by batch, writing the
standardised rows and the quarantine batch by batch, so a 1M-row source runs in bounded memory.
"""

import logging
import time
from pathlib import Path

import dagster as dg

from connectors import SourceError, land, read_batches
from connectors.landing import landed_path, landing_dir
from connectors.retry import Backoff, RetriesExhausted, retry_call, transient_read_error
from pipelines import constants as C
from pipelines import snapshot
from pipelines.gazetteer import GAZETTEER
from pipelines.parquetref import FrameWriter, ParquetRef
from pipelines.resources import GridbridgeConfig
from schemas.canonical import DERIVED, FIELDS
from schemas.normalise import Gazetteer
from schemas.standardise import check_columns, duplicate_keys, standardise
from warehouse.files import pause_point
from warehouse.state import State

STANDARDISE_BATCH_ROWS = 100_000
QUARANTINE_COLUMNS = ["source", "entity", "source_key", "reason", "raw"]
_log = logging.getLogger(__name__)


def _land(config, source: str, entity: str, path: Path, since: str | None = None, log=None) -> int:
    """`land(read_batches(…))`, the whole read run again when it broke off on a transient failure (a connection
    lost mid-read), with the source's `retries:`/`retry_wait_s:` backoff. `land` removes its `.part` file on
    every failure, so each attempt starts from nothing. Each retry is logged (attempt n of m, the wait); when
    the attempts run out, the last one-line error says how many were made."""
    def note(attempt: int, attempts: int, wait_s: float, error: BaseException) -> None:
        msg = (f"{str(error).splitlines()[0]} — attempt {attempt} of {attempts} failed; "
               f"extracting again from the start in {wait_s:g} s")
        _log.warning(msg)  # stderr of the command (or the run's compute log)
        if log:
            log(msg)  # the run's event log (Dagster UI)

    try:
        return retry_call(lambda: land(read_batches(config, source, entity, since=since), path),
                          Backoff.of(config.sources[source]), transient_read_error, on_retry=note)
    except RetriesExhausted as e:
        raise SourceError(f"{str(e.last).splitlines()[0]} (gave up after {e.attempts} attempts)") from None


def extract(config, source: str, entity: str, run_id: str, mode: str = "incremental", log=None) -> dict:
    """Land the source entity's rows for this run: a full extract, or (SQL source with `updated_at:`, a previous
    successful run, mode "incremental") the rows changed since that run's watermark merged into its snapshot."""
    d = landing_dir(config.state_dir, run_id)
    path = landed_path(config.state_dir, run_id, source, entity)
    ent = config.entity(source, entity)
    if ent is None:
        return {"rows": land([], path), "mode": "not configured", "path": path}
    prev = None
    if mode != "full" and config.sources[source].connector == "sql":
        last = State(config.state_dir).last_successful_run()
        prev = snapshot.previous_snapshot(config.state_dir, last and last["run_id"], source, entity, ent.updated_at)
    if prev is None:
        return {"rows": _land(config, source, entity, path, log=log), "mode": "full", "path": path}
    delta = d / f"{source}_{entity}.delta.parquet"
    _land(config, source, entity, delta, since=prev.since, log=log)
    merged = snapshot.merge_delta(prev.path, delta, ent.key, path)
    if merged is None:
        if log:
            log(f"{source}.{entity}: columns changed since the last run; extracting in full")
        return {"rows": _land(config, source, entity, path, log=log), "mode": "full", "path": path}
    return {**merged, "mode": f"incremental since {prev.watermark}", "path": path}


def _raw_asset(source: str, entity: str) -> dg.AssetsDefinition:
    @dg.asset(name=C.raw(source, entity), group_name=C.GROUP_EXTRACT, kinds={"sql", "parquet"},
              description=f"Rows of the {source} system's {entity} table as extracted (all text), landed per run.")
    def _raw(context: dg.AssetExecutionContext, gridbridge: GridbridgeConfig) -> ParquetRef:
        config = gridbridge.load()
        t0 = time.perf_counter()
        mode = context.run.tags.get(snapshot.MODE_TAG, "incremental")
        got = extract(config, source, entity, context.run_id, mode=mode, log=context.log.info)
        pause_point("extract")
        seconds = time.perf_counter() - t0
        context.log.info(f"{source}.{entity}: {got['rows']:,} rows ({got['mode']}) in {seconds:.1f} s")
        context.add_output_metadata({"extracted": got["rows"], "mode": got["mode"], "seconds": round(seconds, 2),
                                     "landed": dg.MetadataValue.path(str(got["path"]))}
                                    | ({"changed": got["changed"]} if "changed" in got else {}))
        return ParquetRef(str(got["path"]))

    return _raw


def standardise_file(raw: ParquetRef, source: str, entity: str, ent, out_dir, log=None,
                     batch_rows: int = STANDARDISE_BATCH_ROWS, gazetteer=None) -> tuple[ParquetRef, ParquetRef, dict]:
    """Standardise a landed extract batch by batch into `<out_dir>/stg.parquet` and `quarantine.parquet`.

    Key duplicates are judged over the whole extract (first occurrence wins), so batching changes nothing.
    Returns both files and the counts {extracted, loaded, quarantined, by_reason}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stg_cols = ["source", *FIELDS[entity], *DERIVED[entity]]
    stg_w = FrameWriter(out_dir / f"{source}_{entity}.stg.parquet", stg_cols)
    q_w = FrameWriter(out_dir / f"{source}_{entity}.quarantine.parquet", QUARANTINE_COLUMNS)
    extracted = raw.rows
    by_reason: dict[str, int] = {}
    if extracted:
        check_columns(raw.columns, source, entity, ent)  # one-line MappingError before any work
        dup = duplicate_keys(raw.read(columns=[ent.key])[ent.key]).to_numpy()
        done = 0
        for batch in raw.batches(batch_rows):
            frame = batch.to_pandas()
            stg, quarantine = standardise(frame, source, entity, ent, duplicate=dup[done:done + len(frame)],
                                          gazetteer=gazetteer)
            if len(stg) + len(quarantine) != len(frame):
                raise RuntimeError(f"{source}.{entity}: row accounting broken in batch at row {done}")
            stg_w.write(stg)
            q_w.write(quarantine)
            for reason, n in quarantine["reason"].value_counts().items():
                by_reason[reason] = by_reason.get(reason, 0) + int(n)
            done += len(frame)
            if log is not None and extracted > batch_rows:
                log(f"{source}.{entity}: standardised {done:,}/{extracted:,} rows")
    stg_ref, q_ref = stg_w.close(), q_w.close()
    counts = {"extracted": extracted, "loaded": stg_w.rows, "quarantined": q_w.rows, "by_reason": by_reason}
    if stg_w.rows + q_w.rows != extracted:
        raise RuntimeError(f"{source}.{entity}: {extracted} extracted but {stg_w.rows} loaded + {q_w.rows} quarantined")
    return stg_ref, q_ref, counts


def _stg_asset(source: str, entity: str) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"standardise_{source}_{entity}", group_name=C.GROUP_STANDARDISE,
        ins={"raw": dg.AssetIn(C.raw(source, entity), metadata={"stream": True}),
             "gazetteer": dg.AssetIn(GAZETTEER)},
        outs={
            "stg": dg.AssetOut(key=C.stg(source, entity), description=f"{source} {entity} rows on the canonical schema"),
            "quarantine": dg.AssetOut(key=C.quarantined(source, entity),
                                      description=f"{source} {entity} rows that cannot be used, with a reason"),
        })
    def _stg(context: dg.AssetExecutionContext, gridbridge: GridbridgeConfig, raw: ParquetRef, gazetteer: dict):
        config = gridbridge.load()
        ent = config.entity(source, entity)
        out_dir = landing_dir(config.state_dir, context.run_id)
        t0 = time.perf_counter()
        stg, quarantine, counts = standardise_file(raw, source, entity, ent, out_dir, log=context.log.info,
                                                   gazetteer=Gazetteer.from_dict(gazetteer))
        pause_point("standardise")
        seconds = time.perf_counter() - t0
        context.log.info(f"{source}.{entity}: {counts['loaded']:,} loaded, {counts['quarantined']:,} quarantined "
                         f"of {counts['extracted']:,} in {seconds:.1f} s")
        context.add_output_metadata({k: counts[k] for k in ("extracted", "loaded", "quarantined")}
                                    | {"seconds": round(seconds, 2)}, output_name="stg")
        context.add_output_metadata({"by_reason": counts["by_reason"]}, output_name="quarantine")
        return stg, quarantine

    return _stg


raw_assets = [_raw_asset(s, e) for s, e in C.SOURCE_ENTITIES]
stg_assets = [_stg_asset(s, e) for s, e in C.SOURCE_ENTITIES]
