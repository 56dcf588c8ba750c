"""The Python API's wrong kinds and wrong data (issue 33, items 3, 9, 12 and 13): each is one
TypeError or ValueError naming the argument, never an error from deep inside a library.

The fits are stand-ins (Normal draws in the canonical layout, :mod:`evalhelpers`): what is
tested is the API's own checks, and the claims wording on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evalhelpers import make_idata, normal_draws, point

from backends.base import FitResult
from evaluation import api
from evaluation.config import MAX_SEED
from evaluation.data.recipes import DataValidationError
from evaluation.data.twin import paper_twin_tables
from evaluation.fitting import OtherData

LEDGERS = ", ".join(api.judging.choices("claims"))
#: Judged quickly: no clustering, no figures.
QUICK = {"clustering": {"enabled": False}, "figures": False}


def stand_in(data: api.Data, seed: int = 0) -> FitResult:
    """A fit of ``data``'s training rows (Normal draws around a point; no PPL)."""
    train = data.train
    idata = make_idata(normal_draws(train, point(train), 0.3, chains=2, draws=100, seed=seed),
                       train, sample_stats={"diverging": np.zeros((2, 100), bool)})  # fmt: skip
    return FitResult(idata, None, {"fit_s": 0.1}, {})


@pytest.fixture(scope="module")
def twins():
    """Two twins of the same sizes from other data seeds, and a stand-in fit of each."""
    a, b = (api.make_data(n_worksites=6, n_workers=300, seed=s) for s in (0, 5))
    return a, b, stand_in(a), stand_in(b, seed=1)


# ---------------------------------------------------------- item 3: of the same data only
def test_a_reference_of_other_data_is_refused_naming_the_difference(twins):
    a, _, fit_a, fit_b = twins
    with pytest.raises(OtherData) as info:
        api.judge(fit_a, a, reference=fit_b, evaluation=QUICK)
    assert str(info.value).startswith(
        "reference is of other data than `data`: the same sizes (240 rows, 6 groups) but other "
        "values (data hash "
    )
    with pytest.raises(OtherData, match=r"^result is of other data than `data`: the same sizes"):
        api.judge(fit_b, a, evaluation=QUICK)
    small = api.make_data(n_worksites=5, n_workers=300, seed=0)
    with pytest.raises(OtherData, match=r"^result .*: 5 groups against 6$"):
        api.judge(stand_in(small), a, evaluation=QUICK)


def test_claims_of_other_data_are_not_compared(twins):
    a, b, fit_a, fit_b = twins
    ja = api.judge(fit_a, a, evaluation=QUICK)
    jb = api.judge(fit_b, b, evaluation=QUICK)
    assert len(api.compare_claims(ja, api.judge(fit_a, a, evaluation=QUICK))) == 19
    with pytest.raises(OtherData, match=r"^judgement is of other data than reference: the same"):
        api.compare_claims(ja, jb)
    bare = api.judge(fit_a, a, claims=None, evaluation=QUICK)
    with pytest.raises(ValueError, match=r"^reference: judged without claims \(claims=None"):
        api.compare_claims(ja, bare)
    with pytest.raises(TypeError, match=r"^judgement: expected a Judgement .*, got a dict$"):
        api.compare_claims(ja.metrics, ja)


# ---------------------------------------------------------------- item 9: the wrong kinds
def test_judge_names_the_argument_of_the_wrong_kind(twins, tmp_path):
    a, _, fit_a, _ = twins
    cases = [
        (dict(reference="pymc_nuts"), TypeError,
         "reference: expected a fitted reference, got the string 'pymc_nuts'; "
         "api.reference(data, 'pymc_nuts') fits (or reads) one"),
        (dict(evaluation={"figurs": False}), ValueError,
         "evaluation: no setting 'figurs'; settings: reference, "),
        (dict(evaluation={"clustering": {"n_draw": 3}}), ValueError,
         "evaluation.clustering: no setting 'n_draw'; settings: enabled, "),
        (dict(claims="papr"), ValueError,
         f"claims='papr': no such ledger or file; ledgers: {LEDGERS} (None turns claims off)"),
        (dict(claims=3), TypeError, 'claims: expected "auto", a ledger name, a YAML file, a '
                                    "mapping or None, got a int"),
        (dict(seed=-1), ValueError, f"seed=-1: must be an integer in [0, {MAX_SEED}]"),
    ]  # fmt: skip
    for kwargs, kind, message in cases:
        with pytest.raises(kind) as info:
            api.judge(fit_a, a, **kwargs)
        assert str(info.value).startswith(message), (kwargs, str(info.value))
    with pytest.raises(TypeError, match=r"^result: expected a FitResult .*, got None$"):
        api.judge(None, a)
    with pytest.raises(TypeError, match=r"^data: expected a Data .*, got None$"):
        api.judge(fit_a, None)


