"""The Python API: build data, fit with any backend by name, judge against a reference.

The same stages the ``ppl-compare`` app runs (:mod:`evaluation.app` calls these functions;
it adds Hydra, the run directory, the files and the error handling), for a notebook or a
script that has no command line::

    from evaluation import api

    data = api.make_data(n_worksites=12, n_workers=1200, sigma_worker=1.0, seed=0)
    nuts = api.fit(data, "pymc_nuts", chains=4, tune=300, draws=300)
    meanfield = api.fit(data, "pyro_meanfield", stop_at_convergence=True)
    judged = api.judge(meanfield, data, reference=nuts)
    judged.metrics["predictive"]["auc"], judged.claims[0]["verdict"]
    api.headline(judged)                      # AUC, coverage, sd ratio, sigma_worker, k-hat
    world = api.make_data("world_thornton_hiv", seed=3)   # a world drawn from a real posterior
    api.world_contestable("world_thornton_hiv")           # the claims its worlds can contest

Settings and their defaults have one source each: a data set's in ``conf/data/<name>.yaml``,
a backend's in its class's signature (``conf/backend/<name>.yaml`` holds what differs), the
judges' in ``conf/evaluation/default.yaml``, the model's in ``conf/model/default.yaml``.
Keyword arguments override them, exactly as ``data.<key>=``, ``backend.<key>=`` and
``evaluation.<key>=`` do on the command line.
"""

from evaluation.api.datasets import (
    Data,
    data_config,
    data_from_config,
    load_data,
    make_data,
    posterior_world_data,
)
from evaluation.api.inference import (
    Reference,
    backend_config,
    fit,
    make_model,
    reference,
)
from evaluation.api.judging import (
    Judgement,
    claims_ledger,
    compare_claims,
    evaluation_settings,
    headline,
    headline_table,
    judge,
)
from evaluation.api.worlds import contestable_claims, world_contestable
from evaluation.config import backend_names

__all__ = [
    "Data",
    "Judgement",
    "Reference",
    "backend_config",
    "backend_names",
    "claims_ledger",
    "compare_claims",
    "contestable_claims",
    "data_config",
    "data_from_config",
    "evaluation_settings",
    "fit",
    "headline",
    "headline_table",
    "judge",
    "load_data",
    "make_data",
    "make_model",
    "posterior_world_data",
    "reference",
    "world_contestable",
]
