"""`gridbridge.yaml`: load, substitute ${ENV} secrets, validate (unknown keys are errors).

Relative paths (file sources, `sqlite:///` URLs, warehouse) are resolved against the config file's folder,
so a config works the same from any working directory.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.canonical import DEFAULT_SURVIVORSHIP, ENTITIES, FIELDS, SOURCES, SURVIVORSHIP_RULES


class ConfigError(Exception):
    """A user error in the configuration: the message is one line that names the place."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntityConfig(_Strict):
    table: str | None = None
    query: str | None = None
    file: str | None = None
    sheet: str | None = None
    key: str
    updated_at: str | None = None
    encoding: str | None = None
    columns: dict[str, str]
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)
    date_formats: dict[str, list[str]] = Field(default_factory=dict)
    area_code: str | None = None  # default landline area code for bare 7–8 digit phones


class SourceConfig(_Strict):
    connector: Literal["sql", "csv", "xlsx", "parquet"]
    url: str | None = None
    path: str | None = None
    entities: dict[Literal["person", "house"], EntityConfig]
    retries: int = Field(default=3, ge=0)           # transient failures (unreachable, timeouts) retried
    retry_wait_s: float = Field(default=1.0, ge=0)  # first wait; doubles per attempt
    timeout_s: float = Field(default=30.0, gt=0)    # connect timeout handed to the driver

    @model_validator(mode="after")
    def _where(self):
        if self.connector == "sql" and not self.url:
            raise ValueError("connector sql needs url:")
        return self


class WarehouseConfig(_Strict):
    path: str = "warehouse/gridbridge.duckdb"
    keep_landing_runs: int = Field(default=14, ge=1)  # raw extracts kept per run for replay/audit (newest N runs)


class MatchingConfig(_Strict):
    auto_match: float = 0.95
    review: float = 0.6
    # trained model (JSON, `gridbridge train`); default: <warehouse dir>/models/matching_model.json if it exists,
    # else the built-in starting model
    model: str | None = None

    def model_target(self, config: "Config") -> Path:
        """Where `gridbridge train` writes the model the next sync reads: `model:`, else the default."""
        return config.resolve(self.model) if self.model else config.state_dir / "models" / "matching_model.json"

    def model_path(self, config: "Config") -> Path | None:
        """The model file a sync scores with: `model:` as configured, else the default if trained."""
        target = self.model_target(config)
        return target if self.model or target.exists() else None

    @model_validator(mode="after")
    def _order(self):
        if not 0 <= self.review <= self.auto_match <= 1:
            raise ValueError("need 0 <= review <= auto_match <= 1")
        return self


class QualityConfig(_Strict):
    """Gate thresholds (schemas/expectations.py lists every gate, its id and default level)."""
    id_number_valid_min: float = 0.95
    quarantine_max: float = 0.10
    min_rows: int = 1
    row_count_band: tuple[float, float] = (0.8, 1.5)   # loaded rows vs the last successful run: a half-empty export fails
    codes_known_min: float = 0.99
    birth_date_min: str = "1880-01-01"
    freshness_max_days: int | None = None               # newest 更新时间 at most this old (None: only "not older than last run")
    match_rate_max_change: float = 0.05                 # absolute change of the share of persons in both systems
    review_band_ratio: float = 2.0
    review_band_slack: int = 20
    weight_psi_max: float = 0.25
    levels: dict[str, Literal["blocking", "warning"]] = Field(default_factory=dict)

    @field_validator("levels")
    @classmethod
    def _known_gates(cls, v):
        from schemas.expectations import GATES
        unknown = sorted(set(v) - set(GATES))
        if unknown:
            raise ValueError(f"unknown gate {', '.join(unknown)} (gates: {', '.join(GATES)})")
        return v

    @field_validator("row_count_band")
    @classmethod
    def _band(cls, v):
        if not 0 <= v[0] <= 1 <= v[1]:
            raise ValueError("row_count_band must be [low, high] with low <= 1 <= high")
        return v


class Config(_Strict):
    sources: dict[Literal["police", "grid"], SourceConfig]
    warehouse: WarehouseConfig = WarehouseConfig()
    matching: MatchingConfig = MatchingConfig()
    survivorship: dict[str, str] = Field(default_factory=dict)
    quality: QualityConfig = QualityConfig()
    base_dir: str = "."  # set by load(); the config file's folder

    @field_validator("survivorship")
    @classmethod
    def _rules(cls, v: dict[str, str]):
        for field, rule in v.items():
            if rule not in SURVIVORSHIP_RULES:
                raise ValueError(f"survivorship.{field}: unknown rule {rule!r} (one of {', '.join(SURVIVORSHIP_RULES)})")
        return v

    # --- derived, resolved paths -------------------------------------------------------------
    def resolve(self, p: str) -> Path:
        path = Path(os.path.expanduser(p))
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def warehouse_path(self) -> Path:
        return self.resolve(self.warehouse.path)

    @property
    def state_dir(self) -> Path:
        """Operational state beside the warehouse: run log, steward decisions, landing, reports."""
        return self.warehouse_path.parent

    def survivorship_rule(self, field: str) -> str:
        return self.survivorship.get(field, DEFAULT_SURVIVORSHIP.get(field, "police"))

    def entity(self, source: str, entity: str) -> EntityConfig | None:
        return self.sources[source].entities.get(entity) if source in self.sources else None


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _substitute_env(node: Any, where: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _substitute_env(v, f"{where}.{k}" if where else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_env(v, where) for v in node]
    if isinstance(node, str):
        def sub(m: re.Match) -> str:
            if m.group(1) not in os.environ:
                raise ConfigError(f"{where}: environment variable {m.group(1)} is not set")
            return os.environ[m.group(1)]
        return _ENV.sub(sub, node)
    return node


def _one_line(err: ValidationError, path: Path) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "required key is missing"
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{path}: {loc}: {msg}{more}"


def parse(data: dict, base_dir: str | Path = ".", name: str = "gridbridge.yaml") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping at the top level")
    data = _substitute_env(data)
    try:
        cfg = Config(**data, base_dir=str(base_dir))
    except ValidationError as e:
        raise ConfigError(_one_line(e, Path(name))) from None
    for source in SOURCES:
        if source not in cfg.sources:
            raise ConfigError(f"{name}: sources.{source}: required source is missing")
        for entity, ec in cfg.sources[source].entities.items():
            where = f"{name}: sources.{source}.entities.{entity}"
            unknown = sorted(set(ec.columns) - set(FIELDS[entity]))
            if unknown:
                raise ConfigError(f"{where}.columns: unknown canonical field {unknown[0]!r}")
            if "name" not in ec.columns and entity == "person":
                raise ConfigError(f"{where}.columns: person needs a name column")
            if not (ec.table or ec.query or ec.file or ec.sheet or cfg.sources[source].path):
                raise ConfigError(f"{where}: give table:, query:, file: or sheet: (or path: on the source)")
    if "person" not in cfg.sources["police"].entities or "person" not in cfg.sources["grid"].entities:
        raise ConfigError(f"{name}: both sources need a person entity")
    return cfg


def load(path: str | Path = "gridbridge.yaml") -> Config:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path} (pass --config, or run `gridbridge demo` to make a sample)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{at}: not valid YAML ({getattr(e, 'problem', e)})") from None
    return parse(data, base_dir=path.resolve().parent, name=str(path))


__all__ = ["Config", "ConfigError", "EntityConfig", "SourceConfig", "load", "parse", "ENTITIES"]
