# Two commands do all the set-up on a fresh machine:
#   make dev    installs what is missing and runs the whole system locally
#   make test   installs what is missing and runs every check and test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
CDK := npx --yes aws-cdk@2.1148.1

.PHONY: dev test lint typecheck unit integration infra bench clean layers synth deploy lock pipcheck console console-check browser

# The *.txt files are lock files (every transitive pin, with hashes) made by `make lock`
# from the *.in files, which name what we depend on directly.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps

$(VENV)/.dev-installed: requirements/runtime.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements/dev.txt
	$(PY) -c "import sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()['purelib'], 'molesignal-dev.pth').write_text('\n'.join(str(pathlib.Path(p).resolve()) for p in ['layers/core/python', 'functions', '.']) + '\n')"
	touch $@

$(VENV)/.cdk-installed: $(VENV)/.dev-installed requirements/cdk.txt
	$(PIP_INSTALL) -r requirements/cdk.txt
	touch $@

dev: $(VENV)/.dev-installed console/dist/index.html
	$(PY) -m molesignal dev

# The web console (console/): npm packages from the committed lock, API types generated from
# the served OpenAPI document, a Vite build into console/dist that the gateway serves at /.
console/node_modules/.installed: console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

console/dist/index.html: console/node_modules/.installed
	$(MAKE) console

console: $(VENV)/.dev-installed console/node_modules/.installed
	mkdir -p build
	$(PY) -m molesignal openapi > build/openapi.json
	cd console && npm run --silent types && npm run --silent build -- --logLevel warn

console-check: console
	cd console && npm run --silent typecheck && npm run --silent test

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
browser:
	command -v chromium >/dev/null || (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null))

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(VENV)/bin/mypy

unit: $(VENV)/.dev-installed
	$(PY) -m pytest tests/unit -q

integration: $(VENV)/.dev-installed
	$(PY) -m pytest tests/integration -q

infra: $(VENV)/.cdk-installed
	$(PY) -m pytest tests/infra -q

pipcheck: $(VENV)/.cdk-installed
	$(PY) -m pip check

# Regenerate every lock from the *.in files (the dev set is the superset: runtime and CDK
# are resolved inside it, so the three never disagree on a version).
LOCK := $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
lock: $(VENV)/.dev-installed
	$(LOCK) -o requirements/dev.txt requirements/dev.in
	$(LOCK) -c requirements/dev.txt -o requirements/runtime.txt requirements/runtime.in
	$(LOCK) -c requirements/dev.txt -o requirements/cdk.txt requirements/cdk.in

test: $(VENV)/.cdk-installed pipcheck lint typecheck console-check browser
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: $(VENV)/.dev-installed
	$(PY) bench/coldstart/run.py

layers: $(VENV)/.dev-installed
	$(PY) -m infra_cdk.build_layers

synth: $(VENV)/.cdk-installed
	$(CDK) synth -q

deploy: $(VENV)/.cdk-installed layers
	$(CDK) deploy -c requireDepsLayer=true

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache layers/deps/python build console/dist console/node_modules
