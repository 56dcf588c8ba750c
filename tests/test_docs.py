"""The docs cannot drift from the code: every command README.md and docs/*.md show is checked.

Commands are the lines of the fenced shell blocks (```bash, ```sh or a bare ```) and the inline
code spans that start with a program of the project, on every page. Each is checked by what
its program is:

* ``ppl-compare ...``: its configuration is composed with Hydra's compose API and put through
  the app's own start-up checks (:func:`evaluation.config.check_config` and
  :func:`evaluation.config.check_claims_choice`), so an unknown key, a bad value, a missing
  config or a ledger that does not exist fails here as it would at start-up. ``-m`` and an
  experiment's own ``hydra.sweeper.params`` are expanded into jobs: every value of a config
  group (``backend=a,b``), the first and the last of any other swept value. ``--cfg job`` only
  prints, so it is dropped. Commands on tables (``data=tables``, ``data=paper_tables``) also
  build their data from small tables the test writes, and check the claims ledger against it,
  as the app does before a fit; a posterior world (``data=posterior_world``) has its source
  config composed, and a source on tables built so (not the world: that would fit NUTS).
  ``ppl-compare debug=fast`` (README) is also run for real.
* ``ppl-compare-report``, ``ppl-compare-export``, ``ppl-compare-findings``: the entry point
  that ``pyproject.toml`` names answers ``--help`` with exit status 0, and the arguments shown
  parse with the program's own parser; a findings run's sweeps are composed as above.
* ``make ...``: every target exists and every variable is one the Makefile reads; a recipe
  line that calls one of the programs above is checked as that program.
* ``python benchmarks/X.py ...`` and ``python -m MODULE ...``: the file or module exists,
  ``--help`` exits 0 and names every option shown (``python -m pytest``: its paths exist).
* ``pip install -e '.[EXTRA]'``: the extra is declared in ``pyproject.toml``.

Placeholders are replaced explicitly (:data:`PLACEHOLDERS`, :func:`table_paths`); a command no
rule covers fails unless it is in :data:`NOT_CHECKED` with the reason. Besides the commands:
the README's length, the links between the pages, the layer table of docs/architecture.md
against ``tests/test_architecture.py``, and the user guide naming every backend, claim kind,
experiment, launcher and make target.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
from evalhelpers import run_app
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf, open_dict

from evaluation.api import data_from_config
from evaluation.api.datasets import source_config
from evaluation.claims.kinds import KINDS
from evaluation.claims.section import check_run_claims
from evaluation.config import (
    CONF_DIR,
    ConfigError,
    backend_names,
    check_claims_choice,
    check_config,
    schema,
    typed_backend_keys,
)
from evaluation.data.export import export_twin
from evaluation.rundir import RUN_OUTPUTS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "user-guide.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PAGES: tuple[Path, ...] = (README, *sorted((ROOT / "docs").glob("*.md")))
MAKEFILE = ROOT / "Makefile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: The README's limit (issue 23): what and why, two commands, the answer, where to go next.
README_MAX_LINES = 200

#: Languages of the fenced blocks whose lines are shell commands (a bare ``` is one too).
SHELL = ("", "bash", "sh", "shell", "console")
#: Programs whose inline code spans are commands.
PROGRAMS = ("ppl-compare", "ppl-compare-report", "ppl-compare-export", "ppl-compare-findings",
            "make", "python", "pip")  # fmt: skip
#: Programs the project installs, and the parser of each (module:function).
PARSERS = {
    "ppl-compare-report": "evaluation.commands.report:parser",
    "ppl-compare-export": "evaluation.data.export:_parser",
    "ppl-compare-findings": "evaluation.commands.findings:parser",
}

#: Commands no rule checks, with the reason (each must still be shown somewhere).
NOT_CHECKED: dict[str, str] = {
    ". .venv/bin/activate": "changes the calling shell only; the venv is what `make` creates",
}
#: Launchers whose Hydra plugin is an optional extra: where it is not installed, a command
#: choosing it is composed without that choice (the rest of it is still checked), and the
#: launcher's own file must exist in conf/hydra/launcher/.
OPTIONAL_LAUNCHERS: dict[str, str] = {
    "ray_cluster": "hydra_plugins.hydra_ray_launcher",  # the `ray` extra (not in `all`)
}
#: Placeholder tokens, and the values that stand in for them (one command per value).
PLACEHOLDERS: dict[str, Any] = {
    "backend=<name>": lambda: [f"backend={name}" for name in sorted(backend_names())],
}
#: Data configs of posterior worlds (kind posterior_world): their source is checked too.
WORLDS = ("posterior_world", "world_paper", "world_thornton_hiv")
#: The command of the README that is run for real.
RUN_FOR_REAL = "ppl-compare debug=fast"


# ------------------------------------------------------------------------------ extraction
class Shown(NamedTuple):
    """One command a page shows: where, and its words (comments and env assignments off)."""

    page: str
    line: int
    tokens: tuple[str, ...]

    @property
    def text(self) -> str:
        """The command as one line."""
        return shlex.join(self.tokens)

    @property
    def where(self) -> str:
        """``page:line``."""
        return f"{self.page}:{self.line}"


def _tokens(text: str) -> tuple[str, ...]:
    """Shell words of ``text`` without its comment and leading ``VAR=value`` assignments."""
    words = shlex.split(text, comments=True)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        words.pop(0)
    return tuple(words)


def shown_commands(page: Path) -> list[Shown]:
    """Every command of ``page``: fenced shell lines (continuations joined) and inline spans
    starting with one of :data:`PROGRAMS`."""
    name = str(page.relative_to(ROOT))
    out: list[Shown] = []
    lang: str | None = None
    pending, start = "", 0
    for number, line in enumerate(page.read_text().splitlines(), 1):
        fence = re.match(r"^\s*```(\S*)\s*$", line)
        if fence:
            lang = fence.group(1) if lang is None else None
            continue
        if lang is None:
            for span in re.findall(r"`([^`]+)`", line):
                words = span.split()
                if words and words[0] in PROGRAMS:
                    out.append(Shown(name, number, _tokens(span)))
            continue
        if lang not in SHELL:
            continue
        if not pending:
            start = number
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        words = _tokens(pending)
        pending = ""
        if words:
            out.append(Shown(name, start, words))
    return out


SHOWN: list[Shown] = [cmd for page in PAGES for cmd in shown_commands(page)]


# --------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def hydra_conf() -> Iterator[None]:
    """Hydra initialised on conf/ (the app's configs), the schemas registered."""
    schema.register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, Path]:
    """Small tables for the table commands, the exported twin and the ledger of the guide.

    ``paper_tables``: the twin in the paper's raw layout (10 worksites, 600 workers) plus a
    ``first_convo_time`` column; ``tables``: units ``passed, school, age, income, region`` and
    groups ``school, size`` (the guide's example); ``twin``: what the guide's
    ``ppl-compare-export`` command writes; ``myconf``: a config dir holding the guide's example
    ledger as ``claims/my_claims.yaml``.
    """
    root = tmp_path_factory.mktemp("docs")
    paper = export_twin(root / "paper", n_worksites=10, n_workers=600, seed=0)
    units = pd.read_csv(paper.units)
    units["first_convo_time"] = np.random.default_rng(0).uniform(0, 100, len(units))
    units.to_csv(paper.units, index=False)

    rng = np.random.default_rng(1)
    own = root / "tables"
    own.mkdir()
    schools = [f"s{j}" for j in range(8)]
    pd.DataFrame({
        "passed": rng.integers(0, 2, 320),
        "school": np.repeat(schools, 40),
        "age": rng.normal(40, 10, 320),
        "income": rng.lognormal(10, 1, 320),
        "region": rng.choice(["north", "south", "east"], 320),
    }).to_csv(own / "units.csv", index=False)  # fmt: skip
    pd.DataFrame({"school": schools, "size": rng.integers(50, 500, 8)}).to_csv(
        own / "groups.csv", index=False
    )

    (twin,) = [c for c in SHOWN if c.tokens[0] == "ppl-compare-export" and "twin/" in c.tokens]
    args = [str(root / "twin") if t == "twin/" else t for t in twin.tokens[1:]]
    assert _entry_point("ppl-compare-export")(args) == 0

    (ledger,) = [b for b in yaml_blocks(GUIDE) if re.search(r"^claims:", b, re.M)]
    (root / "myconf" / "claims").mkdir(parents=True)
    (root / "myconf" / "claims" / "my_claims.yaml").write_text(ledger)
    return {"paper_tables": root / "paper", "tables": own, "twin": root / "twin",
            "myconf": root / "myconf", "root": root}  # fmt: skip


