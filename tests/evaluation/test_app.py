"""The Hydra app: every config composes, and a debug run writes its files end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from evalhelpers import one_error_line, run_app
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from evaluation.app import CONF_DIR, model_spec
from evaluation.config import backend_config

GROUPS = ("data", "model", "backend", "evaluation", "debug", "experiment", "paths")


def options(group: str) -> list[str]:
    """The selectable configs of a group (``_``-prefixed files are shared bases)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml") if not p.stem.startswith("_"))


def all_config_files() -> list[tuple[str, str]]:
    return [(group, name) for group in GROUPS for name in options(group)]


@pytest.mark.parametrize(("group", "name"), all_config_files())
def test_every_config_file_composes(group, name):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"{group}={name}"], return_hydra_config=True)
        OmegaConf.resolve(cfg)
    assert cfg.backend.name in options("backend")
    assert cfg.backend._target_
    model_spec(cfg.model)  # validates parameterisation and priors


def test_backend_overrides_touch_only_keys_the_backend_has():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["debug=fast", "backend=pyro_meanfield"])
    bcfg = backend_config(cfg)
    assert bcfg.num_steps == cfg.backend_overrides.num_steps
    assert "chains" not in bcfg  # an MCMC key is not forced onto a VI backend


def test_debug_fast_run_writes_posterior_metrics_and_loss(tmp_path):
    out = tmp_path / "run"
    proc = run_app("debug=fast", f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("posterior.nc", "metrics.json", "loss.png", "report.md"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "complete"
    assert metrics["backend"] == "pyro_meanfield" and metrics["method"] == "meanfield"
    assert metrics["timing"]["fit_s"] > 0
    check_numbers_against_posterior(out, metrics)
    # a second identical run is skipped, not redone
    again = run_app("debug=fast", f"hydra.run.dir={out}", cwd=tmp_path)
    assert again.returncode == 0 and "skipping" in (again.stdout + again.stderr)


def test_a_run_with_the_reference_settings_is_fitted_once(tmp_path):
    """A job whose backend settings equal the reference's reads the reference's cached fit
    (the study's NUTS job); the settings reach this path as the start-up checks return them."""
    overrides = [
        f"+evaluation.reference_overrides.{k}={v}"
        for k, v in (("num_steps", 400), ("num_draws", 200), ("progress", False))
    ]
    out = tmp_path / "run"
    proc = run_app(
        "debug=fast",
        "evaluation.reference=pyro_meanfield",
        *overrides,
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "has the reference's settings: one fit serves as both" in proc.stdout + proc.stderr
    assert len(list((tmp_path / "cache" / "reference").glob("pyro_meanfield-*.nc"))) == 1
    assert json.loads((out / "metrics.json").read_text())["status"] == "complete"


def check_numbers_against_posterior(out: Path, metrics: dict) -> None:
    """metrics.json and report.md against a recomputation, by hand, from posterior.nc and the
    same data rebuilt from the config: a number computed on the wrong rows, draws, worksites
    or truth, or a report quoting another number, fails (tolerance: float rounding, 1e-9)."""
    import arviz as az
    from scipy.special import expit, logsumexp
    from sklearn.metrics import roc_auc_score

    from backends.spec import linear_predictor
    from evaluation.api import data_from_config
    from evaluation.metrics.draws import extract
    from evaluation.report.format import fmt

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["debug=fast"])
    _, train, test = data_from_config(cfg.data)
    idata = az.from_netcdf(out / "posterior.nc")
    # predictive: posterior-mean probability of each held-out worker
    draws = extract(idata, test).flat()
    logit = linear_predictor(draws, test)  # (S, N)
    prob, y = expit(logit).mean(axis=0), test.y == 1
    log_lik = np.where(y, -np.logaddexp(0, -logit), -np.logaddexp(0, logit))
    pred = metrics["predictive"]
    assert pred["n"] == test.n_workers and pred["in_sample"] is False
    expected = {
        "accuracy": np.mean((prob > 0.5) == y),
        "baseline_accuracy": max(y.mean(), 1 - y.mean()),
        "auc": roc_auc_score(y, prob),
        "brier": np.mean((prob - y) ** 2),
        "lpd": np.mean(logsumexp(log_lik, axis=0) - np.log(logit.shape[0])),
    }
    for key, value in expected.items():
        assert pred[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    # posterior summaries of the scalars, and the truth they are compared with
    post = metrics["posterior"]
    for var in ("alpha", "sigma_site", "sigma_worker"):
        x = idata.posterior[var].values.ravel()
        summary = post["summary"][var]
        for key, value in (("mean", x.mean()), ("q05", np.quantile(x, 0.05)),
                           ("q95", np.quantile(x, 0.95))):  # fmt: skip
            assert summary[key] == pytest.approx(value, rel=1e-9), (var, key)
        assert summary["truth"] == pytest.approx(float(train.truth[var]), rel=1e-12), var
    # coverage of the identified worksite predictors alpha + X_site[j] . beta_site
    site = extract(idata, train).flat()
    eta = site["alpha"][:, None] + site["beta_site"] @ train.X_site.T  # (S, J)
    true_eta = train.truth["alpha"] + train.X_site @ train.truth["beta_site"]
    lo, hi = np.quantile(eta, [0.05, 0.95], axis=0)
    covered = np.mean((lo <= true_eta) & (true_eta <= hi))
    assert post["beta_site_identified_coverage90"] == pytest.approx(covered, abs=1e-12)
    # the report quotes these numbers
    report = (out / "report.md").read_text()
    assert f"AUC {fmt(pred['auc'])}, accuracy {fmt(pred['accuracy'])}" in report
    assert f"the 90% intervals contain {fmt(100 * covered)}% of the {train.n_worksites}" in report


def test_unknown_backend_lists_the_options(tmp_path):
    proc = run_app("backend=nope", cwd=tmp_path)
    assert proc.returncode != 0
    assert "backend/nope" in proc.stderr and "pyro_meanfield" in proc.stderr


def test_the_first_run_of_the_day_prints_no_arviz_notice(tmp_path):
    # ArviZ 0.2x warns on its first import of a day (a stamp in the user cache): an empty cache
    # is that first import; the CLI's error must stay its one line.
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "MPLCONFIGDIR": str(tmp_path / "mpl")}
    missing = [f"data.{t}_path={tmp_path / 'missing.csv'}" for t in ("units", "groups")]
    proc = run_app("data=paper_tables", *missing, cwd=tmp_path, env=cache)
    assert (tmp_path / "cache" / "arviz").is_dir()  # arviz was imported with the empty cache
    assert "missing.csv" in one_error_line(proc)


def test_a_nan_loss_is_one_line_and_writes_no_posterior(tmp_path):
    out = tmp_path / "run"
    proc = run_app(
        "debug=fast", "backend.lr=1e6", "backend.lr_decay=1.0", f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "ppl-compare: error:" in proc.stderr and "step" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "posterior.nc").exists() and not (out / "metrics.json").exists()


def test_a_fit_on_loaded_tables_runs_end_to_end(tmp_path):
    from evaluation.data.export import write_example_tables

    tables = write_example_tables(tmp_path / "tables", n_groups=8, n_units=400, seed=2)
    out = tmp_path / "run"
    proc = run_app(
        "debug=fast",
        "data=paper_tables",
        f"data.units_path={tables.units}",
        f"data.groups_path={tables.groups}",
        "backend=pymc_meanfield",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["kind"] == "paper_tables" and metrics["data"]["n_worksites"] == 8
    assert (
        metrics["data"]["meta"]["design"]["worker_features"] == metrics["data"]["worker_features"]
    )
    assert "truth" not in metrics["posterior"]["summary"]["sigma_worker"]  # real data


def test_bad_tables_stop_with_one_line_and_write_nothing(tmp_path):
    from evaluation.data.export import write_example_tables

    tables = write_example_tables(tmp_path / "tables", n_groups=6, n_units=200, seed=0)
    out = tmp_path / "run"
    proc = run_app(
        "data=paper_tables",
        f"data.units_path={tables.units}",
        f"data.groups_path={tmp_path / 'missing.csv'}",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "missing.csv" in proc.stderr and "Traceback" not in proc.stderr
    assert not (out / "posterior.nc").exists() and not (out / "metrics.json").exists()


def test_no_overrides_and_debug_after_experiment():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        plain = compose("config", overrides=["backend=pymc_nuts"])
        fast = compose("config", overrides=["experiment=main", "debug=fast"])
    assert backend_config(plain).draws == plain.backend.draws  # empty overrides are fine
    # debug/ composes after experiment/, so debug=fast shortens an experiment's NUTS too
    assert fast.backend_overrides.draws == 200


def hydra_choices(claims, data, task=()):
    """The part of ``HydraConfig`` that :func:`check_claims_choice` reads."""
    from types import SimpleNamespace

    return SimpleNamespace(runtime=SimpleNamespace(choices={"claims": claims, "data": data}),
                           overrides=SimpleNamespace(task=list(task)))  # fmt: skip


def test_a_claims_name_without_a_ledger_is_an_error_unless_it_is_the_data_default(caplog):
    """Issue 25 item 2: Hydra's ``optional claims: ${data}`` skips a missing option silently."""
    from evaluation.app import check_claims_choice
    from evaluation.config import ConfigError

    empty, ledger = OmegaConf.create({}), OmegaConf.create({"claims": {"claims": []}})
    check_claims_choice(ledger, hydra_choices("paper", "paper"))  # found: nothing to say
    check_claims_choice(empty, hydra_choices("mydata", "mydata"))  # your own data config
    assert "no claims ledger named like data=mydata: claims are off" in caplog.text
    for name, data, task in [("papr", "paper", ["claims=papr"]), ("x", "paper", []),
                             ("mydata", "mydata", ["+claims=mydata"])]:  # fmt: skip
        pattern = rf"^claims={name}: no such claims ledger; ledgers: contraception, none, paper, "
        with pytest.raises(ConfigError, match=pattern):
            check_claims_choice(empty, hydra_choices(name, data, task))
