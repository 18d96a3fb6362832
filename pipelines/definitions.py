"""The one place where gridbridge's Dagster definitions are wired: assets, checks, job, schedule, sensor."""

import dagster as dg

from pipelines.checks import all_checks
from pipelines.gazetteer import address_gazetteer
from pipelines.ingest import raw_assets, stg_assets
from pipelines.match import match_assets
from pipelines.publish import warehouse
from pipelines.reconcile import reconcile_assets
from pipelines.resources import GridbridgeConfig, make_resources
from pipelines.runs import record_failure
from pipelines.snapshot import MODE_TAG
from warehouse.state import State

ASSETS = [*raw_assets, address_gazetteer, *stg_assets, *match_assets, *reconcile_assets, warehouse]

# One DuckDB writer, one process: the in-process executor (stack-notes §4, §5).
sync_job = dg.define_asset_job("sync", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor,
                               description="Nightly sync: extract → standardise → gate → match → reconcile → publish")

# Incremental on weekdays and Saturday; a full extract on Sunday also notices rows deleted at the source.
nightly = dg.ScheduleDefinition(name="nightly_sync", job=sync_job, cron_schedule="0 2 * * 1-6",
                                execution_timezone="Asia/Shanghai", tags={MODE_TAG: "incremental"},
                                default_status=dg.DefaultScheduleStatus.RUNNING)
weekly_full = dg.ScheduleDefinition(name="weekly_full_sync", job=sync_job, cron_schedule="0 2 * * 0",
                                    execution_timezone="Asia/Shanghai", tags={MODE_TAG: "full"},
                                    default_status=dg.DefaultScheduleStatus.RUNNING)


@dg.run_failure_sensor(name="record_failed_sync", monitored_jobs=[sync_job])
def record_failed_sync(context: dg.RunFailureSensorContext, gridbridge: GridbridgeConfig):
    """Scheduled runs that fail (e.g. a blocking gate) are written to gridbridge's run log too."""
    try:
        state = State(gridbridge.load().state_dir)
    except Exception as e:  # a broken config is already the run's own failure reason
        context.log.warning(f"cannot record failed run: {e}")
        return
    stats = context.instance.get_run_stats(context.dagster_run.run_id)
    record_failure(state, context.instance, context.dagster_run.run_id, stats.start_time)


def build_defs(config_path: str | None = None) -> dg.Definitions:
    return dg.Definitions(assets=ASSETS, asset_checks=all_checks, jobs=[sync_job], schedules=[nightly, weekly_full],
                          sensors=[record_failed_sync], resources=make_resources(config_path))


defs = build_defs()
