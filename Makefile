# Clearframe: `make run` starts the whole mesh, `make test` runs every check. Both install what they need.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test protos lint lock bench clean

$(STAMP): requirements.lock package.json package-lock.json pyproject.toml scripts/install_model_files.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-virtualenv -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	# npm install (not ci): the lock holds only the platform binary this registry serves; the version is exact.
	npm install --no-audit --no-fund --silent
	$(PY) -m pip check
	$(PY) scripts/install_model_files.py
	touch $@

## run: start Triton, every service and Envoy on http://127.0.0.1:8080; Ctrl-C stops everything.
run: $(STAMP)
	$(PY) -m clearframe_mesh

## protos: regenerate the Python stubs and the gateway descriptor set from protos/.
protos: $(STAMP)
	$(PY) scripts/gen_protos.py

## lint: buf lint, stale generated code, buf breaking against main, ruff (checks and formatting), mypy.
lint: $(STAMP)
	$(PY) scripts/gen_protos.py --check
	bash scripts/buf_breaking.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict runtime services scripts bench tests

## test: every check, then the whole test suite (boots the mesh once on free ports).
test: lint
	$(PY) -m pytest -q

## bench: measure against the baselines and write BENCHMARKS.md (boots its own mesh).
bench: $(STAMP)
	$(PY) -m bench

## lock: re-resolve requirements.in into the fully pinned requirements.lock.
lock:
	rm -rf build/lockenv && $(PYTHON) -m venv build/lockenv
	build/lockenv/bin/pip install --quiet --upgrade pip
	build/lockenv/bin/pip install --quiet -r requirements.in
	build/lockenv/bin/pip freeze > requirements.lock

clean:
	rm -rf $(VENV) node_modules build var