def yaml_blocks(page: Path) -> list[str]:
    """The contents of the ```yaml blocks of ``page``."""
    return re.findall(r"^```yaml\n(.*?)^```", page.read_text(), re.M | re.S)


# --------------------------------------------------------------------------- ppl-compare
def table_paths(tokens: list[str], tables: dict[str, Path]) -> list[str]:
    """``tokens`` with the table placeholders of the docs replaced by real files.

    ``units.csv`` / ``groups.csv`` stand for tables of the command's data kind
    (``data=paper_tables`` or ``data=tables``), ``twin/...`` for the exported twin and
    ``file://myconf`` for the config dir holding the guide's ledger; in a posterior world's
    ``data.source_overrides={units_path: units.csv, ...}`` they stand for its source's tables.
    Any other path is left as it is (a missing file then fails when the data are built).
    """
    kind = next((t.split("=", 1)[1] for t in tokens if t.startswith("data=")), None)
    if kind in WORLDS:  # a posterior world: its source's tables (data.source, default tables)
        kind = next((t.split("=", 1)[1] for t in tokens if t.startswith("data.source=")),
                    "tables")  # fmt: skip
    out = []
    for tok in tokens:
        key, _, value = tok.partition("=")
        if key in ("data.units_path", "data.groups_path"):
            folder, _, file = value.rpartition("/")
            base = tables["twin"] if folder == "twin" else tables[str(kind)] if not folder else None
            tok = f"{key}={base / file}" if base is not None else tok
        if key == "data.source_overrides" and kind in tables:  # {units_path: units.csv, ...}
            tok = re.sub(r"\b(units_path|groups_path): ([\w.]+)",
                         lambda m: f"{m[1]}: '{tables[str(kind)] / m[2]}'", tok)  # fmt: skip
        out.append(tok.replace("file://myconf", f"file://{tables['myconf']}"))
    return out


