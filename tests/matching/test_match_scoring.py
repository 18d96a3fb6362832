import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from matching.comparisons import DEFAULT_COMPARISONS, PERSON_COMPARISONS
from matching.scoring import Group, Model, score


@pytest.mark.parametrize("entity", ["person", "house"])
def test_default_model_is_complete_and_normalised(entity):
    model = Model.load(entity=entity)
    assert model.entity == entity and model.version >= 1
    model.check(DEFAULT_COMPARISONS[entity])
    for comp in DEFAULT_COMPARISONS[entity]:
        levels = model.levels[comp.name]
        assert set(levels) == {lv.label for lv in comp.levels}
        assert sum(v["m"] for v in levels.values()) == pytest.approx(1.0)
        assert sum(v["u"] for v in levels.values()) == pytest.approx(1.0)
        # better levels never weigh less than `else`
        w = [model.weight(comp.name, lv.label) for lv in comp.levels]
        assert min(w[:-1]) > w[-1]


def test_model_round_trip_keeps_other_entities(tmp_path):
    path = tmp_path / "model.json"
    Model.load(entity="house").save(path)
    person = Model.load(entity="person")
    bumped = replace(person, version=person.version + 1, trained_by="test")
    bumped.save(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert set(doc) == {"person", "house"}
    again = Model.load(path, "person")
    assert again.version == person.version + 1 and again.levels == person.levels
    assert again.groups == person.groups and isinstance(again.groups[0], Group)


def test_model_rejects_bad_input(tmp_path):
    d = Model.load(entity="person").to_dict()
    del d["levels"]["name"]["homophone"]
    with pytest.raises(ValueError, match="name.homophone"):
        Model.from_dict(d).check(PERSON_COMPARISONS)
    with pytest.raises(ValueError):
        Model.from_dict({**d, "prior": 0})
    with pytest.raises(ValueError):
        Model.from_dict({**d, "surprise": 1})


def _gammas(**levels) -> pd.DataFrame:
    """One pair whose comparisons hit the named levels (names as in the model)."""
    row = {}
    for comp in PERSON_COMPARISONS:
        label = levels.get(comp.name, "null")
        row[f"gamma_{comp.name}"] = next(g for g, lab in comp.labels.items() if lab == label)
    return pd.DataFrame([row]).astype("int8")


def test_weights_add_up_and_are_kept_per_comparison():
    model = Model.load(entity="person")
    out = score(_gammas(id="exact", name="exact", birth_date="exact"), model, PERSON_COMPARISONS)
    expected = model.prior_weight + sum(model.weight(c, "exact") for c in ("id", "name", "birth_date"))
    assert out["match_weight"].iloc[0] == pytest.approx(expected)
    assert out["w_sex"].iloc[0] == 0.0           # null level
    assert out["match_probability"].iloc[0] == pytest.approx(1 / (1 + 2 ** -expected))


def test_household_weight_is_capped_and_gated():
    model = Model.load(entity="person")
    cap = model.groups[0].max_weight
    both = score(_gammas(phone="exact", address="exact", name="exact"), model, PERSON_COMPARISONS)
    assert both["w_phone"].iloc[0] + both["w_address"].iloc[0] > cap       # raw weights kept
    assert both["w_household"].iloc[0] == pytest.approx(cap)
    # the parent/child shape: different birth date -> household gives no positive credit
    trap = score(_gammas(phone="exact", address="exact", name="jw_0.7", birth_date="else", sex="exact"),
                 model, PERSON_COMPARISONS)
    assert trap["w_household"].iloc[0] == 0.0
    # negative household evidence still counts
    moved = score(_gammas(phone="else", address="else", birth_date="else"), model, PERSON_COMPARISONS)
    assert moved["w_household"].iloc[0] == pytest.approx(
        model.weight("phone", "else") + model.weight("address", "else"))
    assert np.isfinite(trap["match_weight"]).all()
