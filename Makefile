# The two commands a newcomer runs: `make demo` and `make test`. Both set everything up first:
# Debian packages through apt-get (only those missing), Python packages through pip into .venv.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# command:package pairs; a package is installed when its command is missing.
SYSTEM_TOOLS := pdfsig:poppler-utils qpdf:qpdf xmlsec1:xmlsec1 openssl:openssl \
	certutil:libnss3-tools java:default-jre-headless chromium:chromium \
	softhsm2-util:softhsm2 node:nodejs npm:npm
SYSTEM_FILES := /usr/share/java/bcpkix.jar:libbcpkix-java \
	/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:fonts-noto-cjk \
	/usr/lib/x86_64-linux-gnu/libpangoft2-1.0.so.0:libpangoft2-1.0-0
PYTEST_ARGS ?=

.PHONY: setup system test lint demo bench clean

# JavaScript checkers (pinned by each package-lock.json), installed with npm ci.
NPM_DIRS := tests/js/web
NPM_STAMPS := $(addsuffix /node_modules/.installed,$(NPM_DIRS))

setup: system $(STAMP) $(NPM_STAMPS)

%/node_modules/.installed: %/package-lock.json
	npm ci --prefix $* --silent --no-audit --no-fund
	touch $@

system:
	@missing=""; \
	for pair in $(SYSTEM_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	for pair in $(SYSTEM_FILES); do \
	  [ -e "$${pair%%:*}" ] || missing="$$missing $${pair##*:}"; done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy --strict ltv tsa archive samples
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

demo: setup
	$(BIN)/ltv demo

bench: setup
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
