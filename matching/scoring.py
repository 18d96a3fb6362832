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

*Term-frequency adjustment* (Splink's): a `TermFrequency` entry of the model names a comparison
level (name `exact`) and the record column whose value frequencies replace the level's average u:
at that level the weight becomes log2(m / max(tf(value), min_u)) instead of log2(m / u), so a pair
agreeing on 王伟 gains less than one agreeing on a rare name. Frequencies come from the records
being scored (`score(..., records=prepared)`); the adjustment is in `w_<comparison>` and, for
explanations, also alone in `tf_<comparison>`.

`default_model.json` holds hand-set priors; `matching.training.train` estimates m/u from data.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
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


@dataclass(frozen=True)
class TermFrequency:
    """At `level` of `comparison`, use u = frequency of the pair's `column` value (floored at
    `min_u`); `weight` scales the adjustment (1 = Splink's full adjustment, 0 = none).

    `lower_only` (default) applies only the penalty of common values, never a bonus for rare ones
    above the level's average weight: measured on the demo at 10k persons, the bonus (+1.6 bits for
    a rare name) auto-matched two different people sharing a rare name and birthday whom the
    average weight sent to review. `lower_only=False` is Splink's two-sided adjustment."""
    comparison: str
    level: str
    column: str
    weight: float = 1.0
    min_u: float = 1e-7
    lower_only: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.weight <= 1:
            raise ValueError(f"term frequency weight for {self.comparison} must be in [0, 1]")
        if not 0 < self.min_u < 1:
            raise ValueError(f"term frequency min_u for {self.comparison} must be in (0, 1)")


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
    term_frequencies: tuple[TermFrequency, ...] = ()
    training: dict = field(default_factory=dict)   # trained_on, record counts, lambda, EM stats

    def __post_init__(self) -> None:
        self.groups = tuple(g if isinstance(g, Group) else Group(
            g["name"], tuple(g["comparisons"]), float(g["max_weight"]), tuple(g.get("no_credit_when_else", ())))
            for g in self.groups)
        self.term_frequencies = tuple(t if isinstance(t, TermFrequency) else TermFrequency(**t)
                                      for t in self.term_frequencies)
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
        known = {"entity", "version", "prior", "levels", "groups", "description", "trained_by",
                 "term_frequencies", "training"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model keys {sorted(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["groups"] = [{**asdict(g), "comparisons": list(g.comparisons),
                        "no_credit_when_else": list(g.no_credit_when_else)} for g in self.groups]
        d["term_frequencies"] = [asdict(t) for t in self.term_frequencies]
        if not d["term_frequencies"]:
            del d["term_frequencies"]          # hand-set files stay as they were
        if not d["training"]:
            del d["training"]
        return d

    @property
    def fingerprint(self) -> str:
        """12 hex digits of the SHA-1 of the model's canonical JSON: which numbers scored a run."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]

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
            raise ValueError(f"{self.entity} model {self.version} lacks m/u for {missing} (a model file "
                             f"from before these comparisons existed: run `gridbridge train` again)")
        names = {c.name for c in comparisons}
        for g in self.groups:
            bad = (set(g.comparisons) | set(g.no_credit_when_else)) - names
            if bad:
                raise ValueError(f"group {g.name!r} names unknown comparisons {sorted(bad)}")
        for t in self.term_frequencies:
            if t.level not in self.levels.get(t.comparison, {}):
                raise ValueError(f"term frequency names unknown level {t.comparison}.{t.level}")


def dump_models(doc: dict) -> str:
    """JSON of a model file, with every `{"m": …, "u": …}` on one line (diffs stay readable)."""
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    return re.sub(r'\{\s*"m": ([^,\s]+),\s*"u": ([^\s}]+)\s*\}', r'{"m": \1, "u": \2}', text) + "\n"


def _weight_table(model: Model, comp) -> np.ndarray:
    """Index `gamma + 1` -> weight (index 0 is the null level)."""
    labels = comp.labels
    return np.array([model.weight(comp.name, labels[g]) for g in range(-1, len(comp.levels))])


def value_frequencies(values: pd.Series) -> pd.Series:
    """value -> share of the non-null values equal to it (the term frequency)."""
    return values.dropna().value_counts(normalize=True)


def tf_adjustments(gammas: pd.DataFrame, records: pd.DataFrame, model: Model, comparisons) -> dict[str, np.ndarray]:
    """Per term-frequency comparison, the weight to add to each pair: log2(u / max(tf, min_u)) ×
    weight at the TF level (0 elsewhere; never above 0 when `lower_only`). The value is the left
    record's (both sides are equal at an exact level); frequencies are over all `records`
    (prepared, with `record_id`)."""
    by_name = {c.name: c for c in comparisons}
    index = pd.Index(records["record_id"])
    l_pos = index.get_indexer(gammas["l_id"]) if len(model.term_frequencies) else None
    out = {}
    for t in model.term_frequencies:
        comp = by_name[t.comparison]
        gamma = next(g for g, label in comp.labels.items() if label == t.level)
        at = gammas[f"gamma_{comp.name}"].to_numpy() == gamma
        adj = np.zeros(len(gammas))
        if at.any():
            col = records[t.column]
            freq = pd.Series(col.to_numpy()[l_pos[at]]).map(value_frequencies(col)).to_numpy(dtype=float)
            u_tf = np.maximum(np.nan_to_num(freq, nan=t.min_u), t.min_u)
            u_avg = model.levels[comp.name][t.level]["u"]
            adj[at] = t.weight * np.log2(u_avg / (np.maximum(u_tf, u_avg) if t.lower_only else u_tf))
        out[comp.name] = out.get(comp.name, 0.0) + adj
    return out


def score(gammas: pd.DataFrame, model: Model, comparisons, records: pd.DataFrame | None = None) -> pd.DataFrame:
    """`gammas` (from `comparisons.compute_gammas`) plus `w_<comparison>`, `w_<group>`,
    `match_weight` and `match_probability`.

    With `records` (the prepared frame the pair ids refer to) the model's term-frequency
    adjustments are added to their comparison's `w_` column and kept alone in `tf_<comparison>`;
    without it, or for a model without any, every level weighs its average log2(m/u).
    """
    model.check(comparisons)
    out = gammas.copy()
    for comp in comparisons:
        out[f"w_{comp.name}"] = _weight_table(model, comp)[out[f"gamma_{comp.name}"].to_numpy() + 1]
    if records is not None:
        for name, adj in tf_adjustments(out, records, model, comparisons).items():
            out[f"tf_{name}"] = adj
            out[f"w_{name}"] = out[f"w_{name}"].to_numpy() + adj
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
