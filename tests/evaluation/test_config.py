"""The configs: shared backend bases, structured-config schemas, start-up checks (issue 11).

Composition is checked in-process (fast); what a user sees is checked by running the app
(one line on stderr, exit code 1, nothing written).
"""

from __future__ import annotations

import inspect
import logging

import hydra.utils
import pytest
import yaml
from evalhelpers import one_error_line, run_app
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from evaluation.api import data_from_config
from evaluation.app import CONF_DIR
from evaluation.config import (
    ConfigError,
    apply_backend_overrides,
    backend_names,
    check_backend_signature,
    check_backend_values,
    check_config,
    compose_backend,
    plain,
    schema,
    typed_backend_keys,
)

#: Every backend config as composed before the shared bases existed (``ppl-compare backend=X
#: --cfg job`` on the files of commit 6cea173), key for key; since then only pymc_nuts'
#: max_divergence_fraction changed, 0.0 -> 0.01 (= evaluation.divergence_warn_fraction), and
#: (issue 14) the full- and low-rank configs default to the converging schedule (x0.9999 over
#: 40k steps; the paper's is backend.lr_decay=0.9995 backend.num_steps=18000); pymc_dadvi,
#: pymc_pathfinder and pyro_flow are new; pyro_typeii and pyro_clipped (paper forensics) too.
#: The Pyro and PyMC VI configs gained stop_at_convergence: false (issue 15; the paper's schedule).
#: pymc_dadvi gained lr_covariance: false, and pymc_dadvi_lr (the same with true) is new;
#: pymc_pathfinder gained init: default (issue 20).  Since a backend's schema is derived from its
#: class's signature (issue 23) every setting the class takes is in its composed config: the
#: Pyro configs show rank, draw_batch, num_transforms and hidden_dim (the class defaults they
#: always had), the Stan configs stan_file (null: the shipped program); no value changed.
#: At paper scale pyro_fullrank went nan in float32 (then float64) and pyro_flow's loss inf at
#: lr 0.005 (now 0.001). Issue 20: pyro_fullrank is float32 again (its new guide has no
#: triangular solve) with an 80k cap; every Pyro VI config gained init_sigma: null.
RECORDED = yaml.safe_load("""
pymc_fullrank: {_target_: backends.pymc.PyMCADVI, name: pymc_fullrank, method: fullrank,
  num_steps: 40000, lr: 0.015, lr_decay: 0.9999, num_draws: 1000, obj_n_mc: 1,
  convergence_window: 1000, convergence_rtol: 0.001, stop_at_convergence: false,
  progress: false}
pymc_meanfield: {_target_: backends.pymc.PyMCADVI, name: pymc_meanfield, method: meanfield,
  num_steps: 18000, lr: 0.015, lr_decay: 0.9995, num_draws: 1000, obj_n_mc: 1,
  convergence_window: 1000, convergence_rtol: 0.001, stop_at_convergence: false,
  progress: false}
pymc_nuts: {_target_: backends.pymc.PyMCNUTS, name: pymc_nuts, chains: 4, tune: 1000,
  draws: 1000, target_accept: 0.8, max_treedepth: 10, cores: null, sampler: nutpie,
  nutpie: {low_rank_modified_mass_matrix: true}, init: jitter+adapt_diag,
  max_divergence_fraction: 0.01, progress: true}
pyro_fullrank: {_target_: backends.pyro.PyroSVI, name: pyro_fullrank, guide: fullrank,
  num_steps: 80000, lr: 0.015, lr_decay: 0.9999, optimizer: adam, clip_norm: 10.0,
  num_draws: 1000, num_particles: 1, jit: true, init_scale: 0.1, init_sigma: null, log_every: 100,
  convergence_window: 1000, convergence_rtol: 0.001, stop_at_convergence: false,
  dtype: float32, num_threads: 1, progress: true,
  rank: null, draw_batch: 100, num_transforms: 2, hidden_dim: null}
pyro_lowrank: {_target_: backends.pyro.PyroSVI, name: pyro_lowrank, guide: lowrank,
  rank: null, num_steps: 40000, lr: 0.015, lr_decay: 0.9999, optimizer: adam, clip_norm: 10.0,
  num_draws: 1000, num_particles: 1, jit: true, init_scale: 0.1, init_sigma: null, log_every: 100,
  convergence_window: 1000, convergence_rtol: 0.001, stop_at_convergence: false,
  dtype: float32, num_threads: 1, progress: true,
  draw_batch: 100, num_transforms: 2, hidden_dim: null}
pyro_meanfield: {_target_: backends.pyro.PyroSVI, name: pyro_meanfield, guide: meanfield,
  num_steps: 18000, lr: 0.015, lr_decay: 0.9995, optimizer: adam, clip_norm: 10.0,
  num_draws: 1000, num_particles: 1, jit: true, init_scale: 0.1, init_sigma: null, log_every: 100,
  convergence_window: 1000, convergence_rtol: 0.001, stop_at_convergence: false,
  dtype: float32, num_threads: 1, progress: true,
  rank: null, draw_batch: 100, num_transforms: 2, hidden_dim: null}
pymc_dadvi: {_target_: backends.pymc.PyMCDADVI, name: pymc_dadvi, n_fixed_draws: 30,
  num_draws: 1000, maxiter: 1000, init_log_sd: -2.0, lr_covariance: false, progress: false}
pymc_dadvi_lr: {_target_: backends.pymc.PyMCDADVI, name: pymc_dadvi_lr, n_fixed_draws: 30,
  num_draws: 1000, maxiter: 1000, init_log_sd: -2.0, lr_covariance: true, progress: false}
pymc_pathfinder: {_target_: backends.pymc.PyMCPathfinder, name: pymc_pathfinder, num_paths: 4,
  num_draws: 1000, num_draws_per_path: 1000, maxiter: 1000, num_elbo_draws: 10, jitter: 2.0,
  importance_sampling: psis, init: default, progress: false}
pyro_flow: {_target_: backends.pyro.PyroSVI, name: pyro_flow, guide: flow, num_steps: 40000,
  lr: 0.001, lr_decay: 0.9999, optimizer: adam, clip_norm: 10.0, num_draws: 1000,
  num_particles: 1, jit: false, init_scale: 0.1, init_sigma: null, log_every: 100,
  convergence_window: 1000, convergence_rtol: 0.001, stop_at_convergence: false,
  dtype: float32, num_threads: 1, progress: true, num_transforms: 2, hidden_dim: null,
  rank: null, draw_batch: 100}
pyro_typeii: {_target_: backends.pyro.PyroSVI, name: pyro_typeii, guide: typeii,
  num_steps: 18000, lr: 0.015, lr_decay: 0.9995, optimizer: adam, clip_norm: 10.0,
  num_draws: 1000, num_particles: 1, jit: true, init_scale: 0.1, init_sigma: null, log_every: 100,
  convergence_window: 1000, convergence_rtol: 0.001, stop_at_convergence: false,
  dtype: float32, num_threads: 1, progress: true,
  rank: null, draw_batch: 100, num_transforms: 2, hidden_dim: null}
pyro_clipped: {_target_: backends.pyro.PyroSVI, name: pyro_clipped, guide: meanfield,
  num_steps: 18000, lr: 0.015, lr_decay: 0.9995, optimizer: clipped_adam, clip_norm: 10.0,
  num_draws: 1000, num_particles: 1, jit: true, init_scale: 0.1, init_sigma: null, log_every: 100,
  convergence_window: 1000, convergence_rtol: 0.001, stop_at_convergence: false,
  dtype: float32, num_threads: 1, progress: true,
  rank: null, draw_batch: 100, num_transforms: 2, hidden_dim: null}
stan_fullrank: {_target_: backends.stan.StanFullRank, name: stan_fullrank, num_steps: 10000,
  lr: null, lr_decay: null, num_draws: 1000, tol_rel_obj: 0.01, grad_samples: 1,
  elbo_samples: 100, eval_elbo: 100, adapt_iter: 50, progress: false, stan_file: null}
stan_meanfield: {_target_: backends.stan.StanMeanField, name: stan_meanfield, num_steps: 10000,
  lr: null, lr_decay: null, num_draws: 1000, tol_rel_obj: 0.01, grad_samples: 1,
  elbo_samples: 100, eval_elbo: 100, adapt_iter: 50, progress: false, stan_file: null}
stan_nuts: {_target_: backends.stan.StanNUTS, name: stan_nuts, chains: 4, tune: 1000,
  draws: 1000, target_accept: 0.8, max_treedepth: 10, parallel_chains: null, progress: true,
  stan_file: null}
stan_pathfinder: {_target_: backends.stan.StanPathfinder, name: stan_pathfinder, num_paths: 4,
  num_draws: 1000, max_lbfgs_iters: 1000, num_elbo_draws: 25, progress: false, stan_file: null}
""")
FAMILY_BASES = {
    "_pyro_vi": [
        "pyro_meanfield",
        "pyro_lowrank",
        "pyro_fullrank",
        "pyro_flow",
        "pyro_typeii",
        "pyro_clipped",
    ],
    "_pymc_vi": ["pymc_meanfield", "pymc_fullrank"],
}

