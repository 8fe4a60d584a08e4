# Two commands for a fresh Debian/Ubuntu machine:
#   make lab    set up .venv and the system tools, start the lab registry and JupyterLab on notebooks/
#   make test   the same set-up plus the test tools, then every test (pytest, nbval, interop, browser)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB_APT := graphviz
TEST_APT := graphviz docker-registry skopeo umoci apache2-utils chromium libatomic1
PYTEST_ARGS ?=

.PHONY: lab test setup-lab setup-test system-lab system-test clean
.DEFAULT_GOAL := lab

lab: setup-lab
	$(BIN)/labkit lab up
	$(BIN)/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) \
	  $(JUPYTER_ARGS)

test: setup-test
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

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
