"""The paired floors (evaluation.study.floors): a method against NUTS beside NUTS against NUTS
on the same seeds, from hand-made claims tables.  Flips here are changes of verdict with P far
apart across a threshold, so they are flips under either of the claims judge's rules (verdicts
differ; or verdicts differ beyond Monte Carlo noise)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.study.evidence import rate_interval
from evaluation.study.floors import CLAIM_COLUMNS, flip_pairs, flip_totals, paired_floor

MC = 0.01


def _row(seed, label, name, p, verdict, counted_with=None):
    mc = MC if p is not None else None
    return {"replicate": seed, "method_label": label, "name": name, "probability": p,
            "mc_error": mc, "verdict": verdict, "counted_with": counted_with}  # fmt: skip


def _table() -> pd.DataFrame:
    """Seeds 0-3 with mean-field (mf), NUTS and a second NUTS chain seed (nuts2); seed 4 lacks
    nuts2, so it cannot be paired.

    a  NUTS and nuts2 credible (0.99, 0.98); mf contradicted (0.02) in seeds 0, 1, credible
       (0.97) in 2, 3: flips 2 of 4, the floor 0 of 4.
    b  mf "not evaluated" (no P) everywhere: never a flip, nothing to compare.
    c  mf "not identified" everywhere; nuts2 undecided (0.90, beyond the joint Monte Carlo
       error of 0.014) in seed 0, else credible.
    d  a near-duplicate of a (counted with it), behaving like a.
    """
    rows = []
    for s in range(5):
        flipped = s < 2
        mf = (0.02, "contradicted") if flipped else (0.97, "credible")
        rows += [_row(s, "nuts", "a", 0.99, "credible"), _row(s, "mf", "a", *mf)]
        rows += [_row(s, "nuts", "b", 0.99, "credible"), _row(s, "mf", "b", None, "not evaluated")]
        rows += [_row(s, "nuts", "c", 0.96, "credible"), _row(s, "mf", "c", None, "not identified")]
        rows += [_row(s, "nuts", "d", 0.99, "credible", "a"), _row(s, "mf", "d", *mf, "a")]
        if s < 4:
            c2 = (0.90, "undecided") if s == 0 else (0.96, "credible")
            rows += [_row(s, "nuts2", "a", 0.98, "credible"), _row(s, "nuts2", "c", *c2),
                     _row(s, "nuts2", "b", 0.98, "credible"),
                     _row(s, "nuts2", "d", 0.98, "credible", "a")]  # fmt: skip
    return pd.DataFrame(rows)


def test_paired_floor_sets_a_method_beside_nuts_against_nuts_on_the_same_seeds():
    got = paired_floor(_table(), "mf", "nuts", "nuts2")
    assert list(got) == ["a", "b", "c", "d"]
    a = got["a"]
    # seed 4 has no nuts2 and is left out: every number rests on seeds 0-3
    assert a.delta.n == a.abs_delta.n == a.abs_delta_floor.n == 4
    assert a.delta.mean == pytest.approx(-0.495)  # (-0.97 - 0.97 - 0.02 - 0.02) / 4
    assert a.abs_delta.mean == pytest.approx(0.495)
    assert a.abs_delta_floor.mean == pytest.approx(0.01)
    assert a.excess_abs_delta.mean == pytest.approx(0.485)
    assert a.mc_error == pytest.approx(math.sqrt(2) * MC)
    assert (a.flips.k, a.flips.n) == (2, 4) and a.flips == rate_interval(2, 4)
    assert (a.floor_flips.k, a.floor_flips.n) == (0, 4)
    per_seed = np.array([1.0, 1.0, 0.0, 0.0])  # flip(method) - flip(floor) per seed
    lo, hi = stats.t.interval(0.9, df=3, loc=0.5, scale=stats.sem(per_seed))
    assert a.excess_flips.mean == 0.5 and a.excess_flips.n == 4
    assert (a.excess_flips.lo, a.excess_flips.hi) == pytest.approx((lo, hi))
    c = got["c"]  # the floor flips (credible -> undecided in seed 0); the method cannot
    assert (c.floor_flips.k, c.floor_flips.n) == (1, 4)
    assert c.flips.n == 0 and c.excess_flips.n == 0


def test_a_claim_not_evaluated_or_not_identified_is_never_a_flip():
    got = paired_floor(_table(), "mf", "nuts", "nuts2")
    for name in ("b", "c"):  # NUTS credible, the method gives no verdict
        flips = got[name].flips
        assert (flips.k, flips.n) == (0, 0) and math.isnan(flips.rate)
        assert got[name].abs_delta.n == 0 and math.isnan(got[name].abs_delta.mean)
    assert got["b"].floor_flips == rate_interval(0, 4)  # the floor still compares


def test_flip_totals_count_a_counted_with_group_once():
    # per seed, mf flips a and d (d counted with a): 1, 1, 0, 0; the floor flips c in seed 0
    got = flip_totals(_table(), "mf", "nuts", "nuts2")
    assert got.flips.mean == 0.5 and got.flips.n == 4
    assert got.floor_flips.mean == 0.25
    assert got.excess.mean == 0.25  # per seed 0, 1, 0, 0
    d = paired_floor(_table(), "mf", "nuts", "nuts2")["d"]
    assert d.flips.k == 2  # per claim, d's own flips still show


def test_paired_floor_reads_any_label_column_and_checks_its_table():
    table = _table().rename(columns={"method_label": "run_label"})
    got = paired_floor(table, "mf", "nuts", "nuts2", label_column="run_label")
    assert got["a"].flips.k == 2
    for column in CLAIM_COLUMNS:
        with pytest.raises(ValueError, match=column):
            paired_floor(_table().drop(columns=column), "mf", "nuts", "nuts2")
    two = _table().assign(scenario=lambda t: np.arange(len(t)) % 2)
    with pytest.raises(ValueError, match="scenarios"):
        paired_floor(two, "mf", "nuts", "nuts2")
    with pytest.raises(ValueError, match="repeats"):
        paired_floor(pd.concat([_table(), _table().head(1)]), "mf", "nuts", "nuts2")
    assert paired_floor(_table(), "mf", "nuts", "absent") == {}  # no seed holds all three


def test_paired_floor_uses_the_methods_own_monte_carlo_error():
    # mean-field's P rests on few draws (MC error 0.05), NUTS's on many (0.004), NUTS's repeat
    # on a middling 0.02: the method's ΔP error is sqrt(0.05² + 0.004²) per seed, not the
    # floor's sqrt(0.02² + 0.004²), and it varies from seed to seed.
    rows = []
    for s, mc_mf in enumerate((0.05, 0.03, 0.04)):
        rows += [
            {"replicate": s, "method_label": "nuts", "name": "a", "probability": 0.6,
             "mc_error": 0.004, "verdict": "undecided"},
            {"replicate": s, "method_label": "nuts2", "name": "a", "probability": 0.62,
             "mc_error": 0.02, "verdict": "undecided"},
            {"replicate": s, "method_label": "mf", "name": "a", "probability": 0.7,
             "mc_error": mc_mf, "verdict": "undecided"},
        ]  # fmt: skip
    got = paired_floor(pd.DataFrame(rows), "mf", "nuts", "nuts2")["a"]
    want = np.mean([math.hypot(m, 0.004) for m in (0.05, 0.03, 0.04)])
    assert got.mc_error == pytest.approx(want, rel=1e-12)
    assert got.mc_error != pytest.approx(math.hypot(0.02, 0.004))


def test_flip_pairs_give_both_flips_per_seed_and_claim_compared_by_both():
    got = flip_pairs(_table(), "mf", "nuts", "nuts2")
    # b and c are not evaluated or identified for mf: left out; a and d flip in seeds 0, 1
    assert sorted(set(got["name"])) == ["a", "d"]
    assert len(got) == 8  # 2 claims x 4 seeds holding all three runs
    a = got[got["name"] == "a"].set_index("replicate")
    assert a["flip"].tolist() == [True, True, False, False]
    assert not a["floor_flip"].any()
