"""Demo sources: a police (一标三实) and a grid (网格化) SQLite database derived from one synthetic
population, plus the generator's truth (truth.sqlite) for scoring matching and reconciliation.

    from pipelines.demo import generate
    paths = generate("demo", persons=2000, seed=20261123)

Deterministic for a given (persons, seed). Rates and table layouts: see plan.py, rows.py, houses.py.
"""
from __future__ import annotations

from pathlib import Path

from .systems import DemoPaths, build

__all__ = ["DemoPaths", "generate"]


def generate(out_dir: str | Path, persons: int = 2000, seed: int = 20261123) -> DemoPaths:
    """Write out_dir/police.sqlite, grid.sqlite and truth.sqlite (overwriting them) and return their paths."""
    if persons < 1:
        raise ValueError("persons must be at least 1")
    return build(out_dir, persons, seed)
