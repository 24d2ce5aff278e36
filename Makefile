# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
PORT   ?= 8501

.PHONY: run serve test test-real lint format bench screenshots eval clean bytecode

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Chat Lab needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

# The pinned requirements go in with uv (from PyPI, pinned, into the venv by pip): the dev
# set takes about 30 s where pip took 100 s. Bytecode is compiled at install, as pip does
# (on both cores): with PYTHONDONTWRITEBYTECODE set, as it may be, every test process and
# app start would otherwise compile Streamlit and the rest from source again.
UV_VERSION := 0.13.8
UV         := $(VENV)/bin/uv
UV_STAMP   := $(VENV)/.uv-$(UV_VERSION)
INSTALL    := $(UV) pip install --quiet --compile-bytecode --python $(PY)

$(UV_STAMP): | $(PY)
	$(PIP) install uv==$(UV_VERSION)
	@touch $@

# Stamps make a second `make run` skip the install and start in seconds.
$(VENV)/.runtime: requirements.txt constraints.txt | $(UV_STAMP)
	$(INSTALL) -r requirements.txt -c constraints.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt constraints.txt | $(UV_STAMP)
	$(INSTALL) -r requirements-dev.txt -c constraints.txt
	@touch $@ $(VENV)/.runtime

# Our own modules' bytecode, compiled where changed: with PYTHONDONTWRITEBYTECODE set,
# Python never writes it, and every app process and test worker compiled them from source
# again (a quarter of a new process's first run, sampled). It reads bytecode either way.
OWN_CODE := app.py asgi.py chatlab components pages deploy testing benchmarks tests
bytecode: | $(PY)
	@$(PY) -m compileall -q -j0 $(OWN_CODE)

# Where `make run` (and `make serve`'s HAProxy) listens: this machine only, unless
# HOST says otherwise (`make run HOST=0.0.0.0` warns when nobody has to sign in).
HOST    ?= 127.0.0.1
# HOST= (empty) would start Streamlit with `--server.address  --server.port`: refused,
# before anything runs.
ifneq ($(filter run serve,$(MAKECMDGOALS)),)
ifeq ($(strip $(HOST)),)
$(error HOST is empty: give the address to listen on: HOST=127.0.0.1 for this machine only or HOST=0.0.0.0 for every interface)
endif
endif

run: $(VENV)/.runtime bytecode
	@$(PY) -m chatlab.config --check
	@$(PY) -m deploy.listen_check $(HOST)
	$(PY) -m streamlit run asgi.py --server.address $(HOST) --server.port $(PORT)

# N app processes behind HAProxy (apt-get install haproxy) on one database, at PORT:
#   make serve WORKERS=4 PORT=8501 [HOST=0.0.0.0]
WORKERS ?= 2
serve: $(VENV)/.runtime bytecode
	@$(PY) -m chatlab.config --check
	$(PY) deploy/serve.py --workers $(WORKERS) --port $(PORT) --host $(HOST)

# The tests spread over one worker more than the cores: a worker waiting on a browser, an
# app process or a timed reply leaves its core to the others (docs/performance.md, sixth
# round). A worker that runs dry takes tests from another (worksteal). JOBS=0 runs them in
# one process. Pytest keeps the test modules as it rewrote their asserts (__pycache__) only
# where bytecode may be written: without that, each worker rewrote all of them again, half
# of its 9 s of collecting.
JOBS ?= $(shell expr $$(nproc 2>/dev/null || echo 1) + 1)
test: $(VENV)/.dev bytecode
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n $(JOBS) --dist worksteal $(PYTEST_ARGS)

# The browser checks against a real server you run (never in CI; skipped without BASE_URL):
#   make test-real BASE_URL=http://127.0.0.1:8080/v1 MODEL=<model id>
test-real: $(VENV)/.dev
	CHATLAB_REAL_BASE_URL="$(BASE_URL)" CHATLAB_REAL_MODEL="$(MODEL)" \
		$(PY) -m pytest tests/real -p no:cacheprovider --timeout=600 $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# The README's screenshots (docs/*.png), taken from the fake server by the browser tests that
# draw them: the chat with telemetry, a token's probabilities, a Compare report, an evaluation's
# pass-rate matrix.
screenshots: $(VENV)/.dev
	UPDATE_DOCS_SCREENSHOT=1 $(PY) -m pytest -p no:cacheprovider -q \
		"tests/e2e/test_chat.py::test_two_turns_stream_in_and_carry_the_whole_history" \
		"tests/e2e/test_logprobs.py::test_a_clicked_token_shows_its_alternatives_in_a_view_that_fits[1280x800]" \
		"tests/e2e/test_compare.py::test_results_table_and_charts_are_tabs_of_the_report" \
		"tests/e2e/test_evaluation.py::test_an_evaluation_is_scored_rated_and_reopened_after_a_reload" \
		"tests/e2e/test_side_by_side.py::test_two_columns_stream_at_once_and_a_blind_vote_reveals_them"

# An evaluation spec run headless against the configured endpoint, stored for Compare;
# exit 1 below the spec's threshold, 2 on a bad spec:  make eval SPEC=evals/french.yaml
eval: $(VENV)/.runtime
	@test -n "$(SPEC)" || { echo "Name the spec: make eval SPEC=evals/french.yaml" >&2; exit 2; }
	$(PY) -m chatlab eval "$(SPEC)"

bench: $(VENV)/.dev bytecode
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
