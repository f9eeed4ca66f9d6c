# Newcomer entry points: `make demo` (run with demo data) and `make test`.
# Everything installs into ./.venv from nothing; only python3 (3.11+) must exist.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
CASES  ?= 300
PYTEST_ARGS ?=

.PHONY: install demo serve test lint browser clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Casebridge needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml web/frontend/package-lock.json | $(BIN)/python
	@echo "Installing Casebridge and its dependencies into $(VENV) ..."
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python -e '.[dev]'
	@echo "Installing the GOV.UK Frontend design system (npm) ..."
	cd web/frontend && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	$(BIN)/python -m web.assets
	@echo "Compiling the installed packages to bytecode ..."
	@# Where PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile Prefect,
	@# SQLAlchemy and the rest from source on each start (5 s -> 2 s per command here).
	-$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1
	@touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/casebridge db upgrade
	$(BIN)/casebridge demo generate --if-empty --cases $(CASES)
	$(BIN)/casebridge serve --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/casebridge db upgrade
	$(BIN)/casebridge serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .

# Browser tests drive Debian's Chromium; as root it is installed here, otherwise they skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Chromium for the browser tests (apt) ..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is not installed: browser tests will be skipped (install Debian's chromium package)."; \
	  fi; }

test: lint browser
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
