"""The posterior and predictive judges compute numbers: no path in, no file or figure out."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
from evalhelpers import make_data, make_idata, normal_draws, point

from evaluation.metrics import distance, draws, posterior, predictive
from evaluation.metrics.draws import extract

JUDGES = (draws, distance, posterior, predictive)
ROOT = Path(__file__).resolve().parents[3]
#: Names that would mean drawing or writing.
DRAWING = ("matplotlib", "save_figure", "pyplot", "savefig", "evaluation.io", "evaluation.report")


def _public_functions(module):
    return [f for name, f in inspect.getmembers(module, inspect.isfunction)
            if not name.startswith("_") and f.__module__ == module.__name__]  # fmt: skip


def test_no_judge_takes_a_path():
    for module in JUDGES:
        for f in _public_functions(module):
            for name, param in inspect.signature(f).parameters.items():
                assert "path" not in name and "dir" not in name, (f.__qualname__, name)
                assert "Path" not in str(param.annotation), (f.__qualname__, name)


def test_no_judge_module_draws_or_writes():
    for module in JUDGES:
        source = Path(module.__file__).read_text()
        tree = ast.parse(source)
        imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        for word in DRAWING:
            assert not any(word in name for name in imported), (module.__name__, word)
        assert ".savefig(" not in source and "open(" not in source, module.__name__


def test_judges_return_numbers_and_leave_the_file_system_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data0 = make_data(n_sites=5, n_workers=200, kw=2)
    data = make_data(n_sites=5, n_workers=200, kw=2, truth=point(data0, seed=1))
    ref = make_idata(normal_draws(data, data.truth, 0.3, 2, 100, seed=1), data)
    fit = make_idata(normal_draws(data, data.truth, 0.2, 2, 100, seed=2), data)
    res = predictive.predictive_pass(extract(fit, data), data)
    out = [
        predictive.predictive_metrics(extract(fit, data), data, res=res),
        predictive.predictive_curves(res, data),
        posterior.posterior_section(extract(fit, data), data),
        posterior.sigma_collapse(extract(fit), reference=extract(ref), truth=data.truth),
        posterior.compare_to_reference(extract(fit), extract(ref)),
        posterior.yao_points(extract(fit), extract(ref)),
    ]
    assert all(o is not None for o in out)
    assert isinstance(out[1].rep_rate, np.ndarray) and isinstance(out[5].sme, np.ndarray)
    assert list(tmp_path.iterdir()) == []
