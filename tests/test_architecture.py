"""The layout guard: no import cycles inside backends/ or evaluation/, imports flow one way,
judges only judge, no module over :data:`MAX_LINES` lines.

Walks every module with ``ast`` (nothing is imported), builds the graph of imports between
project modules, and checks

* the graph is acyclic (module level and function level alike);
* no lower layer imports a higher one (docs/architecture.md: app, api, commands -> report ->
  sweep, study, fitting, judge -> metrics, clustering, claims -> data -> config, io, signals
  -> backends.spec, backends.base); so the sweep's table and the study's statistics never
  import the report that draws them, and nothing but the top floor imports a command;
* a report document (``report/run``, ``sweep``, ``study``, ``lesson``) imports the report's
  shared part and itself, never another document, and the shared part imports no document;
* no module has more than :data:`MAX_LINES` lines;
* ``backends`` never imports ``evaluation``;
* a function-level import of a project module appears only where it keeps an optional PPL
  (torch/pyro, pymc, cmdstanpy) out of import time, i.e. only inside ``backends/<ppl>/``;
* the judges (metrics, clustering, claims, the judge) import no PPL, no plotting library and
  none of the project's writers or fitters, and call nothing that writes a file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("backends", "evaluation")

#: Layer of each module prefix (longest prefix wins); a module may import only its own layer
#: or lower ones.
LAYERS: dict[str, int] = {
    "backends": 0,
    "evaluation": 0,  # the package itself: a docstring only
    "evaluation.io": 1,
    "evaluation.signals": 1,
    "evaluation.config": 1,
    "evaluation.data": 2,
    "evaluation.metrics": 3,
    "evaluation.clustering": 3,
    "evaluation.claims": 3,
    "evaluation.fitting": 4,
    "evaluation.judge": 4,
    "evaluation.sweep": 4,  # the sweep's table: numbers, below the report that draws it
    "evaluation.study": 4,  # the study's plan and statistics: below its document
    "evaluation.report": 5,
    "evaluation.rundir": 5,
    "evaluation.api": 6,  # the Python API: the app's stages as functions
    "evaluation.app": 6,
    "evaluation.commands": 6,  # the other CLIs and the sweep callback
}
#: The report's documents (sub-packages of ``evaluation.report``); its other modules are the
#: part they share.
DOCUMENTS = ("run", "sweep", "study", "lesson")
#: The most lines a module may have (a reader holds it at once).
MAX_LINES = 400
#: Packages whose modules may import project modules inside functions (optional PPLs).
LAZY_OK = ("backends.pyro", "backends.pymc", "backends.stan")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[module_name(path)] = path
    return out


MODULES = modules()


def resolve(name: str) -> str | None:
    """The project module an imported name refers to (a module, or the module defining it)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported project module, is_function_level) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        if not names:
            continue
        inner, up = False, parents.get(node)
        while up is not None:
            if isinstance(up, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = True
            if isinstance(up, ast.If) and "TYPE_CHECKING" in ast.unparse(up.test):
                break  # typing-only imports are not run
            up = parents.get(up)
        else:
            for name in names:
                target = resolve(name)
                if target is not None:
                    found.append((target, inner))
    return found


GRAPH = {name: imports(path) for name, path in MODULES.items()}


def layer(name: str) -> int:
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[best]


def test_every_module_has_a_layer():
    assert all(layer(name) >= 0 for name in MODULES)


def test_no_import_cycles():
    edges = {a: {b for b, _ in deps if b != a} for a, deps in GRAPH.items()}
    # a package __init__ is "imported" by each of its submodules' imports: ignore that edge
    # only where the __init__ holds no imports of its own (a docstring-only package).
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name)


def test_imports_flow_one_way():
    upward = [
        f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
        for a, deps in GRAPH.items()
        for b, _ in deps
        if layer(b) > layer(a)
    ]
    assert not upward, "\n".join(upward)


def document(name: str) -> str | None:
    """The report document ``name`` belongs to (``run``, ...), or None outside one."""
    parts = name.split(".")
    if parts[:2] != ["evaluation", "report"] or len(parts) < 3:
        return None
    return parts[2] if parts[2] in DOCUMENTS else None


def test_report_documents_import_the_shared_part_never_each_other():
    bad = [
        f"{a} ({document(a) or 'shared'}) imports {b} ({document(b)})"
        for a, deps in GRAPH.items()
        if a.startswith("evaluation.report")
        for b, _ in deps
        if document(b) is not None and document(b) != document(a)
    ]
    assert not bad, "\n".join(bad)


def test_no_module_over_the_line_limit():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert not long, f"modules over {MAX_LINES} lines (split along their seams): {long}"


def test_backends_never_import_evaluation():
    bad = [f"{a} imports {b}" for a, deps in GRAPH.items() if a.startswith("backends")
           for b, _ in deps if b.startswith("evaluation")]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_function_level_imports_only_for_optional_ppls():
    bad = [
        f"{a} imports {b} inside a function"
        for a, deps in GRAPH.items()
        for b, inner in deps
        if inner and not a.startswith(LAZY_OK)
    ]
    assert not bad, "\n".join(bad)