@functools.cache
def composed(overrides: tuple[str, ...]) -> tuple[Any, Any]:
    """The run config and the hydra config of ``overrides`` (cached: many jobs repeat)."""
    cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    hc = cfg.hydra
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, hc


def _key(override: Any) -> str:
    """The key an override sets, without its ``+``/``++``/``~`` prefix."""
    return override.get_key_element().lstrip("+~")


def _values(override: Any) -> list[str]:
    """The override strings of one parsed override: each value of a sweep, else itself."""
    if not override.is_sweep_override():
        return [override.input_line]
    key = override.get_key_element()
    return [f"{key}={v}" for v in override.sweep_string_iterator()]


#: Experiments whose own ``hydra.sweeper.params`` were already expanded in this session: a
#: later command choosing one of them checks the first value of each of those params only.
EXPANDED: set[str] = set()


def jobs(args: list[str]) -> list[tuple[str, ...]]:
    """The jobs of ``ppl-compare ARGS``: one, or the sweep's (every group value, the first and
    last of other swept values), with an experiment's own ``hydra.sweeper.params`` (expanded
    the first time the experiment is met, see :data:`EXPANDED`)."""
    multirun = any(a in ("-m", "--multirun") for a in args)
    rest, skip = [], False
    for a in args:
        if skip:
            assert a in ("job", "hydra", "all"), f"--cfg {a}: not a Hydra config kind"
            skip = False
        elif a == "--cfg":
            skip = True
        elif a in ("-m", "--multirun"):
            continue
        else:
            assert not a.startswith("-"), f"flag {a} is not one ppl-compare takes"
            rest.append(a)
    parser = OverridesParser.create()
    swept: dict[str, list[str]] = {_key(o): _values(o) for o in parser.parse_overrides(rest)}
    base = tuple(v[0] for v in swept.values())
    _, hc = composed(base)
    if multirun or hc.mode == RunMode.MULTIRUN:
        params = hc.sweeper.get("params")
        params = OmegaConf.to_container(params) if params else {}
        own = {_key(o): _values(o) for o in parser.parse_overrides(
            [f"{k}={v}" for k, v in params.items()])}  # fmt: skip
        experiment = str(hc.runtime.choices.get("experiment"))
        if experiment in EXPANDED:
            own = {k: v[:1] for k, v in own.items()}
        EXPANDED.add(experiment)
        swept = {**own, **swept}  # the command line wins
    elif any(len(v) > 1 for v in swept.values()):
        pytest.fail("a comma list without -m (and no MULTIRUN experiment): Hydra refuses it")
    first = {k: v[0] for k, v in swept.items()}
    out = [tuple(first.values())]
    for key, values in swept.items():
        group = "/" in key or (CONF_DIR / key).is_dir()
        for value in values[1:] if group else values[1:][-1:]:
            out.append(tuple({**first, key: value}.values()))
    return out