#: Leaves whose default is the converging schedule instead of their base's (the paper's).
CONVERGING = ("pyro_lowrank", "pyro_fullrank", "pyro_flow", "pymc_fullrank")


def composed(*overrides: str):
    schema.register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


# ------------------------------------------------------------------------- shared bases
@pytest.mark.parametrize("name", sorted(RECORDED))
def test_every_backend_composes_exactly_as_recorded(name):
    assert plain(composed(f"backend={name}").backend) == RECORDED[name]
    assert plain(compose_backend(name)) == RECORDED[name]  # the reference path too


def test_a_family_base_is_shared_and_not_selectable():
    assert sorted(backend_names()) == sorted(RECORDED)
    for base, leaves in FAMILY_BASES.items():
        assert (CONF_DIR / "backend" / f"{base}.yaml").is_file()
        for leaf in leaves:
            leaf_cfg = yaml.safe_load((CONF_DIR / "backend" / f"{leaf}.yaml").read_text())
            defaults = leaf_cfg.pop("defaults")
            assert defaults[0] == base and defaults[-1] == "_self_", leaf
            # The converging schedule (issue 14) is what distinguishes those leaves' steps.
            assert ("num_steps" in leaf_cfg) == (leaf in CONVERGING), leaf


def test_a_backend_yaml_holds_only_what_differs_from_its_class():
    """Issue 23: each default lives in one place, the class's signature; a YAML file sets a
    value only where its backend differs from the class's default."""
    for path in sorted((CONF_DIR / "backend").glob("*.yaml")):
        cfg = yaml.safe_load(path.read_text())
        target = cfg.get("_target_") or next(
            yaml.safe_load((CONF_DIR / "backend" / f"{d}.yaml").read_text())["_target_"]
            for d in cfg["defaults"] if d != "_self_" and not d[1].isupper()
        )  # fmt: skip
        params = inspect.signature(hydra.utils.get_class(target)).parameters
        same = [k for k, v in cfg.items() if k in params and k != "name"
                and params[k].default == v]  # fmt: skip
        assert not same, f"{path.name} repeats the class defaults of {same}"


