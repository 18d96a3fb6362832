"""`gridbridge train`: a model learned from the last sync's records, saved where the next sync finds it."""
import json

import pytest

from pipelines.cli import main, run_sync
from schemas.config import load
from tests.demos import demo_sources


@pytest.fixture
def demo(tmp_path):
    demo_sources(tmp_path, persons=300, seed=21)
    return tmp_path / "gridbridge.yaml"


def test_train_needs_a_sync_first(demo, capsys):
    assert main(["train", "--config", str(demo)]) == 2
    assert "run `gridbridge sync` first" in capsys.readouterr().err


def test_trained_model_is_saved_for_both_entities_and_used_by_the_next_sync(demo, capsys):
    config = load(demo)
    assert config.matching.model_path(config) is None  # nothing trained yet: the built-in starting model
    assert run_sync(str(demo), quiet=True) == 0
    before = _probabilities(config)
    assert _models(config)["person"]["model"] == "built-in"
    assert main(["train", "--config", str(demo)]) == 0
    out = capsys.readouterr().out
    path = config.state_dir / "models" / "matching_model.json"
    assert str(path) in out and "the next sync uses it" in out
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert set(doc) == {"person", "house"}
    for entity in ("person", "house"):
        tr = doc[entity]["training"]
        assert tr["candidate_pairs"] > 0 and tr["em_converged"] is True and tr["random_pairs"] > 0
    assert config.matching.model_path(config) == path
    assert run_sync(str(demo), quiet=True) == 0
    after = _probabilities(config)
    # the same records scored by another model: the sync really used the trained file
    assert len(after) == len(before) and not after.equals(before)
    # and the run log says which model scored it
    from matching.scoring import Model
    used = _models(config)
    for entity in ("person", "house"):
        assert used[entity]["model"] == str(path)
        assert used[entity]["fingerprint"] == Model.load(path, entity).fingerprint
    assert used["person"]["fingerprint"] != Model.load(None, "person").fingerprint


def _models(config) -> dict:
    from warehouse.state import State
    return json.loads(State(config.state_dir).runs().iloc[0]["counts"])["models"]


def _probabilities(config):
    import duckdb
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        return con.execute("SELECT source, source_key, match_probability FROM person_xref "
                           "ORDER BY source, source_key").df()["match_probability"].round(9)
