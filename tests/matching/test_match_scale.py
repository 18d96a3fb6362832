"""~20k synthetic records (numpy-generated): blocking stays bounded and the whole run completes.

No timing asserts. The accuracy bounds are loose on purpose: they catch a broken stage, not tune it.
"""
import numpy as np
import pandas as pd

from matching import link
from schemas.normalise.ids import check_chars

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗海丁金")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国玉兰红梅文斌")
COUNTIES = np.array(["640202", "640205", "640221", "640104", "640181", "642125", "640382"])


def _ids(county: np.ndarray, birth: pd.Series, seq: np.ndarray) -> np.ndarray:
    body = pd.Series(county) + birth.str.replace("-", "").to_numpy() + pd.Series(seq).astype(str).str.zfill(3)
    return (body + check_chars(body)).to_numpy()


def synthetic(n_persons: int = 10_000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_persons
    common_first = np.linspace(3, 1, len(SURNAMES))
    sur = rng.choice(len(SURNAMES), n, p=common_first / common_first.sum())
    g1, g2 = rng.integers(0, len(GIVEN), n), rng.integers(-len(GIVEN) // 2, len(GIVEN), n)   # g2 < 0: 2-char name
    name = np.array([SURNAMES[s] + GIVEN[a] + (GIVEN[b] if b >= 0 else "") for s, a, b in zip(sur, g1, g2)])
    # toy pinyin: characters pair up into homophones (index // 2)
    pinyin = np.array([f"s{s}g{a // 2}" + (f"g{b // 2}" if b >= 0 else "") for s, a, b in zip(sur, g1, g2)])
    days = pd.to_timedelta(rng.integers(0, 80 * 365, n), unit="D")
    birth = pd.Series(pd.Timestamp("1940-01-01") + days).dt.strftime("%Y-%m-%d")
    sex = rng.choice(["1", "2"], n)
    seq = rng.integers(0, 500, n) * 2 + (sex == "1")
    ids = _ids(rng.choice(COUNTIES, n), birth, seq)
    household = rng.integers(0, n // 3, n)                    # ~3 persons per house, one phone each
    addr = np.array([f"苑{h // 40}|{h % 40 // 8 + 1}|{h % 8 // 4 + 1}|{h % 4 + 1}01" for h in household])
    phone = np.array([f"+86139{h:08d}" for h in household])
    truth = pd.DataFrame({"person": np.arange(n), "name": name, "name_key": name, "name_pinyin": pinyin,
                          "sex": sex, "ethnicity": "01", "birth_date": birth, "id_number": ids, "phone": phone,
                          "address_key": addr})

    police = truth.sample(frac=0.95, random_state=seed).assign(source="police")
    grid = truth.sample(frac=0.95, random_state=seed + 1).assign(source="grid")
    m = len(grid)
    noisy = lambda p: rng.random(m) < p  # noqa: E731
    grid.loc[noisy(0.10), "id_number"] = None
    typo = noisy(0.02) & grid["id_number"].notna().to_numpy()
    grid.loc[typo, "id_number"] = grid.loc[typo, "id_number"].str.slice(0, 17) + "0"
    stale = noisy(0.15)
    grid.loc[stale, "phone"] = [f"+86150{k:08d}" for k in rng.integers(0, 10**8, stale.sum())]
    moved = noisy(0.15)
    grid.loc[moved, "address_key"] = grid.loc[moved, "address_key"].str.replace("|1|", "|2|", regex=False)
    bday = noisy(0.03)
    grid.loc[bday, "birth_date"] = grid.loc[bday, "birth_date"].str.slice(0, 9) + "5"
    dup = grid.sample(n=200, random_state=seed + 2)             # 重户 inside the grid
    records = pd.concat([police, grid, dup], ignore_index=True)
    records["source_key"] = [f"k{i}" for i in range(len(records))]
    return records


def test_twenty_thousand_records_bounded_blocking_and_sane_clusters():
    records = synthetic()
    assert 19_000 <= len(records) <= 20_000
    result = link(records)
    assert len(result.pairs) < 5 * len(records)                # bounded: no quadratic blow-up
    assert (result.blocking_report["pairs"] <= 2 * len(records)).all()
    x = result.xref.merge(records[["source", "source_key", "person"]], on=["source", "source_key"])
    assert len(x) == len(records) and x["person_id"].notna().all()
    # pairwise precision / recall over records, counted per true person and per assigned id
    per_id = x.groupby("person_id")["person"].nunique()
    assert (per_id > 1).mean() < 0.01                          # ids holding two real persons
    recall = x.groupby("person")["person_id"].nunique().eq(1).mean()
    assert recall > 0.95                                       # persons kept under one id
