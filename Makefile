# The two commands: `make run` (the portal with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORTAL_PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint format bench messages install install-dev clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet ".[dev]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# `make run` records the address it serves on in var/site-url: the settings read it when SITE_URL
# is not set, so links in mails point to this port, from the web server, the worker, or a
# command run by hand later (manage.py sweep_deadlines --deliver).
run: $(VENV)/.installed
	@mkdir -p var/mail var/media
	mkdir -p var && echo "$${SITE_URL:-http://127.0.0.1:$(PORTAL_PORT)}" > var/site-url
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	@echo
	@echo "  The portal: http://127.0.0.1:$(PORTAL_PORT)/   (staff: http://127.0.0.1:$(PORTAL_PORT)/admin/)"
	@echo "  Mail it sends is written to var/mail/. Ctrl-C stops the web server, worker and scheduler."
	@echo
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DEBUG=1 PORTAL_PORT=$(PORTAL_PORT) $(VENV)/bin/honcho -f Procfile.dev start

test: $(VENV)/.installed-dev lint
	$(PY) -m pytest -n auto --dist loadgroup $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The translation catalogues (locale/): regenerate after changing strings, translate what
# msgmerge marks new or fuzzy, then compile; the compiled .mo files are committed, so
# `make run` needs no gettext tools. Needs Debian's gettext.
messages: $(VENV)/.installed-dev
	DEBUG=1 $(PY) manage.py makemessages -l ru --no-obsolete --ignore ".venv/*" --ignore "tests/*" --ignore "benchmarks/*" --ignore "examples/*" --ignore "staticfiles/*" --ignore "var/*"
	DEBUG=1 $(PY) manage.py compilemessages -l ru --ignore ".venv"

bench: $(VENV)/.installed-dev
	@for script in benchmarks/[!_]*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf var staticfiles test-artifacts
