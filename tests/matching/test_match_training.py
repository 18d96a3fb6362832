"""Unsupervised training: EM recovers a known model, u from random pairs, TF weights, demo F1."""
import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matching import MatchSettings, Model, link
from matching.comparisons import Comparison, exact
from matching.records import prepare_records
from matching.scoring import TermFrequency, score
from matching.training import (TrainingOptions, estimate_u, expectation_maximisation, gamma_patterns,
                               random_pairs, train)

REPO = Path(__file__).resolve().parents[2]

# --- EM on synthetic gamma vectors ----------------------------------------------------------------
TRUE_M = [np.array([0.05, 0.15, 0.8]), np.array([0.1, 0.9]), np.array([0.02, 0.08, 0.2, 0.7])]
TRUE_U = [np.array([0.9, 0.08, 0.02]), np.array([0.7, 0.3]), np.array([0.85, 0.1, 0.04, 0.01])]


def synthetic_gammas(n: int, lam: float, seed: int = 1, null_rate: float = 0.1) -> pd.DataFrame:
    """Pairs drawn from the known model: a match with chance `lam`, levels independent given it."""
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < lam
    cols = {}
    for j, (m, u) in enumerate(zip(TRUE_M, TRUE_U)):
        g = np.where(is_match, rng.choice(len(m), n, p=m), rng.choice(len(u), n, p=u))
        g[rng.random(n) < null_rate] = -1
        cols[f"gamma_c{j}"] = g.astype(np.int8)
    return pd.DataFrame(cols)


COMPS = [Comparison(f"c{j}", (f"x{j}",), tuple(exact(f"x{j}", f"l{k}") for k in range(len(m) - 1)))
         for j, m in enumerate(TRUE_M)]


def test_em_recovers_known_m_and_lambda_with_u_fixed():
    patterns, counts = gamma_patterns(synthetic_gammas(200_000, 0.2), COMPS)
    assert len(patterns) <= np.prod([len(m) + 1 for m in TRUE_M])      # worked on unique patterns
    start = [np.full(len(m), 1 / len(m)) for m in TRUE_M]
    start = [s + np.linspace(0, 0.1, len(s)) for s in start]           # break symmetry, better level up
    em = expectation_maximisation(patterns, counts, [s / s.sum() for s in start], TRUE_U, 0.5)
    assert em.converged
    assert em.lam == pytest.approx(0.2, abs=0.01)
    for got, want in zip(em.m, TRUE_M):
        np.testing.assert_allclose(got, want, atol=0.02)


def test_em_with_free_u_recovers_both_distributions():
    patterns, counts = gamma_patterns(synthetic_gammas(200_000, 0.3, seed=2), COMPS)
    m0 = [np.array([0.1, 0.3, 0.6]), np.array([0.3, 0.7]), np.array([0.1, 0.1, 0.3, 0.5])]
    u0 = [np.array([0.6, 0.3, 0.1]), np.array([0.5, 0.5]), np.array([0.6, 0.2, 0.1, 0.1])]
    em = expectation_maximisation(patterns, counts, m0, u0, 0.5, fit_u=True)
    assert em.lam == pytest.approx(0.3, abs=0.02)
    for got, want in zip(em.m + em.u, TRUE_M + TRUE_U):
        np.testing.assert_allclose(got, want, atol=0.03)


def test_em_keeps_fixed_comparisons_and_never_returns_zero():
    g = synthetic_gammas(20_000, 0.2, seed=3)
    g["gamma_c1"] = np.int8(-1)                 # never observed
    patterns, counts = gamma_patterns(g, COMPS)
    m0 = [np.array([0.1, 0.3, 0.6]), np.array([0.4, 0.6]), np.array([0.1, 0.1, 0.3, 0.5])]
    em = expectation_maximisation(patterns, counts, m0, TRUE_U, 0.5, fixed=(False, True, False))
    np.testing.assert_array_equal(em.m[1], m0[1])
    assert all((m > 0).all() and m.sum() == pytest.approx(1) for m in em.m)


