"""`MatchSettings`: everything one matching run is configured by.

Thresholds and the model file come from the `matching:` section of gridbridge.yaml
(`MatchSettings.from_config`); m/u probabilities from a versioned model JSON (default
`matching/default_model.json`).
Blocking rules and comparisons default to the entity's standard library sets.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
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
    def from_config(cls, config) -> "MatchSettings":
        """From a loaded gridbridge config (`schemas.config.Config`): its `matching:` thresholds and the
        model file a sync scores with (`MatchingConfig.model_path`: configured, else the trained default)."""
        m = config.matching
        return cls(auto_match=m.auto_match, review=m.review, model_path=m.model_path(config))

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
        return dataclasses.replace(self, **changes)
