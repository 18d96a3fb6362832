import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_dagster_home(tmp_path, monkeypatch):
    """Every test gets its own DAGSTER_HOME (no shared run storage between tests)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("GRIDBRIDGE_CONFIG", raising=False)


@pytest.fixture(scope="session")
def demo_template():
    """The repo's sample config (the demo configuration)."""
    return REPO / "gridbridge.yaml"
