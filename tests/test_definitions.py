import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.definitions import build_defs


def test_definitions_load_with_job_schedule_and_blocking_checks(demo_template):
    defs = build_defs(str(demo_template))
    job = defs.resolve_job_def("sync")
    assert job.executor_def.name == "in_process"
    sched = defs.resolve_schedule_def("nightly_sync")
    assert sched.cron_schedule == "0 2 * * 1-6" and sched.execution_timezone == "Asia/Shanghai"
    assert sched.tags["gridbridge/mode"] == "incremental"
    weekly = defs.resolve_schedule_def("weekly_full_sync")
    assert weekly.cron_schedule == "0 2 * * 0" and weekly.tags["gridbridge/mode"] == "full"
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for name in ("raw_police_person", "stg_grid_person", "quarantine_grid_house", "person_links",
                 "golden_person", "person_conflicts", "warehouse"):
        assert name in keys
    checks = list(graph.asset_check_keys)
    assert sorted(k.name for k in checks) == ["golden_person_match_quality", "stg_grid_house_quality",
                                              "stg_grid_person_quality", "stg_police_house_quality",
                                              "stg_police_person_quality"]
    assert all(graph.get_check_spec(k).blocking for k in checks)


def test_cli_help_does_not_import_dagster():
    code = ("import sys; from pipelines import cli; "
            "import contextlib, io\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): cli.main(['--help'])\n"
            "print('dagster' in sys.modules, 'great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_status_imports_neither_dagster_nor_great_expectations_nor_the_connectors(tmp_path, demo_template):
    """The warehouse layer's file modes live in warehouse/files.py: `status` loads no connector, no Parquet I/O."""
    shutil.copyfile(demo_template, tmp_path / "gridbridge.yaml")
    heavy = ("dagster", "great_expectations", "connectors.landing", "pyarrow.parquet")
    code = ("import sys, contextlib, io; from pipelines import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()): cli.main(['status'])\n"
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}).stdout
    assert out.strip() == "[]"