# --- u from random pairs --------------------------------------------------------------------------
def synthetic_records(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"N{i}" for i in range(30)])
    p = np.arange(30, 0, -1, dtype=float)
    p /= p.sum()
    rows = []
    for source in ("police", "grid"):
        rows.append(pd.DataFrame({"source": source, "source_key": [f"{source[0]}{i}" for i in range(n)],
                                  "name_key": rng.choice(names, n, p=p),
                                  "sex": rng.choice(["1", "2"], n, p=[0.7, 0.3])}))
    return pd.concat(rows, ignore_index=True)


def test_random_pairs_are_cross_source_and_distinct():
    recs = prepare_records(synthetic_records(300), "person", ("name_key", "sex"))
    pairs = random_pairs(recs, 5000, seed=4)
    assert len(pairs) == len(pairs.drop_duplicates()) and len(pairs) > 4900
    src = lambda s: s.str.split(":").str[0]                      # noqa: E731
    assert (src(pairs.l_id) != src(pairs.r_id)).all()
    assert (pairs.l_id < pairs.r_id).all()


def test_u_from_random_pairs_matches_the_level_frequencies():
    raw = synthetic_records(2000)
    recs = prepare_records(raw, "person", ("name_key", "sex"))
    comps = [Comparison("name", ("name_key",), (exact("name_key"),)), Comparison("sex", ("sex",), (exact("sex"),))]
    u, counts, n = estimate_u(recs, comps, 300_000, seed=5)
    assert n > 290_000
    # the exact share over ALL police x grid pairs, from the two sides' value frequencies
    for comp, col, got in zip(comps, ("name_key", "sex"), u):
        fl = raw[raw.source == "police"][col].value_counts(normalize=True)
        fr = raw[raw.source == "grid"][col].value_counts(normalize=True)
        want = float((fl * fr.reindex(fl.index, fill_value=0)).sum())
        assert got[1] == pytest.approx(want, rel=0.03), comp.name      # gamma 1 = exact
        assert got.sum() == pytest.approx(1.0)
    assert u[1][1] == pytest.approx(0.7 ** 2 + 0.3 ** 2, abs=0.02)


# --- term frequencies -----------------------------------------------------------------------------
def test_tf_adjustment_weighs_a_common_exact_name_below_a_rare_one():
    from matching.comparisons import PERSON_COMPARISONS
    model = Model.load(entity="person")                       # name exact: u = 0.001
    splink = dataclasses.replace(model, term_frequencies=(
        TermFrequency("name", "exact", "name_key", lower_only=False),))
    lower = dataclasses.replace(model, term_frequencies=(TermFrequency("name", "exact", "name_key"),))
    names = ["王伟"] * 160 + ["张伟"] * 80 + [f"稀{i}" for i in range(3758)] + ["欧阳娜娜", "欧阳娜娜"]
    recs = pd.DataFrame({"record_id": [f"r{i}" for i in range(len(names))], "name_key": names})
    exact_name = next(g for g, lab in PERSON_COMPARISONS[1].labels.items() if lab == "exact")
    gammas = pd.DataFrame({"l_id": ["r0", "r160", "r3998"], "r_id": ["r1", "r161", "r3999"]})
    for comp in PERSON_COMPARISONS:
        gammas[f"gamma_{comp.name}"] = np.int8(exact_name if comp.name == "name" else -1)
    plain = score(gammas, splink, PERSON_COMPARISONS)
    adjusted = score(gammas, splink, PERSON_COMPARISONS, records=recs)
    w = adjusted["w_name"].to_numpy()
    assert w[0] < w[1] < w[2]                          # 王伟 (4%) < 张伟 (2%) < 欧阳娜娜 (0.05%)
    m = model.levels["name"]["exact"]["m"]
    np.testing.assert_allclose(w, np.log2(m / np.array([0.04, 0.02, 0.0005])))
    np.testing.assert_allclose(adjusted["tf_name"], w - plain["w_name"].to_numpy())
    assert adjusted["match_weight"].iloc[0] < plain["match_weight"].iloc[0]
    # lower_only: the same penalties for common names, no bonus above the average for a rare one
    low = score(gammas, lower, PERSON_COMPARISONS, records=recs)
    np.testing.assert_allclose(low["w_name"].iloc[:2], w[:2])
    assert low["tf_name"].iloc[2] == 0.0 and low["w_name"].iloc[2] == pytest.approx(plain["w_name"].iloc[2])
    # a model without TF entries scores the same with or without records
    same = score(gammas, model, PERSON_COMPARISONS, records=recs)
    np.testing.assert_allclose(same["match_weight"], score(gammas, model, PERSON_COMPARISONS)["match_weight"])


