"""Resources injected into the assets: the gridbridge config and a Parquet IO manager."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import dagster as dg
import pandas as pd

from pipelines.parquetref import ParquetRef
from schemas import config as cfgmod
from warehouse.files import owner_only, private_dir


class GridbridgeConfig(dg.ConfigurableResource):
    """Where `gridbridge.yaml` is; every asset reads the sources, rules and paths from it.

    While a run uses it (CLI and scheduled runs alike), every file the run creates is owner-only (umask 077)
    and ID numbers and phones in log records are masked."""

    config_path: str = "gridbridge.yaml"

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        from schemas.normalise.masking import install_log_masking

        install_log_masking()
        with owner_only():
            yield self

    def load(self) -> cfgmod.Config:
        return cfgmod.load(self.config_path)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Each asset's DataFrame is kept as `<base_dir>/<asset>.parquet` (latest materialisation), so a
    stage can be re-run alone and its data inspected with any Parquet reader. A dict (e.g. the address
    gazetteer) is kept as `<asset>.json`."""

    base_dir: str

    def _path(self, key: dg.AssetKey, suffix: str = ".parquet") -> Path:
        return Path(self.base_dir) / ("__".join(key.path) + suffix)

    @owner_only()  # the work folder and its files are owner-only (0700 / 0600)
    def handle_output(self, context: dg.OutputContext, obj: "pd.DataFrame | ParquetRef | dict") -> None:
        if isinstance(obj, dict):
            path = self._path(context.asset_key, ".json")
            private_dir(path.parent)
            path.with_suffix(".part").write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
            os.replace(path.with_suffix(".part"), path)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})
            return
        path = self._path(context.asset_key)
        private_dir(path.parent)
        if isinstance(obj, ParquetRef):  # already written batch by batch: just put it in place
            rows = obj.place_at(path).rows
        else:
            tmp = path.with_suffix(".parquet.part")
            obj.to_parquet(tmp, index=False)
            os.replace(tmp, path)
            rows = len(obj)
        os.chmod(path, 0o600)  # a file placed from elsewhere keeps its mode
        context.add_output_metadata({"rows": rows, "path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> "pd.DataFrame | ParquetRef | dict":
        if self._path(context.asset_key, ".json").exists():
            return json.loads(self._path(context.asset_key, ".json").read_text(encoding="utf-8"))
        path = self._path(context.asset_key)
        if not path.exists():
            raise dg.Failure(f"{context.asset_key.to_user_string()} has not been materialised yet ({path})")
        if (context.definition_metadata or {}).get("stream"):  # AssetIn(metadata={"stream": True}): the consumer streams it
            return ParquetRef(str(path))
        return pd.read_parquet(path)


def default_config_path() -> str:
    return os.environ.get("GRIDBRIDGE_CONFIG", "gridbridge.yaml")


def make_resources(config_path: str | None = None) -> dict:
    config_path = str(Path(config_path or default_config_path()).resolve())
    try:
        work = cfgmod.load(config_path).state_dir / "work"
    except cfgmod.ConfigError:
        work = Path(config_path).parent / ".gridbridge-work"  # the config error surfaces in the first asset
    return {"gridbridge": GridbridgeConfig(config_path=config_path), "io_manager": ParquetIOManager(base_dir=str(work))}