def test_unknown_backend_lists_only_selectable_ones(tmp_path):
    line = one_error_line(run_app("backend=nope", cwd=tmp_path))
    assert "backend/nope" in line and "pyro_meanfield" in line
    assert "_pyro_vi" not in line and "_schema" not in line


# ------------------------------------------------------------------------- the schemas
@pytest.mark.parametrize("name", sorted(RECORDED))
def test_backend_schema_is_the_class_signature(name):
    """Issue 23: a backend's schema is derived from its class (keys, types, defaults): the
    composed config has exactly the class's settings."""
    cfg = composed(f"backend={name}")
    cls = hydra.utils.get_class(RECORDED[name]["_target_"])
    kind = OmegaConf.get_type(cfg.backend)
    assert kind.__name__ == f"{cls.__name__}Settings"
    params = set(inspect.signature(cls).parameters) - {"model"}
    assert set(schema.keys_of(kind)) - {"_target_"} == params == set(RECORDED[name]) - {"_target_"}


def test_paper_data_schema_is_the_generator_signature():
    """The twin's knobs have one source: the schema lists make_paper_twin's parameters."""
    from evaluation.config import generator_knobs
    from evaluation.data.twin import make_paper_twin

    knobs = set(generator_knobs({k: None for k in schema.keys_of(schema.PaperData)}))
    assert knobs == set(inspect.signature(make_paper_twin).parameters)


