# Kaikaku: `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
KAIKAKU := $(VENV)/bin/kaikaku
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := app:create_app

.DEFAULT_GOAL := help
.PHONY: help install assets translations run demo test lint format bench bench-load bench-scale services clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@command -v python3.11 >/dev/null || { echo "python3.11 is needed"; exit 1; }
	python3.11 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip setuptools
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed assets translations ## Create the virtualenv and install everything

app/static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf app/static/vendor && mkdir -p app/static/vendor
	cp node_modules/@digital-go-jp/design-tokens/dist/tokens.css app/static/vendor/design-tokens.css
	cp node_modules/mermaid/dist/mermaid.min.js app/static/vendor/mermaid.min.js
	cp node_modules/axe-core/axe.min.js app/static/vendor/axe.min.js
	mkdir -p app/static/vendor/swagger-ui
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
		node_modules/swagger-ui-dist/LICENSE app/static/vendor/swagger-ui/
	touch $@

assets: app/static/vendor/.installed ## Copy the front-end packages into app/static/vendor

translations: $(VENV)/.installed ## Compile the English catalogue
	@if [ -d app/translations ]; then $(VENV)/bin/pybabel -q compile -d app/translations; fi

run: install ## Migrate, load the demo, start web + scheduler + mail catcher (PORT=, SMTP_PORT=)
	$(KAIKAKU) db upgrade -d migrations
	$(KAIKAKU) demo load
	@$(KAIKAKU) demo logins
	@bash scripts/run.sh $(HOST) $(PORT)

demo: install ## Load (or refresh) the demo data
	$(KAIKAKU) db upgrade -d migrations
	$(KAIKAKU) demo load

services: ## Start PostgreSQL if it is down; install Chromium and slapd if they are missing
	@bash scripts/services.sh

test: install services ## Lint, then the whole suite on SQLite (browser included) and on PostgreSQL, side by side
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@bash scripts/test.sh

lint: install ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Format the code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install services ## Print the benchmark figures
	$(PY) -m bench

bench-scale: install services ## 100,000 items on PostgreSQL beside pgbench and SpiffWorkflow (minutes)
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) -m bench scale --items 100000

bench-load: install services ## Load test: kaikaku serve on PostgreSQL driven by Locust (minutes)
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) -m bench load

clean: ## Remove the virtualenv, node_modules and the built assets
	rm -rf $(VENV) node_modules app/static/vendor
