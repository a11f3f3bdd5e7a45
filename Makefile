# The two commands: `make demo` and `make test`. Both install everything they need first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export IOC_HOME ?= $(CURDIR)/var
export UV_PYTHON_DOWNLOADS := never

.PHONY: install demo test check clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/ioc feeds check
	$(VENV)/bin/ioc demo

test: install
	$(VENV)/bin/ioc feeds check
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) $(TOOLS) var
