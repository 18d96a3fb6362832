"""Demo sources for tests: the repo's sample config beside freshly generated police/grid databases."""
import shutil
from pathlib import Path

import pytest

from pipelines.cli import run_sync
from pipelines.demo import generate

REPO = Path(__file__).resolve().parents[1]


def demo_sources(root: Path, persons: int, seed: int):
    """`root/gridbridge.yaml` (the demo config) + `root/demo/*.sqlite`; returns the generator's paths."""
    shutil.copyfile(REPO / "gridbridge.yaml", root / "gridbridge.yaml")
    return generate(root / "demo", persons=persons, seed=seed)


def synced_demo(root: Path, persons: int, seed: int):
    """`demo_sources` + one successful sync on an ephemeral Dagster instance (module-scoped fixtures)."""
    paths = demo_sources(root, persons, seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        code = run_sync(str(root / "gridbridge.yaml"), quiet=True)
    from warehouse.state import State
    assert code == 0, State(root / "warehouse").runs().to_dict("records")
    return paths
