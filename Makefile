# The two commands: `make demo` and `make test`. Both install everything they need first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export IOC_HOME ?= $(CURDIR)/var
export UV_PYTHON_DOWNLOADS := never
# Installed packages come with their bytecode: where PYTHONDONTWRITEBYTECODE is set (as on our machines),
# every process would otherwise compile what it imports again (Great Expectations alone: 8 s of 11).
export UV_COMPILE_BYTECODE := 1

# Debian packages the tests and the demo run for real: Prometheus and Alertmanager (with promtool, amtool),
# Chromium, the browser the wall's end-to-end tests drive (through Playwright, which never downloads one),
# Liberation Serif (metric-compatible with Times New Roman, the font of Vietnamese administrative documents,
# with every Vietnamese glyph) for the monthly briefing's PDF, and poppler's pdftoppm/pdftotext its test reads.
DEB_PACKAGES := prometheus prometheus-alertmanager chromium fonts-liberation2 poppler-utils
BRIEFING_FONT := /usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-packages demo stop test check clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

# And so does the project's own code (the cold path of an `ioc` command, an Airflow task: 0.1 s of its start-up).
install: $(VENV)/.installed system-packages
	$(VENV)/bin/python -m compileall -q pipelines dags simulator

system-packages:
	@command -v promtool >/dev/null && command -v amtool >/dev/null && command -v prometheus-alertmanager >/dev/null \
	  && command -v chromium >/dev/null && command -v pdftoppm >/dev/null && test -f $(BRIEFING_FONT) \
	  || { echo "installing $(DEB_PACKAGES) (Debian packages)"; \
	       $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	         --no-install-recommends $(DEB_PACKAGES) >/dev/null; }

demo: install
	$(VENV)/bin/ioc feeds check
	$(VENV)/bin/ioc demo

stop:
	@if [ -x $(VENV)/bin/ioc ]; then $(VENV)/bin/ioc down; fi

# Three pytest workers, one test file at a time each (files share fixtures): most tests wait on servers,
# schedulers and subprocesses, so three keep 2 cores busier than two did (the suite took 20 min in one process).
# `--warehouse both`: the warehouse tests (tests/conftest.py's LAKE_FILES) run on the DuckDB file and again on
# DuckLake (its catalog on the local PostgreSQL), in the same session: a file's tests on one backend go to one worker
# (tests/conftest.py's scheduler, the slowest first), so no worker waits at the end of one pass for the others.
test: install
	$(VENV)/bin/ruff check pipelines dags
	$(VENV)/bin/ruff format --check pipelines dags
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/ioc feeds check
	$(VENV)/bin/pytest -n 3 --dist loadfile --no-loadscope-reorder --durations=40 --warehouse both

clean:
	rm -rf $(VENV) $(TOOLS) var
