"""How long NUTS should warm up on the study's data: ESS per gradient and the fit itself (prints).

For each data seed of ``experiment=<name>`` (default ``evidence``: the quarter-sized twin)
``pymc_nuts`` is fitted with each ``--tunes`` warm-up length at the chain seed of repeat 0,
with the experiment's chains and draws, and once more as the comparison at repeat 1's seed:
by default with the longest warm-up (then the longest warm-up's row against it is the
NUTS-vs-NUTS noise floor), with ``--compare TUNE DRAWS`` a longer run (a precise posterior)::

    python benchmarks/nuts_warmup.py                          # seeds 0-5, tune 200 vs 400
    python benchmarks/nuts_warmup.py --seeds 0 1 --tunes 100 200 400
    python benchmarks/nuts_warmup.py --compare 1000 2000      # against 4 x (1000 + 2000)
    python benchmarks/nuts_warmup.py --data sigma_site=1.0 n_clusters=0   # the paper-wrong world
    python benchmarks/nuts_warmup.py --experiment evidence_thornton --seeds 0 1 2

Per seed and warm-up: gradients (leapfrog steps) of the warm-up and of the draws, CPU seconds
of the sampler, min bulk ESS over every element of every parameter, min ESS per 1,000
gradients and per CPU second, max R-hat; against the comparison fit: the median sd ratio of
beta_site and of beta_worker, sigma_worker's sd ratio and the largest |dP| of a claim.  Last,
per warm-up, the means over seeds.  Gradients and ESS do not move with machine load; CPU
seconds move less than wall time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def study_settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any], dict]:
    """The experiment's data config (with ``--data``), NUTS settings and evaluation settings."""
    import yaml

    from evaluation.config.compose import compose_choice
    from evaluation.config.core import plain

    cfg = compose_choice("experiment", args.experiment)
    nuts = {k: v for k, v in plain(cfg.backend_overrides).items()
            if k in ("chains", "draws", "progress")}  # fmt: skip
    data = {**plain(cfg.data), **{k: yaml.safe_load(v) for k, v in
                                  (item.split("=", 1) for item in args.data)}}  # fmt: skip
    return data, nuts, plain(cfg.evaluation)


def fit_and_judge(data: Any, settings: dict[str, Any], seed: int, evaluation: dict) -> Any:
    """A ``pymc_nuts`` fit of ``data`` with ``settings``, and its claims judged."""
    from evaluation import api

    fit = api.fit(data, "pymc_nuts", seed=seed, **settings)
    return fit, api.judge(fit, data, claims="auto", seed=seed, evaluation=evaluation)


def against(
    fit: Any, judged: Any, other: Any, other_judged: Any, data: Any, evaluation: dict
) -> dict:
    """sd ratios and the largest claim |dP| of ``fit`` against the comparison fit ``other``."""
    from evaluation import api

    blocks = api.judge(fit, data, reference=other, claims=None,
                       evaluation=evaluation).metrics["reference"]["blocks"]  # fmt: skip
    sigma = [f.idata.posterior["sigma_worker"].values.std() for f in (fit, other)]
    claims = api.compare_claims(judged, other_judged)
    dp = (claims["p_method"] - claims["p_reference"]).abs()
    return {"sd_ratio_beta_site": blocks["beta_site"]["sd_ratio_median"],
            "sd_ratio_beta_worker": blocks["beta_worker"]["sd_ratio_median"],
            "sd_ratio_sigma_worker": sigma[0] / sigma[1],
            "max_abs_dP": float(dp.max())}  # fmt: skip


def seed_rows(seed: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every warm-up's row for one data seed, then the comparison fit's (``tune`` 'compare')."""
    from evaluation import api
    from evaluation.fitting import fit_seed
    from evaluation.metrics.diagnostics import mcmc_diagnostics
    from evaluation.metrics.draws import extract

    data_cfg, nuts, evaluation = study_settings(args)
    data = api.data_from_config({**data_cfg, "seed": seed})
    tune, draws = args.compare or (max(args.tunes), nuts["draws"])
    other, other_judged = fit_and_judge(data, {**nuts, "tune": tune, "draws": draws},
                                        fit_seed(seed, 1), evaluation)  # fmt: skip
    rows = []
    for tune in [*args.tunes, "compare"]:
        fit, judged = ((other, other_judged) if tune == "compare" else
                       fit_and_judge(data, {**nuts, "tune": tune}, seed, evaluation))  # fmt: skip
        info, diag = fit.info, mcmc_diagnostics(extract(fit.idata))
        ess, n_grad = diag["min_ess_bulk"], info["n_grad_warmup"] + info["n_grad_draws"]
        row = {"seed": seed, "tune": tune, "n_grad_warmup": info["n_grad_warmup"],
               "n_grad_draws": info["n_grad_draws"], "cpu_s": info["sampling_cpu_s"],
               "min_ess": ess, "ess_per_kgrad": 1e3 * ess / n_grad,
               "ess_per_cpu_s": ess / info["sampling_cpu_s"],
               "max_rhat": diag["max_rhat"]}  # fmt: skip
        if tune != "compare":
            row.update(against(fit, judged, other, other_judged, data, evaluation))
        rows.append(row)
        print(row, flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, fit every seed and warm-up, print the table and the means."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="evidence")
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(6)))
    p.add_argument("--tunes", type=int, nargs="+", default=[200, 400])
    p.add_argument(
        "--compare",
        type=int,
        nargs=2,
        metavar=("TUNE", "DRAWS"),
        default=None,
        help="the comparison fit's warm-up and draws (default: the longest tune)",
    )
    p.add_argument(
        "--data",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="data settings over the experiment's (e.g. sigma_site=1.0)",
    )
    args = p.parse_args(argv)
    df = pd.DataFrame([row for seed in args.seeds for row in seed_rows(seed, args)])
    with pd.option_context("display.width", 220, "display.max_columns", 20):
        print(df.round(3).to_string(index=False))
        means = df.drop(columns="seed").groupby("tune", sort=False).mean(numeric_only=True)
        print("\nmeans over seeds (the 'compare' row: the comparison fit at repeat 1's seed)")
        print(means.round(3).to_string())


if __name__ == "__main__":
    main()
