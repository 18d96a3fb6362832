"""Parametrised normaliser cases, evaluated in one vectorised call per test module."""
from __future__ import annotations

import pandas as pd


class Batched:
    def __init__(self, fn):
        self.fn = fn  # Series -> DataFrame, one row per input
        self.inputs: list = []
        self._cache: dict | None = None

    def cases(self, values):
        """Register parametrised inputs (a value or a tuple whose first item is the value)."""
        self.inputs.extend(v[0] if isinstance(v, tuple) else v for v in values)
        return values

    def _batch(self) -> dict:
        if self._cache is None:
            vals = list(dict.fromkeys(v for v in self.inputs if isinstance(v, str)))
            self._cache = dict(zip(vals, self.fn(pd.Series(vals, dtype=object)).to_dict("records")))
        return self._cache

    def one(self, value) -> dict:
        if isinstance(value, str) and value in self._batch():
            return self._batch()[value]
        return self.fn(pd.Series([value], dtype=object)).iloc[0].to_dict()