def test_every_group_is_typed_by_its_schema():
    cfg = composed()
    assert OmegaConf.get_type(cfg.data) is schema.PaperData
    assert OmegaConf.get_type(cfg.model) is schema.Model
    assert OmegaConf.get_type(cfg.evaluation) is schema.Evaluation
    assert OmegaConf.get_type(cfg.evaluation.clustering) is schema.Clustering
    for kind in ("tables", "paper_tables"):
        assert OmegaConf.get_type(composed(f"data={kind}").data) is schema.TablesData


def test_clustering_schema_has_the_clustering_keys():
    from evaluation.clustering.settings import IGNORED, KEYS

    assert set(schema.keys_of(schema.Clustering)) == set(KEYS) | IGNORED


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("+data.sigma_wroker=1", "data.sigma_wroker"),
        ("+backend.num_step=10", "backend.num_step"),
        ("+evaluation.clustering.n_iters=3", "evaluation.clustering.n_iters"),
        ("+model.priors.alpha=1", "model.priors.alpha"),
        ("+sed=3", "sed"),
    ],
)
def test_a_key_added_with_plus_is_refused_at_start_up(override, key):
    with pytest.raises(ConfigError, match=rf"unknown config key {key};"):
        check_config(composed(override))


@pytest.mark.parametrize(
    ("override", "named", "listed"),
    [
        ("data.sigma_wroker=1", "unknown config key data.sigma_wroker; data accepts: ", "seed"),
        ("+data.sigma_wroker=1", "unknown config key data.sigma_wroker; data accepts:", "split"),
        ("+backend.num_step=10", "unknown config key backend.num_step; backend accepts:", "lr"),
        ("+sed=3", "unknown config key sed; the config accepts: ", "seed"),
        ("data.n_workers=abc", "data.n_workers=abc", "Integer"),
        ("seed=abc", "seed=abc: must be an integer", ""),
        ("+backend_overrides.num_stepz=3", "num_stepz: no backend has this setting", "chains"),
        ("data.unit_features=[x1", "cannot parse override 'data.unit_features=[x1'", ""),
        ("data=tables", "data.group_id is required", ""),
    ],
)
def test_a_config_error_is_one_line_naming_the_key(tmp_path, override, named, listed):
    out = tmp_path / "run"
    line = one_error_line(run_app(override, f"hydra.run.dir={out}", cwd=tmp_path))
    assert named in line and listed in line.partition(named)[2]
    assert not (out / "posterior.nc").exists() and not (out / "metrics.json").exists()


def test_a_backend_key_its_class_does_not_take_names_the_valid_ones():
    # A backend config without a registered schema: its class signature is the schema.
    cfg = composed("backend=pyro_meanfield")
    backend = {**plain(cfg.backend), "num_step": 10}
    with pytest.raises(ConfigError, match=r"backend\.num_step: not a setting of .*num_steps"):
        check_backend_signature(backend)


# ------------------------------------------------------------------- backend_overrides
def test_an_override_a_backend_lacks_is_a_warning_naming_it(caplog):
    cfg = composed("debug=fast", "backend=pyro_meanfield")
    with caplog.at_level(logging.WARNING, logger="ppl_compare"):
        backend = check_config(cfg)
    assert backend["num_steps"] == 400 and "chains" not in backend
    assert "pyro_meanfield has no chains, draws, tune" in caplog.text


def test_an_override_no_backend_has_is_an_error_naming_it():
    cfg = composed("+backend_overrides.num_stepz=3")
    with pytest.raises(ConfigError, match=r"backend_overrides\.num_stepz: no backend has"):
        check_config(cfg)