# --- model file -----------------------------------------------------------------------------------
def test_trained_model_round_trip_and_old_files_still_load(tmp_path):
    recs = synthetic_records(400)
    recs["birth_date"] = "1990-01-01"
    recs["name_pinyin"] = recs["name_key"]
    model = train(recs, "person", options=TrainingOptions(random_pairs=20_000))
    path = tmp_path / "model.json"
    Model.load(entity="house").save(path)
    model.save(path)
    again = Model.load(path, "person")
    assert again == model
    assert again.term_frequencies == (TermFrequency("name", "exact", "name_key"),)
    assert again.training["records"] == {"grid": 400, "police": 400}
    assert {"trained_on", "lambda", "candidate_pairs", "random_pairs"} <= set(again.training)
    assert Model.load(path, "house") == Model.load(entity="house")
    # the hand-set default file keeps its shape: no TF or training keys written for it
    d = Model.load(entity="person").to_dict()
    assert "term_frequencies" not in d and "training" not in d


def test_train_rejects_too_little_data():
    with pytest.raises(ValueError, match="cannot train"):
        train(synthetic_records(1).head(1), "person")


# --- demo data: trained vs default F1 -------------------------------------------------------------
def _standardised_demo(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from pipelines.demo import generate
    from schemas import config as cfgmod
    from schemas.standardise import standardise
    paths = generate(root / "demo", persons=1000, seed=11)
    cfg = cfgmod.load(REPO / "gridbridge.yaml")
    frames = []
    for source, db in (("police", paths.police_db), ("grid", paths.grid_db)):
        ent = cfg.entity(source, "person")
        with sqlite3.connect(db) as con:
            raw = pd.read_sql_query(f'SELECT * FROM "{ent.table}"', con, dtype=str)
        frames.append(standardise(raw, source, "person", ent)[0])
    with sqlite3.connect(paths.truth_db) as con:
        truth = pd.read_sql_query("SELECT source, source_key, truth_id FROM person_record", con)
    return pd.concat(frames, ignore_index=True), truth


def _pairs(df: pd.DataFrame, key: str) -> set:
    df = df.assign(rid=df["source"] + ":" + df["source_key"])[["rid", key]]
    m = df.merge(df, on=key)
    m = m[(m.rid_x < m.rid_y) & (m.rid_x.str.split(":").str[0] != m.rid_y.str.split(":").str[0])]
    return set(zip(m.rid_x, m.rid_y))


def cross_f1(xref: pd.DataFrame, truth: pd.DataFrame) -> float:
    pred, true = _pairs(xref, "person_id"), _pairs(truth.merge(xref[["source", "source_key"]]), "truth_id")
    tp = len(pred & true)
    return 2 * tp / (len(pred) + len(true))


@pytest.mark.slow
def test_model_trained_on_demo_data_is_not_worse_than_the_default(tmp_path):
    records, truth = _standardised_demo(tmp_path)
    model = train(records, "person")
    default_f1 = cross_f1(link(records, "person").xref, truth)
    trained_f1 = cross_f1(link(records, "person", MatchSettings(model=model)).xref, truth)
    print(f"cross-system person F1: default {default_f1:.4f}, trained {trained_f1:.4f}")
    assert trained_f1 >= default_f1 - 1e-9
    assert trained_f1 > 0.99
    # learned, not copied: exact ID is decisive, sex agreement is weak, the prior is about 1/n
    assert model.weight("id", "exact") > 15 > model.weight("sex", "exact")
    assert model.weight("name", "else") < 0
    assert 1e-5 < model.prior < 1e-2
    assert 0.5 < model.training["lambda"] < 1 and model.training["em_converged"]
