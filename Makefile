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

install: $(VENV)/.installed system-packages

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
# schedulers and subprocesses. The warehouse tests run again on DuckLake (IOC_WAREHOUSE=ducklake, its catalog on
# the local PostgreSQL) at the same time, in two more workers: one after the other, the two passes kept the 2
# cores 55 % busy (22.7 min of CPU in 20.7 min). The DuckLake pass prints when the first is done. The Celery test
# (scale-out) runs on DuckLake only, and a property test's extra seeds on the file only.
LAKE_TESTS := tests/test_file_drop.py tests/test_validation.py tests/test_changing_sources.py \
	tests/test_deadlines.py tests/test_kpis.py tests/test_celery.py
LAKE_LOG := $(IOC_HOME)/test-ducklake.log
test: install
	$(VENV)/bin/ioc feeds check
	@mkdir -p $(IOC_HOME)
	@$(VENV)/bin/pytest -n 2 --dist loadfile --durations=12 --warehouse ducklake $(LAKE_TESTS) >$(LAKE_LOG) 2>&1 & \
	  lake=$$!; \
	  $(VENV)/bin/pytest -n 3 --dist loadfile --durations=12 --ignore=tests/test_celery.py; first=$$?; \
	  wait $$lake; lake_status=$$?; \
	  echo "--- the DuckLake pass (--warehouse ducklake, run beside the first; $(LAKE_LOG)) ---"; cat $(LAKE_LOG); \
	  exit $$(( first || lake_status ))

clean:
	rm -rf $(VENV) $(TOOLS) var