def test_what_the_user_typed_wins_over_an_override(caplog):
    typed = typed_backend_keys(["debug=fast", "backend.num_steps=50", "+backend.lr=0.1"])
    assert typed == {"num_steps", "lr"}
    assert typed_backend_keys(["backend=pymc_nuts", "~backend.x", "backend_overrides.a=1"]) == set()
    cfg = composed("debug=fast", "backend.num_steps=50")
    with caplog.at_level(logging.WARNING, logger="ppl_compare"):
        backend = check_config(cfg, typed)
    assert backend["num_steps"] == 50 and backend["num_draws"] == 200
    assert "backend.num_steps=50 (command line) wins over backend_overrides.num_steps=400" in (
        caplog.text
    )
    # not typed (an experiment's YAML value): the preset still shortens it
    assert apply_backend_overrides({"num_steps": 18000}, {"num_steps": 400}) == {"num_steps": 400}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"num_steps": -5}, "backend.num_steps=-5: must be an integer >= 1"),
        ({"chains": 0}, "backend.chains=0: must be an integer >= 1"),
        ({"draws": 0}, "backend.draws=0"),
        ({"num_draws": 0}, "backend.num_draws=0"),
        ({"lr": 0.0}, "backend.lr=0.0: must be a number > 0"),
        ({"lr": -1}, "backend.lr=-1"),
        ({"lr_decay": 1.5}, "backend.lr_decay=1.5: must be a number in (0, 1]"),
        ({"target_accept": 1.0}, "backend.target_accept=1.0"),
        ({"tune": -1}, "backend.tune=-1"),
        ({"num_steps": 2.5}, "backend.num_steps=2.5"),
        ({"num_steps": True}, "backend.num_steps=True"),
    ],
)
def test_a_bad_backend_value_is_an_error_naming_it(settings, named):
    with pytest.raises(ConfigError) as err:
        check_backend_values(settings)
    assert str(err.value).startswith(named)


def test_good_backend_values_pass_and_a_bad_preset_is_named():
    check_backend_values({"lr": None, "tune": 0, "rank": None, "lr_decay": 1.0, "chains": 1})
    cfg = composed("debug=fast", "backend_overrides.num_steps=0")
    with pytest.raises(ConfigError, match=r"^backend_overrides\.num_steps=0"):
        check_config(cfg)
    with pytest.raises(ConfigError, match=r"^backend\.num_steps=-5"):
        check_config(composed("debug=fast", "backend.num_steps=-5"), {"num_steps"})


def test_a_missing_reference_file_is_named_before_the_fit():
    cfg = composed("evaluation.reference=/nowhere/posterior.nc")
    with pytest.raises(ConfigError, match=r"evaluation\.reference=/nowhere/posterior\.nc: no such"):
        check_config(cfg)


# ------------------------------------------------------------------- feature lists
@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    from evaluation.data.export import write_example_tables

    return write_example_tables(tmp_path_factory.mktemp("tables"), n_groups=6, n_units=300, seed=0)


def table_overrides(tables, units: str, groups: str) -> list[str]:
    return [
        "data=tables",
        f"data.units_path={tables.units}",
        f"data.groups_path={tables.groups}",
        "data.outcome=signed",
        "data.group_id=worksite_id",
        f"data.unit_features={units}",
        f"data.group_features={groups}",
    ]


@pytest.mark.parametrize(
    ("units", "groups", "worker", "site"),
    [
        ("[is_male,n_notes]", "{pct_male:standardize}", ["is_male", "n_notes"], ["pct_male"]),
        ("{n_notes:standardize}", "[pct_male,ndo]", ["n_notes"], ["pct_male", "ndo"]),
        ("{eigen_centrality:[log,standardize]}", "[ndo]", ["log_eigen_centrality"], ["ndo"]),
    ],
)
def test_a_feature_list_or_mapping_on_the_command_line(tables, units, groups, worker, site):
    cfg = composed(*table_overrides(tables, units, groups))
    check_config(cfg)
    data, _, _ = data_from_config(cfg.data)
    assert list(data.worker_features) == worker and list(data.site_features) == site
    assert data.meta["design"]["worker_features"] == worker