@functools.cache
def checked(overrides: tuple[str, ...]) -> None:
    """The app's start-up checks on the config of ``overrides`` (cached; a failure is not)."""
    cfg, hc = composed(overrides)
    try:
        check_claims_choice(cfg, hc)
        check_config(cfg, typed_backend_keys(hc.overrides.task))
        if cfg.data.kind in ("tables", "paper_tables") and cfg.data.get("units_path"):
            _, train, _ = data_from_config(cfg.data)
            check_run_claims(cfg.get("claims"), train)
        if cfg.data.kind == "posterior_world":  # its source composes; its tables are built
            source = source_config(cfg.data)  # (the world itself would fit NUTS: not here)
            if source["kind"] in ("tables", "paper_tables") and source.get("units_path"):
                check_run_claims(cfg.get("claims"), data_from_config(source).train)
    except ConfigError as exc:
        pytest.fail(f"{' '.join(overrides)}: {exc}")


def check_app(args: list[str], tables: dict[str, Path]) -> int:
    """Compose every job of ``ppl-compare ARGS`` and run the app's start-up checks on it;
    returns the number of jobs checked."""
    args = table_paths(args, tables)
    for launcher, plugin in OPTIONAL_LAUNCHERS.items():
        choice = f"hydra/launcher={launcher}"
        if choice in args and importlib.util.find_spec(plugin) is None:
            assert (CONF_DIR / "hydra" / "launcher" / f"{launcher}.yaml").is_file()
            args = [a for a in args if a != choice and not a.startswith("hydra.launcher.")]
    count = 0
    for overrides in jobs(args):
        checked(overrides)
        count += 1
    return count


# ------------------------------------------------------------------ the other programs
def _entry_point(prog: str) -> Any:
    """The function ``pyproject.toml`` installs as ``prog``."""
    module, _, func = PYPROJECT["project"]["scripts"][prog].partition(":")
    return getattr(importlib.import_module(module), func)


@functools.cache
def entry_point_help(prog: str) -> str:
    """``prog --help`` through the entry point pyproject.toml names (exit status 0)."""
    out, argv = io.StringIO(), sys.argv
    sys.argv = [prog, "--help"]
    try:
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
            _entry_point(prog)()
    finally:
        sys.argv = argv
    assert stop.value.code in (0, None), f"{prog} --help exited {stop.value.code}"
    return out.getvalue()


def check_program(prog: str, args: list[str], tables: dict[str, Path]) -> None:
    """``--help`` works, the arguments parse; a findings run's sweeps compose."""
    assert prog in entry_point_help(prog)
    module, _, func = PARSERS[prog].partition(":")
    parser = getattr(importlib.import_module(module), func)()
    try:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            parsed = parser.parse_args(args)
    except SystemExit:
        if not args:
            return  # the program named in prose (it needs arguments): --help is the check
        pytest.fail(f"{prog} {shlex.join(args)}: {err.getvalue().strip()}")
    if prog == "ppl-compare-findings" and not parsed.document_only:
        from evaluation.study.plan import STUDIES, commands

        only = (parsed.only or ",".join(s.key for s in STUDIES if s.default)).split(",")
        assert set(only) <= {s.key for s in STUDIES}, f"--only {parsed.only}: no such study"
        for study in (s for s in STUDIES if s.key in only):
            for cmd in commands(study, tables["root"] / "findings", parsed.overrides):
                assert cmd[1:3] == ["-m", "evaluation.app"]
                check_app(cmd[3:], tables)


