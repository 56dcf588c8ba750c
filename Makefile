# Two commands do all the set-up on a fresh machine (Python 3.11, pip, gcc):
#   make run    # venv + torch (CPU) + project + CmdStan, then the main job
#   make test   # the same set-up, then the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch must be pinned and installed first: an unpinned torch pulls a multi-GB CUDA build.
# Elsewhere, e.g.: make TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" run
TORCH_SPEC     ?= torch==2.13.0
TORCH_PIP_ARGS ?=
RUN_ARGS       ?=
PYTEST_ARGS    ?=

.PHONY: setup cmdstan run run-fast findings tutorial test test-slow lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -e ".[all]"
	touch $(STAMP)

cmdstan: $(STAMP)
	$(BIN)/python -m backends.stan.install

setup: $(STAMP) cmdstan

# The main job: pyro_meanfield, pymc_nuts and stan_nuts on the same paper twin, then the
# comparison report (conf/experiment/main.yaml).
run: setup
	$(BIN)/ppl-compare experiment=main $(RUN_ARGS)

run-fast: setup
	$(BIN)/ppl-compare experiment=main debug=fast $(RUN_ARGS)

# The study's findings: the sweeps of evaluation/study/plan.py (resumable), then
# docs/findings.md + docs/figures/ (FINDINGS_ARGS e.g. "--only twin" or "--document-only").
FINDINGS_ARGS ?=
findings: setup
	$(BIN)/ppl-compare-findings $(FINDINGS_ARGS)

# The lesson (docs/tutorial.ipynb, stored without outputs): executed, then rendered with its
# figures to docs/tutorial.html (about 2 minutes on 2 cores). The notebook itself is not changed.
tutorial: $(STAMP)
	@start=$$(date +%s); \
	PYTHONPATH=$(CURDIR) $(BIN)/jupyter nbconvert --to html --execute \
		--ExecutePreprocessor.timeout=600 --output tutorial.html docs/tutorial.ipynb && \
	echo "make tutorial: executed and rendered in $$(( $$(date +%s) - start )) s"

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: setup
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