def test_package_docstrings_state_their_room():
    missing = [
        name
        for name, path in MODULES.items()
        if path.name == "__init__.py"
        and name.count(".") <= 1
        and not ast.get_docstring(ast.parse(path.read_text()))
    ]
    assert not missing, f"packages without a docstring: {missing}"


#: The judges: numbers from arrays; they never fit, lock, write or draw (DESIGN.md, issue 23).
JUDGES = ("evaluation.metrics", "evaluation.clustering", "evaluation.claims", "evaluation.judge")
#: What a judge may not import: inference libraries, plotting, and the project's writers and
#: fitters.
NOT_FOR_JUDGES = ("torch", "pyro", "pymc", "pytensor", "nutpie", "cmdstanpy", "stan",
                  "pymc_extras", "matplotlib", "seaborn", "evaluation.io", "evaluation.fitting",
                  "evaluation.rundir", "evaluation.report", "backends.pyro", "backends.pymc",
                  "backends.stan", "backends.base.file_lock")  # fmt: skip
#: Calls that write a file or draw.
WRITER_CALLS = ("to_netcdf", "write_text", "write_bytes", "savefig", "to_csv", "to_parquet",
                "dump", "mkdir", "unlink", "file_lock")  # fmt: skip
#: Modules whose every call writes or moves files.
WRITER_MODULES = ("os", "shutil")


def _opens_for_writing(node: ast.Call) -> bool:
    modes = [*node.args[1:], *[k.value for k in node.keywords if k.arg == "mode"]]
    return any(isinstance(m, ast.Constant) and isinstance(m.value, str)
               and bool(set(m.value) & set("wax+")) for m in modes)  # fmt: skip


def all_imports(path: Path) -> list[str]:
    """Every imported name (project or not) of a module, typing-only imports excluded."""
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    typing_only = {
        n
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
        if isinstance(sub, ast.Import | ast.ImportFrom)
        for n in ([a.name for a in sub.names] if isinstance(sub, ast.Import)
                  else [sub.module] + [f"{sub.module}.{a.name}" for a in sub.names])
    }  # fmt: skip
    return [n for n in names if n not in typing_only]


def test_judges_never_import_a_ppl_a_plotting_library_or_a_writer():
    bad = [
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if name.startswith(JUDGES)
        for imported in all_imports(path)
        if any(imported == b or imported.startswith(b + ".") for b in NOT_FOR_JUDGES)
    ]
    assert not bad, "\n".join(bad)


def test_judges_never_call_a_writer_or_open_a_file_for_writing():
    bad = []
    for name, path in MODULES.items():
        if not name.startswith(JUDGES):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
            if called in WRITER_CALLS or (owner in WRITER_MODULES and called != "getenv"):
                bad.append(f"{name}:{node.lineno} calls {owner + '.' if owner else ''}{called}")
            if called == "open" and _opens_for_writing(node):
                bad.append(f"{name}:{node.lineno} opens a file for writing")
    assert not bad, "\n".join(bad)


#: The judges whose functions take the draws as arrays (issue 32: one extraction): a public
#: function there takes :class:`evaluation.metrics.draws.Draws` and arrays, never an
#: InferenceData.
ARRAY_JUDGES = ("evaluation.metrics", "evaluation.clustering", "evaluation.claims")
#: The one function that turns an InferenceData into Draws (once per fit).
EXTRACTOR = "evaluation.metrics.draws.extract"


def idata_parameters(name: str, source: str) -> list[str]:
    """``module.function(parameter)`` of every public function or method of ``source`` with a
    parameter annotated as an InferenceData (the extractor excepted)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name[0] == "_":
            continue
        a = node.args
        for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
            if arg is not None and arg.annotation is not None:
                if "InferenceData" in ast.unparse(arg.annotation):
                    found.append(f"{name}.{node.name}({arg.arg})")
    return [f for f in found if not f.startswith(EXTRACTOR + "(")]


def test_judges_take_draws_never_an_inference_data():
    bad = [
        f
        for name, path in MODULES.items()
        if name.startswith(ARRAY_JUDGES)
        for f in idata_parameters(name, path.read_text())
    ]
    assert not bad, "judges taking an InferenceData (take Draws: metrics.draws.extract):\n" + (
        "\n".join(bad)
    )


def test_a_judge_taking_an_inference_data_is_caught():
    source = (
        "def judge(draws: Draws, idata: az.InferenceData | None = None) -> dict: ...\n"
        "class C:\n    def score(self, *, post: 'InferenceData') -> float: ...\n"
        "def _private(idata: az.InferenceData) -> None: ...\n"
        "def extract(idata: az.InferenceData, data=None) -> Draws: ...\n"
    )
    assert sorted(idata_parameters("evaluation.metrics.x", source)) == [
        "evaluation.metrics.x.extract(idata)",  # only metrics.draws.extract is the extractor
        "evaluation.metrics.x.judge(idata)",
        "evaluation.metrics.x.score(post)",
    ]
    assert sorted(idata_parameters("evaluation.metrics.draws", source)) == [
        "evaluation.metrics.draws.judge(idata)",
        "evaluation.metrics.draws.score(post)",
    ]