@pytest.mark.parametrize("text", ["claims: []\n", "thresholds: {credible: 0.9}\n", ""])
def test_a_named_ledger_without_claims_is_refused(twins, tmp_path, text):
    a, _, fit_a, _ = twins
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        api.judge(fit_a, a, claims=str(path))
    assert str(info.value) == (f"claims={str(path)!r}: the ledger holds no claims (no entries "
                               "under claims:); claims=None turns claims off")  # fmt: skip
    assert api.judge(fit_a, a, claims="none", evaluation=QUICK).claims == []  # off, as asked


def test_fit_and_reference_name_the_argument_of_the_wrong_kind(twins):
    a = twins[0]
    for call, kind, message in [
        (lambda: api.fit(None), TypeError, "data: expected a Data (api.make_data, api.load_data) "
                                           "or HierData, got None"),
        (lambda: api.fit(a, None), TypeError, "backend: expected a backend name"),
        (lambda: api.fit(a, seed=-1), ValueError, f"seed=-1: must be an integer in [0, {MAX_SEED}"),
        (lambda: api.fit(a, seed=1.5), ValueError, "seed=1.5: must be an integer"),
        (lambda: api.reference(a, None), TypeError, "source: expected a posterior.nc path"),
        (lambda: api.reference(None), TypeError, "data: expected a Data"),
    ]:  # fmt: skip
        with pytest.raises(kind) as info:
            call()
        assert str(info.value).startswith(message), str(info.value)


def test_load_data_takes_a_path_beside_a_dataframe_and_names_a_wrong_kind(tmp_path):
    tables = paper_twin_tables(n_worksites=5, n_workers=200, seed=1)
    tables.groups.to_csv(tmp_path / "groups.csv", index=False)
    spec = dict(outcome="signed", group_id="worksite_id", unit_features=["n_notes"],
                group_features=["n_edges"])  # fmt: skip
    mixed = api.load_data(tables.units, tmp_path / "groups.csv", **spec)
    both = api.load_data(tables.units, tables.groups, **spec)
    np.testing.assert_array_equal(mixed.full.X_site, both.full.X_site)
    assert mixed.full.meta["design"]["groups_path"] == str(tmp_path / "groups.csv")
    with pytest.raises(TypeError, match=r"^units: expected a CSV or Parquet path, or a "
                                        r"DataFrame, got None$"):  # fmt: skip
        api.load_data(None, tables.groups, **spec)
    with pytest.raises(TypeError, match=r"^outcome: expected a column name, got a list$"):
        api.load_data(tables.units, tables.groups, **{**spec, "outcome": ["signed"]})
    twice = pd.concat([tables.units, tables.units[["n_notes"]]], axis=1)
    with pytest.raises(DataValidationError, match=r"^DataFrame units: duplicate column name\(s\) "
                                                  r"\['n_notes'\]; rename them"):  # fmt: skip
        api.load_data(twice, tables.groups, **spec)


# ------------------------------------------------------------ item 13: the outcome's name
def test_a_sign_claim_on_your_data_names_your_outcome(tmp_path):
    tables = paper_twin_tables(n_worksites=6, n_workers=300, seed=1)
    units = tables.units.rename(columns={"signed": "passed"})
    data = api.load_data(units, tables.groups, outcome="passed", group_id="worksite_id",
                         unit_features=["n_notes"], group_features=["ndo", "n_edges"])  # fmt: skip
    ledger = tmp_path / "mine.yaml"
    ledger.write_text("claims:\n  - {name: ndo_up, kind: sign, feature: ndo, "
                      "direction: positive}\n")  # fmt: skip
    fit = stand_in(data)
    (row,) = api.judge(fit, data, claims=str(ledger), evaluation=QUICK).claims
    assert row["statement"] == ("beta_site[ndo] > 0: higher ndo goes with higher odds of the "
                                "outcome (passed)")  # fmt: skip
    ledger.write_text(ledger.read_text() + "outcome: passing the exam\n")
    (row,) = api.judge(fit, data, claims=str(ledger), evaluation=QUICK).claims
    assert row["statement"].endswith("higher ndo goes with higher odds of passing the exam")
    twin = api.make_data(n_worksites=6, n_workers=300, seed=0)
    paper = api.judge(stand_in(twin), twin, evaluation=QUICK).claims
    assert paper[0]["statement"].endswith("goes with higher odds of signing")  # the paper's
