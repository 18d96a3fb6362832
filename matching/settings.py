"""`MatchSettings`: everything one matching run is configured by.

Thresholds come from the `matching:` section of gridbridge.yaml (`MatchSettings.from_config`);
m/u probabilities come from a versioned model JSON (default `matching/default_model.json`).
Blocking rules and comparisons default to the entity's standard library sets.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from matching.blocking import DEFAULT_RULES, BlockingRule
from matching.clustering import Thresholds
from matching.comparisons import DEFAULT_COMPARISONS, Comparison
from matching.scoring import Model


@dataclass(frozen=True)
class MatchSettings:
    auto_match: float = 0.95
    review: float = 0.6
    duplicate: float | None = None            # same-source link threshold; None = auto_match
    model_path: str | Path | None = None      # None = matching/default_model.json
    model: Model | None = None                # an in-memory model wins over model_path
    blocking_rules: tuple[BlockingRule, ...] | None = None
    comparisons: tuple[Comparison, ...] | None = None

    def __post_init__(self) -> None:
        Thresholds(self.auto_match, self.review, self.duplicate)     # raises on bad thresholds

    @classmethod
    def from_config(cls, matching: dict | None) -> "MatchSettings":
        """From the config's `matching:` mapping: `auto_match`, `review`, `duplicate`, `model`."""
        matching = dict(matching or {})
        if "model" in matching:
            matching["model_path"] = matching.pop("model")
        allowed = {"auto_match", "review", "duplicate", "model_path"}
        unknown = set(matching) - allowed
        if unknown:
            raise ValueError(f"unknown matching setting(s) {sorted(unknown)}; "
                             f"allowed: auto_match, review, duplicate, model")
        return cls(**matching)

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.auto_match, self.review, self.duplicate)

    def rules_for(self, entity: str) -> tuple[BlockingRule, ...]:
        return tuple(self.blocking_rules or DEFAULT_RULES[entity])

    def comparisons_for(self, entity: str) -> tuple[Comparison, ...]:
        return tuple(self.comparisons or DEFAULT_COMPARISONS[entity])

    def model_for(self, entity: str) -> Model:
        model = self.model or Model.load(self.model_path, entity)
        if model.entity != entity:
            raise ValueError(f"model is for {model.entity!r}, not {entity!r}")
        return model

    def replace(self, **changes) -> "MatchSettings":
        return MatchSettings(**{f.name: getattr(self, f.name) for f in fields(self)} | changes)
