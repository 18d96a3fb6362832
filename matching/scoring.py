"""Fellegi–Sunter scoring of compared pairs with a versioned JSON model.

match_weight = log2(prior / (1 - prior)) + Σ w_c + Σ w_group,  w_c = log2(m_c / u_c) of the level
the pair hit (0 for a null level); match_probability = 2^w / (1 + 2^w).

*Groups* hold comparisons that are not independent given a non-match. Phone and address are one
household signal (stack-notes §11: parent and child share both), so their summed weight counts as
one term `w_household` that is capped at `max_weight`, and gets no positive credit at all when a
comparison in `no_credit_when_else` (ID, name, birth date) is at its `else` level: a household can
corroborate, never outvote, a clear identity disagreement. Per-comparison weights stay as columns
(`w_id`, `w_name`, …, raw `w_phone`/`w_address` next to the `w_household` that was counted) so every
score can be explained from the row alone.

`Model` is what a later EM step fills in; today `default_model.json` holds hand-set priors.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_MODEL_PATH = Path(__file__).with_name("default_model.json")


@dataclass(frozen=True)
class Group:
    """Comparisons scored as one capped signal (see module docstring)."""
    name: str
    comparisons: tuple[str, ...]
    max_weight: float
    no_credit_when_else: tuple[str, ...] = ()


@dataclass
class Model:
    """m/u probabilities per comparison level, the prior, and the capped groups of one entity.

    `levels[comparison][level_label] = {"m": …, "u": …}`. `version` is bumped by whoever changes
    the numbers (EM training, hand edits); scored outputs record it.
    """
    entity: str
    version: int
    prior: float
    levels: dict[str, dict[str, dict[str, float]]]
    groups: tuple[Group, ...] = ()
    description: str = ""
    trained_by: str = "hand-set priors"

    def __post_init__(self) -> None:
        self.groups = tuple(g if isinstance(g, Group) else Group(
            g["name"], tuple(g["comparisons"]), float(g["max_weight"]), tuple(g.get("no_credit_when_else", ())))
            for g in self.groups)
        if not 0 < self.prior < 1:
            raise ValueError(f"prior must be in (0, 1), got {self.prior}")
        for comp, lv in self.levels.items():
            for label, p in lv.items():
                if not (0 < p["m"] <= 1 and 0 < p["u"] <= 1):
                    raise ValueError(f"{self.entity}.{comp}.{label}: m and u must be in (0, 1]")

    # --- JSON ------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, entity: str = "person") -> "Model":
        """The `entity` model from a model file (default: `matching/default_model.json`)."""
        doc = json.loads(Path(path or DEFAULT_MODEL_PATH).read_text(encoding="utf-8"))
        if entity not in doc:
            raise ValueError(f"model file has no {entity!r} model (has {sorted(doc)})")
        return cls.from_dict(doc[entity])

    @classmethod
    def from_dict(cls, d: dict) -> "Model":
        known = {"entity", "version", "prior", "levels", "groups", "description", "trained_by"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model keys {sorted(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["groups"] = [{**asdict(g), "comparisons": list(g.comparisons),
                        "no_credit_when_else": list(g.no_credit_when_else)} for g in self.groups]
        return d

    def save(self, path: str | Path) -> None:
        """Write this entity's model into `path`, keeping the other entities already there."""
        path = Path(path)
        doc = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        doc[self.entity] = self.to_dict()
        path.write_text(dump_models(doc), encoding="utf-8")

    # --- weights ---------------------------------------------------------------------------------
    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    def weight(self, comparison: str, label: str) -> float:
        if label == "null":
            return 0.0
        p = self.levels[comparison][label]
        return float(np.log2(p["m"] / p["u"]))

    def check(self, comparisons) -> None:
        """Every level of every comparison has m/u, and every group names known comparisons."""
        missing = [f"{c.name}.{lv.label}" for c in comparisons for lv in c.levels
                   if lv.label not in self.levels.get(c.name, {})]
        if missing:
            raise ValueError(f"{self.entity} model {self.version} lacks m/u for {missing}")
        names = {c.name for c in comparisons}
        for g in self.groups:
            bad = (set(g.comparisons) | set(g.no_credit_when_else)) - names
            if bad:
                raise ValueError(f"group {g.name!r} names unknown comparisons {sorted(bad)}")


def dump_models(doc: dict) -> str:
    """JSON of a model file, with every `{"m": …, "u": …}` on one line (diffs stay readable)."""
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    return re.sub(r'\{\s*"m": ([^,\s]+),\s*"u": ([^\s}]+)\s*\}', r'{"m": \1, "u": \2}', text) + "\n"


def _weight_table(model: Model, comp) -> np.ndarray:
    """Index `gamma + 1` -> weight (index 0 is the null level)."""
    labels = comp.labels
    return np.array([model.weight(comp.name, labels[g]) for g in range(-1, len(comp.levels))])


def score(gammas: pd.DataFrame, model: Model, comparisons) -> pd.DataFrame:
    """`gammas` (from `comparisons.compute_gammas`) plus `w_<comparison>`, `w_<group>`,
    `match_weight` and `match_probability`.

    Seam for term-frequency adjustments (later issue): they add to a comparison's `w_` column
    before the sum below.
    """
    model.check(comparisons)
    out = gammas.copy()
    for comp in comparisons:
        out[f"w_{comp.name}"] = _weight_table(model, comp)[out[f"gamma_{comp.name}"].to_numpy() + 1]
    grouped = {c for g in model.groups for c in g.comparisons}
    total = np.full(len(out), model.prior_weight)
    for comp in comparisons:
        if comp.name not in grouped:
            total += out[f"w_{comp.name}"].to_numpy()
    for g in model.groups:
        raw = sum(out[f"w_{c}"].to_numpy() for c in g.comparisons)
        capped = np.minimum(raw, g.max_weight)
        disagree = np.zeros(len(out), dtype=bool)
        for c in g.no_credit_when_else:
            disagree |= out[f"gamma_{c}"].to_numpy() == 0
        capped = np.where(disagree, np.minimum(capped, 0.0), capped)
        out[f"w_{g.name}"] = capped
        total += capped
    out["match_weight"] = total
    out["match_probability"] = 1.0 / (1.0 + np.exp2(-np.clip(total, -60, 60)))
    return out


def weight_columns(comparisons, model: Model) -> list[str]:
    """The `w_` columns `score` adds, in order (for review frames and explanations)."""
    return [f"w_{c.name}" for c in comparisons] + [f"w_{g.name}" for g in model.groups]
