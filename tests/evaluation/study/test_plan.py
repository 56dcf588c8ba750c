"""The study's plan (issue 30): the default worlds, seeds and methods the issue asks for, the
command lines that run them, and the planned job count the progress line divides by."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.config import compose_error
from evaluation.study.plan import (
    STUDIES,
    Study,
    Sweep,
    commands,
    planned_jobs,
    seed_overrides,
)

BY_KEY = {s.key: s for s in STUDIES}


def seeds_of(study: Study, method: str, repeat: int = 0, n: int | None = None) -> int:
    """Data seeds on which ``method`` gets fit ``repeat``, read back from the command lines."""
    out = 0
    for cmd in commands(study, Path("sweep"), n_seeds=n):
        args = dict(a.split("=", 1) for a in cmd[3:])
        if method in args["backend"].split(",") and str(repeat) in args["repeat"].split(","):
            out += int(args["data.seed"].removeprefix("range(0,").rstrip(")"))
    return out


def test_the_default_runs_the_seeds_the_issue_asks_for():
    null, paper, thornton = BY_KEY["null"], BY_KEY["paper"], BY_KEY["thornton"]
    assert null.experiment == "evidence_null" and seeds_of(null, "pyro_meanfield") >= 30
    assert seeds_of(thornton, "pymc_nuts") >= 20
    assert paper.experiment == "evidence_paper"
    for method in ("pymc_nuts", "pyro_meanfield", "pymc_dadvi_lr"):
        assert seeds_of(paper, method) >= 10, method
    # the floors exist where the answer is read: NUTS's and mean-field's repeats, on a subset
    for study in (null, paper, thornton):
        assert 5 <= seeds_of(study, "pymc_nuts", 1) < seeds_of(study, "pymc_nuts")
        assert seeds_of(study, "pyro_meanfield", 1) == seeds_of(study, "pymc_nuts", 1)
    assert "evidence_thornton" not in {s.experiment for s in STUDIES}  # splits are gone


def test_a_subset_sweep_never_runs_more_seeds_than_the_study():
    null = BY_KEY["null"]
    assert seeds_of(null, "pyro_fullrank", n=4) == 4  # --seeds 4: the subset of 10 shrinks
    assert seeds_of(null, "pyro_fullrank", n=50) == 10
    assert seeds_of(null, "pyro_meanfield", n=50) == 50
    with pytest.raises(ValueError, match="at least"):
        seed_overrides(null, 1)


def test_planned_jobs_counts_what_hydra_would_launch_with_the_last_override_winning():
    three = ("pymc_nuts", "pyro_meanfield", "stan_meanfield")
    study = Study("w", "W", "evidence", (Sweep(three, (0, 1)), Sweep(three[:1], (1,), 3)),
                  seeds=7)  # fmt: skip
    first, second = commands(study, Path("d"))
    assert planned_jobs(first) == 3 * 2 * 7 and planned_jobs(second) == 3
    # a user's override comes last and wins: the count follows it
    first, second = commands(study, Path("d"), ["backend=pymc_nuts", "debug=fast"], n_seeds=2)
    assert planned_jobs(first) == 1 * 2 * 2 and planned_jobs(second) == 1 * 1 * 2
    # a study without sweeps runs its experiment's own: 10 seeds x 6 methods x 2 repeats
    (own,) = commands(Study("e", "E", "evidence", seeds=3), Path("d"))
    assert planned_jobs(own) == 3 * 6 * 2  # --seeds on the line wins over range(0,10)


def test_every_default_command_composes_and_runs_the_report_once():
    for study in STUDIES:
        cmds = commands(study, Path("outputs/findings") / study.key)
        assert [c[-1] == "hydra.callbacks.sweep_report.enabled=false" for c in cmds] == [True] * (
            len(cmds) - 1
        ) + [False]
        for cmd in cmds:
            assert compose_error(cmd[3:]) is None, (study.key, cmd[3:])


def test_the_right_world_makes_sigma_worker_small_true():
    """The paper-right world's generating sigma_worker is under the ledger's threshold, so
    the claim sigma_worker_small is true where the paper says so (at 0.25 it was false)."""
    import yaml
    from hydra import compose, initialize_config_dir

    from evaluation.config import schema
    from evaluation.config.core import CONF_DIR

    ledger = yaml.safe_load((CONF_DIR / "claims" / "paper.yaml").read_text())
    claim = next(c for c in ledger["claims"] if c["name"] == "sigma_worker_small")
    schema.register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=evidence_right"])
    assert claim["kind"] == "scale_below" and cfg.data.sigma_worker < claim["threshold"]
    assert cfg.data.n_clusters == 2  # the paper's clusters, planted


def test_your_data_runs_only_when_named_and_composes_on_a_posterior_world():
    from evaluation.commands import findings as cli

    call = cli.check_call(cli.parser().parse_args([]), [])
    assert "yours" not in [s.key for s in call.to_run]
    assert {s.key for s in call.to_run} == {s.key for s in STUDIES if s.default}
    argv = ["--only", "yours", "--", "data.source=thornton_hiv", "claims=thornton_hiv"]
    call = cli.check_call(cli.parser().parse_args(argv), argv)
    assert [s.key for s in call.to_run] == ["yours"]
    assert call.runs_dir.name.startswith("findings-")  # its own runs dir, never the study's
    yours = BY_KEY["yours"]
    for cmd in commands(yours, Path("d"), argv[3:]):
        assert compose_error(cmd[3:]) is None
    assert "data=posterior_world" in cmd and cmd[-2:] == argv[3:]
