# Two commands for a fresh Debian/Ubuntu machine:
#   make lab    set up .venv and the system tools, start the lab registry and JupyterLab on notebooks/
#   make test   the same set-up plus the test tools, then every test (pytest, nbval, interop, browser)
# and a third, the zero-server edition (the lab as a static site that runs in the browser):
#   make lite        build it into build/lite/ (build tools in build/lite-venv; needs npm)
#   make lite-serve  serve build/lite/ on http://127.0.0.1:$(LITE_PORT)/
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB_APT := graphviz
TEST_APT := graphviz docker-registry skopeo umoci apache2-utils chromium libatomic1 buildah
PYTEST_ARGS ?=
LITE_PORT ?= 8000

.PHONY: lab test setup-lab setup-test system-lab system-test clean lite lite-serve system-lite
.DEFAULT_GOAL := lab

lab: setup-lab
	$(BIN)/labkit lab up
	$(BIN)/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) \
	  $(JUPYTER_ARGS)

test: setup-test system-lite
	$(BIN)/python -m pytest -p no:cacheprovider --nbval --nbval-sanitize-with notebooks/sanitize.cfg \
	  tests notebooks $(PYTEST_ARGS)

setup-lab: system-lab $(VENV)/.labkit-lab
setup-test: system-test $(VENV)/.labkit-test

system-lab:
	@bash .ci/ensure-system.sh $(LAB_APT)

system-test:
	@bash .ci/ensure-system.sh $(TEST_APT)

$(BIN)/python:
	@bash .ci/ensure-venv.sh $(PYTHON) $(VENV)

$(VENV)/.labkit-lab: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[notebooks]'
	touch $@

$(VENV)/.labkit-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.labkit-lab

lite: system-lite
	@[ -x build/lite-venv/bin/python ] || bash .ci/ensure-venv.sh $(PYTHON) build/lite-venv  # python3-venv if missing
	$(PYTHON) lite/build.py --out build/lite

lite-serve:
	@[ -f build/lite/index.html ] || $(MAKE) lite
	$(PYTHON) lite/serve.py build/lite --port $(LITE_PORT)

# npm fetches the Pyodide runtime and viz.js from the npm registry; Debian's package when npm is missing
system-lite:
	@command -v npm >/dev/null || bash .ci/ensure-system.sh npm

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts build/lite build/lite.work build/lite-venv build/lite-cache