@functools.cache
def script_help(*cmd: str) -> str:
    """``python CMD --help`` in a subprocess (exit status 0), the project on the path."""
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    proc = subprocess.run([sys.executable, *cmd, "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, f"python {' '.join(cmd)} --help: {proc.stderr[-1500:]}"
    return proc.stdout


def check_python(args: list[str]) -> None:
    """A benchmark script or a module: it exists, ``--help`` works and names the options."""
    if args[0] == "-m":
        module, rest = args[1], args[2:]
        assert importlib.util.find_spec(module) is not None, f"no module {module}"
        if module == "pytest":
            takes_value = ("-m", "-k", "-p", "-c", "-o")
            paths = [
                a
                for i, a in enumerate(rest)
                if not a.startswith("-") and (i == 0 or rest[i - 1] not in takes_value)
            ]
            for path in (p.split("::")[0] for p in paths):
                assert (ROOT / path).exists(), f"pytest path {path} does not exist"
            return
        text = script_help("-m", module)
    else:
        script, rest = args[0], args[1:]
        assert (ROOT / script).is_file(), f"no file {script}"
        text = script_help(script)
    for option in (a.split("=")[0] for a in rest if a.startswith("--")):
        assert option in text, f"{option} is not an option of python {' '.join(args[:2])}"


def makefile() -> tuple[dict[str, list[str]], dict[str, str]]:
    """The Makefile's targets with their recipe lines, and its ``?=`` variables."""
    targets: dict[str, list[str]] = {}
    variables: dict[str, str] = {}
    current = None
    for line in MAKEFILE.read_text().splitlines():
        if line.startswith("\t") and current is not None:
            targets[current].append(line.strip())
            continue
        if m := re.match(r"^(\w+)\s*\?=\s*(.*)$", line):
            variables[m.group(1)] = m.group(2).strip()
        elif m := re.match(r"^([\w.$()/-]+)\s*:(?!=)", line):
            current = m.group(1)
            targets.setdefault(current, [])
        elif line.strip() and not line.startswith("#"):
            current = None
    return targets, variables


def check_make(args: list[str], tables: dict[str, Path]) -> None:
    """Targets exist, variables are the Makefile's; recipes calling our programs check out."""
    targets, variables = makefile()
    given = dict(a.split("=", 1) for a in args if "=" in a)
    unknown = sorted(set(given) - set(variables))
    assert not unknown, f"make variables the Makefile does not read: {unknown}"
    for target in (a for a in args if "=" not in a):
        assert target in targets, f"no make target {target}"
        for line in targets[target]:
            if not line.startswith("$(BIN)/"):
                continue
            text = re.sub(r"\$\((\w+)\)", lambda m: given.get(m[1], variables.get(m[1], "")),
                          line.removeprefix("$(BIN)/"))  # fmt: skip
            words = shlex.split(text)
            if words[0] in PROGRAMS:
                check_command(list(words), tables)


def check_pip(args: list[str]) -> None:
    """``pip install -e '.[EXTRA,...]'``: every extra is declared."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    (spec,) = [a for a in args if a.startswith(".[")]
    for extra in re.fullmatch(r"\.\[([\w,-]+)\]", spec).group(1).split(","):
        assert extra in extras, f"no extra {extra} in pyproject.toml"


def check_command(tokens: list[str], tables: dict[str, Path]) -> None:
    """Check one command by its program (see the module docstring)."""
    prog, args = tokens[0], tokens[1:]
    if prog == "ppl-compare":
        assert check_app(args, tables) >= 1
    elif prog in PARSERS:
        check_program(prog, args, tables)
    elif prog == "make":
        check_make(args, tables)
    elif prog == "python":
        check_python(args)
    elif prog == "pip":
        assert args[:2] == ["install", "-e"], "pip: only `pip install -e '.[extra]'` is checked"
        check_pip(args)
    else:
        pytest.fail(f"no rule checks `{prog}` and it is not in NOT_CHECKED")


def expanded(tokens: tuple[str, ...]) -> list[list[str]]:
    """``tokens`` with :data:`PLACEHOLDERS` replaced: one command per placeholder value."""
    out: list[list[str]] = [[]]
    for tok in tokens:
        values = PLACEHOLDERS[tok]() if tok in PLACEHOLDERS else [tok]
        out = [[*cmd, v] for cmd in out for v in values]
    return out


# ---------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("shown", SHOWN, ids=lambda c: f"{c.where} {c.text[:60]}")
def test_every_shown_command_checks_out(shown: Shown, hydra_conf, tables):
    """Each command the README and docs/ show passes the check of its program."""
    if shown.text in NOT_CHECKED:
        return
    for tokens in expanded(shown.tokens):
        check_command(tokens, tables)


def test_not_checked_commands_are_still_shown():
    """An entry of NOT_CHECKED that no page shows any more is stale."""
    texts = {c.text for c in SHOWN}
    assert not set(NOT_CHECKED) - texts


def test_the_docs_show_commands_of_every_program():
    """The extraction finds commands of every program (a broken pattern would check
    nothing)."""
    assert set(PROGRAMS) <= {c.tokens[0] for c in SHOWN}


def test_the_readme_command_runs(tmp_path):
    """``ppl-compare debug=fast`` (README) completes and writes what the user guide lists."""
    assert RUN_FOR_REAL in {c.text for c in SHOWN if c.page == "README.md"}
    run_dir = tmp_path / "run"
    proc = run_app(*RUN_FOR_REAL.split()[1:], f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    guide = GUIDE.read_text()
    written = {p.name for p in run_dir.iterdir()}
    for name in RUN_OUTPUTS:
        assert f"`{name}`" in guide, f"the user guide does not say a run may write {name}"
    expected = set(RUN_OUTPUTS) - {"failed.json"} | {"figures", ".hydra", "app.log"}
    assert expected <= written, f"missing: {expected - written}"
    sections = json.loads((run_dir / "metrics.json").read_text())
    missing = [key for key in sections if f"`{key}`" not in guide]
    assert not missing, f"metrics.json sections the user guide does not name: {missing}"


def test_the_exported_twin_is_the_data_the_guide_says(hydra_conf, tables):
    """The guide: fitting the exported tables fits exactly what ``data=paper data.seed=0``
    builds."""
    assert "the data that `data=paper data.seed=0` builds" in GUIDE.read_text()
    (cmd,) = [c for c in SHOWN if "data.units_path=twin/units.csv" in c.tokens]
    twin, _ = composed(tuple(table_paths(list(cmd.tokens[1:]), tables)))
    paper, _ = composed(("data=paper", "data.seed=0"))
    got, want = data_from_config(twin.data)[0], data_from_config(paper.data)[0]
    np.testing.assert_array_equal(got.y, want.y)
    np.testing.assert_array_equal(got.site, want.site)
    np.testing.assert_allclose(got.X_site, want.X_site, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.X_worker, want.X_worker, rtol=0, atol=1e-12)
    assert got.worksite_ids == want.worksite_ids


def test_readme_is_at_most_200_lines():
    """Issue 23: the README is short; the rest lives in docs/."""
    n = len(README.read_text().splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines"


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = heading.strip().lower().replace("`", "")
    keep = [c for c in text if c in " -_" or unicodedata.category(c)[0] in "LMN"]
    return "".join(keep).replace(" ", "-")


def test_links_between_the_pages_resolve():
    """Every relative link of the README and docs/ names an existing file (and heading)."""
    bad = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                bad.append(f"{page.name}: {target}")
            elif anchor and file.suffix == ".md":
                heads = re.findall(r"^#+ (.*)$", file.read_text(), re.M)
                if anchor not in {slug(h) for h in heads}:
                    bad.append(f"{page.name}: {target} (no such heading)")
    assert not bad, bad


def test_architecture_page_states_the_layers_the_guard_checks():
    """The layer table of docs/architecture.md is LAYERS of tests/test_architecture.py."""
    import test_architecture

    text = ARCHITECTURE.read_text().split("## Layers", 1)[1].split("\n## ", 1)[0]
    stated = {
        module: int(row[0])
        for row in re.findall(r"^\| (\d+) \| (.*) \|$", text, re.M)
        for module in re.findall(r"`([\w.]+)`", row[1])
    }
    assert stated == test_architecture.LAYERS


def test_the_user_guide_names_every_backend_kind_experiment_launcher_and_target():
    """A backend, claim kind, experiment, launcher or make target the guide does not name is
    one a user cannot find."""
    text = GUIDE.read_text()
    phony = re.search(r"^\.PHONY:(.*)$", MAKEFILE.read_text(), re.M).group(1).split()
    want = {
        "backend": sorted(backend_names()),
        "claim kind": sorted(KINDS),
        "experiment": sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")),
        "launcher": [f"hydra/launcher={p.stem}"
                     for p in sorted((CONF_DIR / "hydra" / "launcher").glob("*.yaml"))],
        "make target": [f"make {t}" for t in phony],
    }  # fmt: skip
    missing = {what: [n for n in names if f"`{n}`" not in text] for what, names in want.items()}
    assert not any(missing.values()), missing
