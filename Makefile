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

.PHONY: dev test lint typecheck unit integration infra bench clean layers synth deploy lock pipcheck clients rsyslog console console-check browser

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

# Real clients the integration tests drive that cannot live in the venv: other major versions
# of a Python client (one hash-locked set each, installed into its own folder that the test
# puts on PYTHONPATH of a subprocess), the npm clients (tests/clients/js, from its
# package-lock.json) and rsyslog's omelasticsearch (Debian; installed when missing, as root).
PY_CLIENTS := elasticsearch7 elasticsearch8
PY_CLIENT_MARKS := $(PY_CLIENTS:%=$(VENV)/clients/%/.installed)
JS_CLIENTS := tests/clients/js/node_modules/.installed
OMELASTICSEARCH := /usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so

$(VENV)/clients/%/.installed: requirements/clients/%.txt $(VENV)/.dev-installed
	rm -rf $(@D)
	$(PIP_INSTALL) --target $(@D) -r $<
	touch $@

$(JS_CLIENTS): tests/clients/js/package-lock.json tests/clients/js/package.json
	cd tests/clients/js && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	touch $@

rsyslog:
	@test -f $(OMELASTICSEARCH) || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends rsyslog rsyslog-elasticsearch >/dev/null \
	  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends rsyslog rsyslog-elasticsearch >/dev/null; }; }

clients: $(PY_CLIENT_MARKS) $(JS_CLIENTS) rsyslog

dev: $(VENV)/.dev-installed console/dist/index.html
	$(PY) -m molesignal dev

# The web console (console/): npm packages from the committed lock, API types generated from
# the served OpenAPI document, a Vite build into console/dist that the gateway serves at /.
console/node_modules/.installed: console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Rebuilt when a source changes (a pulled checkout must not serve yesterday's console), and
# when a route changes the API types the console is checked against.
CONSOLE_SOURCES := $(shell find console/src -type f) console/index.html console/docs.html console/vite.config.ts functions/registry.py
console/dist/index.html: console/node_modules/.installed $(CONSOLE_SOURCES)
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

integration: $(VENV)/.dev-installed clients
	$(PY) -m pytest tests/integration -q

infra: $(VENV)/.cdk-installed
	$(PY) -m pytest tests/infra -q

pipcheck: $(VENV)/.cdk-installed
	$(PY) -m pip check

# Regenerate every lock from the *.in files (the dev set is the superset: runtime and CDK
# are resolved inside it, so the three never disagree on a version).
LOCK := $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
# The dependency layers get their own lock: the runtime set for the Lambda target (CPython 3.12
# on Amazon Linux 2023, docs/adr/0004), at the versions the dev set pins.
LOCK_LAMBDA := $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.12 --python-platform x86_64-manylinux_2_28
lock: $(VENV)/.dev-installed
	$(LOCK) -o requirements/dev.txt requirements/dev.in
	$(LOCK) -c requirements/dev.txt -o requirements/runtime.txt requirements/runtime.in
	$(LOCK) -c requirements/dev.txt -o requirements/cdk.txt requirements/cdk.in
	$(LOCK_LAMBDA) -c requirements/dev.txt -o requirements/lambda.txt requirements/runtime.in
	for name in $(PY_CLIENTS); do $(LOCK) -o requirements/clients/$$name.txt requirements/clients/$$name.in; done

# mypy (about 2 minutes with a cold cache, mostly one core) runs beside the tests, which spend
# much of their time waiting on subprocesses and sockets; both must pass.
test: $(VENV)/.cdk-installed clients pipcheck lint console-check browser
	@$(VENV)/bin/mypy > $(VENV)/mypy.log 2>&1 & mypy_pid=$$!; \
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder; tests=$$?; \
	wait $$mypy_pid; types=$$?; echo "mypy:"; cat $(VENV)/mypy.log; \
	test $$tests -eq 0 && test $$types -eq 0

bench: $(VENV)/.dev-installed
	$(PY) bench/coldstart/run.py

# Dependency layers for Lambda from requirements/lambda.txt; exits non-zero (and marks
# layers/deps/build.json) when a layer or a function's total is over Lambda's 250 MB.
layers: $(VENV)/.dev-installed
	$(PY) -m infra_cdk.build_layers

synth: $(VENV)/.cdk-installed
	$(CDK) synth -q

STAGE ?= dev
deploy: $(VENV)/.cdk-installed layers console
	$(CDK) deploy -c stage=$(STAGE) -c requireDepsLayer=true
	$(PY) -m infra_cdk.publish_console --stack MoleSignal-$(STAGE)

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache layers/deps build console/dist console/node_modules tests/clients/js/node_modules
